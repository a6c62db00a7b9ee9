//! The epoll driver (through the `polling` crate), for where io_uring cannot run.
//!
//! Readiness-based: a future tries its non-blocking syscall; on EAGAIN it asks
//! [`EpollDriver::poll_ready`] to wake it when the descriptor is ready. Interest
//! is one-shot and re-armed by each wait, so a descriptor nobody waits on costs
//! nothing.

use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use polling::{Event, Events, Poller};
use slab::Slab;

use crate::wait_strategy::WaitStrategy;
use crate::wake::Notifier;
use crate::wake::ParkFlag;

/// Which way a task waits on a descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

#[derive(Debug)]
struct Source {
    fd: RawFd,
    reader: Option<Waker>,
    writer: Option<Waker>,
    readable: bool,
    writable: bool,
}

/// One reactor's poller and registered descriptors.
#[derive(Debug)]
pub(crate) struct EpollDriver {
    poller: Arc<Poller>,
    sources: Slab<Source>,
    events: Events,
    strategy: WaitStrategy,
}

impl EpollDriver {
    pub(crate) fn new(strategy: WaitStrategy) -> io::Result<Self> {
        Ok(EpollDriver {
            poller: Arc::new(Poller::new()?),
            sources: Slab::new(),
            events: Events::new(),
            strategy,
        })
    }

    pub(crate) fn notifier(&self) -> Notifier {
        Notifier::Poller(self.poller.clone())
    }

    /// Registers a non-blocking descriptor; returns its key.
    pub(crate) fn register(&mut self, fd: RawFd) -> io::Result<usize> {
        let key = self.sources.insert(Source {
            fd,
            reader: None,
            writer: None,
            readable: false,
            writable: false,
        });
        // SAFETY: the caller (a socket type) deregisters before it closes `fd`.
        if let Err(e) = unsafe { self.poller.add(fd, Event::none(key)) } {
            self.sources.remove(key);
            return Err(e);
        }
        Ok(key)
    }

    /// Forgets a descriptor; call before closing it.
    pub(crate) fn deregister(&mut self, key: usize) {
        if let Some(src) = self.sources.try_remove(key) {
            // SAFETY: the descriptor is still open: its owner calls this before closing it.
            let fd = unsafe { BorrowedFd::borrow_raw(src.fd) };
            let _ = self.poller.delete(fd);
        }
    }

    /// Ready (and the readiness consumed), or the waker stored and interest armed.
    pub(crate) fn poll_ready(
        &mut self,
        key: usize,
        dir: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let src = &mut self.sources[key];
        let (ready, slot) = match dir {
            Direction::Read => (&mut src.readable, &mut src.reader),
            Direction::Write => (&mut src.writable, &mut src.writer),
        };
        if std::mem::take(ready) {
            return Poll::Ready(Ok(()));
        }
        match slot {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *slot = Some(cx.waker().clone()),
        }
        let interest = Event::new(key, src.reader.is_some(), src.writer.is_some());
        // SAFETY: registered and still open (see `deregister`).
        let fd = unsafe { BorrowedFd::borrow_raw(src.fd) };
        if let Err(e) = self.poller.modify(fd, interest) {
            return Poll::Ready(Err(e));
        }
        Poll::Pending
    }

    /// One turn of the loop (see [`Driver::turn`](super::Driver::turn)).
    pub(crate) fn turn(
        &mut self,
        wait: Option<Duration>,
        parked: &ParkFlag,
        has_work: &dyn Fn() -> bool,
    ) -> io::Result<()> {
        self.events.clear();
        let timeout = match self.strategy {
            WaitStrategy::BusyPoll => Some(Duration::ZERO),
            _ => wait,
        };
        if timeout == Some(Duration::ZERO) {
            self.poller.wait(&mut self.events, Some(Duration::ZERO))?;
        } else {
            parked.set(true);
            let t = if has_work() {
                Some(Duration::ZERO)
            } else {
                timeout
            };
            let r = self.poller.wait(&mut self.events, t);
            parked.set(false);
            match r {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        for ev in self.events.iter() {
            let Some(src) = self.sources.get_mut(ev.key) else {
                continue;
            };
            if ev.readable {
                src.readable = true;
                if let Some(w) = src.reader.take() {
                    w.wake();
                }
            }
            if ev.writable {
                src.writable = true;
                if let Some(w) = src.writer.take() {
                    w.wake();
                }
            }
        }
        Ok(())
    }

    /// Descriptors registered.
    pub(crate) fn registered(&self) -> usize {
        self.sources.len()
    }
}

impl EpollDriver {
    /// Takes every stored waker (shutdown).
    pub(crate) fn take_wakers(&mut self) -> Vec<Waker> {
        let mut out = Vec::new();
        for (_, s) in self.sources.iter_mut() {
            out.extend(s.reader.take());
            out.extend(s.writer.take());
        }
        out
    }
}
