//! One reactor: a driver, timers and the executor's queues, owned by one thread.
//!
//! The loop, once per turn:
//!
//! ```text
//!  poll the main future if it was woken
//!  run up to BUDGET ready tasks (local queue, then tasks woken from other threads)
//!  driver turn: submit queued operations; wait as the strategy says
//!               (not at all if work is ready; else until the next timer,
//!                a completion, or a wake-up from another thread)
//!  wake the tasks waiting for a driver turn (`after_io_turn`)
//!  if a timer is armed: read the clock once, fire due timers
//! ```

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crate::driver::{Driver, DriverKind};
use crate::error::Result;
use crate::executor::{self, JoinHandle, Shared};
use crate::idle_spin::IdleSpin;
use crate::recv_pool::BufPool;
use crate::timer_queue::TimerQueue;
use crate::wait_strategy::WaitStrategy;

/// Tasks run per turn before IO is looked at again.
const BUDGET: usize = 128;

pub(crate) struct Reactor {
    pub(crate) driver: RefCell<Driver>,
    pub(crate) timers: RefCell<TimerQueue>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) pool: Arc<BufPool>,
    /// Sends of at least this many bytes use SEND_ZC (io_uring only).
    pub(crate) send_zc_threshold: Option<usize>,
    /// How long an idle loop polls on before it parks.
    pub(crate) spin_before_park: Duration,
    /// Driver turns so far.
    io_turns: Cell<u64>,
    /// Tasks waiting for the next driver turn; woken after it.
    turn_waiters: RefCell<Vec<Waker>>,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<Reactor>>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's reactor.
///
/// # Panics
/// Off a reactor thread: runtime futures must be polled by a monocoque runtime.
pub(crate) fn with<R>(f: impl FnOnce(&Reactor) -> R) -> R {
    try_with(f).expect("monocoque IO and timers must run inside Runtime::block_on")
}

/// Runs `f` with this thread's reactor, if there is one.
pub(crate) fn try_with<R>(f: impl FnOnce(&Reactor) -> R) -> Option<R> {
    let reactor = CURRENT.with(|c| c.borrow().clone())?;
    Some(f(&reactor))
}

/// Reads this thread's reactor's receive pool, if there is one, without
/// taking a reference to the reactor: for the per-message pressure checks,
/// where `try_with`'s `Rc` clone is measurable. `f` must not enter or leave
/// a reactor (it only reads the pool's counters).
pub(crate) fn peek_pool<R>(f: impl FnOnce(&BufPool) -> R) -> Option<R> {
    CURRENT.with(|c| c.borrow().as_ref().map(|r| f(&r.pool)))
}

/// Installs a reactor as this thread's current one for a scope.
pub(crate) struct CurrentGuard {
    prev: Option<Rc<Reactor>>,
    _enter: executor::EnterGuard,
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        CURRENT.with(|c| *c.borrow_mut() = prev);
    }
}

struct MainWaker {
    woken: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.shared.wake_if_parked();
    }
}

impl Reactor {
    pub(crate) fn new(
        strategy: WaitStrategy,
        ring_entries: u32,
        pool: Arc<BufPool>,
        send_zc_threshold: Option<usize>,
        fixed: Option<(u16, usize)>,
        spin_before_park: Duration,
    ) -> Result<Rc<Reactor>> {
        let (driver, notifier) = Driver::new(strategy, ring_entries, pool.clone(), fixed)?;
        let send_zc_threshold = match send_zc_threshold {
            Some(t) if driver.supports_send_zc() => Some(t),
            Some(_) => {
                tracing::info!("SEND_ZC unavailable on this driver; large sends use SEND");
                None
            }
            None => None,
        };
        Ok(Rc::new(Reactor {
            driver: RefCell::new(driver),
            timers: RefCell::new(TimerQueue::default()),
            shared: Shared::new(notifier),
            pool,
            send_zc_threshold,
            spin_before_park,
            io_turns: Cell::new(0),
            turn_waiters: RefCell::new(Vec::new()),
        }))
    }

    /// Driver turns so far (what a turn waiter compares).
    pub(crate) fn io_turns(&self) -> u64 {
        self.io_turns.get()
    }

    /// Wakes `waker` after the next driver turn.
    pub(crate) fn wake_after_io_turn(&self, waker: &Waker) {
        self.turn_waiters.borrow_mut().push(waker.clone());
    }

    pub(crate) fn kind(&self) -> DriverKind {
        self.driver.borrow().kind()
    }

    pub(crate) fn enter(self: &Rc<Self>) -> CurrentGuard {
        let prev = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        CurrentGuard {
            prev,
            _enter: self.shared.enter(),
        }
    }

    pub(crate) fn spawn<F>(self: &Rc<Self>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        executor::spawn_local(&self.shared, future)
    }

    pub(crate) fn block_on<F: Future>(self: &Rc<Self>, future: F) -> F::Output {
        let _current = self.enter();
        let main = Arc::new(MainWaker {
            woken: AtomicBool::new(true),
            shared: self.shared.clone(),
        });
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        let mut idle = IdleSpin::new(self.spin_before_park);
        loop {
            let mut ran = 0;
            if main.woken.swap(false, Ordering::SeqCst) {
                ran += 1;
                if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                    return v;
                }
                // Its waker does not schedule: a deferral it asked for
                // would fall on the next task woken instead.
                executor::clear_deferral();
            }
            ran += self.shared.run_ready(BUDGET);
            // A turn waiter needs the turn itself, not an event: no parking.
            let busy = main.woken.load(Ordering::SeqCst)
                || self.shared.has_local()
                || self.shared.has_remote()
                || !self.turn_waiters.borrow().is_empty();
            if ran > 0 || busy {
                idle.worked();
            }
            let wait = if busy || idle.poll_again() {
                Some(Duration::ZERO)
            } else {
                self.timers
                    .borrow()
                    .next_deadline()
                    .map(|d| d.saturating_duration_since(Instant::now()))
            };
            let shared = &self.shared;
            let has_work = || main.woken.load(Ordering::SeqCst) || shared.has_remote();
            if let Err(e) = self
                .driver
                .borrow_mut()
                .turn(wait, &shared.parked, &has_work)
            {
                panic!("the {} driver failed: {e}", self.kind().name());
            }
            self.io_turns.set(self.io_turns.get() + 1);
            if !self.turn_waiters.borrow().is_empty() {
                // Taken first: a waiter woken here may wait for the next turn.
                let waiters = std::mem::take(&mut *self.turn_waiters.borrow_mut());
                waiters.into_iter().for_each(Waker::wake);
            }
            // Read the clock only when a timer could be due: in a busy-poll spin
            // the read is a measurable share of the loop (perf: 4 %).
            let mut timers = self.timers.borrow_mut();
            if !timers.is_empty() {
                timers.fire(Instant::now());
            }
        }
    }

    /// Drops every task and timer, then lets the driver cancel what is in flight.
    pub(crate) fn shutdown(self: &Rc<Self>) {
        let _current = self.enter();
        for _ in 0..16 {
            self.shared.drain();
            let wakers: Vec<Waker> = self.driver.borrow_mut().take_wakers();
            let timers = std::mem::take(&mut *self.timers.borrow_mut());
            let waiters = std::mem::take(&mut *self.turn_waiters.borrow_mut());
            let idle = wakers.is_empty()
                && timers.is_empty()
                && waiters.is_empty()
                && !self.shared.has_local()
                && !self.shared.has_remote();
            drop(wakers);
            drop(timers);
            drop(waiters);
            if idle {
                break;
            }
        }
        self.driver.borrow_mut().shutdown();
    }
}
