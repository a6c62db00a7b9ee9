//! zmq_ctx_shutdown on the context's thread: once it is triggered, every
//! blocking send or recv in progress returns [`Error::Terminated`], and so does
//! every later operation except close.

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::{Arc, Weak};
use std::task::Poll;

use monocoque_runtime::EventFd;

use crate::waker_set::WakerSet;
use crate::{Error, Result};

/// Whether the context is shut down, and the sockets' tasks waiting in an
/// operation that shutting down must interrupt (one slot per socket task).
#[derive(Debug, Default)]
pub(super) struct Shutdown {
    down: Cell<bool>,
    waiting: WakerSet,
    /// Sockets' readiness descriptors, signalled at shutdown so that a
    /// thread in `poll` wakes to find ETERM.
    descriptors: RefCell<Vec<Weak<EventFd>>>,
}

impl Shutdown {
    /// A waker slot for one socket's task.
    pub(super) fn key(&self) -> u64 {
        self.waiting.key()
    }

    /// Frees a task's slot when the task ends.
    pub(super) fn forget(&self, key: u64) {
        self.waiting.forget(key);
    }

    /// Shuts down: wakes every waiting operation so that it returns ETERM.
    pub(super) fn trigger(&self) {
        self.down.set(true);
        self.waiting.wake_all();
        for fd in self.descriptors.borrow_mut().drain(..) {
            if let Some(fd) = fd.upgrade() {
                fd.signal();
            }
        }
    }

    /// Signals `fd` when the context shuts down (at once if it has). Only
    /// descriptors still alive are kept.
    pub(super) fn signal_when_down(&self, fd: &Arc<EventFd>) {
        if self.is_down() {
            fd.signal();
            return;
        }
        let mut fds = self.descriptors.borrow_mut();
        fds.retain(|f| f.strong_count() > 0);
        fds.push(Arc::downgrade(fd));
    }

    /// Whether the context is shut down.
    pub(super) fn is_down(&self) -> bool {
        self.down.get()
    }

    /// [`Error::Terminated`] once shut down.
    pub(super) fn check(&self) -> Result<()> {
        if self.is_down() {
            Err(Error::Terminated)
        } else {
            Ok(())
        }
    }

    /// Runs `op` unless and until the context shuts down, which ends it with
    /// [`Error::Terminated`] (dropping `op`: a half-done send or recv is
    /// cancelled, nothing is lost from the socket's queues).
    pub(super) async fn unless_down<T>(
        &self,
        key: u64,
        op: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let mut op = pin!(op);
        poll_fn(|cx| {
            if self.is_down() {
                return Poll::Ready(Err(Error::Terminated));
            }
            if let Poll::Ready(r) = op.as_mut().poll(cx) {
                return Poll::Ready(r);
            }
            self.waiting.register(key, cx.waker());
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::pending;
    use std::task::{Context, Waker};

    #[test]
    fn shutting_down_ends_a_waiting_operation_with_eterm() {
        let shutdown = Shutdown::default();
        let key = shutdown.key();
        let mut cx = Context::from_waker(Waker::noop());
        let mut op = pin!(shutdown.unless_down(key, pending::<Result<()>>()));
        assert!(op.as_mut().poll(&mut cx).is_pending());
        shutdown.trigger();
        assert_eq!(
            op.as_mut().poll(&mut cx),
            Poll::Ready(Err(Error::Terminated))
        );
        assert_eq!(shutdown.check(), Err(Error::Terminated));
    }

    #[test]
    fn a_finished_operation_keeps_its_result() {
        let shutdown = Shutdown::default();
        let mut cx = Context::from_waker(Waker::noop());
        let mut op = pin!(shutdown.unless_down(shutdown.key(), async { Ok(7) }));
        assert_eq!(op.as_mut().poll(&mut cx), Poll::Ready(Ok(7)));
    }
}
