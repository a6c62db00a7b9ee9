//! A listening socket the application made and hands over for the next
//! tcp or ipc bind: libzmq's ZMQ_USE_FD.
//!
//! The application binds and listens itself (to choose options libzmq
//! does not offer, or to get the socket from systemd), then the socket
//! takes it over: the bind's address only says which transport, and the
//! descriptor is closed with the socket, as libzmq closes it. An ipc
//! socket's file is the application's to remove.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};

/// A listening descriptor waiting for a bind (see the module's doc). The
/// first bind that can use it takes it; the copies an option's clones hold
/// share it, so it is used once.
///
/// ```
/// use monocoque_patterns::ListeningFd;
/// let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let fd = ListeningFd::new(std_listener.into());
/// assert!(fd.raw() >= 0);
/// ```
#[derive(Debug, Clone)]
pub struct ListeningFd {
    raw: RawFd,
    fd: Arc<Mutex<Option<OwnedFd>>>,
}

impl ListeningFd {
    /// Hands `fd`, a listening socket, to the socket it is set on.
    pub fn new(fd: OwnedFd) -> ListeningFd {
        ListeningFd {
            raw: fd.as_raw_fd(),
            fd: Arc::new(Mutex::new(Some(fd))),
        }
    }

    /// The descriptor's number, as ZMQ_USE_FD reads back.
    pub fn raw(&self) -> RawFd {
        self.raw
    }

    /// The descriptor, for the bind that uses it, if `check` accepts it
    /// (`None` once taken). A refused one stays here: a bind that fails
    /// has not taken it, and [`reclaim`](Self::reclaim) gives it back.
    pub(crate) fn take_checked(
        &self,
        check: impl FnOnce(BorrowedFd<'_>) -> std::io::Result<()>,
    ) -> Option<std::io::Result<OwnedFd>> {
        let mut slot = self.fd.lock().unwrap_or_else(|p| p.into_inner());
        let checked = check(slot.as_ref()?.as_fd());
        Some(checked.map(|()| slot.take().expect("checked above")))
    }

    /// The descriptor back, if no bind took it (`None` once one did): the
    /// C API's ZMQ_USE_FD leaves it to the application when the bind
    /// fails, as libzmq's does.
    pub fn reclaim(&self) -> Option<OwnedFd> {
        self.fd.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}
