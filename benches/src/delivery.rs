//! Publish/subscribe accounting: what a publisher writes into each payload and
//! what a subscriber makes of it.
//!
//! PUB drops for a subscriber whose queue is full (the RFC's rule, and every
//! implementation's default), so a subscriber cannot count on `total`
//! messages. Each payload therefore carries its sequence number (bytes 0..8,
//! little-endian) and, from 16 bytes up, the publisher's wall-clock send time
//! in nanoseconds (bytes 8..16): both processes read the same
//! `CLOCK_REALTIME`, so the difference is the delivery latency. Smaller
//! messages are counted by arrival order and carry no time.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

use crate::record::{Figures, Record};

/// How long a subscriber waits for its first message before giving up.
pub const FIRST_WAIT: Duration = Duration::from_secs(10);
/// After the first message, silence this long means the publisher is done and
/// the rest was dropped.
pub const IDLE_WAIT: Duration = Duration::from_millis(1000);

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Writes message `seq`'s header into `buf` (as much as fits).
pub fn stamp(buf: &mut [u8], seq: u64) {
    if buf.len() >= 8 {
        buf[..8].copy_from_slice(&seq.to_le_bytes());
    }
    if buf.len() >= 16 {
        buf[8..16].copy_from_slice(&now_ns().to_le_bytes());
    }
}

/// Spaces a publisher's sends to `rate` messages per second (`--rate`), so
/// delivery latency is measured below saturation rather than as queueing.
pub struct Pacer {
    start: Instant,
    rate: f64,
}

impl Pacer {
    /// `None` for 0: as fast as the publisher can go.
    pub fn new(rate: u64) -> Option<Pacer> {
        (rate > 0).then(|| Pacer {
            start: Instant::now(),
            rate: rate as f64,
        })
    }

    /// When message `seq` is due, if that is still ahead.
    pub fn due(&self, seq: u64) -> Option<Instant> {
        let at = self.start + Duration::from_secs_f64(seq as f64 / self.rate);
        (at > Instant::now()).then_some(at)
    }
}

/// One subscriber's view of a run.
pub struct Receipts {
    warmup: u64,
    total: u64,
    arrived: u64,
    /// Measured messages received.
    pub measured: u64,
    /// When the first measured message arrived.
    pub first: Option<Instant>,
    /// When the last one arrived.
    pub last: Option<Instant>,
    /// Publisher's send time to arrival, in ns (messages of 16 bytes and more).
    pub delivery_ns: Histogram<u64>,
}

impl Receipts {
    pub fn new(warmup: u64, total: u64) -> Receipts {
        Receipts {
            warmup,
            total,
            arrived: 0,
            measured: 0,
            first: None,
            last: None,
            delivery_ns: Histogram::new_with_bounds(1, 60_000_000_000, 3)
                .expect("histogram bounds"),
        }
    }

    /// How long to wait for the next message before deciding the run is over.
    pub fn patience(&self) -> Duration {
        if self.arrived == 0 {
            FIRST_WAIT
        } else {
            IDLE_WAIT
        }
    }

    /// Accounts one message (its first frame); true when it was the last one.
    pub fn on_message(&mut self, payload: &[u8]) -> bool {
        let now = Instant::now();
        let index = self.arrived;
        self.arrived += 1;
        let seq = match payload.get(..8) {
            Some(b) => u64::from_le_bytes(b.try_into().expect("8 bytes")),
            None => index,
        };
        if seq >= self.warmup {
            if let Some(b) = payload.get(8..16) {
                let sent = u64::from_le_bytes(b.try_into().expect("8 bytes"));
                let ns = now_ns().saturating_sub(sent).clamp(1, 60_000_000_000);
                self.delivery_ns.record(ns).expect("clamped into range");
            }
            self.measured += 1;
            self.first.get_or_insert(now);
            self.last = Some(now);
        }
        seq + 1 >= self.total
    }
}

/// All subscribers of a run together.
pub struct Delivery {
    /// Messages each subscriber should have measured.
    pub count: u64,
    pub size: usize,
    pub subscribers: usize,
    pub receipts: Vec<Receipts>,
}

impl Figures for Delivery {
    fn fill(&self, r: &mut Record) {
        let received: u64 = self.receipts.iter().map(|x| x.measured).sum();
        let first = self.receipts.iter().filter_map(|x| x.first).min();
        let last = self.receipts.iter().filter_map(|x| x.last).max();
        // Nothing measured arrived (a publisher that lost it all): rate 0.
        let rate = match (first, last) {
            (Some(f), Some(l)) => received as f64 / (l - f).as_secs_f64().max(1e-9),
            _ => 0.0,
        };
        r.msgs_per_s = Some(rate);
        r.mbit_per_s = Some(rate * self.size as f64 * 8.0 / 1e6);
        r.lost = Some((self.count * self.subscribers as u64).saturating_sub(received));
        let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("bounds");
        for x in &self.receipts {
            all.add(&x.delivery_ns).expect("same bounds");
        }
        if !all.is_empty() {
            let us = |ns: u64| ns as f64 / 1000.0;
            r.delivery_p50_us = Some(us(all.value_at_quantile(0.5)));
            r.delivery_p99_us = Some(us(all.value_at_quantile(0.99)));
            r.delivery_p999_us = Some(us(all.value_at_quantile(0.999)));
            r.delivery_max_us = Some(us(all.max()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_skip_the_warm_up_and_end_the_run() {
        let mut r = Receipts::new(2, 5);
        let mut buf = vec![0u8; 16];
        for seq in [0, 3] {
            stamp(&mut buf, seq);
            assert!(!r.on_message(&buf));
        }
        stamp(&mut buf, 4);
        assert!(r.on_message(&buf), "seq 4 of 5 is the last");
        assert_eq!(r.measured, 2, "seq 0 is warm-up; 1 and 2 were dropped");
        assert_eq!(r.delivery_ns.len(), 2);
    }

    #[test]
    fn a_pacer_spaces_messages_by_the_rate() {
        assert!(Pacer::new(0).is_none(), "0 is flat out");
        let p = Pacer::new(1000).unwrap();
        let due = p.due(500).expect("message 500 is half a second ahead");
        let ahead = due - Instant::now();
        assert!(ahead > Duration::from_millis(400) && ahead <= Duration::from_millis(500));
        assert!(p.due(0).is_none(), "message 0 is due at once");
    }

    #[test]
    fn small_messages_count_by_arrival_and_carry_no_time() {
        let mut r = Receipts::new(1, 3);
        assert!(!r.on_message(b"x"));
        assert!(!r.on_message(b"x"));
        assert!(r.on_message(b"x"));
        assert_eq!(r.measured, 2);
        assert!(r.delivery_ns.is_empty());
    }

    #[test]
    fn aggregate_rate_and_losses_across_subscribers() {
        let mut a = Receipts::new(0, 4);
        let mut b = Receipts::new(0, 4);
        let mut buf = vec![0u8; 16];
        for seq in 0..4 {
            stamp(&mut buf, seq);
            a.on_message(&buf);
            if seq % 2 == 0 {
                b.on_message(&buf);
            }
        }
        let d = Delivery {
            count: 4,
            size: 16,
            subscribers: 2,
            receipts: vec![a, b],
        };
        let mut r = Record::default();
        d.fill(&mut r);
        assert_eq!(r.lost, Some(2));
        assert!(r.msgs_per_s.unwrap() > 0.0);
        assert!(r.delivery_p50_us.is_some());
    }
}
