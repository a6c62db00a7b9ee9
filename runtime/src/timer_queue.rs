//! A reactor's timers: a sorted map of deadlines to wakers. A leaf: the
//! reactor owns one, and the `Sleep` futures of `timer.rs` reach it through
//! the reactor.
//!
//! The reactor asks for the earliest deadline to bound its wait, and fires every
//! timer due once per loop turn (the clock is read once per turn).

use std::collections::BTreeMap;
use std::task::Waker;
use std::time::Instant;

/// Deadlines waiting to fire, in order. Equal deadlines fire in registration order.
#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    entries: BTreeMap<(Instant, u64), Waker>,
    next_id: u64,
}

impl TimerQueue {
    pub(crate) fn insert(&mut self, deadline: Instant, waker: Waker) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.entries.insert((deadline, id), waker);
        id
    }

    pub(crate) fn update(&mut self, deadline: Instant, id: u64, waker: &Waker) -> bool {
        match self.entries.get_mut(&(deadline, id)) {
            Some(w) => {
                if !w.will_wake(waker) {
                    *w = waker.clone();
                }
                true
            }
            None => false,
        }
    }

    pub(crate) fn remove(&mut self, deadline: Instant, id: u64) {
        self.entries.remove(&(deadline, id));
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.entries.keys().next().map(|(d, _)| *d)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Wakes every timer due at `now`.
    pub(crate) fn fire(&mut self, now: Instant) {
        while let Some(entry) = self.entries.first_entry() {
            if entry.key().0 > now {
                break;
            }
            entry.remove().wake();
        }
    }
}
