//! ROUTER: each message out goes to the peer its first frame names; each
//! message in gets its sender's routing id as a first frame (RFC 28).
//!
//! ROUTER_NOTIFY (libzmq 4.3): a peer's arrival and departure are received
//! as `[routing id, ""]`, ahead of anything else waiting; the departure once
//! the peer's last message has been read, as libzmq reports it when the
//! pipe ends.
//!
//! STREAM is a ROUTER over raw connections (`engine/raw.rs`), with
//! libzmq's rules for it: messages are exactly `[routing id, data]`, an
//! unknown id is EHOSTUNREACH and a full peer makes the send wait (as
//! ROUTER_MANDATORY), and STREAM_NOTIFY (on by default) reports each
//! connection's opening and closing as `[routing id, ""]` (but not a close
//! the socket asked for itself with an empty frame).

use std::collections::VecDeque;

use bytes::Bytes;
use monocoque_zmtp::Msg;
use rustc_hash::FxHashMap;

use super::super::peers::Peers;
use super::super::SendRoom;
use super::Step;
use crate::options::Options;
use crate::strategy::RoutingTable;
use crate::{Error, PeerId, Result};

/// The routing ids of a ROUTER's peers.
pub(crate) struct Router {
    routing: RoutingTable,
    mandatory: bool,
    handover: bool,
    /// ROUTER_NOTIFY: which of connect (1) and disconnect (2) to report.
    notify: u8,
    /// Notifications not yet received, with the peer each is about (whose
    /// properties the receive reports, as libzmq's carry Peer-Address).
    notices: VecDeque<(Msg, PeerId)>,
    /// Peers gone whose departure is reported once their pipe is removed.
    departing: FxHashMap<PeerId, Bytes>,
    /// A STREAM socket's rules.
    stream: bool,
}

/// ZMQ_NOTIFY_CONNECT.
pub(crate) const NOTIFY_CONNECT: u8 = 1;
/// ZMQ_NOTIFY_DISCONNECT.
pub(crate) const NOTIFY_DISCONNECT: u8 = 2;

fn notice(identity: &Bytes) -> Msg {
    Msg::from(vec![identity.clone(), Bytes::new()])
}

/// What registering a peer's routing id asks the socket to do.
pub(crate) enum Registered {
    /// The peer is reachable under `identity`.
    As(Bytes),
    /// ROUTER_HANDOVER: the peer took the id from `evicted`, which must go.
    TookOver { identity: Bytes, evicted: PeerId },
    /// The id is taken and handover is off: the newcomer must go.
    Refused,
}

impl Router {
    pub(crate) fn new(seed: u32) -> Router {
        Router {
            routing: RoutingTable::new(seed),
            mandatory: false,
            handover: false,
            notify: 0,
            notices: VecDeque::new(),
            departing: FxHashMap::default(),
            stream: false,
        }
    }

    /// A STREAM socket's routing.
    pub(crate) fn for_stream(seed: u32) -> Router {
        Router {
            stream: true,
            ..Router::new(seed)
        }
    }

    pub(crate) fn configure(&mut self, options: &Options) {
        if self.stream {
            self.mandatory = true;
            self.notify = if options.stream_notify {
                NOTIFY_CONNECT | NOTIFY_DISCONNECT
            } else {
                0
            };
            return;
        }
        self.mandatory = options.router_mandatory;
        self.handover = options.router_handover;
        self.notify = options.router_notify;
    }

    /// The peer can no longer be sent to (what it sent may still be read).
    pub(crate) fn peer_gone(&mut self, peer: PeerId) {
        if self.notify & NOTIFY_DISCONNECT != 0 {
            if let Some(identity) = self.routing.identity(peer) {
                self.departing.insert(peer, identity.clone());
            }
        }
        self.routing.remove(peer);
    }

    /// The peer's pipe is gone, its last message read: its departure is
    /// reported now.
    pub(crate) fn peer_removed(&mut self, peer: PeerId) {
        self.peer_gone(peer);
        if let Some(identity) = self.departing.remove(&peer) {
            self.notices.push_back((notice(&identity), peer));
        }
    }

    /// The connection under a persistent pipe (a connect's) dropped; the
    /// pipe stays for the reconnection, reported as a new arrival. ROUTER:
    /// ROUTER_NOTIFY reports the departure now. STREAM: the departure comes
    /// after the data the connection delivered, as libzmq's raw engine
    /// queues it, so the caller queues it in the pipe when this says so.
    pub(crate) fn peer_disconnected(&mut self, peer: PeerId) -> bool {
        if !self.stream {
            self.peer_removed(peer);
            return false;
        }
        self.routing.remove(peer);
        self.notify & NOTIFY_DISCONNECT != 0
    }

