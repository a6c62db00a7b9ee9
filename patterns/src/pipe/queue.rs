//! One direction of a pipe: a bounded queue and who to tell when it changes.
//!
//! Readiness travels as edges: a push into an empty queue tells the reader,
//! a pop from a full queue tells the writer.
//!
//! **Reads reach the writer in batches, as libzmq's do.** libzmq's reader
//! tells its writer how far it has read once every LWM messages (half the
//! HWM, rounded up), and the writer counts a message against the HWM until
//! told: a full pipe's writer resumes once LWM messages were read, with
//! room for that many, rather than once per message. Here the queue counts
//! the reads not yet "told" (`unacked_reads`) against the HWM the same way:
//! the counts a sender meets are libzmq's (a publisher behind a proxy stops
//! where libzmq's does), and a writer at the HWM (an engine whose socket's
//! receiver is slower) is woken once per LWM messages instead of per message.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::task::Waker;

use bytes::Bytes;
use monocoque_runtime::PoolPressure;
use monocoque_zmtp::{Msg, WireRun};

use super::queued::Queued;
use super::signals::Signals;
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

/// A run of entries taken from a queue at once ([`Queue::take_held`]),
/// oldest first: its messages, and its runs in wire form, each one entry.
pub(crate) struct Run<'a> {
    items: std::collections::vec_deque::Drain<'a, Msg>,
    wire: std::collections::vec_deque::Drain<'a, Box<WireRun>>,
}

impl Iterator for Run<'_> {
    type Item = Queued;

    #[inline]
    fn next(&mut self) -> Option<Queued> {
        let msg = self.items.next()?;
        if msg.is_empty() {
            // A run's place (`Queue::wire`).
            return self.wire.next().map(Queued::Wire);
        }
        Some(Queued::Msg(msg))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

impl ExactSizeIterator for Run<'_> {}

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
    /// Messages, and in place of each run in wire form a message of no
    /// frames (no message has none), the run itself in `wire`: an entry
    /// stays a message's 32 bytes (at 40, a tagged entry, the sending
    /// context's thread was 10 ns a message slower at 64 B: every move a
    /// store-forwarding stall, as `Msg`'s own comment tells).
    items: VecDeque<Msg>,
    /// The runs in wire form, in order.
    wire: VecDeque<Box<WireRun>>,
    /// The messages `items` and `wire` hold.
    messages: usize,
    /// 0 = unbounded.
    hwm: usize,
    /// CONFLATE: a push replaces whatever is queued (never full).
    conflate: bool,
    /// The writer is gone: no more messages will come.
    writer_gone: bool,
    /// The reader is gone: pushes are discarded.
    reader_gone: bool,
    /// Messages taken out but still counted against the HWM: they wait in
    /// a blocking socket's receive lane (see [`HeldCredit`]).
    held: usize,
    /// Messages read since the writer was last "told": they count against
    /// the HWM until LWM of them are (see the module's comment).
    unacked_reads: usize,
    /// Tell the writer at every LWM reads, full or not: a relay between
    /// cores counts its credit from these (see [`report_each_lwm`](Self::report_each_lwm)).
    report_each_lwm: bool,
    pub(crate) reader: Notify,
    pub(crate) writer: Notify,
}

/// A queue shared by its two ends.
pub(crate) type SharedQueue = Rc<RefCell<Queue>>;

/// Messages taken out of a queue that still count against its HWM until
/// given back: a message a blocking socket moved to its receive lane is the
/// application's only once the application takes it, so the sender's count
/// to SNDHWM + RCVHWM stays libzmq's. One credit covers a run of messages
/// taken together ([`Queue::take_held`]); they are given back oldest first,
/// some at a time ([`release`](Self::release)) or all when it is dropped.
#[derive(Debug)]
pub(crate) struct HeldCredit {
    queue: SharedQueue,
    /// Messages still held.
    count: usize,
}

impl HeldCredit {
    /// Counts one more message against `queue`'s HWM.
    pub(crate) fn hold(queue: SharedQueue) -> HeldCredit {
        let mut q = queue.borrow_mut();
        // The message was just popped, which counted a read: it is held
        // instead, and read when the credit goes.
        q.unnote_read();
        q.held += 1;
        drop(q);
        HeldCredit { queue, count: 1 }
    }

