//! What a blocking handle's ZMQ_DONTWAIT sends count on between asks: the
//! room the socket had when the context's thread last answered, as
//! libzmq's application thread counts on what its pipes told it last.
//!
//! libzmq's application thread writes into a pipe itself and learns how far
//! its I/O thread has read only when it processes its commands: a blocking
//! wait, `zmq_poll` and ZMQ_EVENTS do so at once, a send at most once a
//! millisecond (`socket_base_t::process_commands`' throttle,
//! `max_command_delay`). So a run of ZMQ_DONTWAIT sends meets EAGAIN once
//! it has put SNDHWM messages into a pipe since it last looked, however
//! fast the I/O thread moves them on into the kernel. libzmq's own tests
//! count on it (test_hwm_pubsub: 6,000 empty messages to a SUB that does
//! not read, SNDHWM 2,000, must meet EAGAIN; test_router_mandatory_hwm:
//! 64 KiB messages, SNDHWM 1, fewer than 10 before EAGAIN), as does a
//! program that sends until EAGAIN to bound what it has in flight.
//!
//! Here the socket lives on the context's thread, which answered each
//! ZMQ_DONTWAIT send with the room the socket had then: the engine had
//! written the pipe out in between, into kernel buffers that grow to
//! megabytes, and EAGAIN did not come. So the handle keeps libzmq's view
//! instead. The answer to a ZMQ_DONTWAIT send carries how many more
//! messages the socket takes for certain (`Socket::send_credit`: PUSH,
//! DEALER, PAIR, XPUB under XPUB_NODROP), and the answer to a ROUTER's
//! route check how many more its peer's pipe takes. While that lasts, the
//! next ZMQ_DONTWAIT sends go into the send lane without asking (the
//! socket surely takes them: no round trip, as libzmq's send has none).
//! Where the answer is only a lower bound (a PUSH with more peers with room
//! than it adds up), using it up makes the handle ask rather than refuse;
//! an XPUB answers only where every subscriber takes every message (one
//! that subscribes to some topics holds up only those, which a bound over
//! all cannot tell).
//! Once it is spent, a send fails with EAGAIN without asking, as libzmq's
//! does, whose view is as old.
//!
//! **How long a credit holds**: for a run of sends, and [`STALE_FOR`]
//! (libzmq's throttle) past the answer or the last send on it. libzmq's
//! view is at most that old when its sends run back to back; here the
//! lane's sends can be paced by the context's thread (a full ring), so
//! the clock restarts at each send rather than at the answer alone, or a
//! slow run of SNDHWM sends would look afresh before it was spent. A
//! spent credit so answers EAGAIN for at most [`STALE_FOR`] after its last
//! send (a sender that retries at once asks again then; EAGAIN never
//! restarts the clock). A pause as long (a peer may have gone meanwhile,
//! as under ZMQ_IMMEDIATE), or any other command (a blocking send,
//! ZMQ_EVENTS, `zmq_poll`, a receive, an option), and the handle asks
//! again.
//!
//! ```text
//!  ZMQ_DONTWAIT send ─▶ answered or sent on
//!                       < STALE_FOR ago? ──────── no ─▶ ask (a command):
//!                            │ yes                    sent or EAGAIN, and
//!                            ▼                        the credit
//!                       credit left? ── yes ─▶ send lane, credit - 1
//!                            │ no
//!                            ▼
//!                          EAGAIN
//! ```

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::socket::SendRoom;
use crate::{Error, Result};

/// How long a credit holds after its answer or its last send: libzmq's
/// application thread processes its commands at most this often in a run
/// of sends (3 million TSC ticks, a millisecond at 3 GHz).
pub(super) const STALE_FOR: Duration = Duration::from_millis(1);

/// What a ZMQ_DONTWAIT send does, from what the handle knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// The socket takes it for certain: through the send lane.
    Room,
    /// The credit is spent, its last use less than [`STALE_FOR`]
    /// ago: EAGAIN.
    Spent,
    /// Nothing known (or known too long ago): ask the context's thread.
    Ask,
}

/// Room the context's thread reported, less what was sent on it since.
#[derive(Debug, Clone, Copy)]
struct Credit {
    room: usize,
    /// The room was all there was: used up, a send would wait (EAGAIN).
    /// Otherwise it was a lower bound, and used up the handle asks.
    whole: bool,
    /// The answer, or the last send on the credit since: the handle's run
    /// of sends goes on (see the module's comment).
    at: Instant,
}

impl Credit {
    fn new(SendRoom { room, whole }: SendRoom) -> Credit {
        Credit {
            room,
            whole,
            at: Instant::now(),
        }
    }

    fn verdict(&self) -> Verdict {
        if self.at.elapsed() >= STALE_FOR {
            Verdict::Ask
        } else if self.room > 0 {
            Verdict::Room
        } else if self.whole {
            Verdict::Spent
        } else {
            Verdict::Ask
        }
    }

    /// What an answer says: its room, or none after EAGAIN; `None` for
    /// another error or where the socket cannot tell.
    /// One message sent on the credit.
    fn spend(&mut self) {
        self.room = self.room.saturating_sub(1);
        self.at = Instant::now();
    }

    fn of(answer: &Result<Option<SendRoom>>) -> Option<Credit> {
        match answer {
            Ok(room) => room.map(Credit::new),
            Err(Error::WouldBlock(_)) => Some(Credit::new(SendRoom {
                room: 0,
                whole: true,
            })),
            Err(_) => None,
        }
    }
}

