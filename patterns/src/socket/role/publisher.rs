//! PUB and XPUB; the publish/subscribe rules over the socket's pipes: PUB and XPUB send to
//! their subscribers, SUB and XSUB tell their publishers what they want.
//!
//! ```text
//!  SUB set_option(Subscribe "A") ─▶ SubscriberFilter "A" +1 ─▶ "\x01A" on each connected pipe
//!      engine: a SUBSCRIBE command to a ZMTP 3.1 peer, a 0x01 message to a 3.0 peer
//!      (inproc: the message itself lands in the PUB's inbound queue)
//!  PUB engine: SUBSCRIBE command or 0x01 message ─▶ "\x01A" into that peer's inbound queue
//!  PUB socket, on every sync: pump_upstream ─▶ PublisherState (XPUB: a notice for recv)
//!  PUB send(msg): targets(msg[0]) ─▶ a clone into each target's pipe (frames are
//!      shared `Bytes`: no payload is copied); a target at SNDHWM loses its copy,
//!      or under XPUB_NODROP the send waits
//! ```
//!
//! Subscription requests travel through the pipes as one-frame messages
//! (`0x01`/`0x00` + topic), the form ZMTP 3.0 and XSUB users use, so inproc,
//! tcp and ipc share one path. A new connection is sent every subscription by
//! its engine (or the inproc join) at once, from the socket's filter; later
//! ones go through the pipes of the connections the socket knows of. They are not subject to SNDHWM on the
//! subscriber's side: dropping one would silently cut a feed, and their
//! number follows from the application's own subscribe calls.
//!
//! On the publisher's side, what a peer subscribes to is the peer's choice,
//! so MAX_SUBSCRIPTIONS and MAX_SUBSCRIPTION_BYTES cap it per connection: a
//! subscribe over a cap is not applied and the connection is dropped
//! (the socket's `terminate`, as ROUTER refuses a duplicate identity), which
//! removes its subscriptions as a disconnect does; the engine sees its pipe
//! released and closes the socket.

use std::collections::VecDeque;

use monocoque_zmtp::{Msg, SocketType};

use super::super::peers::Peers;
use super::super::SendRoom;
use super::Step;
use crate::fanout::Fanout;
use crate::options::Options;
use crate::strategy::{OverLimit, PublisherState};
use crate::subscription::{subscription_msg, subscription_of};
use crate::PeerId;

/// A PUB's or XPUB's subscribers and what they asked for.
pub(crate) struct Publisher {
    subscriptions: PublisherState<PeerId>,
    xpub: bool,
    /// XPUB: subscription requests and upstream messages for `recv`, with the
    /// peer each came from (none for cancels of a departed peer).
    notices: VecDeque<(Msg, Option<PeerId>)>,
    /// XPUB_MANUAL: the peer of the request read last.
    last_notice_peer: Option<PeerId>,
    /// Reused for each published message's targets.
    scratch: Vec<PeerId>,
    /// Spread over IO cores: the links and the remote peers.
    fanout: Option<Fanout>,
    /// The last publish dropped the message for a subscriber at SNDHWM. The
    /// async send then yields once: a publisher that never waits would
    /// otherwise keep its own engines (same thread) from draining the pipes,
    /// and every message after the first SNDHWM would be lost.
    dropped_at_hwm: bool,
    invert: bool,
    nodrop: bool,
    /// XPUB_MANUAL_LAST_VALUE: the next publish after a notice is read goes
    /// to that notice's peer only (`last_notice_peer`, taken by the publish).
    send_last: bool,
    /// ONLY_FIRST_SUBSCRIBE.
    only_first: bool,
    /// XPUB: notices held at most (RCVHWM; 0 = unbounded).
    notice_limit: usize,
    welcome: bytes::Bytes,
}

/// What one step of applying subscribers' requests did.
pub(crate) enum Pump {
    /// Nothing is waiting (or an XPUB's notices are at RCVHWM).
    Idle,
    /// One message from `peer` was applied; the second value says whether
    /// its pipe finished with it (the socket forgets the peer).
    Applied(PeerId, bool),
    /// `peer` asked for more than its caps allow: the socket drops it.
    OverLimit(PeerId, OverLimit),
}

impl Publisher {
    pub(crate) fn new(kind: SocketType) -> Publisher {
        Publisher {
            subscriptions: PublisherState::default(),
            xpub: kind == SocketType::XPub,
            notices: VecDeque::new(),
            last_notice_peer: None,
            scratch: Vec::new(),
            fanout: None,
            dropped_at_hwm: false,
            invert: false,
            nodrop: false,
            send_last: false,
            only_first: false,
            notice_limit: 1000,
            welcome: bytes::Bytes::new(),
        }
    }

