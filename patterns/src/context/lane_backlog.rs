//! What a context's send lanes hold, counted for the commands that must
//! not overtake it.
//!
//! A send into a lane returns before its message is in its socket (the
//! context's thread moves it there: `lanes.rs`). A command given after that
//! send returned must still act as if it were there, as libzmq's pipes show
//! a message at once: a PULL's ZMQ_DONTWAIT receive finds what a PUSH on
//! another thread sent before, a PULL's disconnect drops it with the pipe.
//! Two counts say how far the lanes' messages have got:
//!
//! ```text
//!  user's send ─put_in─▶ [ring] ──taken──▶ pump ──gone──▶ socket's pipes
//!                │                            │ (or parked behind a
//!                └ unlooked (per context: ────┘  message the socket made
//!                │  lanes, count_out when idle)  wait, until it goes)
//!                └─ queued (per lane) ─────────────────┘
//! ```
//!
//! - `unlooked`, one per context, counts the lanes whose rings may hold a
//!   message their pump has not taken. A lane is counted in by its user's
//!   side at the first message after its pump last found both rings empty,
//!   and counted out by the pump when it finds them empty again, which it
//!   does whenever it runs, whatever the socket says (a message the socket
//!   cannot take yet is parked beside the pump). A command that looks at a
//!   socket now ([`Settle::others`]) and finds it above zero lets the
//!   reactor run every task other threads woke before it
//!   ([`yield_behind_remote`]): the pumps of the sends that returned before
//!   the command was given are among them (a send wakes its pump), so
//!   their messages are then in their sockets, or parked. One turn,
//!   whatever other threads keep sending meanwhile.
//!
//!   Counting lanes rather than messages keeps the locked instructions of
//!   a count shared by every lane off the send: one a message cost the
//!   sending thread 8-10 % at 64 B (docs/BENCHMARKS.md, attempt 21). The
//!   two sides settle who counts with the full fence each already pays
//!   (the ring's wake after a push; the pump's before it goes idle): a
//!   sender that finds the lane counted in is sure its pump looks at the
//!   rings again after its message went in.
//! - `queued`, one per lane, falls once the message is in its socket, which
//!   may wait for a peer. A command that follows the same thread's own lane
//!   sends waits for those lanes ([`Settle::own`]), for a few turns: enough
//!   for room already on its way (a pipe's reads told to its writer), never
//!   for a peer that does not read. It is two counts, each written by one
//!   side only ([`QueuedCount`]): the user's thread pays no locked
//!   instruction for it (one fewer a message than a shared count).
//!
//! A parked message is one whose send libzmq would still be blocked in (the
//! socket had no room), so a command on another thread need not see it.

use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use monocoque_runtime::{sleep, yield_behind_remote};

/// How many turns a command waits for its own thread's lanes (see [`settle`]).
const SETTLE_TURNS: usize = 16;

/// One turn of [`Settle::own`]: the shortest wait, which lets the reactor
/// run every task that is ready, the pumps among them.
const SETTLE_TURN: Duration = Duration::from_micros(1);

/// The send lanes of a context that may hold messages no pump has taken.
#[derive(Debug, Default)]
pub(super) struct Backlog {
    unlooked: AtomicUsize,
}

impl Backlog {
    /// Whether a lane's ring may hold a message its pump has not taken:
    /// until it has, a receive on another socket cannot tell whether it
    /// comes. Never `false` while a send that returned before this call
    /// (on any thread this one has heard from since) has its message in a
    /// ring; `true` for a while longer at times, until the pump that took
    /// everything goes idle (which a lane counted in after its pump's last
    /// look wakes it to do: `LaneSender::put_in`).
    pub(super) fn has_unlooked(&self) -> bool {
        self.unlooked.load(Ordering::Acquire) != 0
    }
}

/// How many of a lane's messages are not in their socket yet (in the ring,
/// parked, or being sent): those the user's side put in minus those the
/// pump saw go. Each count has one writer (the lane's user side, used by
/// one thread at a time; its pump, on the context's thread), so each is
/// raised with a plain load and a release store, never a locked
/// instruction. Read where both counts' writes are seen: on the sending
/// thread, and on the context's thread for a command that thread gave
/// after its sends (the command ring orders them), so `sent` is never
/// below `gone` there.
#[derive(Debug, Default)]
pub(super) struct QueuedCount {
    sent: AtomicUsize,
    gone: AtomicUsize,
}

impl QueuedCount {
    /// Whether every message put in has gone into the socket (or was
    /// dropped).
    pub(super) fn is_empty(&self) -> bool {
        // `gone` first: read after it, `sent` is at least as large.
        let gone = self.gone.load(Ordering::Acquire);
        self.sent.load(Ordering::Acquire) == gone
    }

