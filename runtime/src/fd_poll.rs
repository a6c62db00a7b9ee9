//! Blocking readiness over a set of descriptors (poll(2)), for the blocking
//! API's `poll` over sockets' readiness descriptors and a user's own.
//!
//! Not for the reactor: it blocks the calling thread.

use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// One descriptor to watch, and what was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollFd {
    /// The descriptor (need not be valid: an invalid one reports `error`).
    pub fd: RawFd,
    /// Wait for it to be readable (POLLIN).
    pub want_read: bool,
    /// Wait for it to be writable (POLLOUT).
    pub want_write: bool,
    /// Found readable (or hung up: a read would not block).
    pub readable: bool,
    /// Found writable.
    pub writable: bool,
    /// An error condition, or not an open descriptor (POLLERR, POLLNVAL).
    pub error: bool,
}

impl PollFd {
    /// Watches `fd` for reading.
    pub fn readable(fd: RawFd) -> PollFd {
        PollFd::new(fd, true, false)
    }

    /// Watches `fd` for what `want_read` and `want_write` say.
    pub fn new(fd: RawFd, want_read: bool, want_write: bool) -> PollFd {
        PollFd {
            fd,
            want_read,
            want_write,
            readable: false,
            writable: false,
            error: false,
        }
    }

    /// Whether anything was found.
    pub fn is_ready(&self) -> bool {
        self.readable || self.writable || self.error
    }
}

/// Waits until one of `fds` is ready or `timeout` passes (`None`: no limit;
/// zero: just look). Returns how many are ready, their fields set. A signal
/// that interrupts the wait does not end it early.
pub fn poll_fds(fds: &mut [PollFd], timeout: Option<Duration>) -> io::Result<usize> {
    let mut raw: Vec<libc::pollfd> = fds
        .iter()
        .map(|p| libc::pollfd {
            fd: p.fd,
            events: (if p.want_read { libc::POLLIN } else { 0 })
                | (if p.want_write { libc::POLLOUT } else { 0 }),
            revents: 0,
        })
        .collect();
    let deadline = timeout.map(|t| Instant::now() + t);
    let n = loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Rounded up, so a wait never ends before its deadline.
                left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
            }
        };
        // SAFETY: `raw` is a live, initialised array of `raw.len()` pollfd
        // structs that the kernel may write `revents` into; nothing else
        // borrows it during the call.
        let n = unsafe { libc::poll(raw.as_mut_ptr(), raw.len() as libc::nfds_t, ms) };
        if n >= 0 {
            break n as usize;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    };
    for (p, r) in fds.iter_mut().zip(&raw) {
        p.readable = r.revents & (libc::POLLIN | libc::POLLHUP) != 0;
        p.writable = r.revents & libc::POLLOUT != 0;
        p.error = r.revents & (libc::POLLERR | libc::POLLNVAL) != 0;
    }
    Ok(n)
}
