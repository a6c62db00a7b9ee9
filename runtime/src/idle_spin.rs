//! Spinning a short while before a park: what a parking reactor does when it
//! runs out of work ([`RuntimeBuilder::spin_before_park`]).
//!
//! A request-reply exchange leaves the reactor idle for the few
//! microseconds until the next message; parking in that gap costs a
//! context switch on each side (the wake-up that follows), which is most of
//! a round trip between threads of one process. Polling on for a bounded
//! time catches the next message without one (libzmq's perf tools:
//! `inproc_lat` 20 us → 11 us, docs/BENCHMARKS.md). Each spin yields the
//! CPU (`sched_yield`), so a thread that shares the core, the application's
//! own, runs in the meantime.
//!
//! [`RuntimeBuilder::spin_before_park`]: crate::RuntimeBuilder::spin_before_park

use std::time::{Duration, Instant};

/// The idle clock of one reactor loop.
#[derive(Debug)]
pub(crate) struct IdleSpin {
    /// How long to poll on after the last work; zero: park at once.
    spin: Duration,
    /// When the loop last found nothing to do after doing something.
    idle_since: Option<Instant>,
}

impl IdleSpin {
    pub(crate) fn new(spin: Duration) -> IdleSpin {
        IdleSpin {
            spin,
            idle_since: None,
        }
    }

    /// Whether the loop, which did nothing this turn, polls again instead
    /// of parking: it has been idle for less than the spin. Yields the CPU
    /// before answering yes.
    pub(crate) fn poll_again(&mut self) -> bool {
        if self.spin.is_zero() {
            return false;
        }
        let now = Instant::now();
        let since = *self.idle_since.get_or_insert(now);
        if now.duration_since(since) < self.spin {
            std::thread::yield_now();
            true
        } else {
            false
        }
    }

    /// The loop did some work: the next idle turn starts the spin again.
    pub(crate) fn worked(&mut self) {
        self.idle_since = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_spin_parks_at_once() {
        let mut idle = IdleSpin::new(Duration::ZERO);
        assert!(!idle.poll_again());
    }

    #[test]
    fn spins_until_the_idle_time_is_up_then_again_after_work() {
        let mut idle = IdleSpin::new(Duration::from_millis(20));
        assert!(idle.poll_again());
        let start = Instant::now();
        while idle.poll_again() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "never stopped spinning"
            );
        }
        assert!(start.elapsed() >= Duration::from_millis(19));
        assert!(!idle.poll_again(), "idle past the spin: park");
        idle.worked();
        assert!(idle.poll_again(), "work restarts the spin");
    }
}
