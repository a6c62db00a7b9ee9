//! An io_uring operation as a future that owns the operation's memory.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use io_uring::squeue;

use crate::driver::Driver;
use crate::reactor;

/// A submitted operation. `memory` holds everything the kernel may touch
/// (buffers, addresses, iovecs); it is given back with the result, or, if the
/// future is dropped first, parked in the driver until the kernel is done.
pub(crate) struct Op<T: 'static> {
    key: usize,
    memory: Option<T>,
    /// Operations belong to their reactor's thread.
    _not_send: std::marker::PhantomData<std::rc::Rc<()>>,
}

impl<T: 'static> Op<T> {
    /// # Safety
    /// Every pointer in `entry` must point into heap memory owned by `memory`
    /// (stable when `memory` moves), or memory that lives as long as the driver.
    pub(crate) unsafe fn submit(entry: squeue::Entry, memory: T) -> Op<T> {
        let key = reactor::with(|r| match &mut *r.driver.borrow_mut() {
            // SAFETY: forwarded from the caller.
            Driver::Uring(d) => unsafe { d.submit_op(entry) },
            Driver::Epoll(_) => unreachable!("io_uring operation on the epoll driver"),
        });
        Op {
            key,
            memory: Some(memory),
            _not_send: std::marker::PhantomData,
        }
    }
}

impl<T: Unpin + 'static> Future for Op<T> {
    /// The raw result (negative: -errno), the completion flags, and the memory.
    type Output = (io::Result<u32>, u32, T);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let polled = reactor::with(|r| match &mut *r.driver.borrow_mut() {
            Driver::Uring(d) => d.poll_op(this.key, cx),
            Driver::Epoll(_) => unreachable!("io_uring operation on the epoll driver"),
        });
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready((res, flags)) => {
                let memory = this.memory.take().expect("an operation completes once");
                let res = if res < 0 {
                    Err(io::Error::from_raw_os_error(-res))
                } else {
                    Ok(res as u32)
                };
                Poll::Ready((res, flags, memory))
            }
        }
    }
}

impl<T: 'static> Drop for Op<T> {
    fn drop(&mut self) {
        let Some(memory) = self.memory.take() else {
            return;
        };
        let mut memory = Some(memory);
        reactor::try_with(|r| {
            if let Ok(mut d) = r.driver.try_borrow_mut() {
                if let Driver::Uring(u) = &mut *d {
                    u.abandon(self.key, Box::new(memory.take().expect("taken once")));
                }
            }
        });
        if let Some(memory) = memory {
            // No driver can take the memory (it is being torn down): leak it
            // rather than free what the kernel may still write.
            std::mem::forget(memory);
        }
    }
}
