//! Timers: a sorted map of deadlines to wakers, owned by one reactor.
//!
//! The reactor asks for the earliest deadline to bound its wait, and fires every
//! timer due once per loop turn (the clock is read once per turn).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::reactor;

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

/// A future that completes at a deadline. Must be polled on a reactor thread.
#[derive(Debug)]
pub struct Sleep {
    deadline: Instant,
    registered: Option<u64>,
}

/// Completes after `duration`.
///
/// ```
/// use std::time::{Duration, Instant};
/// let rt = monocoque_runtime::Runtime::builder().build().unwrap();
/// rt.block_on(async {
///     let t = Instant::now();
///     monocoque_runtime::sleep(Duration::from_millis(5)).await;
///     assert!(t.elapsed() >= Duration::from_millis(5));
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(Instant::now() + duration)
}

/// Completes at `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        registered: None,
    }
}

impl Sleep {
    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            if let Some(id) = self.registered.take() {
                reactor::with(|r| r.timers.borrow_mut().remove(self.deadline, id));
            }
            return Poll::Ready(());
        }
        let deadline = self.deadline;
        match self.registered {
            Some(id) => {
                let still =
                    reactor::with(|r| r.timers.borrow_mut().update(deadline, id, cx.waker()));
                if !still {
                    // Fired by the reactor: the clock it read says the deadline passed.
                    self.registered = None;
                    return Poll::Ready(());
                }
            }
            None => {
                let id =
                    reactor::with(|r| r.timers.borrow_mut().insert(deadline, cx.waker().clone()));
                self.registered = Some(id);
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(id) = self.registered.take() {
            reactor::try_with(|r| r.timers.borrow_mut().remove(self.deadline, id));
        }
    }
}

/// The error of [`timeout`] when the deadline passes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline elapsed")]
pub struct Elapsed;

/// Runs `future` until it completes or `duration` passes; the future is dropped
/// (and its IO cancelled) on timeout.
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, Elapsed> {
    let mut future = std::pin::pin!(future);
    let mut sleep = std::pin::pin!(sleep(duration));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(Elapsed));
        }
        Poll::Pending
    })
    .await
}
