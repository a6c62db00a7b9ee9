//! The local executor: tasks are `!Send` futures pinned to their reactor's thread.
//!
//! Tasks are `async-task` runnables. A wake on the reactor's own thread pushes to a
//! thread-local queue (no atomics beyond the task's own state). A wake from another
//! thread pushes to the reactor's remote queue and notifies the reactor only if it
//! is parked: a spinning reactor sees the queue on its next turn, so a busy-polling
//! reactor is never sent a wake-up.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;

use async_task::Runnable;

use crate::wake::{Notifier, ParkFlag};

static NEXT_REACTOR_ID: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    /// The id of the reactor running on this thread (0: none).
    static CURRENT_ID: Cell<usize> = const { Cell::new(0) };
    /// Runnables woken on this thread.
    static LOCAL_QUEUE: RefCell<VecDeque<Runnable>> = const { RefCell::new(VecDeque::new()) };
    /// The task whose next schedule on this thread goes behind the remote
    /// queue (see [`wake_behind_remote`]).
    static DEFERRED: RefCell<Option<Waker>> = const { RefCell::new(None) };
}

/// Wakes the task of `waker` so that it is queued behind every task other
/// threads have woken so far, instead of ahead of them (a wake on the
/// reactor's own thread goes to its local queue, which runs first). Only
/// that task's schedule is deferred; a deferral its schedule did not take
/// by the end of the current task's run (or of the main future's poll) is
/// forgotten, so it never falls on another task.
pub fn wake_behind_remote(waker: &Waker) {
    DEFERRED.with(|d| *d.borrow_mut() = Some(waker.clone()));
    waker.wake_by_ref();
}

/// Forgets a deferral no schedule took (see [`wake_behind_remote`]).
pub(crate) fn clear_deferral() {
    DEFERRED.with(|d| {
        if let Ok(mut d) = d.try_borrow_mut() {
            d.take();
        }
    });
}

/// Whether `runnable`'s schedule is the one [`wake_behind_remote`] asked to
/// defer (and forgets the deferral if so).
fn takes_deferral(runnable: &Runnable) -> bool {
    DEFERRED.with(|d| {
        let mut d = d.borrow_mut();
        let ours = d.as_ref().is_some_and(|w| w.will_wake(&runnable.waker()));
        if ours {
            d.take();
        }
        ours
    })
}

/// The part of a reactor other threads may touch.
#[derive(Debug)]
pub(crate) struct Shared {
    id: usize,
    remote: Mutex<VecDeque<Runnable>>,
    remote_pending: AtomicBool,
    pub(crate) parked: ParkFlag,
    notifier: Notifier,
}

impl Shared {
    pub(crate) fn new(notifier: Notifier) -> Arc<Shared> {
        Arc::new(Shared {
            id: NEXT_REACTOR_ID.fetch_add(1, Ordering::Relaxed),
            remote: Mutex::new(VecDeque::new()),
            remote_pending: AtomicBool::new(false),
            parked: ParkFlag::default(),
            notifier,
        })
    }

    /// Marks this thread as running the reactor.
    pub(crate) fn enter(&self) -> EnterGuard {
        let prev = CURRENT_ID.with(|c| c.replace(self.id));
        EnterGuard { prev }
    }

    fn schedule(&self, runnable: Runnable) {
        let here = CURRENT_ID.with(Cell::get) == self.id;
        if here && !takes_deferral(&runnable) {
            LOCAL_QUEUE.with(|q| q.borrow_mut().push_back(runnable));
        } else {
            self.remote
                .lock()
                .expect("remote queue poisoned")
                .push_back(runnable);
            self.remote_pending.store(true, Ordering::SeqCst);
            self.wake_if_parked();
        }
    }

    /// Wakes the reactor if it sleeps in the kernel.
    pub(crate) fn wake_if_parked(&self) {
        if self.parked.is_set() {
            self.notifier.notify();
        }
    }

    /// Whether runnables from other threads are waiting.
    pub(crate) fn has_remote(&self) -> bool {
        self.remote_pending.load(Ordering::SeqCst)
    }

    /// Runs up to `budget` runnables; returns how many ran.
    pub(crate) fn run_ready(&self, budget: usize) -> usize {
        let mut ran = 0;
        while ran < budget {
            let next = LOCAL_QUEUE.with(|q| q.borrow_mut().pop_front());
            let runnable = match next {
                Some(r) => r,
                None => match self.pop_remote() {
                    Some(r) => r,
                    None => break,
                },
            };
            runnable.run();
            clear_deferral();
            ran += 1;
        }
        ran
    }

    fn pop_remote(&self) -> Option<Runnable> {
        if !self.remote_pending.load(Ordering::SeqCst) {
            return None;
        }
        let mut q = self.remote.lock().expect("remote queue poisoned");
        let r = q.pop_front();
        if q.is_empty() {
            self.remote_pending.store(false, Ordering::SeqCst);
        }
        r
    }

    /// Whether local runnables are waiting.
    pub(crate) fn has_local(&self) -> bool {
        LOCAL_QUEUE.with(|q| !q.borrow().is_empty())
    }

    /// Drops every queued runnable (their futures are dropped, cancelling their IO).
    pub(crate) fn drain(&self) {
        loop {
            let local: Vec<Runnable> = LOCAL_QUEUE.with(|q| q.borrow_mut().drain(..).collect());
            let remote: Vec<Runnable> = self
                .remote
                .lock()
                .expect("remote queue poisoned")
                .drain(..)
                .collect();
            if local.is_empty() && remote.is_empty() {
                break;
            }
            drop(local);
            drop(remote);
        }
    }
}

/// Restores the previous reactor id of the thread on drop.
pub(crate) struct EnterGuard {
    prev: usize,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        CURRENT_ID.with(|c| c.set(self.prev));
    }
}

/// A spawned task. Await it for its output; drop it to cancel the task;
/// [`detach`](async_task::Task::detach) it to let it run on its own.
pub type JoinHandle<T> = async_task::Task<T>;

/// Spawns a `!Send` future on this thread's reactor.
pub(crate) fn spawn_local<F>(shared: &Arc<Shared>, future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let s = shared.clone();
    let (runnable, task) = async_task::spawn_local(future, move |r| s.schedule(r));
    runnable.schedule();
    task
}
