//! The engine's operations in flight on its stream (one read, one write)
//! and its timer, kept in slots pinned in the connection task's own frame.
//!
//! A new read or write replaces the finished one in place (`Pin::set`), so
//! no operation allocates: a boxed future per read and per write cost two
//! allocations per round trip (callgrind). The slots borrow the stream, so
//! they live beside the [`Engine`](super::Engine), which sees them only
//! through [`StreamOps`].

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use monocoque_runtime::{sleep_until, Sleep};

/// What an engine does with its stream and timer.
pub(super) trait StreamOps {
    /// Polls the read, starting one if none is in flight.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Bytes>>;
    /// Whether a write is in flight.
    fn writing(&self) -> bool;
    /// Starts a gathered write of `chunks` (none may be in flight).
    fn start_write(&mut self, chunks: Vec<Bytes>);
    /// Polls the write in flight; `Ready` clears the slot.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Arms the timer for `deadline` (or disarms it); whether it fired.
    fn poll_timer(&mut self, cx: &mut Context<'_>, deadline: Option<Instant>) -> bool;
}

/// The slots, over the stream's read and write futures `R` and `W`, made
/// by `new_read` and `new_write`.
pub(super) struct IoSlots<'a, R, W, NR, NW> {
    pub(super) read: Pin<&'a mut Option<R>>,
    pub(super) write: Pin<&'a mut Option<W>>,
    pub(super) timer: Pin<&'a mut Option<Sleep>>,
    pub(super) new_read: NR,
    pub(super) new_write: NW,
}

impl<R, W, NR, NW> StreamOps for IoSlots<'_, R, W, NR, NW>
where
    R: Future<Output = io::Result<Bytes>>,
    W: Future<Output = io::Result<()>>,
    NR: Fn() -> R,
    NW: Fn(Vec<Bytes>) -> W,
{
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Bytes>> {
        if self.read.is_none() {
            self.read.set(Some((self.new_read)()));
        }
        let r = match self.read.as_mut().as_pin_mut() {
            Some(f) => f.poll(cx),
            None => return Poll::Pending,
        };
        if r.is_ready() {
            self.read.set(None);
        }
        r
    }

    fn writing(&self) -> bool {
        self.write.is_some()
    }

    fn start_write(&mut self, chunks: Vec<Bytes>) {
        debug_assert!(self.write.is_none(), "one write at a time");
        self.write.set(Some((self.new_write)(chunks)));
    }

    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(f) = self.write.as_mut().as_pin_mut() else {
            return Poll::Ready(Ok(()));
        };
        let r = f.poll(cx);
        if r.is_ready() {
            self.write.set(None);
        }
        r
    }

    fn poll_timer(&mut self, cx: &mut Context<'_>, deadline: Option<Instant>) -> bool {
        let Some(d) = deadline else {
            self.timer.set(None);
            return false;
        };
        if self
            .timer
            .as_ref()
            .as_pin_ref()
            .is_none_or(|t| t.deadline() != d)
        {
            self.timer.set(Some(sleep_until(d)));
        }
        let fired = match self.timer.as_mut().as_pin_mut() {
            Some(t) => t.poll(cx).is_ready(),
            None => false,
        };
        if fired {
            self.timer.set(None);
            return true;
        }
        false
    }
}
