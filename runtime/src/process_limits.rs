//! Limits of the whole process that a server box raises once at start.
//!
//! A fan-out box holds one descriptor per subscriber: the usual soft limit of
//! 1,024 open files stops it long before memory does. The hard limit is what
//! the administrator allows (systemd's `LimitNOFILE`), so raising the soft
//! limit up to it needs no privilege.

use std::io;

/// The open-file limit before and after [`raise_open_files_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFilesLimit {
    /// The soft limit found at the call.
    pub before: u64,
    /// The soft limit in force after it (the hard limit, or `before` if that was already it).
    pub after: u64,
}

/// Raises this process's RLIMIT_NOFILE soft limit to its hard limit.
///
/// ```
/// let limit = monocoque_runtime::raise_open_files_limit().unwrap();
/// assert!(limit.after >= limit.before);
/// ```
pub fn raise_open_files_limit() -> io::Result<OpenFilesLimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the call to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let before = lim.rlim_cur;
    if lim.rlim_cur == lim.rlim_max {
        return Ok(OpenFilesLimit {
            before,
            after: before,
        });
    }
    // An unlimited hard limit cannot be the soft one: the kernel caps open
    // files at fs.nr_open and refuses more (EPERM).
    let mut target = lim.rlim_max;
    if target == libc::RLIM_INFINITY {
        if let Some(nr_open) = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
        {
            target = nr_open;
        }
    }
    let raised = libc::rlimit {
        rlim_cur: target,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: `raised` is a valid rlimit that the call only reads.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(OpenFilesLimit {
        before,
        after: target,
    })
}

/// The machine's physical memory in bytes, or `None` if the kernel does not say.
///
/// A peer that announces a frame longer than this can never be served, so the
/// engine refuses such a header even when no MAXMSGSIZE is set.
pub fn physical_memory() -> Option<u64> {
    // SAFETY: sysconf only reads system configuration; it has no memory arguments.
    let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
    // SAFETY: as above.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if pages <= 0 || page <= 0 {
        return None;
    }
    (pages as u64).checked_mul(page as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn physical_memory_is_known_on_linux() {
        let m = physical_memory().unwrap();
        assert!(m > 64 * 1024 * 1024, "{m}");
    }
}
