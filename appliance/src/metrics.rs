//! What each service counts, shared between its thread (the only writer)
//! and whoever reads it (the metrics endpoint, `monocoque stats`).
//!
//! Counters are relaxed atomics: one writer, readers that only need a recent
//! value. The latency histogram is recorded on the service's thread into a
//! local copy and merged here in batches, so the hot path takes no lock.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

/// One socket's counters.
#[derive(Debug, Default)]
pub struct SideMetrics {
    /// Messages received from this socket's peers.
    pub messages_in: AtomicU64,
    /// Their bytes (all frames).
    pub bytes_in: AtomicU64,
    /// Messages sent to this socket's peers.
    pub messages_out: AtomicU64,
    /// Their bytes.
    pub bytes_out: AtomicU64,
    /// Messages the service could not send: SNDTIMEO ran out, or
    /// ROUTER_MANDATORY found no such peer.
    pub drops: AtomicU64,
    /// Messages the socket dropped at a peer's SNDHWM (PUB/XPUB: one per
    /// subscriber that missed one; ROUTER: one per message to a full peer).
    pub hwm_drops: AtomicU64,
    /// Connected peers now.
    pub peers: AtomicI64,
    /// Connection attempts that failed and were retried.
    pub reconnects: AtomicU64,
    /// Handshakes that failed (wrong socket type, malformed greeting, timeout).
    pub handshake_failures: AtomicU64,
}

impl SideMetrics {
    /// Adds one received message of `bytes`.
    pub fn received(&self, bytes: usize) {
        self.messages_in.fetch_add(1, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Every message lost on the way out: [`Self::drops`] plus [`Self::hwm_drops`].
    pub fn all_drops(&self) -> u64 {
        self.drops.load(Ordering::Relaxed) + self.hwm_drops.load(Ordering::Relaxed)
    }

    /// Adds one sent message of `bytes`.
    pub fn sent(&self, bytes: usize) {
        self.messages_out.fetch_add(1, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// A service's counters and its latency.
#[derive(Debug)]
pub struct ServiceMetrics {
    /// The service's name.
    pub name: String,
    /// The frontend socket.
    pub frontend: SideMetrics,
    /// The backend socket.
    pub backend: SideMetrics,
    /// Nanoseconds each message spent in the service (see [`LatencyRecorder`]).
    latency: Mutex<Histogram<u64>>,
    /// Connections on each of its IO cores (empty: it has none),
    /// refreshed every second by the service.
    io_core_connections: Mutex<Vec<u64>>,
}

/// Latency percentiles, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Percentiles {
    /// Messages timed.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// The longest.
    pub max: u64,
}

/// The longest time a histogram tells apart (longer is clamped): 60 s.
const LATENCY_MAX_NS: u64 = 60_000_000_000;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_NS, 3).expect("valid bounds")
}

impl ServiceMetrics {
    /// Zeroed counters for a service.
    pub fn new(name: &str) -> ServiceMetrics {
        ServiceMetrics {
            name: name.to_string(),
            frontend: SideMetrics::default(),
            backend: SideMetrics::default(),
            latency: Mutex::new(histogram()),
            io_core_connections: Mutex::new(Vec::new()),
        }
    }

    /// Connections on each of the service's IO cores (empty if
    /// it has none).
    pub fn io_core_connections(&self) -> Vec<u64> {
        self.io_core_connections
            .lock()
            .expect("not poisoned")
            .clone()
    }

    /// Records the connections on each IO core (the service's thread).
    pub fn set_io_core_connections(&self, per_core: Vec<u64>) {
        *self.io_core_connections.lock().expect("not poisoned") = per_core;
    }

    /// The latency percentiles so far.
    pub fn latency(&self) -> Percentiles {
        let h = self.latency.lock().expect("not poisoned");
        Percentiles {
            count: h.len(),
            p50: h.value_at_quantile(0.5),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// A service thread's local latency histogram, merged into the shared one
/// every [`LatencyRecorder::BATCH`] messages and whenever the service goes idle.
pub struct LatencyRecorder {
    local: Histogram<u64>,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        LatencyRecorder { local: histogram() }
    }
}

impl LatencyRecorder {
    /// Messages recorded between merges while busy.
    pub const BATCH: u64 = 1024;

    /// Records one message's time in the service.
    pub fn record(&mut self, spent: Duration, into: &ServiceMetrics) {
        let ns = (spent.as_nanos() as u64).clamp(1, LATENCY_MAX_NS);
        self.local.saturating_record(ns);
        if self.local.len() >= Self::BATCH {
            self.flush(into);
        }
    }

    /// Merges what is recorded locally into `into`.
    pub fn flush(&mut self, into: &ServiceMetrics) {
        if self.local.is_empty() {
            return;
        }
        into.latency
            .lock()
            .expect("not poisoned")
            .add(&self.local)
            .expect("same bounds");
        self.local.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_reaches_the_shared_histogram_in_batches_and_on_flush() {
        let m = ServiceMetrics::new("s");
        let mut r = LatencyRecorder::default();
        for _ in 0..LatencyRecorder::BATCH - 1 {
            r.record(Duration::from_micros(5), &m);
        }
        assert_eq!(m.latency().count, 0, "not merged before a batch is full");
        r.record(Duration::from_micros(5), &m);
        assert_eq!(m.latency().count, LatencyRecorder::BATCH);
        r.record(Duration::from_millis(2), &m);
        r.flush(&m);
        let p = m.latency();
        assert_eq!(p.count, LatencyRecorder::BATCH + 1);
        assert!((4_990..=5_010).contains(&p.p50), "{p:?}");
        assert!((1_999_000..=2_001_000).contains(&p.max), "{p:?}");
    }

    #[test]
    fn counters_add_messages_and_bytes() {
        let s = SideMetrics::default();
        s.received(10);
        s.received(5);
        s.sent(7);
        assert_eq!(s.messages_in.load(Ordering::Relaxed), 2);
        assert_eq!(s.bytes_in.load(Ordering::Relaxed), 15);
        assert_eq!(s.bytes_out.load(Ordering::Relaxed), 7);
    }
}
