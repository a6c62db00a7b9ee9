//! REP: a request in (fair-queued), then its reply out to the same peer,
//! strictly in turn (RFC 28).

use monocoque_zmtp::Msg;

use super::super::peers::Peers;
use super::Step;
use crate::strategy::RepState;
use crate::{Error, PeerId, Result};

/// The REP state machine over the socket's peers.
#[derive(Default)]
pub(crate) struct Replier {
    rep: RepState,
}

impl Replier {
    /// Whether a request was read and awaits its reply.
    pub(crate) fn owes_reply(&self) -> bool {
        !self.rep.can_recv()
    }

    pub(crate) fn peer_gone(&mut self, peer: PeerId) {
        if self.rep.peer_gone(peer) {
            tracing::debug!(
                ?peer,
                "REP: the requester left; its reply will be discarded"
            );
        }
    }

    /// The next request, its envelope kept for the reply.
    pub(crate) fn recv(&mut self, peers: &mut Peers) -> Result<Option<Msg>> {
        if !self.rep.can_recv() {
            return Err(Error::InvalidState(
                "REP must send the reply before receiving again",
            ));
        }
        loop {
            let Some(peer) = peers.next_readable() else {
                return Ok(None);
            };
            let (msg, removed) = peers.pop_from(peer);
            if removed {
                self.peer_gone(peer);
            }
            let Some(m) = msg else { continue };
            match self.rep.accept_request(peer, m) {
                Ok(body) => return Ok(Some(body)),
                Err(e) => tracing::debug!(?peer, error = %e, "REP: request dropped"),
            }
        }
    }

    /// Sends the reply to the peer the request came from; a peer at SNDHWM
    /// (or gone) loses it, as in libzmq.
    pub(crate) fn send(&mut self, peers: &mut Peers, msg: Msg) -> Result<Step<Msg>> {
        let (peer, reply) = self.rep.reply(msg)?;
        if !peers.is_full(peer) {
            peers.push_to(peer, reply);
        }
        Ok(Step::Done(Msg::new()))
    }
}
