//! Timer futures: `sleep`, `sleep_until` and `timeout`, each a deadline in
//! the current reactor's [`TimerQueue`](crate::timer_queue::TimerQueue).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::reactor;

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
