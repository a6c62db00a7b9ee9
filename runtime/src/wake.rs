//! How a parked reactor is woken from another thread: the flag that says it
//! is parked and the [`Notifier`] that wakes it. A leaf shared by the executor
//! (which wakes the reactor when a task is scheduled from elsewhere) and the
//! drivers (which set the flag around their wait), so that neither has to
//! reach into the other.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Set while the reactor waits in the kernel: a task scheduled from another
/// thread then has to wake it.
#[derive(Debug, Default)]
pub(crate) struct ParkFlag(AtomicBool);

impl ParkFlag {
    /// The reactor is about to wait (`true`) or is back (`false`).
    pub(crate) fn set(&self, parked: bool) {
        self.0.store(parked, Ordering::SeqCst);
    }

    /// Whether the reactor waits in the kernel now.
    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Wakes a parked reactor from another thread.
#[derive(Debug, Clone)]
pub(crate) enum Notifier {
    /// An eventfd the io_uring driver keeps a read armed on while parked.
    EventFd(Arc<OwnedFd>),
    /// The epoll driver's poller.
    Poller(Arc<polling::Poller>),
}

impl Notifier {
    pub(crate) fn notify(&self) {
        match self {
            Notifier::EventFd(fd) => {
                let one: u64 = 1;
                // SAFETY: writes 8 bytes from a live u64 to an eventfd we own; the
                // only possible failure (counter overflow, EAGAIN) still leaves it readable.
                unsafe {
                    libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8);
                }
            }
            Notifier::Poller(p) => {
                let _ = p.notify();
            }
        }
    }
}
