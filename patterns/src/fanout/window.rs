//! Windows: how many of one peer's messages may be in flight between a
//! socket's core and the IO core that runs the peer's connection before the
//! far side gives credit back.
//!
//! libzmq's pipes cross threads under HWM and LWM: the writer stops at the
//! HWM and the reader says how far it has read every LWM messages. A pipe of
//! a socket spread over IO cores is two pipes with a ring between (the
//! socket's own pipe on its core, the engine's on the IO core); the window
//! carries the same rule across the ring, per peer, so that one peer that
//! does not read (or one socket that does not) never fills a ring the core's
//! other peers share:
//!
//! ```text
//!   socket's core                                IO core
//!   outbound (SNDHWM)  ──Deliver, at most W↓──▶  engine's outbound (HWM W↓)
//!                      ◀──Credit, each LWM─────  (the engine took them)
//!   inbound (HWM W↑)   ◀──Upstream, at most W↑─  engine's inbound (HWM W↑)
//!                      ───Credit, each LWM────▶  (the socket took them)
//! ```
//!
//! The receiving queue reports every LWM reads to its writer
//! ([`Queue::report_each_lwm`](crate::pipe::Queue::report_each_lwm)), and the
//! side that owns it credits everything taken so far ([`Intake::due`]), so
//! fewer than LWM messages are ever taken and uncredited: a sender whose
//! window is used up always has more than `W - LWM` messages ahead of it on
//! the far side, whose reader will cross the next LWM.

/// The largest window, and the window of an unbounded (HWM 0) pipe, which a
/// window cannot be.
pub(crate) const MAX_WINDOW: usize = 65_536;

/// The window of a pipe whose HWM is `hwm` (0: unbounded).
pub(crate) fn window(hwm: usize) -> usize {
    if hwm == 0 {
        MAX_WINDOW
    } else {
        hwm.min(MAX_WINDOW)
    }
}

/// The sending side's count: messages sent and not yet credited.
#[derive(Debug)]
pub(crate) struct Window {
    limit: usize,
    in_flight: usize,
}

impl Window {
    pub(crate) fn new(limit: usize) -> Window {
        Window {
            limit: limit.max(1),
            in_flight: 0,
        }
    }

    /// Whether one more message may go.
    pub(crate) fn has_room(&self) -> bool {
        self.in_flight < self.limit
    }

    pub(crate) fn sent(&mut self) {
        self.in_flight += 1;
    }

    /// The far side took `n` more.
    pub(crate) fn credit(&mut self, n: usize) {
        self.in_flight = self.in_flight.saturating_sub(n);
    }
}

/// The receiving side's count: messages taken in, and how many of them
/// were credited back.
#[derive(Debug, Default)]
pub(crate) struct Intake {
    taken: u64,
    credited: u64,
}

impl Intake {
    pub(crate) fn took(&mut self) {
        self.taken += 1;
    }

    /// The credit due now that `outstanding` of the messages taken in are
    /// still waiting for their reader; counted as given.
    pub(crate) fn due(&mut self, outstanding: usize) -> usize {
        let consumed = self.taken.saturating_sub(outstanding as u64);
        let n = consumed.saturating_sub(self.credited);
        self.credited = self.credited.max(consumed);
        n as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_stops_at_its_limit_and_reopens_with_credit() {
        let mut w = Window::new(2);
        assert!(w.has_room());
        w.sent();
        w.sent();
        assert!(!w.has_room());
        w.credit(1);
        assert!(w.has_room());
        w.credit(5);
        w.sent();
        w.sent();
        assert!(
            !w.has_room(),
            "credit beyond what is in flight gives no extra room"
        );
    }

    #[test]
    fn unbounded_pipes_get_the_largest_window() {
        assert_eq!(window(0), MAX_WINDOW);
        assert_eq!(window(1000), 1000);
        assert_eq!(window(1 << 30), MAX_WINDOW);
        assert!(
            Window::new(0).has_room(),
            "a window always lets one message go"
        );
    }

    #[test]
    fn intake_credits_what_left_and_only_once() {
        let mut i = Intake::default();
        for _ in 0..10 {
            i.took();
        }
        assert_eq!(i.due(10), 0);
        assert_eq!(i.due(6), 4);
        assert_eq!(i.due(6), 0);
        assert_eq!(i.due(0), 6);
        // More outstanding than taken (a message the far side added): no credit.
        i.took();
        assert_eq!(i.due(3), 0);
        assert_eq!(i.due(0), 1);
    }
}