    /// Gives back `n` of the messages held (the application took them):
    /// the writer may have room again.
    pub(crate) fn release(&mut self, n: usize) {
        let n = n.min(self.count);
        if n == 0 {
            return;
        }
        self.count -= n;
        let mut queue = self.queue.borrow_mut();
        let was_full = queue.is_full();
        queue.held -= n;
        queue.note_reads(n);
        if was_full && !queue.is_full() {
            queue.writer.writable();
        }
    }

    /// The first `n` of the messages held, as a credit of their own: a run
    /// whose entries go back at different times (a run in wire form is
    /// given back whole when the application takes it).
    pub(crate) fn split_first(&mut self, n: usize) -> HeldCredit {
        let n = n.min(self.count);
        self.count -= n;
        HeldCredit {
            queue: self.queue.clone(),
            count: n,
        }
    }

    /// Whether the socket dropped the pipe (a disconnect, an unbind): what
    /// it held is discarded, the messages this credit counts included.
    pub(crate) fn pipe_dropped(&self) -> bool {
        self.queue.borrow().reader_gone()
    }

    /// Whether `other` counts against the same pipe's queue.
    pub(crate) fn same_pipe(&self, other: &HeldCredit) -> bool {
        Rc::ptr_eq(&self.queue, &other.queue)
    }

    /// Whether the queue is at its HWM: its writer waits for this credit
    /// (or another) to be given back.
    pub(crate) fn holds_up_writer(&self) -> bool {
        self.queue.borrow().is_full()
    }
}

impl Drop for HeldCredit {
    /// The messages were taken (or dropped): the writer may have room again.
    fn drop(&mut self) {
        self.release(self.count);
    }
}

impl Queue {
    /// An empty queue holding at most `hwm` messages (0: unbounded), keeping
    /// only the newest one under `conflate`.
    pub(crate) fn new(hwm: usize, conflate: bool) -> SharedQueue {
        Rc::new(RefCell::new(Queue {
            items: VecDeque::new(),
            wire: VecDeque::new(),
            messages: 0,
            hwm,
            conflate,
            writer_gone: false,
            reader_gone: false,
            held: 0,
            unacked_reads: 0,
            report_each_lwm: false,
            reader: Notify::Nobody,
            writer: Notify::Nobody,
        }))
    }

    /// The most messages it holds (0: unbounded).
    pub(crate) fn hwm(&self) -> usize {
        self.hwm
    }

    pub(crate) fn set_hwm(&mut self, hwm: usize) {
        let was_full = self.is_full();
        self.hwm = hwm;
        self.unacked_reads = self.unacked_reads.min(self.lwm().saturating_sub(1));
        if was_full && !self.is_full() {
            self.writer.writable();
        }
    }

