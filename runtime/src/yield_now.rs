//! `yield_now`: gives the reactor a turn from inside a busy task.
//!
//! A task whose every await completes at once (a proxy moving a backlog from
//! one socket to another) never returns to the reactor on its own: the other
//! tasks, the timers and the ring's completions wait until it runs dry. Such
//! a loop yields every so often, so that no single backlog decides how long
//! everyone else waits.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Completes on its second poll: the first wakes the task and returns
/// `Pending`, which lets every other ready task run before this task
/// continues; the driver reaps its completions between the two only when
/// the run's budget ran out. To wait for the driver's turn, use
/// [`after_io_turn`](crate::after_io_turn).
///
/// ```
/// let rt = monocoque_runtime::Runtime::builder().build().unwrap();
/// rt.block_on(async {
///     let other = monocoque_runtime::spawn(async { 7 });
///     // Without the yield the spawned task could not have run yet.
///     monocoque_runtime::yield_now().await;
///     assert!(other.is_finished());
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow {
        yielded: false,
        behind_remote: false,
    }
}

/// Like [`yield_now`], but the task runs again only after every task that
/// other threads had woken before it yielded: those wait in the reactor's
/// remote queue, which [`yield_now`] would jump (a task woken on the
/// reactor's own thread runs first).
///
/// This holds for a spawned task; the future given to `block_on` is polled
/// first at every turn whatever it does. For a task that must not act
/// before another thread's earlier signal has been handled: a socket's
/// command that another thread's send, made before the command, must reach
/// first.
///
/// ```
/// let rt = monocoque_runtime::Runtime::builder().build().unwrap();
/// rt.block_on(async {
///     monocoque_runtime::yield_behind_remote().await;
/// });
/// ```
pub fn yield_behind_remote() -> YieldNow {
    YieldNow {
        yielded: false,
        behind_remote: true,
    }
}

/// The future of [`yield_now`] and [`yield_behind_remote`].
#[derive(Debug)]
#[must_use = "a yield does nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
    /// Queued behind the tasks other threads woke, not ahead of them.
    behind_remote: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        if self.behind_remote {
            // The task is running: the wake only marks it, and it is
            // scheduled (behind the remote queue) as its poll returns.
            crate::executor::wake_behind_remote(cx.waker());
        } else {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use crate::{spawn, spsc, Runtime};

    /// Task "a" yields after another thread woke task "b"; which runs first.
    fn order_after(behind_remote: bool) -> Vec<&'static str> {
        let rt = Runtime::builder().build().unwrap();
        rt.block_on(async move {
            let order = Rc::new(RefCell::new(Vec::new()));
            let (mut tx, mut rx) = spsc::channel::<()>(1);
            let b = {
                let order = order.clone();
                spawn(async move {
                    rx.recv().await;
                    order.borrow_mut().push("b");
                })
            };
            let a = {
                let order = order.clone();
                spawn(async move {
                    // b waits on its ring by now (spawned first, ran first).
                    std::thread::spawn(move || tx.send_blocking(()).unwrap())
                        .join()
                        .unwrap();
                    if behind_remote {
                        super::yield_behind_remote().await;
                    } else {
                        super::yield_now().await;
                    }
                    order.borrow_mut().push("a");
                })
            };
            a.await;
            b.await;
            let order = order.borrow().clone();
            order
        })
    }

    #[test]
    fn only_the_deferred_task_goes_behind_the_remote_queue() {
        // "a" defers itself, then wakes "c" in the same poll: "c" is a
        // local wake and still runs first, "b" (woken by another thread)
        // next, "a" last.
        use std::future::poll_fn;
        use std::task::{Poll, Waker};
        let rt = Runtime::builder().build().unwrap();
        let order = rt.block_on(async {
            let order = Rc::new(RefCell::new(Vec::new()));
            let (mut tx, mut rx) = spsc::channel::<()>(1);
            let c_waker: Rc<RefCell<Option<Waker>>> = Rc::default();
            let c_go = Rc::new(std::cell::Cell::new(false));
            let b = {
                let order = order.clone();
                spawn(async move {
                    rx.recv().await;
                    order.borrow_mut().push("b");
                })
            };
            let c = {
                let (order, c_waker, c_go) = (order.clone(), c_waker.clone(), c_go.clone());
                spawn(async move {
                    poll_fn(|cx| {
                        if c_go.get() {
                            return Poll::Ready(());
                        }
                        *c_waker.borrow_mut() = Some(cx.waker().clone());
                        Poll::Pending
                    })
                    .await;
                    order.borrow_mut().push("c");
                })
            };
            let a = {
                let order = order.clone();
                spawn(async move {
                    std::thread::spawn(move || tx.send_blocking(()).unwrap())
                        .join()
                        .unwrap();
                    let mut yielded = false;
                    poll_fn(|cx| {
                        if yielded {
                            return Poll::Ready(());
                        }
                        yielded = true;
                        crate::wake_behind_remote(cx.waker());
                        c_go.set(true);
                        c_waker.borrow_mut().take().unwrap().wake();
                        Poll::Pending
                    })
                    .await;
                    order.borrow_mut().push("a");
                })
            };
            a.await;
            b.await;
            c.await;
            let order = order.borrow().clone();
            order
        });
        assert_eq!(order, ["c", "b", "a"]);
    }

    #[test]
    fn yielding_behind_remote_lets_what_other_threads_woke_run_first() {
        assert_eq!(order_after(true), ["b", "a"]);
        // The plain yield jumps the remote queue: the reason for the other.
        assert_eq!(order_after(false), ["a", "b"]);
    }
}