    /// One message is in the ring: for the lane's user side only.
    #[inline]
    fn add_sent(&self) {
        let sent = self.sent.load(Ordering::Relaxed);
        self.sent.store(sent.wrapping_add(1), Ordering::Release);
    }

    /// `n` messages went into the socket or were dropped: for the lane's
    /// pump only.
    fn add_gone(&self, n: usize) {
        let gone = self.gone.load(Ordering::Relaxed);
        self.gone.store(gone.wrapping_add(n), Ordering::Release);
    }

    /// How many were put in and, by `gone_seen` (a `gone` read earlier,
    /// kept by the caller), not yet in the socket: at least the true count,
    /// with no load of the pump's line. Re-read when it reaches `bound`, so
    /// the answer is exact whenever it is `bound` or more: the lane's user
    /// side bounding what its encoded ring holds ahead (`lanes.rs`).
    #[inline]
    pub(super) fn at_least(&self, gone_seen: &mut usize, bound: usize) -> usize {
        let sent = self.sent.load(Ordering::Relaxed);
        let ahead = sent.wrapping_sub(*gone_seen);
        if ahead < bound {
            return ahead;
        }
        *gone_seen = self.gone.load(Ordering::Acquire);
        sent.wrapping_sub(*gone_seen)
    }

    /// How many are not in the socket yet.
    #[cfg(test)]
    fn count(&self) -> usize {
        let gone = self.gone.load(Ordering::Acquire);
        self.sent.load(Ordering::Acquire).wrapping_sub(gone)
    }
}

/// One lane's counts, shared by its two sides: the context's `unlooked`,
/// whether this lane is counted in it, and the lane's own `queued`.
#[derive(Debug, Clone)]
pub(super) struct LaneCounts {
    context: Arc<Backlog>,
    /// This lane is one of the context's `unlooked`: set by whichever side
    /// counted it in, cleared by the side that counts it out.
    counted: Arc<AtomicBool>,
    queued: Arc<QueuedCount>,
}

/// Which of the lanes' messages a command waits for before it runs.
#[derive(Debug, Default)]
pub(super) struct Settle {
    /// Those of every thread: the command looks at what a socket has now
    /// (a ZMQ_DONTWAIT receive, ZMQ_EVENTS, `queued`), so while a ring holds a
    /// message no pump has taken, it yields once behind every task other
    /// threads woke (the pumps of the sends that returned before it).
    pub(super) others: bool,
    /// Those of the lanes the command's thread sent into since its previous
    /// command, until they are in their sockets, for a few turns.
    pub(super) own: Vec<Arc<QueuedCount>>,
}

impl LaneCounts {
    /// The counts of a new lane of the context whose backlog is `context`.
    pub(super) fn new(context: Arc<Backlog>) -> LaneCounts {
        LaneCounts {
            context,
            counted: Arc::new(AtomicBool::new(false)),
            queued: Arc::new(QueuedCount::default()),
        }
    }

    /// The context's backlog, by address: which context the lane is of.
    pub(super) fn context(&self) -> *const Backlog {
        Arc::as_ptr(&self.context)
    }

    /// What a command after a send into this lane waits on ([`Settle::own`]).
    pub(super) fn queued(&self) -> &Arc<QueuedCount> {
        &self.queued
    }

    /// A message is in a ring, and the ring's wake has run since its push
    /// (`spsc::Sender::wake_receiver`, `ByteWriter::wake_reader`: a full
    /// fence each): the lane counted in the context's backlog unless it is
    /// already, and the message in the lane's `queued` (only this thread,
    /// or a command it gives later, reads that count).
    ///
    /// Counted in already, the lane's pump has not gone idle since this
    /// side's fence: its last look at the rings, after its own fence in
    /// [`count_out`](Self::count_out), is still to come and sees this
    /// message (one of the two fences came first).
    ///
    /// Returns whether this call counted the lane in: its pump may have
    /// gone idle before it did (its last look found the message taken and
    /// the lane not counted), so the caller wakes it again to count the
    /// lane out.
    #[inline]
    pub(super) fn put_in(&self) -> bool {
        let counted_in = !self.counted.load(Ordering::Relaxed) && self.count_in();
        self.queued.add_sent();
        counted_in
    }

