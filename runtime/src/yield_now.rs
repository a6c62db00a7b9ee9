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
/// `Pending`, which lets every other ready task run and the driver reap its
/// completions before this task continues.
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
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
#[derive(Debug)]
#[must_use = "a yield does nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
