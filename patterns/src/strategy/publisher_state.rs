//! What a PUB or XPUB socket knows of its subscribers' subscriptions, and
//! which of their requests the XPUB user hears of (libzmq's xpub).
//!
//! Each peer's subscriptions are a set: a peer that subscribes to "A" twice
//! is subscribed once, and one cancel ends it. The counting lives on the
//! subscriber's side (a SUB sends every subscribe but a cancel only for its
//! last count), as in libzmq.
//!
//! ```text
//!  request from a peer          subscriptions      the XPUB user hears it when
//!  subscribe T (new for peer)   T += peer          nobody had T   | XPUB_VERBOSE(R)
//!  subscribe T (peer had it)    unchanged          never          | XPUB_VERBOSE(R)
//!  cancel T (peer had it)       T -= peer          nobody has T   | XPUB_VERBOSER
//!  cancel T (peer did not)      unchanged          never          | XPUB_VERBOSER
//!  peer leaves                  all its T removed  each T nobody has now | VERBOSER: each T
//!
//!  XPUB_MANUAL: every request is heard and nothing is applied; the user
//!  applies subscriptions for the peer of the last request it read.
//! ```

use super::SubscriptionTrie;

/// PUB/XPUB subscription bookkeeping over peers `K`.
///
/// ```
/// use monocoque_patterns::strategy::PublisherState;
/// let mut p = PublisherState::default();
/// assert!(p.on_request(1, true, b"A"));  // a new topic: XPUB forwards it
/// assert!(!p.on_request(2, true, b"A")); // not new: only a verbose XPUB would
/// let mut to = Vec::new();
/// p.targets(b"AB", &mut to);
/// assert_eq!(to, [1, 2]);
/// ```
#[derive(Debug, Clone)]
pub struct PublisherState<K> {
    /// What matching uses.
    subscriptions: SubscriptionTrie<K>,
    /// XPUB_MANUAL: what each peer asked for (the user decides what applies),
    /// kept to report a departing peer's topics.
    requested: SubscriptionTrie<K>,
    /// XPUB_VERBOSE: every subscribe is heard, not only new topics.
    pub verbose_subs: bool,
    /// XPUB_VERBOSER: every cancel is heard too.
    pub verbose_unsubs: bool,
    /// XPUB_MANUAL.
    pub manual: bool,
}

impl<K: Copy + Ord> Default for PublisherState<K> {
    fn default() -> Self {
        PublisherState {
            subscriptions: SubscriptionTrie::new(),
            requested: SubscriptionTrie::new(),
            verbose_subs: false,
            verbose_unsubs: false,
            manual: false,
        }
    }
}

impl<K: Copy + Ord> PublisherState<K> {
    /// A peer's subscribe (`true`) or cancel for `topic`. Returns whether an
    /// XPUB user should receive the request.
    pub fn on_request(&mut self, peer: K, subscribe: bool, topic: &[u8]) -> bool {
        if self.manual {
            set_apply(&mut self.requested, peer, subscribe, topic);
            return true;
        }
        match set_apply(&mut self.subscriptions, peer, subscribe, topic) {
            Some(topic_changed) => topic_changed || self.verbose(subscribe),
            None => subscribe && self.verbose_subs,
        }
    }

    fn verbose(&self, subscribe: bool) -> bool {
        if subscribe {
            self.verbose_subs
        } else {
            self.verbose_unsubs
        }
    }

    /// XPUB_MANUAL: the user subscribes `peer` (the sender of the request it
    /// read last) to `topic`, or cancels that.
    pub fn apply_manually(&mut self, peer: K, subscribe: bool, topic: &[u8]) {
        set_apply(&mut self.subscriptions, peer, subscribe, topic);
    }

    /// `peer` left: its subscriptions go. `cancelled` is called with each
    /// topic whose cancel an XPUB user should receive: the topics nobody is
    /// subscribed to any more, every topic of the peer under XPUB_VERBOSER,
    /// and every topic it had asked for under XPUB_MANUAL.
    pub fn peer_gone(&mut self, peer: K, mut cancelled: impl FnMut(&[u8])) {
        if self.manual {
            self.requested
                .remove_subscriber(peer, |topic, _| cancelled(topic));
            self.subscriptions.remove_subscriber(peer, |_, _| {});
        } else {
            let verbose = self.verbose_unsubs;
            self.subscriptions.remove_subscriber(peer, |topic, gone| {
                if gone || verbose {
                    cancelled(topic)
                }
            });
        }
    }