    /// The lane held nothing unlooked as far as this side knew: counted in,
    /// unless the pump has counted it in again meanwhile. The count goes up
    /// before the flag: a side that finds the flag set may take the count
    /// off, which then never passes below what the lanes hold.
    #[cold]
    #[inline(never)]
    fn count_in(&self) -> bool {
        self.context.unlooked.fetch_add(1, Ordering::AcqRel);
        if self.counted.swap(true, Ordering::AcqRel) {
            self.context.unlooked.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// The pump found both rings empty and is going idle: the lane leaves
    /// the context's backlog, unless `rings_empty`, asked again after a
    /// full fence, says a message came meanwhile. Then the lane stays
    /// counted in and this returns `false`: the pump looks again.
    pub(super) fn count_out(&self, rings_empty: impl FnOnce() -> bool) -> bool {
        // A sender that sets the flag after this look wakes the pump again.
        // Taken with a swap: its count, added before the flag, is seen.
        if !self.counted.load(Ordering::Relaxed) || !self.counted.swap(false, Ordering::AcqRel) {
            return true;
        }
        // Pairs with the ring's wake after a push (see `put_in`): either
        // the look below sees that message, or its sender sees `counted`
        // false and counts the lane in itself.
        fence(Ordering::SeqCst);
        if rings_empty() {
            self.context.unlooked.fetch_sub(1, Ordering::AcqRel);
            return true;
        }
        // A message came: counted in again, by this side or, if its sender
        // did meanwhile, by that side alone.
        if self.counted.swap(true, Ordering::AcqRel) {
            self.context.unlooked.fetch_sub(1, Ordering::AcqRel);
        }
        false
    }

    /// One side of the lane is going: if the lane is counted in, it leaves
    /// the context's backlog (what its rings hold is never taken now: the
    /// pump's side, or the user's once the pump is gone).
    pub(super) fn leave(&self) {
        if self.counted.swap(false, Ordering::AcqRel) {
            self.context.unlooked.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// `n` messages are in the socket, or were dropped.
    pub(super) fn gone(&self, n: usize) {
        if n > 0 {
            self.queued.add_gone(n);
        }
    }
}

/// Lets the context's pumps move what the lanes hold before a command runs,
/// as far as `settle` asks (see the module's doc).
pub(super) async fn settle(backlog: &Backlog, settle: &Settle) {
    for _ in 0..SETTLE_TURNS {
        if settle.own.iter().all(|q| q.is_empty()) {
            break;
        }
        // A timer, not a yield: a yielded task runs again before the tasks
        // woken from other threads (the pumps), a sleeping one after them.
        sleep(SETTLE_TURN).await;
    }
    if settle.others && backlog.has_unlooked() {
        yield_behind_remote().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lane_stays_counted_until_its_pump_finds_it_empty() {
        let context = Arc::new(Backlog::default());
        let (a, b) = (
            LaneCounts::new(context.clone()),
            LaneCounts::new(context.clone()),
        );
        a.put_in();
        a.put_in();
        b.put_in();
        assert_eq!(
            context.unlooked.load(Ordering::Relaxed),
            2,
            "lanes, not messages"
        );
        assert!(a.count_out(|| true));
        assert!(context.has_unlooked(), "b's is still in its ring");
        assert!(b.count_out(|| true));
        assert!(!context.has_unlooked(), "both taken: passed or parked");
        assert!(a.count_out(|| true), "counted out once");
        assert!(!context.has_unlooked());
        assert_eq!(a.queued().count(), 2, "not in its socket yet");
        a.gone(2);
        assert!(a.queued().is_empty());
        assert_eq!(b.queued().count(), 1, "per lane");
        b.gone(1);
        assert!(b.queued().is_empty());
    }

    #[test]
    fn a_message_that_comes_as_the_pump_goes_idle_keeps_the_lane_counted() {
        let context = Arc::new(Backlog::default());
        let lane = LaneCounts::new(context.clone());
        lane.put_in();
        // The pump's second look finds a message whose sender saw the lane
        // still counted in: the pump counts it in again, the look goes on.
        assert!(!lane.count_out(|| false));
        assert_eq!(context.unlooked.load(Ordering::Relaxed), 1);
        // Its sender saw the lane counted out and counted it in too: one
        // count, not two.
        let sender = lane.clone();
        assert!(!lane.count_out(|| {
            sender.put_in();
            false
        }));
        assert_eq!(context.unlooked.load(Ordering::Relaxed), 1);
        assert!(lane.count_out(|| true));
        assert!(!context.has_unlooked());
    }

    #[test]
    fn a_lane_counted_in_leaves_with_either_side() {
        let context = Arc::new(Backlog::default());
        let lane = LaneCounts::new(context.clone());
        lane.put_in();
        lane.leave();
        assert!(!context.has_unlooked());
        lane.leave();
        assert!(!context.has_unlooked(), "once");
        assert!(lane.count_out(|| true));
        assert!(!context.has_unlooked());
    }
}
