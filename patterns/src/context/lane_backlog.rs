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
//!  user's send ──raise──▶ [ring] ──taken──▶ pump ──gone──▶ socket's pipes
//!                │                            │ (or parked behind a
//!                └─ unlooked (per context) ───┘  message the socket made
//!                └─ queued (per lane) ─────────────────┘  wait, until it goes)
//! ```
//!
//! - `unlooked`, one per context, falls as soon as a lane's pump takes the
//!   message out of its ring, which it does whenever it runs, whatever the
//!   socket says (a message the socket cannot take yet is parked beside
//!   the pump). A command that looks at a socket now ([`Settle::others`])
//!   and finds it above zero lets the reactor run every task other threads
//!   woke before it ([`yield_behind_remote`]): the pumps of the sends that
//!   returned before the command was given are among them (a send wakes
//!   its pump), so their messages are then in their sockets, or parked.
//!   One turn, whatever other threads keep sending meanwhile.
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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use monocoque_runtime::{sleep, yield_behind_remote};

/// How many turns a command waits for its own thread's lanes (see [`settle`]).
const SETTLE_TURNS: usize = 16;

/// One turn of [`Settle::own`]: the shortest wait, which lets the reactor
/// run every task that is ready, the pumps among them.
const SETTLE_TURN: Duration = Duration::from_micros(1);

/// Messages in a context's send lanes that no pump has taken yet.
#[derive(Debug, Default)]
pub(super) struct Backlog {
    unlooked: AtomicUsize,
}

impl Backlog {
    /// Whether a lane's ring holds a message its pump has not taken: until
    /// it has, a receive on another socket cannot tell whether it comes.
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

/// One lane's counts, shared by its two sides: the context's `unlooked`
/// and the lane's own `queued`.
#[derive(Debug, Clone)]
pub(super) struct LaneCounts {
    context: Arc<Backlog>,
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

    /// A user's send is about to put a message in the ring: counted in the
    /// context's backlog before the pump can see it, so that count never
    /// goes below zero (it is shared by every lane of the context, so it
    /// takes a locked instruction).
    #[inline]
    pub(super) fn raise(&self) {
        self.context.unlooked.fetch_add(1, Ordering::AcqRel);
    }

    /// The message [`raise`](Self::raise) counted is in the ring: counted
    /// in the lane's `queued` (after the push: only this thread, or a
    /// command it gives later, reads that count).
    #[inline]
    pub(super) fn put_in(&self) {
        self.queued.add_sent();
    }

    /// The message [`raise`](Self::raise) counted did not go in.
    pub(super) fn withdraw(&self) {
        self.context.unlooked.fetch_sub(1, Ordering::AcqRel);
    }

    /// The pump took `n` messages out of the ring (after handing those it
    /// could to the socket: a command that sees the count fall sees them
    /// there).
    pub(super) fn taken(&self, n: usize) {
        if n > 0 {
            self.context.unlooked.fetch_sub(n, Ordering::AcqRel);
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
    fn a_taken_message_leaves_unlooked_and_stays_queued_until_gone() {
        let context = Arc::new(Backlog::default());
        let (a, b) = (
            LaneCounts::new(context.clone()),
            LaneCounts::new(context.clone()),
        );
        a.raise();
        a.put_in();
        b.raise();
        b.put_in();
        assert!(context.has_unlooked());
        a.taken(1);
        assert!(context.has_unlooked(), "b's is still in its ring");
        b.taken(1);
        assert!(!context.has_unlooked(), "both taken: passed or parked");
        assert_eq!(a.queued().count(), 1, "not in its socket yet");
        assert!(!a.queued().is_empty());
        a.gone(1);
        assert_eq!(a.queued().count(), 0);
        assert!(a.queued().is_empty());
        assert_eq!(b.queued().count(), 1, "per lane");
        b.raise();
        b.withdraw();
        assert!(!context.has_unlooked());
        assert_eq!(b.queued().count(), 1);
        b.gone(1);
        assert!(b.queued().is_empty());
    }
}
