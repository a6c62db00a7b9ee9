//! A socket's readiness: [`Socket::events`] (libzmq's ZMQ_EVENTS) and a
//! descriptor another event loop can wait on, [`Socket::readiness_fd`]
//! (libzmq's ZMQ_FD).
//!
//! POLLIN is exact, as libzmq makes it: to know that a SUB has a message that
//! passes its filters, or that a REQ's queued reply is the one it waits for,
//! the next message is taken and kept aside (`SocketState::recv_readiness`),
//! and the next receive returns it first.
//!
//! The descriptor is an eventfd that a task on the socket's thread signals
//! whenever the socket's pipes change (a message arrived, room appeared, a
//! peer came or went) and the socket then has an event. Like libzmq's
//! ZMQ_FD it says "look again", not "ready": after it reads readable, call
//! [`Socket::events`] (which clears it) and act until the event is gone; a
//! send or receive of your own can change the events without signalling it,
//! so check [`Socket::events`] after each before waiting on it again.

use std::future::poll_fn;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;

use monocoque_runtime::{EventFd, JoinHandle};

use super::shared::SocketShared;
use super::Socket;
use crate::{Error, Events, Result};

/// The descriptor and the task that signals it; the task ends with the socket.
pub(super) struct ReadinessFd {
    fd: Arc<EventFd>,
    _watcher: JoinHandle<()>,
}

impl Socket {
    /// What the socket can do now without waiting (ZMQ_EVENTS): POLLIN if a
    /// receive would return a message, POLLOUT if a send would not wait.
    /// Clears the [`readiness_fd`](Self::readiness_fd) signal first.
    ///
    /// ```
    /// use monocoque_patterns::{Events, Socket};
    /// use monocoque_zmtp::SocketType;
    /// let rt = monocoque_runtime::Runtime::builder().build().unwrap();
    /// rt.block_on(async {
    ///     let rep = Socket::new(SocketType::Rep).unwrap();
    ///     rep.bind("inproc://events-doc").unwrap();
    ///     let req = Socket::new(SocketType::Req).unwrap();
    ///     req.connect("inproc://events-doc").unwrap();
    ///     assert_eq!(rep.events().unwrap(), Events::NONE);
    ///     req.send("ping").await.unwrap();
    ///     assert_eq!(rep.events().unwrap(), Events::POLLIN);
    ///     assert_eq!(req.events().unwrap(), Events::NONE, "a REQ awaits its reply");
    /// });
    /// ```
    pub fn events(&self) -> Result<Events> {
        if let Some(r) = self.readiness.borrow().as_ref() {
            r.fd.drain();
        }
        events_of(&self.shared)
    }

    /// A descriptor that becomes readable when the socket may have an event
    /// (libzmq's ZMQ_FD), for registering the socket with epoll, mio or
    /// tokio. Like ZMQ_FD it says "look again", not "ready": when it reads
    /// readable, call [`events`](Self::events) (which clears it) and act
    /// until the event is gone; a send or receive of your own can change
    /// the events without signalling it, so check `events` after each
    /// before waiting on it again. The descriptor lives as long as the
    /// socket; never read or close it yourself.
    pub fn readiness_fd(&self) -> Result<RawFd> {
        if let Some(r) = self.readiness.borrow().as_ref() {
            return Ok(r.fd.as_raw_fd());
        }
        self.check_open()?;
        let fd =
            Arc::new(EventFd::new().map_err(|e| Error::io("making the readiness descriptor", &e))?);
        let raw = fd.as_raw_fd();
        let watcher = monocoque_runtime::spawn(watch(self.shared.clone(), fd.clone()));
        *self.readiness.borrow_mut() = Some(ReadinessFd {
            fd,
            _watcher: watcher,
        });
        Ok(raw)
    }

    /// The descriptor's eventfd, for the blocking API (which hands it to
    /// another thread).
    pub(crate) fn readiness_event_fd(&self) -> Result<Arc<EventFd>> {
        self.readiness_fd()?;
        let r = self.readiness.borrow();
        Ok(r.as_ref().expect("made above").fd.clone())
    }
}

/// The socket's events now.
fn events_of(shared: &SocketShared) -> Result<Events> {
    let mut state = shared.state.borrow_mut();
    if state.closed {
        return Err(Error::Closed);
    }
    state.sync(&shared.signals);
    let readable = state.recv_readiness();
    let writable = state.send_readiness().unwrap_or(false);
    Ok(Events::new(readable, writable))
}

/// Signals `fd` each time the socket's pipes change and it has an event,
/// until the socket closes.
async fn watch(shared: Rc<SocketShared>, fd: Arc<EventFd>) {
    poll_fn(|cx| {
        // Registered before looking, so a change after the look wakes us.
        shared.signals.register_recv(cx.waker());
        shared.signals.register_send(cx.waker());
        match events_of(&shared) {
            Ok(events) => {
                if !events.is_empty() {
                    fd.signal();
                }
                Poll::Pending
            }
            Err(_) => Poll::Ready(()),
        }
    })
    .await
}