/// A handle's credits: for its sends, and for one ROUTER peer (the one
/// addressed last).
#[derive(Debug, Default)]
pub(super) struct Credits {
    send: Option<Credit>,
    route: Option<(Bytes, Credit)>,
}

impl Credits {
    /// Another command ran (libzmq's application thread would have
    /// processed its commands), or a send went without counting: ask next
    /// time.
    #[inline]
    pub(super) fn forget(&mut self) {
        self.send = None;
        self.route = None;
    }

    /// What the next ZMQ_DONTWAIT send does.
    pub(super) fn send_verdict(&self) -> Verdict {
        self.send.map_or(Verdict::Ask, |c| c.verdict())
    }

    /// A ZMQ_DONTWAIT send went into the lane on the credit.
    pub(super) fn spend_send(&mut self) {
        if let Some(c) = &mut self.send {
            c.spend();
        }
    }

    /// The context's thread answered a ZMQ_DONTWAIT send.
    pub(super) fn answered_send(&mut self, answer: &Result<Option<SendRoom>>) {
        self.send = Credit::of(answer);
    }

    /// What a message to `routing_id` meets now.
    pub(super) fn route_verdict(&self, routing_id: &[u8]) -> Verdict {
        match &self.route {
            Some((id, c)) if id[..] == *routing_id => c.verdict(),
            _ => Verdict::Ask,
        }
    }

    /// The context's thread answered a route check for `routing_id`.
    pub(super) fn answered_route(&mut self, routing_id: Bytes, answer: &Result<Option<SendRoom>>) {
        self.route = Credit::of(answer).map(|c| (routing_id, c));
    }

    /// A message to `routing_id` was taken: one less room there.
    pub(super) fn sent_routed(&mut self, routing_id: &[u8]) {
        if let Some((id, c)) = &mut self.route {
            if id[..] == *routing_id {
                c.spend();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All the room there is.
    fn whole(room: usize) -> SendRoom {
        SendRoom { room, whole: true }
    }

    #[test]
    fn a_send_credit_is_spent_then_refuses_and_asks_once_stale() {
        let mut credits = Credits::default();
        assert_eq!(credits.send_verdict(), Verdict::Ask, "nothing known");
        credits.answered_send(&Ok(Some(whole(2))));
        assert_eq!(credits.send_verdict(), Verdict::Room);
        credits.spend_send();
        assert_eq!(credits.send_verdict(), Verdict::Room);
        credits.spend_send();
        assert_eq!(
            credits.send_verdict(),
            Verdict::Spent,
            "as libzmq's stale view"
        );
        // A credit answered long enough ago is asked again, spent or not
        // (a peer may have gone since).
        for room in [0, 5] {
            credits.send = Some(Credit {
                at: Instant::now() - STALE_FOR,
                ..Credit::new(whole(room))
            });
            assert_eq!(credits.send_verdict(), Verdict::Ask);
        }
    }

    #[test]
    fn each_send_on_a_credit_restarts_its_clock() {
        let mut credits = Credits::default();
        credits.answered_send(&Ok(Some(whole(1))));
        credits.send.as_mut().unwrap().at = Instant::now() - STALE_FOR / 2 * 3;
        assert_eq!(credits.send_verdict(), Verdict::Ask, "a pause: look again");
        credits.answered_send(&Ok(Some(whole(1))));
        credits.send.as_mut().unwrap().at = Instant::now() - STALE_FOR / 2;
        credits.spend_send();
        assert_eq!(
            credits.send_verdict(),
            Verdict::Spent,
            "a run of sends slower than STALE_FOR in all still meets EAGAIN"
        );
    }

    #[test]
    fn eagain_is_a_spent_credit_and_other_answers_know_nothing() {
        let mut credits = Credits::default();
        credits.answered_send(&Err(Error::WouldBlock("full")));
        assert_eq!(credits.send_verdict(), Verdict::Spent);
        credits.answered_send(&Ok(None));
        assert_eq!(
            credits.send_verdict(),
            Verdict::Ask,
            "a type without credit"
        );
        credits.answered_send(&Ok(Some(whole(1))));
        credits.answered_send(&Err(Error::Terminated));
        assert_eq!(credits.send_verdict(), Verdict::Ask);
        credits.answered_send(&Ok(Some(whole(1))));
        credits.forget();
        assert_eq!(credits.send_verdict(), Verdict::Ask, "another command ran");
    }

    #[test]
    fn a_lower_bound_used_up_asks_rather_than_refuses() {
        let mut credits = Credits::default();
        credits.answered_send(&Ok(Some(SendRoom {
            room: 1,
            whole: false,
        })));
        assert_eq!(credits.send_verdict(), Verdict::Room);
        credits.spend_send();
        assert_eq!(
            credits.send_verdict(),
            Verdict::Ask,
            "other peers may have room: the socket is asked, not refused for"
        );
    }

    #[test]
    fn a_route_credit_is_for_the_peer_addressed_last() {
        let mut credits = Credits::default();
        credits.answered_route(Bytes::from_static(b"X"), &Ok(Some(whole(1))));
        assert_eq!(credits.route_verdict(b"X"), Verdict::Room);
        assert_eq!(credits.route_verdict(b"Y"), Verdict::Ask, "another peer");
        credits.sent_routed(b"Y");
        assert_eq!(credits.route_verdict(b"X"), Verdict::Room);
        credits.sent_routed(b"X");
        assert_eq!(credits.route_verdict(b"X"), Verdict::Spent);
        credits.answered_route(Bytes::from_static(b"X"), &Err(Error::HostUnreachable));
        assert_eq!(credits.route_verdict(b"X"), Verdict::Ask);
    }
}