    /// Registers the id CONNECT_ROUTING_ID gave a connect, as soon as its
    /// pipe exists: messages to it queue before the connection is made, as
    /// in libzmq. The arrival is reported at the handshake (`register`).
    pub(crate) fn register_early(&mut self, peer: PeerId, identity: &Bytes) -> Registered {
        match self.routing.register(peer, identity, self.handover) {
            Ok(reg) => match reg.evicted {
                Some(evicted) => Registered::TookOver {
                    identity: reg.identity,
                    evicted,
                },
                None => Registered::As(reg.identity),
            },
            Err(e) => {
                tracing::warn!(error = %e, "connect refused");
                Registered::Refused
            }
        }
    }

    /// Registers a connected peer's routing id (an automatic one if it
    /// asked for none).
    pub(crate) fn register(&mut self, peer: PeerId, identity: &Bytes) -> Registered {
        let registered = self.register_early(peer, identity);
        if let Registered::As(id) | Registered::TookOver { identity: id, .. } = &registered {
            if self.notify & NOTIFY_CONNECT != 0 {
                self.notices.push_back((notice(id), peer));
            }
        }
        registered
    }

    /// Whether a message to `identity` would be taken now, as libzmq
    /// decides at a message's first frame: under ROUTER_MANDATORY (and on
    /// STREAM) an unknown id is EHOSTUNREACH and a peer at its HWM is
    /// EAGAIN; otherwise the message is taken (and dropped if it cannot go).
    pub(crate) fn check_route(&self, peers: &Peers, identity: &[u8]) -> Result<()> {
        if !self.mandatory {
            return Ok(());
        }
        let Some(peer) = self.routing.lookup(identity) else {
            return Err(Error::HostUnreachable);
        };
        if peers.is_full(peer) {
            return Err(Error::WouldBlock("the peer is at its send high-water mark"));
        }
        Ok(())
    }

    /// Under ROUTER_MANDATORY (and on STREAM), how many more messages to
    /// `identity` are taken now: its pipe's room (`None` for an unknown id,
    /// or without ROUTER_MANDATORY, where nothing waits).
    pub(crate) fn route_room(&self, peers: &Peers, identity: &[u8]) -> Option<SendRoom> {
        if !self.mandatory {
            return None;
        }
        Some(SendRoom {
            room: peers.room(self.routing.lookup(identity)?),
            whole: true,
        })
    }

    /// Sends to the peer the first frame names. Unknown peer: dropped, or
    /// EHOSTUNREACH under ROUTER_MANDATORY. Full peer: dropped (counted in
    /// `dropped`), or wait under ROUTER_MANDATORY.
    pub(crate) fn send(
        &mut self,
        peers: &mut Peers,
        msg: Msg,
        dropped: &mut u64,
    ) -> Result<Step<Msg>> {
        let mut frames = msg.into_frames();
        let identity = frames.remove(0);
        if frames.is_empty() {
            return Err(Error::Malformed(
                "ROUTER needs the routing id frame and at least one more frame",
            ));
        }
        if self.stream && frames.len() != 1 {
            return Err(Error::Malformed(
                "STREAM sends exactly two frames: the routing id and the data (empty to close)",
            ));
        }
        let Some(peer) = self.routing.lookup(&identity) else {
            if self.mandatory {
                return Err(Error::HostUnreachable);
            }
            tracing::trace!("ROUTER: no peer with that routing id; message dropped");
            return Ok(Step::Done(Msg::new()));
        };
        if peers.is_full(peer) {
            if self.mandatory {
                frames.insert(0, identity);
                return Ok(Step::Wait(Msg::from(frames)));
            }
            *dropped += 1;
            return Ok(Step::Done(Msg::new()));
        }
        // STREAM: an empty data frame closes the connection once what was
        // queued before it is written; the id is gone from now on, and no
        // disconnect is reported for a close the socket made (as libzmq).
        let closes = self.stream && frames[0].is_empty();
        peers.push_to(peer, Msg::from(frames));
        if closes {
            self.routing.remove(peer);
        }
        Ok(Step::Done(Msg::new()))
    }

    /// The next message in fair turn, its sender's routing id first.
    pub(crate) fn recv(&mut self, peers: &mut Peers) -> Option<Msg> {
        if let Some((n, peer)) = self.notices.pop_front() {
            peers.set_last_from(peer);
            return Some(n);
        }
        loop {
            let peer = peers.next_readable()?;
            // Read before the pop: taking a departed peer's last message
            // removes its pipe.
            let identity = peers
                .get(peer)
                .map(|p| p.identity.clone())
                .unwrap_or_default();
            let (msg, removed) = peers.pop_from(peer);
            if removed {
                self.peer_removed(peer);
            }
            if let Some(mut m) = msg {
                m.push_front(identity);
                return Some(m);
            }
        }
    }
}
