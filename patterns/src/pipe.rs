//! Pipes: the bounded queues between a socket and one peer.
//!
//! A pipe is two [`Queue`]s, one per direction. For a tcp or ipc peer the far
//! end of both queues is that connection's engine task; for an inproc peer it
//! is the other socket itself, so an inproc message goes from one socket's
//! `send` to the other's `recv` through one `VecDeque`, without framing or
//! syscalls.
//!
//! Each queue holds at most its high-water mark. Readiness travels as edges:
//! a push into an empty queue tells the reader, a pop from a full queue tells
//! the writer. A socket learns of these through its [`Signals`] (a list of
//! peers that became readable or writable), so that picking the next peer
//! (fair queue, load balancer) never scans idle peers.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::task::Waker;

use bytes::Bytes;
use monocoque_runtime::PoolPressure;
use monocoque_zmtp::{Msg, SocketType};

use crate::PeerId;

/// Who to tell when a queue changes.
#[derive(Debug, Default)]
pub(crate) enum Notify {
    /// Nobody (yet).
    #[default]
    Nobody,
    /// An engine task, woken through its waker.
    Task(Option<Waker>),
    /// A socket, told which of its peers changed.
    Socket {
        signals: Weak<Signals>,
        peer: PeerId,
    },
}

impl Notify {
    fn readable(&mut self) {
        self.notify(true)
    }

    fn writable(&mut self) {
        self.notify(false)
    }

    fn notify(&mut self, readable: bool) {
        match self {
            Notify::Nobody => {}
            Notify::Task(w) => {
                if let Some(w) = w.take() {
                    w.wake()
                }
            }
            Notify::Socket { signals, peer } => {
                if let Some(s) = signals.upgrade() {
                    if readable {
                        s.readable.borrow_mut().push(*peer);
                        s.wake_recv();
                    } else {
                        s.writable.borrow_mut().push(*peer);
                        s.wake_send();
                    }
                }
            }
        }
    }

    /// For `Task` notifies: remembers the waker to call on the next change.
    pub(crate) fn register(&mut self, waker: &Waker) {
        if let Notify::Task(slot) = self {
            match slot {
                Some(w) if w.will_wake(waker) => {}
                _ => *slot = Some(waker.clone()),
            }
        }
    }
}

/// Messages a queue may hold as loans from the receive pool while the pool is
/// under [`PoolPressure::High`]; past it, pushes copy. Below that pressure
/// queues stay zero-copy: copying every message of a deep but moving queue
/// cost two allocations per message (callgrind, docs/BENCHMARKS.md).
const ZERO_COPY_BACKLOG: usize = 16;

/// The receive pool's loans in `msg` replaced by copies (frames that are not
/// loans are kept as they are).
pub(crate) fn detach_from_pool(msg: Msg) -> Msg {
    if !msg
        .frames()
        .iter()
        .any(|f| monocoque_runtime::in_recv_pool(f))
    {
        return msg;
    }
    let mut frames = msg.into_frames();
    for f in &mut frames {
        if monocoque_runtime::in_recv_pool(f) {
            *f = Bytes::copy_from_slice(f);
        }
    }
    match frames.len() {
        1 => Msg::from(frames.pop().expect("one frame")),
        _ => Msg::from(frames),
    }
}

/// One direction of a pipe.
#[derive(Debug)]
pub(crate) struct Queue {
    items: VecDeque<Msg>,
    /// 0 = unbounded.
    hwm: usize,
    /// CONFLATE: a push replaces whatever is queued (never full).
    conflate: bool,
    /// The writer is gone: no more messages will come.
    writer_gone: bool,
    /// The reader is gone: pushes are discarded.
    reader_gone: bool,
    pub(crate) reader: Notify,
    pub(crate) writer: Notify,
}

/// A queue shared by its two ends.
pub(crate) type SharedQueue = Rc<RefCell<Queue>>;

impl Queue {
    pub(crate) fn new(hwm: usize) -> SharedQueue {
        Rc::new(RefCell::new(Queue {
            items: VecDeque::new(),
            hwm,
            conflate: false,
            writer_gone: false,
            reader_gone: false,
            reader: Notify::Nobody,
            writer: Notify::Nobody,
        }))
    }

    pub(crate) fn set_hwm(&mut self, hwm: usize) {
        let was_full = self.is_full();
        self.hwm = hwm;
        if was_full && !self.is_full() {
            self.writer.writable();
        }
    }

