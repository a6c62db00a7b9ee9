//! A socket's closing state, shared with the tasks that outlive `close`.
//!
//! LINGER means a closed socket's connections keep running until their queued
//! messages are written or the linger runs out. Those tasks cannot hold the
//! socket (it is gone), so they hold this: whether the socket is closing, the
//! deadline, and the wakers to call when closing starts.

use std::cell::Cell;
use std::task::Waker;
use std::time::Instant;

use crate::waker_set::WakerSet;

/// Shared by a socket and all its engine and connecter tasks.
#[derive(Debug, Default)]
pub(crate) struct Lifecycle {
    closing: Cell<bool>,
    /// `None` while closing: linger forever (libzmq's -1).
    deadline: Cell<Option<Instant>>,
    tasks: WakerSet,
}

impl Lifecycle {
    /// A key for one task's waker slot.
    pub(crate) fn task_key(&self) -> u64 {
        self.tasks.key()
    }

    pub(crate) fn register(&self, key: u64, waker: &Waker) {
        self.tasks.register(key, waker);
    }

    pub(crate) fn forget(&self, key: u64) {
        self.tasks.forget(key);
    }

    /// Starts closing; tasks are woken to notice.
    pub(crate) fn close(&self, deadline: Option<Instant>) {
        self.closing.set(true);
        self.deadline.set(deadline);
        self.tasks.wake_all();
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.get()
    }

    /// While closing: the linger deadline (`None` = forever).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline.get()
    }

    /// Whether the linger ran out.
    pub(crate) fn expired(&self, now: Instant) -> bool {
        self.closing.get() && self.deadline.get().is_some_and(|d| now >= d)
    }
}
