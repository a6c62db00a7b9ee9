//! How a socket learns what happened to its pipes while it was not looking:
//! which peers became readable or writable, and which came and went.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Waker;

use super::PipeEvent;
use crate::PeerId;

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
    /// Cleared at every signal a receive may care about (a blocking
    /// socket's receive lane: "caught up" no longer holds).
    recv_watch: RefCell<Option<Arc<AtomicBool>>>,
}

impl Signals {
    pub(crate) fn wake_recv(&self) {
        self.generation.set(self.generation.get() + 1);
        if let Some(flag) = self.recv_watch.borrow().as_ref() {
            flag.store(false, Ordering::Release);
        }
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

    /// Clears `flag` at each later signal a receive may care about (a
    /// message landing in an empty pipe, a pipe coming or going).
    pub(crate) fn watch_receives(&self, flag: Arc<AtomicBool>) {
        *self.recv_watch.borrow_mut() = Some(flag);
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
