//! The kernel's CPU list format (`0-3,8,10-11`), as sysfs writes it and as
//! kernel parameters such as `isolcpus=` take it.

use std::collections::BTreeSet;

/// A set of CPU numbers.
pub type CpuSet = BTreeSet<usize>;

/// Parses a CPU list; an empty string (or the kernel's `(null)`) is the empty set.
///
/// ```
/// let s = monocoque_tuning::cpu_list::parse("0-2,8").unwrap();
/// assert_eq!(s.into_iter().collect::<Vec<_>>(), [0, 1, 2, 8]);
/// ```
pub fn parse(text: &str) -> Result<CpuSet, String> {
    let text = text.trim();
    let mut set = CpuSet::new();
    if text.is_empty() || text == "(null)" {
        return Ok(set);
    }
    for part in text.split(',') {
        let bad = || format!("{text:?} is not a CPU list (like 0-3,8)");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b {
                    return Err(bad());
                }
                set.extend(a..=b);
            }
            None => {
                set.insert(part.parse().map_err(|_| bad())?);
            }
        }
    }
    Ok(set)
}

/// Formats a set as a CPU list, ranges collapsed (`-` for the empty set).
///
/// ```
/// let s = [0, 1, 2, 8].into_iter().collect();
/// assert_eq!(monocoque_tuning::cpu_list::format(&s), "0-2,8");
/// ```
pub fn format(set: &CpuSet) -> String {
    let mut parts = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end = iter.next().expect("peeked");
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip() {
        for text in ["0", "0-15", "0-1,8-9", "2,4,6"] {
            assert_eq!(format(&parse(text).unwrap()), text);
        }
        assert!(parse("").unwrap().is_empty());
        assert!(parse("(null)\n").unwrap().is_empty());
        assert!(parse("3-1").is_err());
        assert!(parse("a").is_err());
    }
}
