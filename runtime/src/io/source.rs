//! A descriptor bound to the reactor that created it.

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::sys;
use crate::driver::epoll::Direction;
use crate::driver::{Driver, DriverKind};
use crate::reactor;

/// An open socket and what its reactor's driver keeps for it: on epoll its
/// registration, on io_uring the multishot operation armed on it.
#[derive(Debug)]
pub(crate) struct Source {
    fd: OwnedFd,
    kind: DriverKind,
    epoll_key: Option<usize>,
    /// Whether the reactor lends receive buffers to the kernel (multishot RECV);
    /// fixed for the reactor's life, so read once here.
    recv_ring: bool,
    /// The multishot RECV or ACCEPT armed on this socket (io_uring).
    pub(super) multishot: std::cell::Cell<Option<usize>>,
    /// Sockets belong to their reactor's thread.
    _not_send: std::marker::PhantomData<std::rc::Rc<()>>,
}

impl Source {
    /// Wraps `fd` for the current reactor's driver. On epoll, `fd` must be
    /// non-blocking (see [`nonblocking_sockets`](super::nonblocking_sockets)).
    pub(crate) fn new(fd: OwnedFd) -> io::Result<Source> {
        let (kind, epoll_key, recv_ring) = reactor::with(|r| match &mut *r.driver.borrow_mut() {
            Driver::Uring(u) => {
                Ok::<_, io::Error>((DriverKind::Uring, None, u.recv_group().is_some()))
            }
            Driver::Epoll(d) => Ok((DriverKind::Epoll, Some(d.register(fd.as_raw_fd())?), false)),
        })?;
        Ok(Source {
            fd,
            kind,
            epoll_key,
            recv_ring,
            multishot: std::cell::Cell::new(None),
            _not_send: std::marker::PhantomData,
        })
    }

    /// Lets go of the descriptor so another reactor can adopt it: the epoll
    /// registration is removed and a duplicate of the descriptor is returned
    /// (the original closes). Refused while a multishot receive is armed,
    /// since that receive would keep taking the connection's bytes here.
    pub(crate) fn into_fd(self) -> io::Result<OwnedFd> {
        if self.multishot.get().is_some() {
            return Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                "a multishot receive is armed on this socket; it cannot move to another reactor",
            ));
        }
        // The duplicate shares the open file, so the connection survives the
        // original's close; `drop` deregisters from epoll by the original first.
        let moved = self.fd.try_clone()?;
        drop(self);
        Ok(moved)
    }

    /// Shuts down one or both directions (a plain syscall on either driver).
    pub(crate) fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        sys::shutdown(self.raw(), how)
    }

    /// Whether `recv` can use a multishot RECV on the provided-buffer ring.
    pub(super) fn has_recv_ring(&self) -> bool {
        self.recv_ring
    }

    /// The driver this socket was registered with.
    pub(super) fn kind(&self) -> DriverKind {
        self.kind
    }

    pub(super) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Waits until the descriptor is ready in `dir` (epoll driver only).
    pub(super) async fn ready(&self, dir: Direction) -> io::Result<()> {
        let key = self
            .epoll_key
            .expect("readiness is only awaited on the epoll driver");
        poll_fn(|cx| {
            reactor::with(|r| match &mut *r.driver.borrow_mut() {
                Driver::Epoll(d) => d.poll_ready(key, dir, cx),
                Driver::Uring(_) => unreachable!("epoll socket on the io_uring driver"),
            })
        })
        .await
    }
}

/// The close: cancels the multishot operation armed on the socket and
/// submits what is queued (io_uring: operations queued before the close
/// reach the kernel before it), or removes the registration (epoll); then
/// closes the descriptor.
impl Drop for Source {
    fn drop(&mut self) {
        if let Some(key) = self.multishot.take() {
            reactor::try_with(|r| {
                if let Ok(mut d) = r.driver.try_borrow_mut() {
                    if let Driver::Uring(u) = &mut *d {
                        u.cancel_multi(key);
                    }
                }
            });
        }
        if self.kind == DriverKind::Uring {
            reactor::try_with(|r| {
                if let Ok(mut d) = r.driver.try_borrow_mut() {
                    if let Driver::Uring(u) = &mut *d {
                        u.submit_before_close();
                    }
                }
            });
        }
        if let Some(key) = self.epoll_key {
            reactor::try_with(|r| {
                if let Ok(mut d) = r.driver.try_borrow_mut() {
                    if let Driver::Epoll(e) = &mut *d {
                        e.deregister(key);
                    }
                }
            });
        }
    }
}

/// Retries `f` on the epoll driver until it stops returning EAGAIN.
pub(super) async fn retry<T>(
    sock: &Source,
    dir: Direction,
    mut f: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => sock.ready(dir).await?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}
