//! The session's deadlines: handshake, heartbeat interval, heartbeat timeout, TTL.
//!
//! Plain data: the caller passes `now` in, so tests drive time exactly. The rules
//! are libzmq's: every frame received cancels the heartbeat timeout and the TTL;
//! a PING with a TTL arms the TTL if it is not armed; sending a PING arms the
//! timeout if it is not armed; the interval timer re-arms from the time it fired.

use std::time::{Duration, Instant};

/// What fell due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    Handshake(Duration),
    HeartbeatTimeout(Duration),
    Ttl(Duration),
    SendPing,
}

#[derive(Debug)]
pub(crate) struct Timers {
    handshake_timeout: Option<Duration>,
    heartbeat_interval: Option<Duration>,
    heartbeat_timeout: Option<Duration>,
    handshake_deadline: Option<Instant>,
    next_ping: Option<Instant>,
    ping_timeout: Option<Instant>,
    ttl: Option<(Instant, Duration)>,
}

impl Timers {
    pub(crate) fn new(
        now: Instant,
        handshake_timeout: Option<Duration>,
        heartbeat_interval: Option<Duration>,
        heartbeat_timeout: Option<Duration>,
    ) -> Self {
        let handshake_timeout = handshake_timeout.filter(|d| !d.is_zero());
        Timers {
            handshake_timeout,
            heartbeat_interval,
            heartbeat_timeout: heartbeat_timeout
                .or(heartbeat_interval)
                .filter(|d| !d.is_zero()),
            handshake_deadline: handshake_timeout.map(|d| now + d),
            next_ping: None,
            ping_timeout: None,
            ttl: None,
        }
    }

    /// The handshake finished: stop its deadline, start heartbeating.
    pub(crate) fn handshake_done(&mut self, now: Instant) {
        self.handshake_deadline = None;
        self.next_ping = self.heartbeat_interval.map(|ivl| now + ivl);
    }

    /// The handshake of a ZMTP 1.0 or 2.0 peer finished: stop its deadline;
    /// no heartbeats, which such a peer cannot answer (libzmq sends none).
    pub(crate) fn legacy_handshake_done(&mut self) {
        self.stop();
    }

    /// A frame arrived: the peer is alive.
    pub(crate) fn traffic(&mut self) {
        self.ping_timeout = None;
        self.ttl = None;
    }

    /// A PING with `ttl` arrived (after [`traffic`](Self::traffic) for the same frame).
    pub(crate) fn ping_received(&mut self, now: Instant, ttl: Option<Duration>) {
        if let (None, Some(ttl)) = (self.ttl, ttl) {
            self.ttl = Some((now + ttl, ttl));
        }
    }

    pub(crate) fn stop(&mut self) {
        *self = Timers {
            handshake_timeout: None,
            heartbeat_interval: None,
            heartbeat_timeout: None,
            handshake_deadline: None,
            next_ping: None,
            ping_timeout: None,
            ttl: None,
        };
    }

    /// The earliest deadline, if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        [
            self.handshake_deadline,
            self.next_ping,
            self.ping_timeout,
            self.ttl.map(|(at, _)| at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Reports the most important deadline that has passed, and updates state as
    /// if it had been acted on. Call until it returns `None`.
    pub(crate) fn expire(&mut self, now: Instant) -> Option<Expired> {
        if self.handshake_deadline.is_some_and(|d| d <= now) {
            self.handshake_deadline = None;
            return Some(Expired::Handshake(
                self.handshake_timeout.unwrap_or_default(),
            ));
        }
        if self.ping_timeout.is_some_and(|d| d <= now) {
            self.ping_timeout = None;
            return Some(Expired::HeartbeatTimeout(
                self.heartbeat_timeout.unwrap_or_default(),
            ));
        }
        if let Some((at, ttl)) = self.ttl {
            if at <= now {
                self.ttl = None;
                return Some(Expired::Ttl(ttl));
            }
        }
        if let (Some(at), Some(ivl)) = (self.next_ping, self.heartbeat_interval) {
            if at <= now {
                self.next_ping = Some(now + ivl);
                if self.ping_timeout.is_none() {
                    self.ping_timeout = self.heartbeat_timeout.map(|t| now + t);
                }
                return Some(Expired::SendPing);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn ping_then_timeout_unless_traffic() {
        let t0 = Instant::now();
        let mut t = Timers::new(t0, None, Some(100 * MS), Some(250 * MS));
        assert_eq!(t.next_deadline(), None);
        t.handshake_done(t0);
        assert_eq!(t.next_deadline(), Some(t0 + 100 * MS));
        assert_eq!(t.expire(t0 + 99 * MS), None);
        assert_eq!(t.expire(t0 + 100 * MS), Some(Expired::SendPing));
        assert_eq!(t.expire(t0 + 100 * MS), None);
        // timeout armed at 350, next ping at 200
        assert_eq!(t.expire(t0 + 200 * MS), Some(Expired::SendPing));
        t.traffic();
        assert_eq!(t.expire(t0 + 300 * MS), Some(Expired::SendPing));
        assert_eq!(t.expire(t0 + 399 * MS), None);
        assert_eq!(t.expire(t0 + 400 * MS), Some(Expired::SendPing));
        assert_eq!(
            t.expire(t0 + 550 * MS),
            Some(Expired::HeartbeatTimeout(250 * MS))
        );
    }

    #[test]
    fn ttl_armed_once_and_cleared_by_traffic() {
        let t0 = Instant::now();
        let mut t = Timers::new(t0, Some(30 * MS), None, None);
        assert_eq!(t.expire(t0 + 30 * MS), Some(Expired::Handshake(30 * MS)));
        t.handshake_done(t0);
        t.ping_received(t0, Some(500 * MS));
        t.ping_received(t0 + 100 * MS, Some(500 * MS));
        assert_eq!(t.next_deadline(), Some(t0 + 500 * MS));
        t.traffic();
        assert_eq!(t.next_deadline(), None);
        t.ping_received(t0 + 200 * MS, Some(500 * MS));
        assert_eq!(t.expire(t0 + 700 * MS), Some(Expired::Ttl(500 * MS)));
    }
}