    /// Copies the pub/sub options into the state (after a set_option).
    pub(crate) fn configure(&mut self, o: &Options) {
        let s = &mut self.subscriptions;
        s.verbose_subs = o.xpub_verbose_subs;
        s.verbose_unsubs = o.xpub_verbose_unsubs;
        s.manual = o.xpub_manual;
        s.max_subscriptions = o.max_subscriptions;
        s.max_subscription_bytes = o.max_subscription_bytes;
        self.invert = o.invert_matching;
        self.nodrop = o.xpub_nodrop;
        self.send_last = o.xpub_send_last;
        self.only_first = o.only_first_subscribe;
        self.notice_limit = o.rcvhwm;
        self.welcome = o.xpub_welcome_msg.clone();
    }

    /// Distinct topics some subscriber wants.
    pub(crate) fn topic_count(&self) -> usize {
        self.subscriptions.topic_count()
    }

    /// What a new subscriber hears first: an XPUB's welcome message.
    pub(crate) fn greeting(&self) -> Vec<Msg> {
        if self.xpub && !self.welcome.is_empty() {
            vec![Msg::from(self.welcome.clone())]
        } else {
            Vec::new()
        }
    }

    pub(crate) fn fanout(&self) -> Option<&Fanout> {
        self.fanout.as_ref()
    }

    pub(crate) fn fanout_mut(&mut self) -> Option<&mut Fanout> {
        self.fanout.as_mut()
    }

    pub(crate) fn set_fanout(&mut self, fanout: Fanout) {
        self.fanout = Some(fanout);
    }

    pub(crate) fn take_fanout(&mut self) -> Option<Fanout> {
        self.fanout.take()
    }

    /// Whether the last publish dropped for a subscriber at SNDHWM (cleared).
    pub(crate) fn take_dropped_at_hwm(&mut self) -> bool {
        std::mem::take(&mut self.dropped_at_hwm)
    }

    /// Whether `peer` cannot take a message now: its IO core's ring is full,
    /// or (a local peer) its pipe is at SNDHWM.
    pub(crate) fn is_full(&self, peers: &Peers, peer: PeerId) -> bool {
        if let Some(full) = self.fanout.as_ref().and_then(|f| f.is_full(peer)) {
            return full;
        }
        peers.is_full(peer)
    }

    /// XPUB_NODROP: how many messages a publish takes now without waiting,
    /// whatever their topics, where every subscriber takes every message
    /// (each subscribes to everything, the usual fan-out): the least room
    /// of their pipes (without pipes, `new_pipe`'s: a pipe that joins
    /// starts empty, at SNDHWM or more). `None` elsewhere: without
    /// XPUB_NODROP a publish never waits; with topics, INVERT_MATCHING or
    /// XPUB_MANUAL_LAST_VALUE a full subscriber holds up only the messages
    /// it would get, which a bound over all cannot tell (a full one would
    /// refuse every message for a while); spread over IO cores, the rooms
    /// are the IO cores'.
    pub(crate) fn nodrop_room(&self, peers: &Peers, new_pipe: usize) -> Option<SendRoom> {
        if !self.nodrop || self.fanout.is_some() || self.invert || self.send_last {
            return None;
        }
        let mut everything = Vec::new();
        self.subscriptions.targets(b"", &mut everything);
        let takers = everything.iter().filter(|&&p| peers.is_live(p)).count();
        if takers != peers.live().count() {
            return None;
        }
        let room = peers
            .live()
            .map(|p| p.outbound.borrow().room())
            .min()
            .unwrap_or(new_pipe);
        Some(SendRoom { room, whole: true })
    }

    /// `peer` is gone or disconnected; its subscriptions go, and an XPUB
    /// user hears the cancels that follow.
    pub(crate) fn peer_gone(&mut self, peer: PeerId) {
        if self.last_notice_peer == Some(peer) {
            self.last_notice_peer = None;
        }
        let xpub = self.xpub;
        let notices = &mut self.notices;
        self.subscriptions.peer_gone(peer, |topic| {
            if xpub {
                notices.push_back((subscription_msg(false, topic), None));
            }
        });
    }

    /// `peer` left the socket for good.
    pub(crate) fn peer_removed(&mut self, peer: PeerId) {
        self.peer_gone(peer);
        if let Some(f) = self.fanout.as_mut() {
            f.remote.remove(&peer);
        }
    }

    /// The socket drops `peer`: a peer on an IO core is ended by its core.
    pub(crate) fn release(&mut self, peer: PeerId) {
        if let Some(f) = self.fanout.as_mut() {
            f.release(peer);
        }
    }

    /// A subscriber on IO core `core`, where it is `id`, is the socket's `peer`.
    pub(crate) fn note_remote(&mut self, peer: PeerId, core: usize, id: PeerId) {
        if let Some(f) = self.fanout.as_mut() {
            f.remote.insert(peer, (core, id));
        }
    }

    /// Applies one message a subscriber sent. An XPUB stops while its notice
    /// queue holds RCVHWM messages the user has not read (the rest waits in
    /// the pipes, which push back).
    pub(crate) fn pump_one(&mut self, peers: &mut Peers) -> Pump {
        if self.xpub && self.notice_limit != 0 && self.notices.len() >= self.notice_limit {
            return Pump::Idle;
        }
        let Some(peer) = peers.next_readable() else {
            return Pump::Idle;
        };
        // Popped without the readiness refresh first: if this was a gone
        // peer's last message, the refresh removes the peer, and its
        // subscriptions must be applied before that, not after.
        let msg = peers.get(peer).and_then(|p| p.inbound.borrow_mut().pop());
        if let Some(msg) = msg {
            if let Err(over) = self.on_upstream(peer, msg) {
                return Pump::OverLimit(peer, over);
            }
        }
        Pump::Applied(peer, peers.refresh_readable(peer))
    }

