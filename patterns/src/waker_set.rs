//! Wakers of several tasks waiting for one event, each task in its own slot.
//!
//! Used where many tasks of a thread wait for the same thing (a socket's close
//! for its connections, a context's shutdown for its sockets' operations): a
//! task takes a key once, registers its current waker under it each time it
//! waits, and forgets it when it ends; the event wakes them all.

use std::cell::{Cell, RefCell};
use std::task::Waker;

use rustc_hash::FxHashMap;

/// Keyed waker slots, woken all at once.
///
/// The keys are this set's own counter, never a peer's choice, so a fast
/// unkeyed hash is safe. SipHash cost about 450 instructions a
/// request-reply round trip (callgrind, `local_lat`): a connection registers
/// on every turn.
#[derive(Debug, Default)]
pub(crate) struct WakerSet {
    wakers: RefCell<FxHashMap<u64, Waker>>,
    next_key: Cell<u64>,
}

impl WakerSet {
    /// A slot for one task.
    pub(crate) fn key(&self) -> u64 {
        let k = self.next_key.get();
        self.next_key.set(k + 1);
        k
    }

    /// Stores `waker` in the slot, unless it would wake the same task already.
    pub(crate) fn register(&self, key: u64, waker: &Waker) {
        let mut wakers = self.wakers.borrow_mut();
        match wakers.get(&key) {
            Some(old) if old.will_wake(waker) => {}
            _ => {
                wakers.insert(key, waker.clone());
            }
        }
    }

    /// Frees the slot of a task that ended.
    pub(crate) fn forget(&self, key: u64) {
        self.wakers.borrow_mut().remove(&key);
    }

    /// Wakes every registered task and empties the slots.
    pub(crate) fn wake_all(&self) {
        let wakers: Vec<Waker> = self.wakers.borrow_mut().drain().map(|(_, w)| w).collect();
        for w in wakers {
            w.wake();
        }
    }
}
