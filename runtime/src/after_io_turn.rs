//! `after_io_turn`: waits until the reactor's driver has turned once.
//!
//! A task that acts on a decision made during its poll (close a connection
//! now) acts before what other tasks queued earlier in the same run reached
//! the kernel: on io_uring an operation queued during the run is submitted
//! at the driver's turn, and its completion is seen only after it. Waiting
//! for one turn lets those operations go, and the tasks their completions
//! wake run first, without a timer and without reading the clock.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::reactor;

/// Completes once the reactor's driver has turned (submitted what was
/// queued, reaped what completed) after the first poll. Tasks woken by that
/// turn's completions are queued before this one.
///
/// ```
/// let rt = monocoque_runtime::Runtime::builder().build().unwrap();
/// rt.block_on(async {
///     let other = monocoque_runtime::spawn(async { 7 });
///     monocoque_runtime::after_io_turn().await;
///     assert!(other.is_finished());
/// });
/// ```
pub fn after_io_turn() -> AfterIoTurn {
    AfterIoTurn { started: None }
}

/// The future of [`after_io_turn`].
#[derive(Debug)]
#[must_use = "waiting for a turn does nothing unless awaited"]
pub struct AfterIoTurn {
    /// The reactor's turn count at the first poll.
    started: Option<u64>,
}

impl AfterIoTurn {
    /// Whether the driver has turned since the first poll. The first poll
    /// registers its task's waker, woken after the turn (later polls before
    /// it are from the same task: they register nothing more, so a task
    /// polled often in one run does not grow the reactor's list).
    pub fn poll_passed(&mut self, cx: &mut Context<'_>) -> bool {
        reactor::with(|r| {
            let now = r.io_turns();
            match self.started {
                Some(t) => now > t,
                None => {
                    self.started = Some(now);
                    r.wake_after_io_turn(cx.waker());
                    false
                }
            }
        })
    }
}

impl Future for AfterIoTurn {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.poll_passed(cx) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use crate::{spawn, yield_now, Runtime};

    #[test]
    fn a_task_waiting_for_the_turn_runs_after_a_task_that_keeps_yielding() {
        // yield_now alone runs again in the same run of ready tasks; the
        // turn waiter runs only after the driver turned.
        let rt = Runtime::builder().build().unwrap();
        rt.block_on(async {
            let yields = Rc::new(Cell::new(0u32));
            let busy = {
                let yields = yields.clone();
                spawn(async move {
                    for _ in 0..10 {
                        yield_now().await;
                        yields.set(yields.get() + 1);
                    }
                })
            };
            let seen = spawn({
                let yields = yields.clone();
                async move {
                    super::after_io_turn().await;
                    yields.get()
                }
            });
            // Both spawned tasks ran their polls in one run (budget 128):
            // all ten yields happen before the driver turns.
            assert_eq!(seen.await, 10);
            busy.await;
        });
    }

    #[test]
    fn a_turn_waiter_does_not_let_the_reactor_park() {
        // Nothing else is ready and no timer is armed: the turn must still
        // come (the reactor does not wait for a completion that never comes).
        let rt = Runtime::builder().build().unwrap();
        rt.block_on(async {
            for _ in 0..3 {
                spawn(super::after_io_turn()).await;
            }
        });
    }
}
