//! The publish/subscribe rules over the core's pipes: PUB and XPUB send to
//! their subscribers, SUB and XSUB tell their publishers what they want.
//!
//! ```text
//!  SUB set_option(Subscribe "A") ─▶ SubscriberFilter "A" +1 ─▶ "\x01A" on each connected pipe
//!      engine: a SUBSCRIBE command to a ZMTP 3.1 peer, a 0x01 message to a 3.0 peer
//!      (inproc: the message itself lands in the PUB's inbound queue)
//!  PUB engine: SUBSCRIBE command or 0x01 message ─▶ "\x01A" into that peer's inbound queue
//!  PUB core, on every sync: pump_upstream ─▶ PublisherState (XPUB: a notice for recv)
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
//! (`Core::terminate`, as ROUTER refuses a duplicate identity), which
//! removes its subscriptions as a disconnect does; the engine sees its pipe
//! released and closes the socket.

use bytes::{BufMut, BytesMut};
use monocoque_zmtp::{Msg, SocketType};

use super::rules::Step;
use super::shared::Core;
use crate::log_limit;
use crate::monitor::MonitorEvent;
use crate::strategy::OverLimit;
use crate::{PeerId, Result};

/// A subscription request carried as a message: one frame, `0x01`
/// (subscribe) or `0x00` (cancel), then the topic.
pub(crate) fn subscription_of(msg: &Msg) -> Option<(bool, &[u8])> {
    if msg.len() != 1 {
        return None;
    }
    let frame = &msg[0];
    match frame.first() {
        Some(1) => Some((true, &frame[1..])),
        Some(0) => Some((false, &frame[1..])),
        _ => None,
    }
}

/// The message form of a subscribe (`true`) or cancel of `topic`.
pub(crate) fn subscription_msg(subscribe: bool, topic: &[u8]) -> Msg {
    let mut b = BytesMut::with_capacity(1 + topic.len());
    b.put_u8(subscribe as u8);
    b.put_slice(topic);
    Msg::from(b.freeze())
}

impl Core {
    /// Copies the pub/sub options into the strategies (after a set_option).
    pub(crate) fn refresh_pubsub(&mut self) {
        let o = &self.options;
        self.publisher.verbose_subs = o.xpub_verbose_subs;
        self.publisher.verbose_unsubs = o.xpub_verbose_unsubs;
        self.publisher.manual = o.xpub_manual;
        self.publisher.max_subscriptions = o.max_subscriptions;
        self.publisher.max_subscription_bytes = o.max_subscription_bytes;
        self.subscriber.invert = o.invert_matching && self.kind == SocketType::Sub;
    }

    /// PUB/XPUB: applies what subscribers sent, one message per readable peer
    /// in turn. An XPUB stops while its notice queue holds RCVHWM messages
    /// the user has not read (the rest waits in the pipes, which push back).
    pub(crate) fn pump_upstream(&mut self) {
        let limit = self.options.rcvhwm;
        loop {
            if self.kind == SocketType::XPub && limit != 0 && self.notices.len() >= limit {
                return;
            }
            let Some(peer) = self.fq.next_peer() else {
                return;
            };
            // Popped without the readiness refresh first: if this was a gone
            // peer's last message, the refresh removes the peer, and its
            // subscriptions must be applied before that, not after.
            let msg = self
                .pipes
                .get(&peer)
                .and_then(|p| p.inbound.borrow_mut().pop());
            if let Some(msg) = msg {
                self.on_upstream(peer, msg);
            }
            self.refresh_readable(peer);
        }
    }

    fn on_upstream(&mut self, peer: PeerId, msg: Msg) {
        match subscription_of(&msg) {
            Some((subscribe, topic)) => match self.publisher.on_request(peer, subscribe, topic) {
                Ok(true) if self.kind == SocketType::XPub => {
                    self.notices.push_back((msg, Some(peer)))
                }
                Ok(_) => {}
                Err(over) => self.drop_over_limit(peer, over),
            },
            // An XPUB user reads what an XSUB sends upstream; a PUB drops it.
            None if self.kind == SocketType::XPub => self.notices.push_back((msg, Some(peer))),
            None => tracing::trace!(?peer, "PUB: dropped a message from a subscriber"),
        }
    }

    /// A subscriber asked for more than its caps allow: its connection goes
    /// (and with it its subscriptions, as on a disconnect), said in the log
    /// and to the monitors. The engine ends without an event of its own when
    /// the socket releases the pipe, so this is the one `Disconnected`.
    fn drop_over_limit(&mut self, peer: PeerId, over: OverLimit) {
        let (endpoint, remote) = self
            .pipes
            .get(&peer)
            .map(|p| (p.endpoint.clone(), p.remote.clone()))
            .unwrap_or_default();
        let remote = remote.as_deref().unwrap_or("-");
        let reason = over.to_string();
        // Rate-limited with the other disconnect warnings: a crowd of greedy
        // subscribers must not make the log the bottleneck.
        if let Some(suppressed) = log_limit::DISCONNECTED.admit() {
            tracing::warn!(%endpoint, %remote, ?peer, %reason, suppressed, "subscriber over its cap; connection closed");
        }
        self.monitor
            .post(MonitorEvent::Disconnected { endpoint, reason });
        self.terminate(peer);
    }

    /// XPUB: the next subscription request or upstream message.
    pub(crate) fn next_notice(&mut self) -> Option<Msg> {
        if self.notices.is_empty() {
            self.pump_upstream();
        }
        let (msg, from) = self.notices.pop_front()?;
        // XPUB_MANUAL applies the user's next Subscribe to this peer.
        self.last_notice_peer = from;
        self.pump_upstream();
        Some(msg)
    }

