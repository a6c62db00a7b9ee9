//! Warnings that a hostile or broken crowd of peers can trigger, limited to a
//! few per interval, with a count of what was held back.
//!
//! A storm of failed handshakes (a port scanner, a misconfigured fleet) would
//! otherwise write one line per connection, and the log would become the
//! box's bottleneck. The first [`BURST`] warnings of each interval are
//! written as they come; the rest are counted, and the next warning written
//! says how many were suppressed since the last one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Warnings written per interval before the rest are only counted.
pub(crate) const BURST: u64 = 10;
/// The length of an interval.
pub(crate) const INTERVAL: Duration = Duration::from_secs(10);

/// One kind of warning's budget. Lock-free: sockets on several threads share
/// a limiter for the same kind.
#[derive(Debug)]
pub(crate) struct LogLimit {
    /// Index of the interval the counts below belong to.
    interval: AtomicU64,
    /// Written in that interval.
    written: AtomicU64,
    /// Held back since the last written warning.
    suppressed: AtomicU64,
}

impl LogLimit {
    /// A limiter with nothing written yet.
    pub(crate) const fn new() -> Self {
        LogLimit {
            interval: AtomicU64::new(0),
            written: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Whether a warning may be written now; if so, how many were held back
    /// before it (to say so in the line).
    pub(crate) fn admit(&self) -> Option<u64> {
        self.admit_at(interval_index(Instant::now()))
    }

    fn admit_at(&self, now: u64) -> Option<u64> {
        let seen = self.interval.load(Ordering::Relaxed);
        if now != seen
            && self
                .interval
                .compare_exchange(seen, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.written.store(0, Ordering::Relaxed);
        }
        if self.written.fetch_add(1, Ordering::Relaxed) < BURST {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// Which interval `t` falls in, counted from the first call.
fn interval_index(t: Instant) -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(|| t);
    (t.saturating_duration_since(start).as_millis() / INTERVAL.as_millis()) as u64 + 1
}

/// Handshake failures, across every socket of the process.
pub(crate) static HANDSHAKE_FAILED: LogLimit = LogLimit::new();
/// Connections closed on an error, across every socket of the process.
pub(crate) static DISCONNECTED: LogLimit = LogLimit::new();
/// Accept failures (EMFILE and the like), across every listener.
pub(crate) static ACCEPT_FAILED: LogLimit = LogLimit::new();
/// A client admission that needed the ZAP handler where it cannot be reached.
pub(crate) static ZAP_UNREACHABLE: LogLimit = LogLimit::new();
/// A ZAP request that failed (no handler answer, a malformed reply).
pub(crate) static ZAP_MALFORMED: LogLimit = LogLimit::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_per_interval_then_a_count_of_what_was_held_back() {
        let l = LogLimit::new();
        for _ in 0..BURST {
            assert_eq!(l.admit_at(1), Some(0));
        }
        for _ in 0..25 {
            assert_eq!(l.admit_at(1), None);
        }
        // A new interval: the first line says 25 were suppressed.
        assert_eq!(l.admit_at(2), Some(25));
        assert_eq!(l.admit_at(2), Some(0));
    }
}