    fn on_upstream(&mut self, peer: PeerId, msg: Msg) -> Result<(), OverLimit> {
        match subscription_of(&msg) {
            Some((subscribe, topic)) => {
                if self.subscriptions.on_request(peer, subscribe, topic)? && self.xpub {
                    self.notices.push_back((msg, Some(peer)));
                }
            }
            // ONLY_FIRST_SUBSCRIBE: the first frame subscribes, the rest is
            // data for the XPUB user, who gets the whole message.
            None if self.only_first && msg.len() > 1 => {
                let first = Msg::from(msg[0].clone());
                if let Some((subscribe, topic)) = subscription_of(&first) {
                    self.subscriptions.on_request(peer, subscribe, topic)?;
                }
                if self.xpub {
                    self.notices.push_back((msg, Some(peer)));
                }
            }
            // An XPUB user reads what an XSUB sends upstream; a PUB drops it.
            None if self.xpub => self.notices.push_back((msg, Some(peer))),
            None => tracing::trace!(?peer, "PUB: dropped a message from a subscriber"),
        }
        Ok(())
    }

    /// XPUB: the next notice, if one is queued (the socket pumps first).
    pub(crate) fn next_notice(&mut self) -> Option<Msg> {
        let (msg, from) = self.notices.pop_front()?;
        // XPUB_MANUAL applies the user's next Subscribe to this peer.
        self.last_notice_peer = from;
        Some(msg)
    }

    pub(crate) fn has_notices(&self) -> bool {
        !self.notices.is_empty()
    }

    /// XPUB_MANUAL: the user's Subscribe/Unsubscribe, for the peer whose
    /// request it read last.
    pub(crate) fn apply_manually(&mut self, peers: &Peers, subscribe: bool, topic: &[u8]) {
        match self.last_notice_peer {
            Some(peer) if peers.contains(peer) => {
                self.subscriptions.apply_manually(peer, subscribe, topic)
            }
            _ => tracing::debug!("XPUB_MANUAL: no subscriber to apply the subscription to"),
        }
    }

    /// Sends to every subscriber whose subscription prefixes the first frame
    /// (INVERT_MATCHING: to every other one). Returns the step and how many
    /// subscribers lost the message at SNDHWM.
    pub(crate) fn publish(&mut self, peers: &mut Peers, msg: Msg) -> (Step<Msg>, u64) {
        let mut targets = std::mem::take(&mut self.scratch);
        self.subscriptions.targets(&msg[0], &mut targets);
        // XPUB_MANUAL_LAST_VALUE: once per notice read, its peer alone (if
        // it matches); spent below, once the message is sent (a NODROP wait
        // retries it for the same peer).
        let last_only = self.send_last.then_some(self.last_notice_peer).flatten();
        if let Some(last) = last_only {
            targets.retain(|&t| t == last);
        }
        if self.invert {
            let matched = std::mem::take(&mut targets);
            targets.extend(
                peers
                    .iter()
                    .filter(|p| p.connected && matched.binary_search(&p.peer).is_err())
                    .map(|p| p.peer),
            );
        }
        targets.retain(|&id| peers.is_live(id));
        if self.nodrop && targets.iter().any(|&t| self.is_full(peers, t)) {
            if let Some(f) = self.fanout.as_mut() {
                for &t in &targets {
                    f.note_full(t);
                }
            }
            self.scratch = targets;
            return (Step::Wait(msg), 0);
        }
        if last_only.is_some() {
            self.last_notice_peer = None;
        }
        // Under receive-pool pressure each subscriber's queue would copy a
        // loaned message out on its own (`Queue::push`): copy it once here
        // instead, and every queue shares the copy.
        let msg = if targets.len() > 1
            && monocoque_runtime::recv_pool_pressure() >= monocoque_runtime::PoolPressure::High
        {
            crate::pipe::detach_from_pool(msg)
        } else {
            msg
        };
        let mut dropped = 0usize;
        for &t in &targets {
            // Peers on IO cores are gathered per core: one handoff per core.
            if self.fanout.as_mut().is_some_and(|f| f.add_target(t)) {
                continue;
            }
            if peers.is_full(t) {
                dropped += 1;
            } else {
                peers.push_to(t, msg.clone());
            }
        }
        if let Some(f) = self.fanout.as_mut() {
            dropped += f.publish(&msg);
        }
        if dropped > 0 {
            tracing::trace!(dropped, "PUB: subscribers at SNDHWM lost this message");
            self.dropped_at_hwm = true;
        }
        self.scratch = targets;
        (Step::Done(Msg::new()), dropped as u64)
    }
}
