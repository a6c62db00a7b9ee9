//! What a context's send lanes hold, counted for the commands that must
//! not overtake it.
//!
//! A send into a lane returns before its message is in its socket (the
//! context's thread moves it there: `lanes.rs`). A command given after that
//! send returned must still act as if it were there, as libzmq's pipes show
//! a message at once: a PULL's ZMQ_DONTWAIT receive finds what a PUSH on
//! another thread sent before, a PULL's disconnect drops it with the pipe.
//! Two counts, one per context, say how far the lanes' messages have got:
//!
//! ```text
//!  user's send ──raise──▶ [ring] ──taken──▶ pump ──gone──▶ socket's pipes
//!                │                            │ (or parked behind a
//!                └─ unlooked: raised .. taken │  message the socket made
//!                └─ queued:   raised .. gone ─┘  wait, until it goes)
//! ```
//!
//! - `unlooked` falls as soon as a lane's pump takes the message out of its
//!   ring, which it does on its next turn whatever the socket says (a message
//!   the socket cannot take yet is parked beside the pump). So it is back to
//!   zero within a turn of the context's thread: every command that looks at
//!   a socket now ([`Settle::Others`]) may wait for it, from any thread.
//! - `queued` falls once the message is in its socket, which may wait for a
//!   peer. Only a command that follows the same thread's own lane sends
//!   waits for it ([`Settle::Own`]), and only for a few turns: enough for
//!   room already on its way (a pipe's reads told to its writer), never for
//!   a peer that does not read.
//!
//! A parked message is one whose send libzmq would still be blocked in (the
//! socket had no room), so a command on another thread need not see it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use monocoque_runtime::sleep;

/// How many turns a command gives the context's pumps (see [`settle`]).
const SETTLE_TURNS: usize = 16;

/// One turn of [`settle`]: the shortest wait, which lets the reactor run
/// every task that is ready, the pumps among them.
const SETTLE_TURN: Duration = Duration::from_micros(1);

/// The two counts of a context's send lanes (see the module's doc).
#[derive(Debug, Default)]
pub(super) struct Backlog {
    /// In a lane's ring, not yet taken by its pump.
    unlooked: AtomicUsize,
    /// Not yet in its socket (in a ring, parked, or being sent).
    queued: AtomicUsize,
}

/// Which of a lane's messages a command waits for before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Settle {
    /// Nothing: the command does not look at what the lanes may bring.
    No,
    /// Every message of every thread's lanes until its pump has taken it.
    Others,
    /// Besides, until they are in their sockets, for a few turns: the
    /// command's thread sent into a lane since its previous command.
    Own,
}

impl Backlog {
    /// A user's send is about to put a message in a ring: counted before
    /// the pump can see it, so neither count goes below zero.
    pub(super) fn raise(&self) {
        self.unlooked.fetch_add(1, Ordering::AcqRel);
        self.queued.fetch_add(1, Ordering::AcqRel);
    }

    /// The message [`raise`](Self::raise) counted did not go in.
    pub(super) fn withdraw(&self) {
        self.unlooked.fetch_sub(1, Ordering::AcqRel);
        self.queued.fetch_sub(1, Ordering::AcqRel);
    }

    /// A pump took `n` messages out of its ring.
    pub(super) fn taken(&self, n: usize) {
        if n > 0 {
            self.unlooked.fetch_sub(n, Ordering::AcqRel);
        }
    }

    /// `n` messages are in their sockets, or were dropped.
    pub(super) fn gone(&self, n: usize) {
        if n > 0 {
            self.queued.fetch_sub(n, Ordering::AcqRel);
        }
    }

    /// Whether a lane's ring holds a message its pump has not taken: until
    /// it has, a receive on another socket cannot tell whether it comes.
    pub(super) fn has_unlooked(&self) -> bool {
        self.unlooked.load(Ordering::Acquire) != 0
    }

    fn count(&self, settle: Settle) -> usize {
        match settle {
            Settle::No => 0,
            Settle::Others => self.unlooked.load(Ordering::Acquire),
            Settle::Own => self.queued.load(Ordering::Acquire),
        }
    }
}

/// Lets the context's pumps move what the lanes hold before a command runs,
/// as far as `settle` asks: returns at once when that count is zero, else
/// after it is, or after [`SETTLE_TURNS`] turns.
pub(super) async fn settle(backlog: &Backlog, settle: Settle) {
    for _ in 0..SETTLE_TURNS {
        if backlog.count(settle) == 0 {
            return;
        }
        // A timer, not a yield: a yielded task runs again before the tasks
        // woken from other threads (the pumps), a sleeping one after them.
        sleep(SETTLE_TURN).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_message_leaves_unlooked_and_stays_queued_until_gone() {
        let b = Backlog::default();
        b.raise();
        b.raise();
        assert!(b.has_unlooked());
        b.taken(2);
        assert!(!b.has_unlooked(), "both taken: one passed, one parked");
        assert_eq!(b.count(Settle::Others), 0);
        assert_eq!(b.count(Settle::Own), 2, "neither is in its socket yet");
        b.gone(1);
        assert_eq!(b.count(Settle::Own), 1);
        b.raise();
        b.withdraw();
        assert_eq!((b.count(Settle::Others), b.count(Settle::Own)), (0, 1));
        assert_eq!(b.count(Settle::No), 0);
    }
}