    /// CONFLATE: from now on keep only the newest message.
    pub(crate) fn set_conflate(&mut self, conflate: bool) {
        let was_full = self.is_full();
        self.conflate = conflate;
        if conflate {
            while self.items.len() > 1 {
                self.items.pop_front();
            }
        }
        if was_full && !self.is_full() {
            self.writer.writable();
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        !self.conflate && self.hwm != 0 && self.items.len() >= self.hwm
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Appends a message, even past the HWM (callers check `is_full` first when
    /// the socket type blocks or drops; the engine may overshoot by the one
    /// message it already decoded). Returns `false` if the reader is gone.
    ///
    /// Every message of every pipe, inbound or outbound, passes here, so this
    /// is where queued messages stop pinning the reactor's shared receive
    /// pool: under pressure a deep queue's pushes copy their loans out, and
    /// when the pool is nearly dry every push does.
    pub(crate) fn push(&mut self, msg: Msg) -> bool {
        if self.reader_gone {
            return false;
        }
        let msg = match monocoque_runtime::recv_pool_pressure() {
            PoolPressure::Low => msg,
            PoolPressure::High if self.items.len() < ZERO_COPY_BACKLOG => msg,
            PoolPressure::High | PoolPressure::NearlyDry => detach_from_pool(msg),
        };
        if self.conflate && !self.items.is_empty() {
            // The newest value replaces the one not read yet.
            self.items.clear();
            self.items.push_back(msg);
            return true;
        }
        self.items.push_back(msg);
        if self.items.len() == 1 {
            self.reader.readable();
        }
        true
    }

    /// Puts a message ahead of everything queued (a PROBE_ROUTER probe).
    pub(crate) fn push_front(&mut self, msg: Msg) {
        self.items.push_front(msg);
        if self.items.len() == 1 {
            self.reader.readable();
        }
    }

    pub(crate) fn pop(&mut self) -> Option<Msg> {
        let was_full = self.is_full();
        let msg = self.items.pop_front()?;
        if was_full && !self.is_full() {
            self.writer.writable();
        }
        Some(msg)
    }

    /// Discards every queued message (the peer this queue fed is gone).
    pub(crate) fn clear(&mut self) -> usize {
        let was_full = self.is_full();
        let n = self.items.len();
        self.items.clear();
        if was_full {
            self.writer.writable();
        }
        n
    }

    /// The writing end is done (engine gone, peer socket closed). The reader is
    /// told so it can finish reading and then drop the pipe.
    pub(crate) fn close_writer(&mut self) {
        if !self.writer_gone {
            self.writer_gone = true;
            self.reader.readable();
        }
    }

    /// The reading end is done: queued messages are discarded and the writer is
    /// told (a blocked sender must stop waiting for room).
    pub(crate) fn close_reader(&mut self) {
        if !self.reader_gone {
            self.reader_gone = true;
            self.items.clear();
            self.writer.writable();
        }
    }

    pub(crate) fn writer_gone(&self) -> bool {
        self.writer_gone
    }

    pub(crate) fn reader_gone(&self) -> bool {
        self.reader_gone
    }
}

/// A lifecycle change a socket learns of through its signals.
#[derive(Debug)]
pub(crate) enum PipeEvent {
    /// A new peer (an accepted connection after its handshake, an inproc peer).
    Attached(Pipe),
    /// A connected pipe's peer completed a handshake; it is reachable as `identity`.
    Connected {
        peer: PeerId,
        identity: Bytes,
        socket_type: SocketType,
        /// For inproc: the binder's side, to tell it when this socket drops the pipe.
        inproc_peer: Option<(Weak<Signals>, PeerId)>,
    },
    /// The connection under a persistent (connect-side) pipe dropped; the pipe
    /// stays and is reused after reconnecting.
    Disconnected(PeerId),
    /// The pipe is finished for good.
    Detached(PeerId),
}

/// How the socket learns what happened to its pipes while it was not looking.
#[derive(Debug, Default)]
pub(crate) struct Signals {
    pub(crate) readable: RefCell<Vec<PeerId>>,
    pub(crate) writable: RefCell<Vec<PeerId>>,
    pub(crate) events: RefCell<VecDeque<PipeEvent>>,
    recv_wakers: RefCell<Vec<Waker>>,
    send_wakers: RefCell<Vec<Waker>>,
    /// Bumped on every signal, so a waiting operation can tell "nothing changed".
    pub(crate) generation: Cell<u64>,
}

impl Signals {
    pub(crate) fn wake_recv(&self) {
        self.generation.set(self.generation.get() + 1);
        for w in self.recv_wakers.borrow_mut().drain(..) {
            w.wake();
        }
    }

    pub(crate) fn wake_send(&self) {
        self.generation.set(self.generation.get() + 1);
        for w in self.send_wakers.borrow_mut().drain(..) {
            w.wake();
        }
    }

    pub(crate) fn event(&self, e: PipeEvent) {
        self.events.borrow_mut().push_back(e);
        self.wake_recv();
        self.wake_send();
    }

    pub(crate) fn register_recv(&self, w: &Waker) {
        let mut v = self.recv_wakers.borrow_mut();
        if !v.iter().any(|x| x.will_wake(w)) {
            v.push(w.clone());
        }
    }

    pub(crate) fn register_send(&self, w: &Waker) {
        let mut v = self.send_wakers.borrow_mut();
        if !v.iter().any(|x| x.will_wake(w)) {
            v.push(w.clone());
        }
    }
}

/// The socket's end of a pipe.
#[derive(Debug)]
pub(crate) struct Pipe {
    pub(crate) peer: PeerId,
    /// Messages from the peer.
    pub(crate) inbound: SharedQueue,
    /// Messages to the peer.
    pub(crate) outbound: SharedQueue,
    /// The peer's routing id (Identity property, or the inproc peer's ROUTING_ID).
    pub(crate) identity: Bytes,
    /// The peer's socket type, once known.
    pub(crate) peer_type: Option<SocketType>,
    /// Whether a handshake has completed (always, for inproc and accepted pipes).
    pub(crate) connected: bool,
    /// The endpoint this pipe came from (for monitor events and disconnect).
    pub(crate) endpoint: String,
    /// The peer's address, for logs, where the endpoint does not say it (an
    /// accepted tcp connection); `None` otherwise.
    pub(crate) remote: Option<String>,
    /// For inproc pipes: the other socket's signals and its name for this pipe.
    pub(crate) inproc_peer: Option<(Weak<Signals>, PeerId)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signals_for(q: &SharedQueue, peer: PeerId) -> Rc<Signals> {
        let s = Rc::new(Signals::default());
        q.borrow_mut().reader = Notify::Socket {
            signals: Rc::downgrade(&s),
            peer,
        };
        s
    }

    #[test]
    fn readiness_is_signalled_on_edges_only() {
        let q = Queue::new(2);
        let reader = signals_for(&q, PeerId(3));
        let writer = Rc::new(Signals::default());
        q.borrow_mut().writer = Notify::Socket {
            signals: Rc::downgrade(&writer),
            peer: PeerId(4),
        };
        q.borrow_mut().push(Msg::from("a"));
        q.borrow_mut().push(Msg::from("b"));
        assert_eq!(*reader.readable.borrow(), vec![PeerId(3)]);
        assert!(q.borrow().is_full());
        q.borrow_mut().pop().unwrap();
        q.borrow_mut().pop().unwrap();
        assert_eq!(*writer.writable.borrow(), vec![PeerId(4)]);
        assert!(q.borrow_mut().pop().is_none());
    }

    #[test]
    fn a_gone_reader_discards_and_frees_the_writer() {
        let q = Queue::new(1);
        q.borrow_mut().push(Msg::from("a"));
        assert!(q.borrow().is_full());
        q.borrow_mut().close_reader();
        assert!(q.borrow().is_empty());
        assert!(!q.borrow_mut().push(Msg::from("b")));
    }

    #[test]
    fn a_conflating_queue_keeps_the_newest_message_only() {
        let q = Queue::new(1);
        let reader = signals_for(&q, PeerId(1));
        q.borrow_mut().set_conflate(true);
        for i in 0..5 {
            q.borrow_mut().push(Msg::from(format!("{i}").into_bytes()));
            assert!(!q.borrow().is_full());
        }
        assert_eq!(q.borrow().len(), 1);
        assert_eq!(*reader.readable.borrow(), vec![PeerId(1)], "one edge");
        assert_eq!(&q.borrow_mut().pop().unwrap()[0][..], b"4");
    }

    #[test]
    fn zero_hwm_is_unbounded() {
        let q = Queue::new(0);
        for _ in 0..10_000 {
            q.borrow_mut().push(Msg::from("x"));
        }
        assert!(!q.borrow().is_full());
    }
}
