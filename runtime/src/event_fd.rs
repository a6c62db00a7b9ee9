//! An eventfd (eventfd(2)): a descriptor another thread or event loop can wait
//! on (poll, epoll, mio, tokio's `AsyncFd`) while this process signals it.
//!
//! Used for a socket's readiness descriptor (libzmq's ZMQ_FD): the socket's
//! thread signals it, a user's loop waits on it and drains it.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// A non-blocking, close-on-exec eventfd.
///
/// ```
/// use monocoque_runtime::{poll_fds, EventFd, PollFd};
/// use std::os::fd::AsRawFd;
/// use std::time::Duration;
/// let e = EventFd::new().unwrap();
/// let mut fds = [PollFd::readable(e.as_raw_fd())];
/// assert_eq!(poll_fds(&mut fds, Some(Duration::ZERO)).unwrap(), 0);
/// e.signal();
/// assert_eq!(poll_fds(&mut fds, Some(Duration::ZERO)).unwrap(), 1);
/// assert!(e.drain());
/// assert!(!e.drain());
/// ```
#[derive(Debug)]
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    /// A new eventfd, not signalled.
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: eventfd(2) takes no pointers; it returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by eventfd(2) and is owned by nothing else.
        Ok(EventFd {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Makes the descriptor readable (until [`drain`](Self::drain)).
    pub fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to a descriptor we own. The
        // only failure, EAGAIN on a saturated counter, leaves it readable,
        // which is all a signal has to do.
        unsafe {
            libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8);
        }
    }

    /// Clears the signal; returns whether it was signalled.
    pub fn drain(&self) -> bool {
        let mut count: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64 from a descriptor we
        // own; non-blocking, so an unsignalled eventfd returns EAGAIN at once.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
        n == 8
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
