//! Socket monitor events, as zmq_socket_monitor reports them.
//!
//! [`Socket::monitor`](crate::Socket::monitor) returns a [`Monitor`]; every
//! connection-level event of the socket is queued to it from then on. The queue
//! is bounded ([`MONITOR_CAPACITY`]): a monitor nobody reads keeps the newest
//! events and counts the ones it lost, so it never grows memory.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};
use std::time::Duration;

use crate::close_reason::CloseReason;

/// Events a monitor holds before it starts losing the oldest.
pub const MONITOR_CAPACITY: usize = 1024;

/// Something that happened to one of the socket's endpoints or connections.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MonitorEvent {
    /// A bind succeeded (ZMQ_EVENT_LISTENING); `endpoint` is the resolved one.
    Listening {
        /// The bound endpoint.
        endpoint: String,
    },
    /// A bind failed (ZMQ_EVENT_BIND_FAILED); `bind` also returns the error.
    BindFailed {
        /// The endpoint as given.
        endpoint: String,
        /// Why, as the operating system put it.
        error: String,
    },
    /// A connection was accepted on a bound endpoint (ZMQ_EVENT_ACCEPTED).
    Accepted {
        /// The bound endpoint.
        endpoint: String,
        /// The peer's address (`ip:port`; `None` for ipc and inproc).
        remote: Option<String>,
    },
    /// Accepting a connection failed (ZMQ_EVENT_ACCEPT_FAILED): out of
    /// descriptors or memory (the listener backs off and goes on), or an
    /// accept filter (TCP_ACCEPT_FILTER, IPC_FILTER_*) closed the peer.
    AcceptFailed {
        /// The bound endpoint.
        endpoint: String,
        /// Why: as the operating system put it, or the filter that refused.
        error: String,
    },
    /// A connection attempt started and is in progress
    /// (ZMQ_EVENT_CONNECT_DELAYED), before `Connected` or `ConnectRetried`.
    ConnectDelayed {
        /// The endpoint being connected to.
        endpoint: String,
    },
    /// An outgoing connection was established (ZMQ_EVENT_CONNECTED).
    Connected {
        /// The endpoint connected to.
        endpoint: String,
        /// The address connected to (`ip:port`; `None` for ipc).
        remote: Option<String>,
    },
    /// A connection attempt failed and another is scheduled
    /// (ZMQ_EVENT_CONNECT_RETRIED).
    ConnectRetried {
        /// The endpoint.
        endpoint: String,
        /// When the next attempt starts.
        after: Duration,
    },
    /// The ZMTP handshake completed (ZMQ_EVENT_HANDSHAKE_SUCCEEDED).
    HandshakeSucceeded {
        /// The endpoint of the connection.
        endpoint: String,
        /// The peer's address (`ip:port`; `None` for ipc and inproc).
        remote: Option<String>,
    },
    /// The handshake failed: wrong socket type, authentication, malformed
    /// greeting, timeout (ZMQ_EVENT_HANDSHAKE_FAILED_*).
    HandshakeFailed {
        /// The endpoint of the connection.
        endpoint: String,
        /// The peer's address (`ip:port`; `None` for ipc and inproc).
        remote: Option<String>,
        /// Why; [`CloseReason::handshake_failure`] gives libzmq's event kind
        /// and code.
        reason: CloseReason,
    },
    /// An established connection ended (ZMQ_EVENT_DISCONNECTED).
    Disconnected {
        /// The endpoint of the connection.
        endpoint: String,
        /// The peer's address (`ip:port`; `None` for ipc and inproc).
        remote: Option<String>,
        /// Why: the peer closed, a protocol error, a heartbeat timeout.
        reason: CloseReason,
    },
    /// A bound endpoint stopped listening (ZMQ_EVENT_CLOSED): unbind or close.
    Closed {
        /// The endpoint.
        endpoint: String,
    },
    /// A bound ipc endpoint stopped listening but its socket file could not
    /// be removed (ZMQ_EVENT_CLOSE_FAILED, which libzmq too reports only for
    /// ipc); posted instead of `Closed`.
    CloseFailed {
        /// The endpoint.
        endpoint: String,
        /// Why the file could not be removed (gone already, permissions).
        error: String,
    },
    /// The socket is closed and every connection it had has ended (after
    /// LINGER): this is the monitor's last event (ZMQ_EVENT_MONITOR_STOPPED).
    Stopped,
}

#[derive(Debug, Default)]
struct MonitorQueue {
    events: VecDeque<MonitorEvent>,
    lost: u64,
    waker: Option<Waker>,
}

/// Receives a socket's monitor events. Lives on the socket's thread.
#[derive(Debug)]
pub struct Monitor {
    queue: Rc<RefCell<MonitorQueue>>,
}

/// The socket's side: where events are posted. Holds the queue weakly, so a
/// dropped [`Monitor`] costs nothing. Clones share the list of monitors: the
/// socket's core keeps one to report the peers it drops itself (a subscriber
/// over its subscription caps), and sees monitors created after it.
#[derive(Debug, Default, Clone)]
pub(crate) struct MonitorSink {
    queues: Rc<RefCell<Vec<Weak<RefCell<MonitorQueue>>>>>,
}

impl MonitorSink {
    pub(crate) fn subscribe(&mut self) -> Monitor {
        let queue = Rc::new(RefCell::new(MonitorQueue::default()));
        let mut queues = self.queues.borrow_mut();
        queues.retain(|q| q.strong_count() > 0);
        queues.push(Rc::downgrade(&queue));
        Monitor { queue }
    }

    pub(crate) fn post(&self, event: MonitorEvent) {
        for q in self.queues.borrow().iter() {
            let Some(q) = q.upgrade() else { continue };
            let mut q = q.borrow_mut();
            if q.events.len() == MONITOR_CAPACITY {
                q.events.pop_front();
                q.lost += 1;
            }
            q.events.push_back(event.clone());
            if let Some(w) = q.waker.take() {
                w.wake();
            }
        }
    }
}

impl Monitor {
    /// The next event, if one is queued.
    pub fn try_recv(&self) -> Option<MonitorEvent> {
        self.queue.borrow_mut().events.pop_front()
    }

    /// The next event, waiting for one.
    pub async fn recv(&self) -> MonitorEvent {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next event, or `Pending` with `cx` registered to be woken by the next.
    pub(crate) fn poll_recv(&self, cx: &mut std::task::Context<'_>) -> Poll<MonitorEvent> {
        let mut q = self.queue.borrow_mut();
        match q.events.pop_front() {
            Some(e) => Poll::Ready(e),
            None => {
                q.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Events lost because the monitor was not read fast enough.
    pub fn lost(&self) -> u64 {
        self.queue.borrow().lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unread_monitor_keeps_the_newest_events() {
        let mut sink = MonitorSink::default();
        let m = sink.subscribe();
        for i in 0..MONITOR_CAPACITY + 5 {
            sink.post(MonitorEvent::Accepted {
                endpoint: i.to_string(),
                remote: None,
            });
        }
        assert_eq!(m.lost(), 5);
        assert_eq!(
            m.try_recv(),
            Some(MonitorEvent::Accepted {
                endpoint: "5".into(),
                remote: None,
            })
        );
    }

    #[test]
    fn a_dropped_monitor_is_forgotten() {
        let mut sink = MonitorSink::default();
        drop(sink.subscribe());
        sink.post(MonitorEvent::Closed {
            endpoint: "x".into(),
        });
        let m = sink.subscribe();
        assert_eq!(sink.queues.borrow().len(), 1);
        assert!(m.try_recv().is_none());
    }
}
