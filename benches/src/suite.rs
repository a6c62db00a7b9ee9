//! `suite`: the standard matrix (sizes x transports x lat, thr push-pull,
//! fanout to 8 and lb from 4), written into docs/BENCHMARKS.md between two
//! markers, with the plot and the raw JSON beside it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{Common, Pattern, SuiteArgs};
use crate::machine::Machine;
use crate::record::{self, Record};
use crate::{plot, Kind};

/// The suite's section of the document starts after this line...
pub const BEGIN: &str =
    "<!-- suite:begin (written by `monocoque-bench suite`; edits here are lost) -->";
/// ...and ends before this one.
pub const END: &str = "<!-- suite:end -->";

/// The most payload one run moves: 64 KiB runs get fewer messages.
const MAX_RUN_BYTES: u64 = 2 << 30;

/// A process using more than this share of one core makes the machine busy.
const BUSY_SHARE: f64 = 0.10;

pub fn run(s: &SuiteArgs) -> Result<(), String> {
    if !s.force {
        if let Some(busy) = busy_processes(Duration::from_secs(1))? {
            return Err(format!(
                "the machine is busy ({busy}); results would be noise. \
                 Wait for it to settle, or pass --force"
            ));
        }
    }
    let kinds = [
        Kind::Lat,
        Kind::Thr(Pattern::PushPull),
        Kind::Fanout(8, 0),
        Kind::Lb(4),
    ];
    let mut sections = Vec::new();
    let mut all = Vec::new();
    for &transport in &s.transports {
        for kind in kinds {
            for &size in &s.sizes {
                let count = s.count.min((MAX_RUN_BYTES / size.max(1) as u64).max(1000));
                let c = Common {
                    impls: s.impls.clone(),
                    transport,
                    size,
                    count,
                    warmup: s.warmup.min(count / 10),
                    runs: s.runs,
                    cores: s.cores.clone(),
                    profiles: s.profiles.clone(),
                    json: None,
                    svg: None,
                };
                // One failing cell is reported in its place; the rest still run.
                let cell = crate::run(kind, &c);
                match &cell {
                    Ok(records) => all.extend(records.iter().cloned()),
                    Err(e) => eprintln!("{}: failed: {e}", crate::heading(kind, &c)),
                }
                sections.push((crate::heading(kind, &c), cell));
            }
        }
    }
    let svg = beside(&s.doc, "benchmarks-suite.svg");
    let json = beside(&s.doc, "benchmarks-suite.json");
    plot::write_svg(&svg, &all)?;
    record::write_json(&json, &all)?;
    let text = std::fs::read_to_string(&s.doc).map_err(|e| format!("{}: {e}", s.doc.display()))?;
    let section = render(&sections, &Machine::this().describe(), &svg, &json);
    std::fs::write(&s.doc, splice(&text, &section))
        .map_err(|e| format!("{}: {e}", s.doc.display()))?;
    println!(
        "\nwrote {}, {} and {}",
        s.doc.display(),
        svg.display(),
        json.display()
    );
    match sections.iter().filter(|(_, cell)| cell.is_err()).count() {
        0 => Ok(()),
        n => Err(format!("{n} cell(s) failed; their sections say why")),
    }
}

fn beside(doc: &Path, name: &str) -> PathBuf {
    doc.with_file_name(name)
}

/// The suite's section: the command, the machine, the plot, and one table per cell.
fn render(
    sections: &[(String, Result<Vec<Record>, String>)],
    machine: &str,
    svg: &Path,
    json: &Path,
) -> String {
    let file = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = format!(
        "Command: `cargo run --release -p monocoque-benches --bin monocoque-bench -- {}`\n\n\
         Machine: {machine}\n\n\
         Every run's record: [{}]({}).\n\n![latency percentiles and throughput by size]({})\n",
        args.join(" "),
        file(json),
        file(json),
        file(svg),
    );
    for (heading, cell) in sections {
        let body = match cell {
            Ok(records) => record::markdown_table(records),
            Err(e) => format!("The run failed: {e}\n"),
        };
        out += &format!("\n#### {heading}\n\n{body}");
    }
    out
}

/// Replaces what lies between the markers, or appends a section with them.
pub fn splice(doc: &str, section: &str) -> String {
    match (doc.find(BEGIN), doc.find(END)) {
        (Some(b), Some(e)) if b < e => format!("{}{BEGIN}\n{section}{}", &doc[..b], &doc[e..]),
        _ => format!("{doc}\n## The standard suite\n\n{BEGIN}\n{section}{END}\n"),
    }
}

/// CPU time (user + system, in clock ticks) and name of every process.
fn cpu_times() -> Result<HashMap<u32, (String, u64)>, String> {
    let mut out = HashMap::new();
    let dir = std::fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))?;
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        // A process may end between the listing and the read.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some(t) = parse_stat(&stat) {
            out.insert(pid, t);
        }
    }
    Ok(out)
}

/// `(comm, utime + stime)` from a /proc/PID/stat line. The name is in
/// parentheses and may hold spaces, so fields are counted after the last ')'.
fn parse_stat(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // After the name: state is field 3, utime 14 and stime 15.
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

/// Processes (other than this one) that used more than 10 % of a core over
/// `window`, described; `None` when the machine is idle.
fn busy_processes(window: Duration) -> Result<Option<String>, String> {
    let before = cpu_times()?;
    std::thread::sleep(window);
    let after = cpu_times()?;
    // USER_HZ: 100 on every Linux architecture the project runs on.
    let ticks = 100.0 * window.as_secs_f64();
    let me = std::process::id();
    let mut busy: Vec<(f64, String)> = after
        .iter()
        .filter(|(pid, _)| **pid != me)
        .filter_map(|(pid, (name, t))| {
            let share = t.saturating_sub(before.get(pid)?.1) as f64 / ticks;
            (share > BUSY_SHARE)
                .then(|| (share, format!("{name} (pid {pid}) {:.0} %", share * 100.0)))
        })
        .collect();
    busy.sort_by(|a, b| b.0.total_cmp(&a.0));
    Ok((!busy.is_empty()).then(|| {
        busy.into_iter()
            .map(|(_, d)| d)
            .collect::<Vec<_>>()
            .join(", ")
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_spaces_in_the_name() {
        let line =
            "1234 (tokio rt (w)) R 1 1234 1234 0 -1 4194560 100 0 0 0 250 17 0 0 20 0 3 0 1000";
        assert_eq!(parse_stat(line), Some(("tokio rt (w)".into(), 267)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn splice_replaces_between_the_markers_only() {
        let doc = format!("# Title\nbefore\n{BEGIN}\nold\n{END}\nafter\n");
        let out = splice(&doc, "new\n");
        assert_eq!(
            out,
            format!("# Title\nbefore\n{BEGIN}\nnew\n{END}\nafter\n")
        );
        let appended = splice("# Title\n", "new\n");
        assert!(appended.starts_with("# Title\n"));
        assert!(appended.ends_with(&format!("{BEGIN}\nnew\n{END}\n")));
        assert_eq!(splice(&appended, "newer\n").matches(BEGIN).count(), 1);
    }

    #[test]
    fn a_spinning_process_makes_the_machine_busy() {
        // A child process, not a thread: the check leaves this process out.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let found = busy_processes(Duration::from_millis(500)).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        let found = found.expect("a spinning shell is busy");
        assert!(found.contains(&format!("pid {}", child.id())), "{found}");
    }
}
