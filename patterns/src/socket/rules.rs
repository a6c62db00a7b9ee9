//! Each socket type's send and receive rules, over the core's pipes.
//!
//! `try_send` and `try_recv` never wait: they report when the type's rule is
//! to block (no peer with room: [`Step::Wait`]; nothing to read: `None`); the socket's
//! async `send`/`recv` then wait for a signal and try again, up to
//! SNDTIMEO/RCVTIMEO.

use monocoque_zmtp::{Msg, SocketType};

use super::shared::Core;
use crate::{Error, Result};

/// The outcome of one non-waiting attempt.
#[derive(Debug)]
pub(crate) enum Step<T> {
    /// Done (sends hand back an empty message).
    Done(T),
    /// The rule says block; the message (for sends) is handed back.
    Wait(T),
}

fn not_supported(kind: SocketType, operation: &'static str) -> Error {
    Error::NotSupported {
        socket_type: kind.as_str(),
        operation,
    }
}

/// Sends `msg` if the socket type's rule allows it now.
pub(crate) fn try_send(core: &mut Core, msg: Msg) -> Result<Step<Msg>> {
    use SocketType::*;
    if msg.is_empty() {
        return Err(Error::Malformed("a message needs at least one frame"));
    }
    match core.kind {
        Push | Dealer | Pair => {
            let Some(peer) = core.lb.next_peer() else {
                return Ok(Step::Wait(msg));
            };
            core.push_to(peer, msg);
            Ok(Step::Done(Msg::new()))
        }
        Req => {
            if !core.req.can_send() {
                return Err(Error::InvalidState(
                    "REQ must receive the reply before sending again",
                ));
            }
            let Some(peer) = core.lb.next_peer() else {
                return Ok(Step::Wait(msg));
            };
            let (request, id) = core.req.prepare_request(msg)?;
            // Whatever is queued now arrived before this request left, so it
            // cannot be its reply: drop it (a stale reply to an abandoned
            // request would otherwise be taken for this one's).
            while let Some((from, _)) = next_message(core) {
                tracing::trace!(?from, "REQ: dropped a stale message on a new request");
            }
            core.push_to(peer, request);
            core.req.sent_to(peer, id);
            Ok(Step::Done(Msg::new()))
        }
        Router => {
            let mut frames = msg.into_frames();
            let identity = frames.remove(0);
            if frames.is_empty() {
                return Err(Error::Malformed(
                    "ROUTER needs the routing id frame and at least one more frame",
                ));
            }
            let Some(peer) = core.routing.lookup(&identity) else {
                if core.options.router_mandatory {
                    return Err(Error::HostUnreachable);
                }
                tracing::trace!("ROUTER: no peer with that routing id; message dropped");
                return Ok(Step::Done(Msg::new()));
            };
            if core.is_full(peer) {
                if core.options.router_mandatory {
                    frames.insert(0, identity);
                    return Ok(Step::Wait(Msg::from(frames)));
                }
                core.hwm_drops += 1;
                return Ok(Step::Done(Msg::new()));
            }
            core.push_to(peer, Msg::from(frames));
            Ok(Step::Done(Msg::new()))
        }
        Rep => {
            let (peer, reply) = core.rep.reply(msg)?;
            if !core.is_full(peer) {
                core.push_to(peer, reply);
            }
            Ok(Step::Done(Msg::new()))
        }
        Pub | XPub => Ok(core.publish(msg)),
        XSub => core.xsub_send(msg),
        other => Err(not_supported(other, "send")),
    }
}

/// Receives a message if one is ready under the socket type's rule.
pub(crate) fn try_recv(core: &mut Core) -> Result<Option<Msg>> {
    use SocketType::*;
    match core.kind {
        Pull | Dealer | Pair => Ok(next_message(core).map(|(_, m)| m)),
        Router => Ok(next_message_with_identity(core).map(|(identity, m)| {
            let mut frames = m.into_frames();
            frames.insert(0, identity);
            Msg::from(frames)
        })),
        Req => {
            if !core.req.can_recv() {
                return Err(Error::InvalidState(
                    "REQ must send a request before receiving",
                ));
            }
            while let Some((peer, m)) = next_message(core) {
                if let Some(body) = core.req.accept_reply(peer, m) {
                    return Ok(Some(body));
                }
                tracing::trace!(
                    ?peer,
                    "REQ: dropped a message that is not the awaited reply"
                );
            }
            Ok(None)
        }
        Rep => {
            if !core.rep.can_recv() {
                return Err(Error::InvalidState(
                    "REP must send the reply before receiving again",
                ));
            }
            while let Some((peer, m)) = next_message(core) {
                match core.rep.accept_request(peer, m) {
                    Ok(body) => return Ok(Some(body)),
                    Err(e) => tracing::debug!(?peer, error = %e, "REP: request dropped"),
                }
            }
            Ok(None)
        }
        Sub => {
            while let Some((_, m)) = next_message(core) {
                if core.subscriber.accepts(&m[0]) {
                    return Ok(Some(m));
                }
            }
            Ok(None)
        }
        // XSUB passes everything: filtering is the publisher's job, and a
        // forwarder must not lose what its downstream asked for.
        XSub => Ok(next_message(core).map(|(_, m)| m)),
        XPub => Ok(core.next_notice()),
        other => Err(not_supported(other, "receive")),
    }
}

/// As [`next_message`], with the sender's routing id, read before the pop
/// (taking the last message of a departed peer removes its pipe).
fn next_message_with_identity(core: &mut Core) -> Option<(bytes::Bytes, Msg)> {
    loop {
        let peer = core.fq.next_peer()?;
        let identity = core.pipes.get(&peer).map(|p| p.identity.clone());
        if let Some(m) = core.pop_from(peer) {
            return Some((identity.unwrap_or_default(), m));
        }
    }
}

fn next_message(core: &mut Core) -> Option<(crate::PeerId, Msg)> {
    loop {
        let peer = core.fq.next_peer()?;
        if let Some(m) = core.pop_from(peer) {
            return Some((peer, m));
        }
    }
}
