//! REQ: one request out (load-balanced), then its reply in, strictly in
//! turn (RFC 28), with REQ_CORRELATE and REQ_RELAXED as in libzmq.

use monocoque_zmtp::Msg;

use super::super::peers::Peers;
use super::Step;
use crate::options::Options;
use crate::strategy::{ReqOptions, ReqState};
use crate::{Error, PeerId, Result};

/// The REQ state machine over the socket's peers.
pub(crate) struct Requester {
    req: ReqState,
    /// Request ids start here, as libzmq starts them at a random value.
    seed: u32,
}

impl Requester {
    pub(crate) fn new(seed: u32) -> Requester {
        Requester {
            req: ReqState::new(ReqOptions::default(), seed),
            seed,
        }
    }

    /// Options that change the state machine take effect for the next
    /// request (not while one awaits its reply).
    pub(crate) fn configure(&mut self, options: &Options) {
        if !self.req.can_recv() {
            self.req = ReqState::new(
                ReqOptions {
                    correlate: options.req_correlate,
                    relaxed: options.req_relaxed,
                },
                self.seed,
            );
        }
    }

    /// Whether a request may be sent now (none awaits its reply, or REQ_RELAXED).
    pub(crate) fn can_send(&self) -> bool {
        self.req.can_send()
    }

    pub(crate) fn peer_gone(&mut self, peer: PeerId) {
        self.req.peer_gone(peer);
    }

    /// Sends `msg` as the next request, to the next peer with room.
    pub(crate) fn send(&mut self, peers: &mut Peers, msg: Msg) -> Result<Step<Msg>> {
        if !self.req.can_send() {
            return Err(Error::InvalidState(
                "REQ must receive the reply before sending again",
            ));
        }
        let Some(peer) = peers.next_writable() else {
            return Ok(Step::Wait(msg));
        };
        let (request, id) = self.req.prepare_request(msg)?;
        // Whatever is queued now arrived before this request left, so it
        // cannot be its reply: drop it (a stale reply to an abandoned
        // request would otherwise be taken for this one's).
        while let Some((from, _)) = next_message(peers, &mut self.req) {
            tracing::trace!(?from, "REQ: dropped a stale message on a new request");
        }
        peers.push_to(peer, request);
        self.req.sent_to(peer, id);
        Ok(Step::Done(Msg::new()))
    }

    /// The reply to the request sent last, if it is here.
    pub(crate) fn recv(&mut self, peers: &mut Peers) -> Result<Option<Msg>> {
        if !self.req.can_recv() {
            return Err(Error::InvalidState(
                "REQ must send a request before receiving",
            ));
        }
        while let Some((peer, m)) = next_message(peers, &mut self.req) {
            if let Some(body) = self.req.accept_reply(peer, m) {
                return Ok(Some(body));
            }
            tracing::trace!(
                ?peer,
                "REQ: dropped a message that is not the awaited reply"
            );
        }
        Ok(None)
    }
}

/// The next message in fair turn; a peer whose last message this was is
/// forgotten by the state machine as it leaves.
fn next_message(peers: &mut Peers, req: &mut ReqState) -> Option<(PeerId, Msg)> {
    loop {
        let peer = peers.next_readable()?;
        let (msg, removed) = peers.pop_from(peer);
        if removed {
            req.peer_gone(peer);
        }
        if let Some(m) = msg {
            return Some((peer, m));
        }
    }
}