    /// CONFLATE: from now on keep only the newest message.
    pub(crate) fn set_conflate(&mut self, conflate: bool) {
        let was_full = self.is_full();
        self.conflate = conflate;
        if conflate {
            let last = match self.items.pop_back() {
                Some(msg) if msg.is_empty() => self
                    .wire
                    .pop_back()
                    .and_then(|run| Queued::Wire(run).into_messages().last()),
                last => last,
            };
            self.items.clear();
            self.wire.clear();
            self.messages = 0;
            if let Some(msg) = last {
                self.items.push_back(msg);
                self.messages = 1;
            }
        }
        if was_full && !self.is_full() {
            self.writer.writable();
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        !self.conflate
            && self.hwm != 0
            && self.messages + self.held + self.unacked_reads >= self.hwm
    }

    /// How many more messages the writer may push before the queue is full
    /// (`usize::MAX` where it never is: no HWM, or CONFLATE).
    pub(crate) fn room(&self) -> usize {
        if self.conflate || self.hwm == 0 {
            return usize::MAX;
        }
        self.hwm
            .saturating_sub(self.messages + self.held + self.unacked_reads)
    }

    /// libzmq's low-water mark: how many reads the writer is told of at a
    /// time (`(hwm + 1) / 2`, as libzmq 4.3's `compute_lwm`).
    fn lwm(&self) -> usize {
        self.hwm.div_ceil(2)
    }

    /// From now on the writer hears of every LWM reads, not only of the
    /// read that takes a full queue below its HWM: libzmq's reader tells
    /// its writer so whatever the fill, and a writer on another core (a
    /// relay's window, `fanout/window.rs`) needs it to give credit back.
    /// Needs an HWM (there is no LWM without one).
    pub(crate) fn report_each_lwm(&mut self) {
        debug_assert!(self.hwm != 0 && !self.conflate);
        self.report_each_lwm = true;
    }

    /// Whether [`report_each_lwm`](Self::report_each_lwm) holds: its HWM is
    /// a window its far side keeps to, and must not change under it.
    pub(crate) fn reports_each_lwm(&self) -> bool {
        self.report_each_lwm
    }

    /// Messages in the queue or held out of it: what its reader has not
    /// taken yet.
    pub(crate) fn outstanding(&self) -> usize {
        self.messages + self.held
    }

    /// One message read: counted against the HWM until LWM reads are.
    fn note_read(&mut self) {
        if self.hwm == 0 || self.conflate {
            return;
        }
        self.unacked_reads += 1;
        if self.unacked_reads >= self.lwm() {
            self.unacked_reads = 0;
            if self.report_each_lwm {
                self.writer.writable();
            }
        }
    }

    /// `n` messages read at once: the writer is told of every whole LWM
    /// among them, as libzmq's reader tells it at each multiple of LWM.
    fn note_reads(&mut self, n: usize) {
        if self.hwm == 0 || self.conflate {
            return;
        }
        let reads = self.unacked_reads + n;
        self.unacked_reads = reads % self.lwm();
        if self.report_each_lwm && reads >= self.lwm() {
            self.writer.writable();
        }
    }

    /// Takes back the read [`note_read`](Self::note_read) just counted.
    fn unnote_read(&mut self) {
        if self.hwm == 0 || self.conflate {
            return;
        }
        self.unacked_reads = match self.unacked_reads {
            // That read completed a batch: the batch is one short again.
            0 => self.lwm().saturating_sub(1),
            n => n - 1,
        };
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Messages queued (a run counts as the messages it holds).
    pub(crate) fn len(&self) -> usize {
        self.messages
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
        self.push_under(msg, monocoque_runtime::recv_pool_pressure())
    }

    /// [`push`](Self::push) with the pool's pressure read by the caller:
    /// once for a batch (an engine delivering every message of a read).
    pub(crate) fn push_under(&mut self, msg: Msg, pressure: PoolPressure) -> bool {
        if self.reader_gone {
            return false;
        }
        let msg = match pressure {
            PoolPressure::Low => msg,
            PoolPressure::High if self.items.len() < ZERO_COPY_BACKLOG => msg,
            PoolPressure::High | PoolPressure::NearlyDry => detach_from_pool(msg),
        };
        if self.conflate && !self.items.is_empty() {
            // The newest value replaces the one not read yet.
            self.items.clear();
            self.wire.clear();
            self.items.push_back(msg);
            self.messages = 1;
            return true;
        }
        self.messages += 1;
        self.items.push_back(msg);
        if self.items.len() == 1 {
            self.reader.readable();
        }
        true
    }

    /// Whether [`push_run`](Self::push_run) keeps runs whole: not under
    /// CONFLATE, which keeps one message.
    pub(crate) fn takes_runs(&self) -> bool {
        !self.conflate
    }

    /// Appends a run of messages in their wire form (`queued.rs`), counted
    /// as its messages, under the pool's `pressure` as
    /// [`push_under`](Self::push_under) is. Returns `false` if the reader
    /// is gone.
    pub(crate) fn push_run(&mut self, run: WireRun, pressure: PoolPressure) -> bool {
        if self.reader_gone {
            return false;
        }
        if run.is_empty() {
            return true;
        }
        let run = match pressure {
            PoolPressure::Low => run,
            PoolPressure::High if self.items.len() < ZERO_COPY_BACKLOG => run,
            PoolPressure::High | PoolPressure::NearlyDry
                if monocoque_runtime::in_recv_pool(run.wire()) =>
            {
                run.detached()
            }
            PoolPressure::High | PoolPressure::NearlyDry => run,
        };
        if self.conflate {
            for msg in Queued::Wire(Box::new(run)).into_messages() {
                self.push_under(msg, PoolPressure::Low);
            }
            return true;
        }
        self.messages += run.messages();
        self.wire.push_back(Box::new(run));
        self.items.push_back(Msg::new());
        if self.items.len() == 1 {
            self.reader.readable();
        }
        true
    }

    /// The first message, taken out of a run if one is first (in place: a
    /// message entry is moved once, as before runs existed).
    #[inline]
    fn pop_front_message(&mut self) -> Option<Msg> {
        if self.wire.is_empty() {
            let msg = self.items.pop_front()?;
            self.messages -= 1;
            return Some(msg);
        }
        let msg = if self.items.front()?.is_empty() {
            let run = self.wire.front_mut()?;
            let msg = run.next_message();
            if run.is_empty() {
                self.wire.pop_front();
                self.items.pop_front();
            }
            msg
        } else {
            self.items.pop_front()
        };
        match msg {
            Some(msg) => {
                self.messages -= 1;
                Some(msg)
            }
            None => {
                // A run that held less than it said (never made so): its
                // count goes with it.
                self.items.pop_front();
                self.wire.pop_front();
                self.messages = self.items.iter().filter(|m| !m.is_empty()).count()
                    + self.wire.iter().map(|r| r.messages()).sum::<usize>();
                None
            }
        }
    }

    /// Puts a message ahead of everything queued (a PROBE_ROUTER probe).
    pub(crate) fn push_front(&mut self, msg: Msg) {
        self.messages += 1;
        self.items.push_front(msg);
        if self.items.len() == 1 {
            self.reader.readable();
        }
    }

    pub(crate) fn pop(&mut self) -> Option<Msg> {
        let was_full = self.is_full();
        let msg = self.pop_front_message()?;
        self.note_read();
        if was_full && !self.is_full() {
            self.writer.writable();
        }
        Some(msg)
    }

    /// Pops messages into `take`, oldest first, until the queue is empty or
    /// `take` says to stop (it returns whether to go on, after taking the
    /// message it was handed); the writer is told as by as many
    /// [`pop`](Self::pop)s. Returns how many were taken. One call for a
    /// batch: an engine filling a write took each message through `pop`'s
    /// returned `Option`, a copy through memory per message.
    pub(crate) fn pop_while(&mut self, mut take: impl FnMut(Msg) -> bool) -> usize {
        let was_full = self.is_full();
        let mut n = 0;
        if self.wire.is_empty() {
            // No run in wire form (always so outbound): the loop as it was
            // before there were any, its count settled once.
            while let Some(msg) = self.items.pop_front() {
                n += 1;
                if !take(msg) {
                    break;
                }
            }
            self.messages -= n;
        } else {
            while let Some(msg) = self.pop_front_message() {
                n += 1;
                if !take(msg) {
                    break;
                }
            }
        }
        self.reads_taken(n, was_full);
        n
    }

    /// `n` messages were read at once from a queue that was full or not
    /// (`was_full`): counted, and the writer told if that made room.
    fn reads_taken(&mut self, n: usize, was_full: bool) {
        if n > 0 {
            self.note_reads(n);
            if was_full && !self.is_full() {
                self.writer.writable();
            }
        }
    }

    /// Whether a run in wire form is queued: then a reader that sends
    /// what it pops (an engine) takes entries
    /// ([`pop_entries_while`](Self::pop_entries_while)), not messages.
    pub(crate) fn has_wire(&self) -> bool {
        !self.wire.is_empty()
    }

    /// As [`pop_while`](Self::pop_while), an entry at a time: a run in wire
    /// form whole, for an engine to write as it is.
    pub(crate) fn pop_entries_while(&mut self, mut take: impl FnMut(Queued) -> bool) -> usize {
        let was_full = self.is_full();
        let mut n = 0;
        while let Some(msg) = self.items.pop_front() {
            let entry = match msg.is_empty() {
                true => match self.wire.pop_front() {
                    Some(run) => Queued::Wire(run),
                    None => continue,
                },
                false => Queued::Msg(msg),
            };
            let messages = match &entry {
                Queued::Msg(_) => 1,
                Queued::Wire(run) => run.messages(),
            };
            n += messages;
            self.messages -= messages;
            if !take(entry) {
                break;
            }
        }
        self.reads_taken(n, was_full);
        n
    }

    /// Takes up to `max` entries at once (a run of messages in their wire
    /// form is one), handing them to `sink` as one run (what it leaves of
    /// the run is dropped), each message still counted against the HWM
    /// until the returned credit gives it back (`None`: the queue was
    /// empty). No writer is told anything here: what it counts has not
    /// changed. Returns the credit with how many entries were taken.
    pub(crate) fn take_held(
        queue: &SharedQueue,
        max: usize,
        sink: impl FnOnce(&mut Run<'_>),
    ) -> Option<(HeldCredit, usize)> {
        let mut q = queue.borrow_mut();
        let n = max.min(q.items.len());
        if n == 0 {
            return None;
        }
        // Looked for only where there are runs (a message at a time
        // otherwise: inproc, and every type but PULL, DEALER and PAIR).
        let runs = match q.wire.is_empty() {
            true => 0,
            false => q.items.iter().take(n).filter(|m| m.is_empty()).count(),
        };
        let messages = n - runs
            + q.wire
                .iter()
                .take(runs)
                .map(|r| r.messages())
                .sum::<usize>();
        let q = &mut *q;
        sink(&mut Run {
            items: q.items.drain(..n),
            wire: q.wire.drain(..runs),
        });
        q.messages -= messages;
        q.held += messages;
        Some((
            HeldCredit {
                queue: queue.clone(),
                count: messages,
            },
            n,
        ))
    }

    /// Discards every queued message (the peer this queue fed is gone).
    pub(crate) fn clear(&mut self) -> usize {
        let was_full = self.is_full();
        let n = self.messages;
        self.items.clear();
        self.wire.clear();
        self.messages = 0;
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
            self.wire.clear();
            self.messages = 0;
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
        let q = Queue::new(2, false);
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
    fn pop_while_takes_in_order_until_told_to_stop_and_counts_reads_as_pops() {
        let q = Queue::new(10, false);
        let writer = Rc::new(Signals::default());
        q.borrow_mut().writer = Notify::Socket {
            signals: Rc::downgrade(&writer),
            peer: PeerId(7),
        };
        for i in 0..10 {
            q.borrow_mut().push(Msg::from(format!("{i}").into_bytes()));
        }
        assert!(q.borrow().is_full());
        let mut seen = Vec::new();
        let taken = q.borrow_mut().pop_while(|m| {
            seen.push(m[0][0]);
            seen.len() < 4
        });
        assert_eq!(taken, 4);
        assert_eq!(seen, b"0123", "oldest first, the stopping one taken");
        assert!(q.borrow().is_full(), "4 reads: not told yet (LWM 5)");
        assert!(writer.writable.borrow().is_empty());
        assert_eq!(q.borrow_mut().pop_while(|_| false), 1);
        assert!(!q.borrow().is_full(), "the fifth read frees LWM slots");
        assert_eq!(*writer.writable.borrow(), vec![PeerId(7)]);
        assert_eq!(q.borrow().room(), 5);
        assert_eq!(q.borrow_mut().pop_while(|_| true), 5, "to the end");
        assert_eq!(q.borrow_mut().pop_while(|_| true), 0);
    }

    #[test]
    fn a_gone_reader_discards_and_frees_the_writer() {
        let q = Queue::new(1, false);
        q.borrow_mut().push(Msg::from("a"));
        assert!(q.borrow().is_full());
        q.borrow_mut().close_reader();
        assert!(q.borrow().is_empty());
        assert!(!q.borrow_mut().push(Msg::from("b")));
    }

    #[test]
    fn a_conflating_queue_keeps_the_newest_message_only() {
        let q = Queue::new(1, false);
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
    fn a_queue_that_reports_each_lwm_tells_its_writer_full_or_not() {
        let q = Queue::new(4, false);
        let writer = Rc::new(Signals::default());
        q.borrow_mut().writer = Notify::Socket {
            signals: Rc::downgrade(&writer),
            peer: PeerId(2),
        };
        q.borrow_mut().report_each_lwm();
        for _ in 0..3 {
            q.borrow_mut().push(Msg::from("m"));
        }
        assert!(!q.borrow().is_full());
        q.borrow_mut().pop().unwrap();
        assert!(writer.writable.borrow().is_empty(), "1 read of LWM 2");
        q.borrow_mut().pop().unwrap();
        assert_eq!(
            *writer.writable.borrow(),
            vec![PeerId(2)],
            "told at LWM, never full"
        );
        assert_eq!(q.borrow().outstanding(), 1);
        // Reads of held messages count when given back.
        let credit = Queue::take_held(&q, 1, |run| run.for_each(drop)).unwrap();
        assert_eq!(q.borrow().outstanding(), 1, "held still counts");
        writer.writable.borrow_mut().clear();
        q.borrow_mut().push(Msg::from("m"));
        q.borrow_mut().pop().unwrap();
        assert!(writer.writable.borrow().is_empty());
        drop(credit);
        assert_eq!(*writer.writable.borrow(), vec![PeerId(2)]);
        assert_eq!(q.borrow().outstanding(), 0);
    }

    #[test]
    fn a_full_writer_resumes_after_lwm_reads_with_that_much_room() {
        let q = Queue::new(10, false);
        let writer = Rc::new(Signals::default());
        q.borrow_mut().writer = Notify::Socket {
            signals: Rc::downgrade(&writer),
            peer: PeerId(7),
        };
        for _ in 0..10 {
            q.borrow_mut().push(Msg::from("m"));
        }
        assert!(q.borrow().is_full());
        for _ in 0..4 {
            q.borrow_mut().pop().unwrap();
            assert!(q.borrow().is_full(), "4 reads: not told yet (LWM 5)");
        }
        assert!(writer.writable.borrow().is_empty());
        q.borrow_mut().pop().unwrap();
        assert!(!q.borrow().is_full());
        assert_eq!(
            *writer.writable.borrow(),
            vec![PeerId(7)],
            "one wake for 5 reads"
        );
        // Room for exactly the 5 read: 5 queued + 5 pushed.
        for _ in 0..5 {
            assert!(!q.borrow().is_full());
            q.borrow_mut().push(Msg::from("m"));
        }
        assert!(q.borrow().is_full());
    }

    #[test]
    fn a_held_message_counts_until_its_credit_goes_then_as_a_read() {
        let q = Queue::new(4, false); // LWM 2
        for _ in 0..4 {
            q.borrow_mut().push(Msg::from("m"));
        }
        q.borrow_mut().pop().unwrap();
        let first = HeldCredit::hold(q.clone());
        assert!(q.borrow().is_full(), "3 queued + 1 held");
        drop(first);
        assert!(q.borrow().is_full(), "3 queued + 1 read not told");
        q.borrow_mut().pop().unwrap();
        let second = HeldCredit::hold(q.clone());
        drop(second);
        assert!(!q.borrow().is_full(), "2 reads told: 2 queued");
        assert_eq!(q.borrow().len(), 2);
    }

    #[test]
    fn a_run_taken_held_counts_until_released_oldest_first() {
        // HWM 4, LWM 2: the writer hears of reads two at a time.
        let q = Queue::new(4, false);
        for i in 0..4 {
            q.borrow_mut().push(Msg::from(Bytes::from(format!("m{i}"))));
        }
        let mut taken = Vec::new();
        let (mut credit, _) = Queue::take_held(&q, 3, |run| {
            taken.extend(run.flat_map(Queued::into_messages))
        })
        .unwrap();
        assert_eq!(taken.len(), 3);
        assert_eq!(taken[0], Msg::from("m0"));
        assert_eq!(q.borrow().len(), 1);
        assert!(q.borrow().is_full(), "1 queued + 3 held");
        credit.release(1);
        assert!(q.borrow().is_full(), "1 queued + 2 held + 1 read not told");
        credit.release(1);
        assert!(!q.borrow().is_full(), "2 reads told: 1 queued + 1 held");
        assert_eq!(credit.count, 1);
        drop(credit);
        assert!(!q.borrow().is_full());
        assert!(
            Queue::take_held(&q, 0, |_| {}).is_none(),
            "max 0 takes nothing"
        );
        let (rest, _) = Queue::take_held(&q, 8, |run| {
            assert_eq!(run.len(), 1);
            taken.extend(run.flat_map(Queued::into_messages))
        })
        .unwrap();
        assert_eq!(rest.count, 1, "only what is queued");
        assert!(Queue::take_held(&q, 8, |_| {}).is_none(), "empty");
    }

    /// Three one-frame messages "a", "b", "c" in their wire form.
    fn wire_abc() -> WireRun {
        WireRun::from_checked(Bytes::from_static(&[0, 1, b'a', 0, 1, b'b', 0, 1, b'c']), 3)
    }

    #[test]
    fn a_run_in_wire_form_counts_as_its_messages_and_pops_one_at_a_time() {
        let q = Queue::new(4, false);
        q.borrow_mut().push(Msg::from("first"));
        assert!(q.borrow_mut().push_run(wire_abc(), PoolPressure::Low));
        assert_eq!(q.borrow().len(), 4);
        assert!(
            q.borrow().is_full(),
            "a run counts against the HWM as its messages"
        );
        let mut q = q.borrow_mut();
        let popped: Vec<Msg> = std::iter::from_fn(|| q.pop()).collect();
        let want: Vec<Msg> = ["first", "a", "b", "c"].map(Msg::from).into();
        assert_eq!(popped, want);
        assert!(q.is_empty());
        assert_eq!(q.len(), 0, "no message counted");
    }

    #[test]
    fn a_run_taken_held_is_one_entry_and_its_credit_counts_its_messages() {
        let q = Queue::new(8, false);
        q.borrow_mut().push_run(wire_abc(), PoolPressure::Low);
        q.borrow_mut().push(Msg::from("d"));
        let (credit, entries) = Queue::take_held(&q, 1, |run| assert_eq!(run.len(), 1)).unwrap();
        assert_eq!(entries, 1);
        assert_eq!(credit.count, 3, "the run's three messages are held");
        assert_eq!(q.borrow().len(), 1);
        assert_eq!(q.borrow().outstanding(), 4);
    }

    #[test]
    fn a_conflating_queue_keeps_the_newest_message_of_a_run() {
        let q = Queue::new(1, true);
        assert!(!q.borrow().takes_runs());
        q.borrow_mut().push_run(wire_abc(), PoolPressure::Low);
        assert_eq!(q.borrow().len(), 1);
        assert_eq!(q.borrow_mut().pop(), Some(Msg::from("c")));
        // CONFLATE set on a queue holding a run: the newest message stays.
        let q = Queue::new(8, false);
        q.borrow_mut().push_run(wire_abc(), PoolPressure::Low);
        q.borrow_mut().set_conflate(true);
        assert_eq!(q.borrow().len(), 1);
        assert_eq!(q.borrow_mut().pop(), Some(Msg::from("c")));
    }

    #[test]
    fn a_gone_reader_refuses_runs() {
        let q = Queue::new(8, false);
        q.borrow_mut().close_reader();
        assert!(!q.borrow_mut().push_run(wire_abc(), PoolPressure::Low));
        assert_eq!(q.borrow().len(), 0);
    }

    #[test]
    fn room_is_what_the_writer_may_push_before_full() {
        let q = Queue::new(4, false); // LWM 2
        assert_eq!(q.borrow().room(), 4);
        for _ in 0..4 {
            q.borrow_mut().push(Msg::from("m"));
        }
        assert_eq!(q.borrow().room(), 0);
        q.borrow_mut().pop().unwrap();
        assert_eq!(q.borrow().room(), 0, "one read, not told yet");
        q.borrow_mut().pop().unwrap();
        assert_eq!(q.borrow().room(), 2, "two reads told");
        assert_eq!(Queue::new(0, false).borrow().room(), usize::MAX);
        assert_eq!(Queue::new(1, true).borrow().room(), usize::MAX);
    }

    #[test]
    fn zero_hwm_is_unbounded() {
        let q = Queue::new(0, false);
        for _ in 0..10_000 {
            q.borrow_mut().push(Msg::from("x"));
        }
        assert!(!q.borrow().is_full());
    }
}
