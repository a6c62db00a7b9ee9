//! The IO drivers: io_uring (the fast path) and epoll (the fallback), chosen at start.
//!
//! Both present the same interface to the reactor (`turn`: submit, wait as the
//! strategy says, dispatch completions). The operations on a descriptor (read,
//! recv, write, writev, accept, connect) are methods of `io::Source`, each
//! choosing its path for the driver in use; `net/` calls those and never
//! names a driver. io_uring is completion-based: an operation owns its buffers until the
//! kernel is done with them. epoll is readiness-based: the future retries a
//! non-blocking syscall when the descriptor is ready.

pub(crate) mod epoll;
mod provided_ring;
pub(crate) mod registered_buffers;
pub(crate) mod uring;

use std::io;

use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::recv_pool::BufPool;
use crate::wait_strategy::WaitStrategy;
use crate::wake::{Notifier, ParkFlag};

/// Which driver a reactor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverKind {
    /// io_uring.
    Uring,
    /// epoll through the `polling` crate.
    Epoll,
}

impl DriverKind {
    /// The driver's name as `MONOCOQUE_DRIVER` spells it.
    pub fn name(self) -> &'static str {
        match self {
            DriverKind::Uring => "uring",
            DriverKind::Epoll => "epoll",
        }
    }
}

/// One reactor's driver. One per thread, never moved: the size difference
/// between the variants costs nothing, and boxing would add a hop on every op.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Driver {
    Uring(uring::UringDriver),
    Epoll(epoll::EpollDriver),
}

impl Driver {
    /// Builds the driver `MONOCOQUE_DRIVER` asks for, or io_uring with a fallback
    /// to epoll (one log line) when io_uring cannot be used.
    pub(crate) fn new(
        strategy: WaitStrategy,
        ring_entries: u32,
        pool: Arc<BufPool>,
        fixed: Option<(u16, usize)>,
    ) -> Result<(Driver, Notifier)> {
        let forced = match std::env::var("MONOCOQUE_DRIVER") {
            Ok(v) if v == "uring" => Some(DriverKind::Uring),
            Ok(v) if v == "epoll" => Some(DriverKind::Epoll),
            Ok(v) if v.is_empty() => None,
            Ok(v) => return Err(Error::UnknownDriver(v)),
            Err(_) => None,
        };
        if forced == Some(DriverKind::Epoll) {
            return Self::epoll(strategy);
        }
        match uring::UringDriver::new(strategy, ring_entries, pool, fixed) {
            Ok(d) => {
                let n = d.notifier();
                Ok((Driver::Uring(d), n))
            }
            Err(uring::SetupError::Strategy(missing)) => Err(Error::UnsupportedWaitStrategy {
                strategy: strategy.name(),
                missing,
            }),
            Err(uring::SetupError::Unavailable(e)) if forced == Some(DriverKind::Uring) => {
                Err(Error::UringUnavailable(e))
            }
            Err(uring::SetupError::Unavailable(e)) => {
                tracing::info!("io_uring unavailable ({e}); using the epoll driver");
                Self::epoll(strategy)
            }
        }
    }

    fn epoll(strategy: WaitStrategy) -> Result<(Driver, Notifier)> {
        if let WaitStrategy::SqPoll { .. } = strategy {
            return Err(Error::UnsupportedWaitStrategy {
                strategy: strategy.name(),
                missing: "SQPOLL needs io_uring; the epoll driver is in use".into(),
            });
        }
        let d = epoll::EpollDriver::new(strategy)?;
        let n = d.notifier();
        Ok((Driver::Epoll(d), n))
    }

    pub(crate) fn kind(&self) -> DriverKind {
        match self {
            Driver::Uring(_) => DriverKind::Uring,
            Driver::Epoll(_) => DriverKind::Epoll,
        }
    }

    /// Submits pending work, waits up to `wait` (`None`: until something happens)
    /// as the strategy allows, and wakes the tasks whose IO completed.
    pub(crate) fn turn(
        &mut self,
        wait: Option<Duration>,
        parked: &ParkFlag,
        has_work: &dyn Fn() -> bool,
    ) -> io::Result<()> {
        match self {
            Driver::Uring(d) => d.turn(wait, parked, has_work),
            Driver::Epoll(d) => d.turn(wait, parked, has_work),
        }
    }

    /// Whether SEND_ZC can be used (io_uring kernels that have it).
    pub(crate) fn supports_send_zc(&self) -> bool {
        match self {
            Driver::Uring(u) => u.supports_send_zc(),
            Driver::Epoll(_) => false,
        }
    }

    /// The wakers of every operation still waiting (shutdown drops them).
    pub(crate) fn take_wakers(&mut self) -> Vec<std::task::Waker> {
        match self {
            Driver::Uring(u) => u.take_wakers(),
            Driver::Epoll(e) => e.take_wakers(),
        }
    }

    /// Cancels what the kernel still holds (io_uring), at the reactor's end.
    pub(crate) fn shutdown(&mut self) {
        if let Driver::Uring(u) = self {
            u.shutdown();
        }
    }

    /// Buffers registered for WRITE_FIXED (0 without io_uring's fixed pool).
    pub(crate) fn registered_buffer_count(&self) -> usize {
        match self {
            Driver::Uring(d) => d.fixed_pool().map_or(0, |p| p.count() as usize),
            Driver::Epoll(_) => 0,
        }
    }

    /// Multishot receives stopped for a backlog (always 0 on epoll).
    pub(crate) fn stopped_receives(&self) -> u64 {
        match self {
            Driver::Uring(d) => d.stopped_receives(),
            Driver::Epoll(_) => 0,
        }
    }

    /// Operations (io_uring) or descriptors (epoll) being tracked.
    pub(crate) fn load(&self) -> usize {
        match self {
            Driver::Uring(d) => d.in_flight(),
            Driver::Epoll(d) => d.registered(),
        }
    }
}
