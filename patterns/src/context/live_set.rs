//! Counting what must finish before a context's thread may stop.
//!
//! A closed socket keeps running (its connections linger) until its queued
//! messages leave or LINGER runs out, like zmq_ctx_term's wait. Each socket
//! holds a [`LiveToken`] until its last task ends, and so does each monitor
//! forwarder until it has passed on the final event; the context's thread
//! waits in [`LiveSet::all_gone`] for the count to reach zero.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

/// How many tokens are out, and who waits for none.
#[derive(Debug, Default)]
pub(super) struct LiveSet {
    count: Cell<usize>,
    waiter: RefCell<Option<Waker>>,
}

/// One thing the context waits for; dropping it is that thing finishing.
#[derive(Debug)]
pub(super) struct LiveToken(Rc<LiveSet>);

impl LiveSet {
    /// A new token, counted until it is dropped.
    pub(super) fn token(self: &Rc<Self>) -> LiveToken {
        self.count.set(self.count.get() + 1);
        LiveToken(self.clone())
    }

    /// Resolves once every token is dropped.
    pub(super) async fn all_gone(&self) {
        poll_fn(|cx| {
            if self.count.get() == 0 {
                Poll::Ready(())
            } else {
                *self.waiter.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

impl Drop for LiveToken {
    fn drop(&mut self) {
        let left = self.0.count.get() - 1;
        self.0.count.set(left);
        if left == 0 {
            if let Some(w) = self.0.waiter.borrow_mut().take() {
                w.wake();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::task::Context;

    #[test]
    fn all_gone_waits_for_the_last_token() {
        let set = Rc::new(LiveSet::default());
        let a = set.token();
        let b = set.token();
        let mut cx = Context::from_waker(Waker::noop());
        let mut waiting = std::pin::pin!(set.all_gone());
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        drop(a);
        assert!(
            waiting.as_mut().poll(&mut cx).is_pending(),
            "one token is out"
        );
        drop(b);
        assert!(waiting.as_mut().poll(&mut cx).is_ready());
    }
}