    /// PUB/XPUB: `peer` is gone or disconnected; its subscriptions go, and an
    /// XPUB user hears the cancels that follow.
    pub(crate) fn publisher_peer_gone(&mut self, peer: PeerId) {
        if !self.kind.is_publisher() {
            return;
        }
        let xpub = self.kind == SocketType::XPub;
        let notices = &mut self.notices;
        self.publisher.peer_gone(peer, |topic| {
            if xpub {
                notices.push_back((subscription_msg(false, topic), None));
            }
        });
    }

    /// PUB/XPUB send: to every subscriber whose subscription prefixes the
    /// first frame (INVERT_MATCHING: to every other one). The subscribers'
    /// requests were applied by the `sync` that opened the core for this send.
    pub(crate) fn publish(&mut self, msg: Msg) -> Step<Msg> {
        let mut targets = std::mem::take(&mut self.scratch);
        self.publisher.targets(&msg[0], &mut targets);
        if self.options.invert_matching {
            let matched = std::mem::take(&mut targets);
            targets.extend(
                self.pipes
                    .iter()
                    .filter(|(id, p)| p.connected && matched.binary_search(id).is_err())
                    .map(|(id, _)| *id),
            );
        }
        targets.retain(|id| !self.dying.contains(id));
        if self.options.xpub_nodrop && targets.iter().any(|&t| self.is_full(t)) {
            if let Some(f) = self.fanout.as_mut() {
                for &t in &targets {
                    f.note_full(t);
                }
            }
            self.scratch = targets;
            return Step::Wait(msg);
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
            if self.is_full(t) {
                dropped += 1;
            } else {
                self.push_to(t, msg.clone());
            }
        }
        if let Some(f) = self.fanout.as_mut() {
            dropped += f.publish(&msg);
        }
        if dropped > 0 {
            tracing::trace!(dropped, "PUB: subscribers at SNDHWM lost this message");
            self.dropped_at_hwm = true;
            self.hwm_drops += dropped as u64;
        }
        self.scratch = targets;
        Step::Done(Msg::new())
    }

    /// SUB/XSUB: one more count of `topic`; the subscribe goes to every
    /// connected publisher.
    pub(crate) fn subscribe(&mut self, topic: &[u8]) {
        self.subscriber.subscribe(topic);
        self.send_upstream(subscription_msg(true, topic));
    }

    /// SUB/XSUB: one count less; the cancel goes upstream if it was the last.
    pub(crate) fn unsubscribe(&mut self, topic: &[u8]) {
        if self.subscriber.cancel(topic) {
            self.send_upstream(subscription_msg(false, topic));
        }
    }

    fn send_upstream(&mut self, msg: Msg) {
        for p in self.pipes.values() {
            if p.connected && !self.dying.contains(&p.peer) {
                p.outbound.borrow_mut().push(msg.clone());
            }
        }
    }

    /// XSUB send: `0x01`/`0x00` messages are subscriptions (counted, cancels
    /// deduplicated as for SUB); anything else goes to every publisher that
    /// has room.
    pub(crate) fn xsub_send(&mut self, msg: Msg) -> Result<Step<Msg>> {
        match subscription_of(&msg) {
            Some((true, topic)) => self.subscribe(topic),
            Some((false, topic)) => self.unsubscribe(topic),
            None => {
                // Like libzmq's, an XSUB queues to a connect-side pipe whose
                // connection is not up yet (IMMEDIATE off).
                let peers: Vec<PeerId> = self
                    .pipes
                    .values()
                    .filter(|p| !self.dying.contains(&p.peer))
                    .map(|p| p.peer)
                    .collect();
                for peer in peers {
                    if !self.is_full(peer) {
                        self.push_to(peer, msg.clone());
                    }
                }
            }
        }
        Ok(Step::Done(Msg::new()))
    }

    /// XPUB_MANUAL: the user's Subscribe/Unsubscribe, for the peer whose
    /// request it read last.
    pub(crate) fn xpub_apply_manually(&mut self, subscribe: bool, topic: &[u8]) {
        match self.last_notice_peer {
            Some(peer) if self.pipes.contains_key(&peer) => {
                self.publisher.apply_manually(peer, subscribe, topic)
            }
            _ => tracing::debug!("XPUB_MANUAL: no subscriber to apply the subscription to"),
        }
    }
}

/// What a socket says first on each new connection, before anything queued:
/// a SUB or XSUB every subscription it has (a new or reconnected publisher
/// knows none), an XPUB its welcome message. The connection's engine (or the
/// inproc join) sends these itself the moment the peer is there, so a
/// subscriber that is not being called (blocked elsewhere, or not reading
/// yet) still subscribes.
pub(crate) fn greeting_messages(core: &Core) -> Vec<Msg> {
    let mut out = Vec::new();
    if core.kind.is_subscriber() {
        core.subscriber
            .for_each_topic(|topic| out.push(subscription_msg(true, topic)));
    } else if core.kind == SocketType::XPub && !core.options.xpub_welcome_msg.is_empty() {
        out.push(Msg::from(core.options.xpub_welcome_msg.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_messages_round_trip() {
        let m = subscription_msg(true, b"topic");
        assert_eq!(&m[0][..], b"\x01topic");
        assert_eq!(subscription_of(&m), Some((true, &b"topic"[..])));
        assert_eq!(
            subscription_of(&subscription_msg(false, b"")),
            Some((false, &b""[..]))
        );
        assert_eq!(subscription_of(&Msg::from("\x02x")), None);
        assert_eq!(
            subscription_of(&Msg::from(["\x01a", "b"])),
            None,
            "multipart is data"
        );
        assert_eq!(subscription_of(&Msg::from(vec![bytes::Bytes::new()])), None);
    }
}
