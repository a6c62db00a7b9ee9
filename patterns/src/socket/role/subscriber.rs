//! SUB and XSUB: this socket's own subscriptions, sent to every publisher
//! (and again to each new one), and the filter a SUB applies to what it
//! receives (RFC 29).
//!
//! The socket's own subscriptions are never capped here: they are the
//! subscriber's side, and dropping one would silently cut a feed.

use monocoque_zmtp::{Msg, SocketType};

use super::super::peers::Peers;
use super::Step;
use crate::options::Options;
use crate::strategy::SubscriberFilter;
use crate::subscription::{subscription_msg, subscription_of};
use crate::Result;

/// A SUB's or XSUB's subscriptions.
pub(crate) struct Subscriber {
    filter: SubscriberFilter,
    /// XSUB passes everything: filtering is the publisher's job, and a
    /// forwarder must not lose what its downstream asked for.
    filters: bool,
    /// XSUB's ONLY_FIRST_SUBSCRIBE.
    only_first: bool,
}

impl Subscriber {
    pub(crate) fn new(kind: SocketType) -> Subscriber {
        Subscriber {
            filter: SubscriberFilter::default(),
            filters: kind == SocketType::Sub,
            only_first: false,
        }
    }

    pub(crate) fn configure(&mut self, options: &Options) {
        self.filter.invert = options.invert_matching && self.filters;
        self.only_first = options.only_first_subscribe;
    }

    /// Distinct topics subscribed.
    pub(crate) fn topic_count(&self) -> usize {
        self.filter.len()
    }

    /// Every subscription, as a new publisher must hear them.
    pub(crate) fn greeting(&self) -> Vec<Msg> {
        let mut out = Vec::new();
        self.filter
            .for_each_topic(|topic| out.push(subscription_msg(true, topic)));
        out
    }

    /// One more count of `topic`; the subscribe goes to every connected publisher.
    pub(crate) fn subscribe(&mut self, peers: &Peers, topic: &[u8]) {
        self.filter.subscribe(topic);
        send_upstream(peers, subscription_msg(true, topic));
    }

    /// One count less; the cancel goes upstream if it was the last.
    pub(crate) fn unsubscribe(&mut self, peers: &Peers, topic: &[u8]) {
        if self.filter.cancel(topic) {
            send_upstream(peers, subscription_msg(false, topic));
        }
    }

    /// XSUB send: `0x01`/`0x00` messages are subscriptions (counted, cancels
    /// deduplicated as for SUB); under ONLY_FIRST_SUBSCRIBE so is a multipart
    /// message's first frame, and the whole message goes upstream as a
    /// subscription does; anything else goes to every publisher that has
    /// room.
    pub(crate) fn send(&mut self, peers: &mut Peers, msg: Msg) -> Result<Step<Msg>> {
        let first = (self.only_first && msg.len() > 1).then(|| Msg::from(msg[0].clone()));
        if let Some((subscribe, topic)) = first.as_ref().and_then(subscription_of) {
            if subscribe {
                self.filter.subscribe(topic);
            } else {
                self.filter.cancel(topic);
            }
            // Queued for connections still being made too (the data must not
            // be lost); they also hear the subscription alone when they
            // connect, as they hear every other. Like the subscriptions it
            // carries, it is not subject to SNDHWM: the application's own
            // sends decide how many there are.
            for p in peers.live() {
                p.outbound.borrow_mut().push(msg.clone());
            }
            return Ok(Step::Done(Msg::new()));
        }
        match subscription_of(&msg) {
            Some((true, topic)) => self.subscribe(peers, topic),
            Some((false, topic)) => self.unsubscribe(peers, topic),
            None => {
                // Like libzmq's, an XSUB queues to a connect-side pipe whose
                // connection is not up yet (IMMEDIATE off).
                let targets: Vec<_> = peers.live().map(|p| p.peer).collect();
                for peer in targets {
                    if !peers.is_full(peer) {
                        peers.push_to(peer, msg.clone());
                    }
                }
            }
        }
        Ok(Step::Done(Msg::new()))
    }

    /// Whether the subscriptions let `msg` through now (always, for XSUB).
    pub(crate) fn accepts(&self, msg: &Msg) -> bool {
        !self.filters || self.filter.accepts(&msg[0])
    }

    /// The next message the subscriptions let through (all, for XSUB).
    pub(crate) fn recv(&mut self, peers: &mut Peers) -> Option<Msg> {
        loop {
            let peer = peers.next_readable()?;
            let (msg, _) = peers.pop_from(peer);
            match msg {
                Some(m) if self.accepts(&m) => return Some(m),
                _ => {}
            }
        }
    }
}

fn send_upstream(peers: &Peers, msg: Msg) {
    for p in peers.live().filter(|p| p.connected) {
        p.outbound.borrow_mut().push(msg.clone());
    }
}
