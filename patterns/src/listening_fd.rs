//! A listening socket the application made and hands over for the next
//! tcp or ipc bind: libzmq's ZMQ_USE_FD.
//!
//! The application binds and listens itself (to choose options libzmq
//! does not offer, or to get the socket from systemd), then the socket
//! takes it over: the bind's address only says which transport, and the
//! descriptor is closed with the socket, as libzmq closes it. An ipc
//! socket's file is the application's to remove.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
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

    /// The descriptor, for the bind that uses it (`None` once taken).
    pub(crate) fn take(&self) -> Option<OwnedFd> {
        self.fd.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}
