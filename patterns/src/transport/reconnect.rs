//! The wait between connection attempts: RECONNECT_IVL plus jitter, doubling
//! up to RECONNECT_IVL_MAX when that is set (libzmq's rule).

use std::time::Duration;

/// Produces successive reconnect delays.
///
/// ```text
/// attempt n waits  base_n + jitter,  jitter uniform in [0, ivl)
/// base_0 = ivl;  base_{n+1} = min(2 * base_n, max)  when max > ivl, else ivl
/// ```
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    ivl: Duration,
    max: Duration,
    current: Duration,
    rng: u64,
}

impl Backoff {
    pub(crate) fn new(ivl: Duration, max: Duration, seed: u64) -> Backoff {
        Backoff {
            ivl,
            max,
            current: ivl,
            rng: seed | 1,
        }
    }

    /// The options may change between attempts; the sequence restarts if they do.
    pub(crate) fn configure(&mut self, ivl: Duration, max: Duration) {
        if ivl != self.ivl || max != self.max {
            self.ivl = ivl;
            self.max = max;
            self.current = ivl;
        }
    }

    /// A connection succeeded: the next wait starts from the interval again.
    pub(crate) fn reset(&mut self) {
        self.current = self.ivl;
    }

    /// The wait before the next attempt.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let jitter = if self.ivl.is_zero() {
            Duration::ZERO
        } else {
            let nanos = self.ivl.as_nanos() as u64;
            Duration::from_nanos(self.next_random() % nanos)
        };
        let delay = self.current + jitter;
        if self.max > self.ivl {
            self.current = (self.current * 2).min(self.max);
        }
        delay
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64: jitter only has to spread reconnects, not be secret.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn without_a_max_every_wait_is_ivl_plus_jitter() {
        let mut b = Backoff::new(100 * MS, Duration::ZERO, 42);
        for _ in 0..100 {
            let d = b.next_delay();
            assert!(d >= 100 * MS && d < 200 * MS, "{d:?}");
        }
    }

    #[test]
    fn with_a_max_the_base_doubles_and_caps_then_resets() {
        let mut b = Backoff::new(100 * MS, 500 * MS, 7);
        let bases: Vec<Duration> = (0..6).map(|_| b.next_delay()).collect();
        let expect = [100, 200, 400, 500, 500, 500];
        for (d, e) in bases.iter().zip(expect) {
            assert!(*d >= e * MS && *d < (e + 100) * MS, "{d:?} for base {e}");
        }
        b.reset();
        assert!(b.next_delay() < 200 * MS);
    }

    #[test]
    fn jitter_varies() {
        let mut b = Backoff::new(100 * MS, Duration::ZERO, 9);
        let a: Vec<_> = (0..10).map(|_| b.next_delay()).collect();
        assert!(a.windows(2).any(|w| w[0] != w[1]));
    }
}
