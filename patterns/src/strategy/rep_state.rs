//! The REP envelope stack (RFC 28).
//!
//! ```text
//!   Idle ── request from peer P ──▶ Replying(P, envelope) ── reply ──▶ Idle
//!   Idle ── reply ──▶ EFSM            Replying ── recv ──▶ EFSM
//! ```
//!
//! A request is `envelope... [empty] body...`: the envelope (routing ids added by
//! ROUTERs on the way, possibly none) and the delimiter are stored, the body goes
//! to the application, and the reply goes back to P with the envelope in front.
//! A request without a delimiter is malformed and dropped. A requester that
//! leaves before its reply changes nothing here: the socket still owes the
//! reply (receiving is EFSM), and sending it succeeds and the reply is
//! discarded (RFC 28: silently), as in libzmq.

use bytes::Bytes;
use monocoque_zmtp::Msg;

use crate::{Error, PeerId, Result};

/// One REP socket's request/reply state.
#[derive(Debug, Clone, Default)]
pub struct RepState {
    pending: Option<(PeerId, Vec<Bytes>)>,
}

impl RepState {
    /// Whether a request may be received (no reply is owed).
    pub fn can_recv(&self) -> bool {
        self.pending.is_none()
    }

    /// Takes a request from `from`: returns the body for the application and
    /// remembers where the reply goes.
    pub fn accept_request(&mut self, from: PeerId, msg: Msg) -> Result<Msg> {
        if self.pending.is_some() {
            return Err(Error::InvalidState(
                "REP must send the reply before receiving again",
            ));
        }
        let frames = msg.into_frames();
        let Some(delim) = frames.iter().position(|f| f.is_empty()) else {
            return Err(Error::Malformed(
                "request without the empty delimiter frame",
            ));
        };
        let mut frames = frames;
        let body = match frames.len() - (delim + 1) {
            0 => return Err(Error::Malformed("request with no body after the delimiter")),
            // A single-frame body is held inline; the envelope keeps the Vec.
            1 => Msg::from(frames.pop().expect("one frame after the delimiter")),
            _ => Msg::from(frames.split_off(delim + 1)),
        };
        self.pending = Some((from, frames));
        Ok(body)
    }

    /// Wraps the reply in the stored envelope; returns the peer it must go to.
    pub fn reply(&mut self, body: Msg) -> Result<(PeerId, Msg)> {
        if body.is_empty() {
            return Err(Error::Malformed("a reply needs at least one frame"));
        }
        let (peer, envelope) = self
            .pending
            .take()
            .ok_or(Error::InvalidState("REP has no request to reply to"))?;
        let mut frames = envelope;
        body.append_to(&mut frames);
        Ok((peer, Msg::from(frames)))
    }

    /// Whether `peer`, which disconnected, is the one owed a reply. The
    /// state does not change: the reply is still due, and the caller drops
    /// it when it finds no such peer (RFC 28: silently), as libzmq does.
    pub fn peer_gone(&self, peer: PeerId) -> bool {
        self.pending.as_ref().is_some_and(|(p, _)| *p == peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_goes_back_with_the_reply() {
        let mut rep = RepState::default();
        assert_eq!(
            rep.reply(Msg::from("x")).unwrap_err(),
            Error::InvalidState("REP has no request to reply to")
        );
        let request = Msg::from(["router-2", "router-1", "", "body", "more"]);
        let body = rep.accept_request(PeerId(9), request).unwrap();
        assert_eq!(body, Msg::from(["body", "more"]));
        assert!(
            rep.accept_request(PeerId(9), Msg::from(["", "x"])).is_err(),
            "EFSM before the reply"
        );
        let (peer, reply) = rep.reply(Msg::from("answer")).unwrap();
        assert_eq!(peer, PeerId(9));
        assert_eq!(reply, Msg::from(["router-2", "router-1", "", "answer"]));
        assert!(rep.can_recv());
    }

    #[test]
    fn malformed_requests_are_refused_and_change_nothing() {
        let mut rep = RepState::default();
        assert!(matches!(
            rep.accept_request(PeerId(1), Msg::from("no delimiter")),
            Err(Error::Malformed(_))
        ));
        assert!(matches!(
            rep.accept_request(PeerId(1), Msg::from(["id", ""])),
            Err(Error::Malformed(_))
        ));
        assert!(rep.can_recv());
        let body = rep
            .accept_request(PeerId(1), Msg::from(["", "ok"]))
            .unwrap();
        assert_eq!(body, Msg::from("ok"));
        assert!(rep.peer_gone(PeerId(1)));
        assert!(!rep.can_recv(), "the reply is still owed, as in libzmq");
        let (peer, _) = rep.reply(Msg::from("to nobody")).unwrap();
        assert_eq!(peer, PeerId(1));
        assert!(rep.can_recv());
    }
}