    /// The peers subscribed to a prefix of `topic` (a message's first frame),
    /// each once, in order, into `out` (cleared first).
    pub fn targets(&self, topic: &[u8], out: &mut Vec<K>) {
        out.clear();
        self.subscriptions.matches(topic, |k| out.push(*k));
        if out.len() > 1 {
            out.sort_unstable();
            out.dedup();
        }
    }

    /// Distinct topics subscribed to, whoever by (ZMQ_TOPICS_COUNT).
    pub fn topic_count(&self) -> usize {
        self.subscriptions.topic_count()
    }

    /// Distinct (topic, peer) subscriptions in force.
    pub fn len(&self) -> usize {
        self.subscriptions.len()
    }

    /// Whether no subscription is in force.
    pub fn is_empty(&self) -> bool {
        self.subscriptions.is_empty()
    }
}

/// Applies a request to a set of subscriptions: `Some(topic_changed)` if
/// the peer's set changed (the topic appeared or disappeared for everyone
/// with it), `None` if it did not (a repeated subscribe, a cancel of nothing).
fn set_apply<K: Copy + Eq>(
    t: &mut SubscriptionTrie<K>,
    peer: K,
    subscribe: bool,
    topic: &[u8],
) -> Option<bool> {
    if subscribe {
        if t.count(topic, peer) > 0 {
            return None;
        }
        Some(t.subscribe(topic, peer).new_topic)
    } else {
        t.unsubscribe(topic, peer).map(|u| u.topic_gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(p: &PublisherState<u32>, topic: &[u8]) -> Vec<u32> {
        let mut v = Vec::new();
        p.targets(topic, &mut v);
        v
    }

    #[test]
    fn a_peers_subscriptions_are_a_set() {
        let mut p = PublisherState::default();
        assert!(p.on_request(1, true, b"A"));
        assert!(!p.on_request(1, true, b"A"));
        assert!(p.on_request(1, false, b"A"), "one cancel ends it");
        assert!(targets(&p, b"A").is_empty());
        assert!(
            !p.on_request(1, false, b"A"),
            "a cancel of nothing is not heard"
        );
    }

    #[test]
    fn only_new_and_gone_topics_are_heard_unless_verbose() {
        let mut p = PublisherState::default();
        assert!(p.on_request(1, true, b"A"));
        assert!(!p.on_request(2, true, b"A"));
        assert!(!p.on_request(1, false, b"A"));
        assert!(p.on_request(2, false, b"A"));

        p.verbose_subs = true;
        assert!(p.on_request(1, true, b"B"));
        assert!(p.on_request(2, true, b"B"));
        assert!(p.on_request(2, true, b"B"), "verbose hears repeats too");
        assert!(!p.on_request(1, false, b"B"));
        p.verbose_unsubs = true;
        assert!(p.on_request(2, false, b"B"));
        assert!(!p.on_request(2, false, b"B"), "nothing to cancel");
    }

    #[test]
    fn matching_reports_each_peer_once() {
        let mut p = PublisherState::default();
        p.on_request(1, true, b"A");
        p.on_request(1, true, b"AB");
        p.on_request(2, true, b"ABC");
        p.on_request(3, true, b"B");
        assert_eq!(targets(&p, b"ABCD"), [1, 2]);
        assert_eq!(targets(&p, b"AX"), [1]);
        assert_eq!(targets(&p, b"C"), Vec::<u32>::new());
    }

    #[test]
    fn a_departing_peer_cancels_what_only_it_had() {
        let mut p = PublisherState::default();
        p.on_request(1, true, b"A");
        p.on_request(1, true, b"B");
        p.on_request(2, true, b"B");
        let mut heard = Vec::new();
        p.peer_gone(1, |t| heard.push(t.to_vec()));
        assert_eq!(heard, [b"A".to_vec()]);
        assert_eq!(targets(&p, b"B"), [2]);

        p.verbose_unsubs = true;
        p.on_request(3, true, b"B");
        let mut heard = Vec::new();
        p.peer_gone(3, |t| heard.push(t.to_vec()));
        assert_eq!(heard, [b"B".to_vec()], "verboser hears every topic");
    }

    #[test]
    fn manual_mode_hears_everything_and_applies_only_what_the_user_says() {
        let mut p = PublisherState {
            manual: true,
            ..Default::default()
        };
        assert!(p.on_request(1, true, b"A"));
        assert!(p.on_request(1, true, b"A"));
        assert!(targets(&p, b"A").is_empty(), "nothing applied by itself");
        p.apply_manually(1, true, b"X");
        assert_eq!(targets(&p, b"XY"), [1]);
        let mut heard = Vec::new();
        p.peer_gone(1, |t| heard.push(t.to_vec()));
        assert_eq!(heard, [b"A".to_vec()], "the topics the peer asked for");
        assert!(p.is_empty());
    }
}
