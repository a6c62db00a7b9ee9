//! The REQ state machine (RFC 28, with libzmq's REQ_CORRELATE and REQ_RELAXED).
//!
//! ```text
//!            send (to the peer the load balancer picks)
//!   Idle ─────────────────────────────────────────────▶ AwaitingReply(peer, id)
//!    ▲                                                        │
//!    └──── reply from that peer (and, with CORRELATE, ────────┘
//!          carrying that request id): delivered
//!
//!   AwaitingReply ── send ──▶ EFSM, unless REQ_RELAXED: the old request is
//!                            abandoned and a new one starts
//!   Idle ── recv ──▶ EFSM
//! ```
//!
//! On the wire a request is `[request id (4 bytes, CORRELATE only)] [empty] body...`;
//! a reply must carry the same envelope. Replies from other peers, or with another
//! request id, or without the envelope, are dropped silently.

use bytes::Bytes;
use monocoque_zmtp::Msg;

use crate::{Error, PeerId, Result};

/// REQ's options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReqOptions {
    /// REQ_CORRELATE: prefix each request with a request id and accept only the reply carrying it.
    pub correlate: bool,
    /// REQ_RELAXED: allow a new request before the reply to the last one.
    pub relaxed: bool,
}

/// One REQ socket's request/reply state.
#[derive(Debug, Clone)]
pub struct ReqState {
    options: ReqOptions,
    awaiting: Option<(PeerId, u32)>,
    next_id: u32,
}

impl ReqState {
    /// A REQ in the Idle state; request ids count from `seed` (libzmq starts at a random value).
    pub fn new(options: ReqOptions, seed: u32) -> Self {
        ReqState {
            options,
            awaiting: None,
            next_id: seed,
        }
    }

    /// Whether a request may be sent now.
    pub fn can_send(&self) -> bool {
        self.awaiting.is_none() || self.options.relaxed
    }

    /// Whether a reply is awaited (recv is valid).
    pub fn can_recv(&self) -> bool {
        self.awaiting.is_some()
    }

    /// Wraps `body` in the request envelope. Call [`sent_to`](Self::sent_to) once the
    /// message is handed to a peer.
    pub fn prepare_request(&mut self, body: Msg) -> Result<(Msg, u32)> {
        if !self.can_send() {
            return Err(Error::InvalidState(
                "REQ must receive the reply before sending again",
            ));
        }
        if body.is_empty() {
            return Err(Error::Malformed("a request needs at least one frame"));
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        // The envelope goes in front of the body's own frames: one
        // allocation for a single-frame body.
        let mut msg = body;
        msg.push_front(Bytes::new());
        if self.options.correlate {
            msg.push_front(Bytes::copy_from_slice(&id.to_be_bytes()));
        }
        Ok((msg, id))
    }

    /// The request `id` went to `peer`: only its reply is accepted now.
    pub fn sent_to(&mut self, peer: PeerId, id: u32) {
        self.awaiting = Some((peer, id));
    }

    /// Offers a message received from `from`; returns the reply body if it is the
    /// awaited reply (and the state returns to Idle), `None` if it is dropped.
    pub fn accept_reply(&mut self, from: PeerId, msg: Msg) -> Option<Msg> {
        let (peer, id) = self.awaiting?;
        if from != peer {
            return None;
        }
        let mut frames = msg.into_frames();
        let mut next = 0;
        if self.options.correlate {
            let rid = frames.first()?;
            if rid.len() != 4 || u32::from_be_bytes(rid[..].try_into().ok()?) != id {
                return None;
            }
            next = 1;
        }
        if !frames.get(next)?.is_empty() {
            return None;
        }
        let body_start = next + 1;
        if frames.len() <= body_start {
            return None;
        }
        self.awaiting = None;
        if frames.len() == body_start + 1 {
            // A single-frame reply is held inline, without a `Vec`.
            return frames.pop().map(Msg::from);
        }
        frames.drain(..body_start);
        Some(Msg::from(frames))
    }

    /// The awaited peer disconnected: with REQ_RELAXED the socket may send again;
    /// without it, libzmq stays stuck, and so do we (use RELAXED).
    pub fn peer_gone(&mut self, peer: PeerId) {
        if self.options.relaxed && self.awaiting.is_some_and(|(p, _)| p == peer) {
            self.awaiting = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(frames: &[&'static str]) -> Msg {
        Msg::from(
            frames
                .iter()
                .map(|f| Bytes::from_static(f.as_bytes()))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn strict_alternation() {
        let mut req = ReqState::new(ReqOptions::default(), 0);
        assert!(!req.can_recv());
        let (msg, id) = req.prepare_request(Msg::from("hello")).unwrap();
        assert_eq!(msg, reply(&["", "hello"]));
        req.sent_to(PeerId(1), id);
        assert_eq!(
            req.prepare_request(Msg::from("again")).unwrap_err(),
            Error::InvalidState("REQ must receive the reply before sending again")
        );
        // From another peer, or without the delimiter: dropped.
        assert_eq!(req.accept_reply(PeerId(2), reply(&["", "x"])), None);
        assert_eq!(req.accept_reply(PeerId(1), reply(&["x"])), None);
        assert_eq!(
            req.accept_reply(PeerId(1), reply(&["", "world"])),
            Some(Msg::from("world"))
        );
        assert!(req.can_send() && !req.can_recv());
        assert_eq!(req.accept_reply(PeerId(1), reply(&["", "late"])), None);
    }

    #[test]
    fn correlate_and_relaxed() {
        let opts = ReqOptions {
            correlate: true,
            relaxed: true,
        };
        let mut req = ReqState::new(opts, 41);
        let (msg, id1) = req.prepare_request(Msg::from("one")).unwrap();
        assert_eq!(&msg[0][..], &41u32.to_be_bytes());
        assert!(msg[1].is_empty());
        req.sent_to(PeerId(1), id1);
        // RELAXED: a second request before the reply; it goes to another peer.
        let (_, id2) = req.prepare_request(Msg::from("two")).unwrap();
        req.sent_to(PeerId(1), id2);
        // The late reply to request 41 carries the old id: dropped.
        let mut late = Msg::new();
        late.push(Bytes::copy_from_slice(&id1.to_be_bytes()));
        late.push(Bytes::new());
        late.push("stale");
        assert_eq!(req.accept_reply(PeerId(1), late), None);
        let mut good = Msg::new();
        good.push(Bytes::copy_from_slice(&id2.to_be_bytes()));
        good.push(Bytes::new());
        good.push("fresh");
        assert_eq!(req.accept_reply(PeerId(1), good), Some(Msg::from("fresh")));
    }

    #[test]
    fn relaxed_unsticks_when_the_peer_dies() {
        let mut strict = ReqState::new(ReqOptions::default(), 0);
        let (_, id) = strict.prepare_request(Msg::from("x")).unwrap();
        strict.sent_to(PeerId(1), id);
        strict.peer_gone(PeerId(1));
        assert!(
            !strict.can_send(),
            "libzmq's REQ stays stuck without RELAXED"
        );
        let mut relaxed = ReqState::new(
            ReqOptions {
                relaxed: true,
                correlate: false,
            },
            0,
        );
        let (_, id) = relaxed.prepare_request(Msg::from("x")).unwrap();
        relaxed.sent_to(PeerId(1), id);
        relaxed.peer_gone(PeerId(1));
        assert!(relaxed.can_send() && !relaxed.can_recv());
    }
}
