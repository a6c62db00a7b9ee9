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
//!
//! A peer chooses how much it makes the publisher hold, so each peer's
//! subscriptions can be capped, by number (MAX_SUBSCRIPTIONS) and by topic
//! bytes (MAX_SUBSCRIPTION_BYTES). A subscribe that would take a peer over a
//! cap is not applied and is reported as [`OverLimit`]: the socket then
//! drops that peer's connection (and with it, through
//! [`PublisherState::peer_gone`], everything it held). The caps count what
//! the peer's requests make the socket keep: its subscriptions, or under
//! XPUB_MANUAL the requests recorded for it. A subscribe to a topic the peer
//! already holds changes nothing and so never trips a cap.

use std::hash::Hash;

use super::{Holding, SubscriptionTrie};

/// A subscribe that would take a peer over one of its caps (the request is
/// not applied; the socket disconnects the peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverLimit {
    /// The peer already holds `limit` distinct topics (MAX_SUBSCRIPTIONS).
    Subscriptions {
        /// The cap.
        limit: usize,
    },
    /// The peer's topics hold `held` bytes and this one would add `topic`,
    /// more than `limit` (MAX_SUBSCRIPTION_BYTES).
    Bytes {
        /// The cap.
        limit: usize,
        /// Bytes of the topics the peer holds.
        held: usize,
        /// Bytes of the topic it asked for.
        topic: usize,
    },
}

impl std::fmt::Display for OverLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OverLimit::Subscriptions { limit } => write!(
                f,
                "subscription refused: the peer already holds MAX_SUBSCRIPTIONS ({limit}) topics"
            ),
            OverLimit::Bytes { limit, held, topic } => write!(
                f,
                "subscription refused: a {topic}-byte topic on top of {held} bytes held \
                 is over MAX_SUBSCRIPTION_BYTES ({limit})"
            ),
        }
    }
}

impl std::error::Error for OverLimit {}

/// PUB/XPUB subscription bookkeeping over peers `K`.
///
/// ```
/// use monocoque_patterns::strategy::PublisherState;
/// let mut p = PublisherState::default();
/// assert_eq!(p.on_request(1, true, b"A"), Ok(true));  // a new topic: XPUB forwards it
/// assert_eq!(p.on_request(2, true, b"A"), Ok(false)); // not new: only a verbose XPUB would
/// let mut to = Vec::new();
/// p.targets(b"AB", &mut to);
/// assert_eq!(to, [1, 2]);
///
/// p.max_subscriptions = Some(1);
/// assert!(p.on_request(1, true, b"A").is_ok(), "held already: not counted again");
/// assert!(p.on_request(1, true, b"B").is_err(), "a second topic is over the cap");
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
    /// MAX_SUBSCRIPTIONS: the most distinct topics one peer may hold (`None`
    /// = no cap).
    pub max_subscriptions: Option<usize>,
    /// MAX_SUBSCRIPTION_BYTES: the most bytes one peer's topics may add up to
    /// (`None` = no cap).
    pub max_subscription_bytes: Option<usize>,
}

impl<K: Copy + Ord + Hash> Default for PublisherState<K> {
    fn default() -> Self {
        PublisherState {
            subscriptions: SubscriptionTrie::new(),
            requested: SubscriptionTrie::new(),
            verbose_subs: false,
            verbose_unsubs: false,
            manual: false,
            max_subscriptions: None,
            max_subscription_bytes: None,
        }
    }
}

impl<K: Copy + Ord + Hash> PublisherState<K> {
    /// A peer's subscribe (`true`) or cancel for `topic`. Returns whether an
    /// XPUB user should receive the request, or [`OverLimit`] (nothing
    /// applied) if it would take the peer over a cap.
    pub fn on_request(
        &mut self,
        peer: K,
        subscribe: bool,
        topic: &[u8],
    ) -> Result<bool, OverLimit> {
        let limits = (self.max_subscriptions, self.max_subscription_bytes);
        if self.manual {
            set_apply(&mut self.requested, limits, peer, subscribe, topic)?;
            return Ok(true);
        }
        Ok(
            match set_apply(&mut self.subscriptions, limits, peer, subscribe, topic)? {
                Some(topic_changed) => topic_changed || self.verbose(subscribe),
                None => subscribe && self.verbose_subs,
            },
        )
    }

    /// What `peer`'s requests make this socket hold, as the caps count it:
    /// its subscriptions, or under XPUB_MANUAL the topics it asked for.
    pub fn holding(&self, peer: K) -> Holding {
        if self.manual {
            self.requested.holding(peer)
        } else {
            self.subscriptions.holding(peer)
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
    /// read last) to `topic`, or cancels that. The caps do not apply: the
    /// user, not the peer, decides these.
    pub fn apply_manually(&mut self, peer: K, subscribe: bool, topic: &[u8]) {
        // No caps, so never an error.
        let _ = set_apply(
            &mut self.subscriptions,
            (None, None),
            peer,
            subscribe,
            topic,
        );
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
/// with it), `None` if it did not (a repeated subscribe, a cancel of nothing),
/// or [`OverLimit`] (nothing applied) for a new topic over `limits` (count,
/// bytes).
fn set_apply<K: Copy + Eq + Hash>(
    t: &mut SubscriptionTrie<K>,
    limits: (Option<usize>, Option<usize>),
    peer: K,
    subscribe: bool,
    topic: &[u8],
) -> Result<Option<bool>, OverLimit> {
    if !subscribe {
        return Ok(t.unsubscribe(topic, peer).map(|u| u.topic_gone));
    }
    if t.count(topic, peer) > 0 {
        return Ok(None);
    }
    let (max_topics, max_bytes) = limits;
    if max_topics.is_some() || max_bytes.is_some() {
        let held = t.holding(peer);
        if let Some(limit) = max_topics.filter(|&l| held.topics >= l) {
            return Err(OverLimit::Subscriptions { limit });
        }
        if let Some(limit) = max_bytes.filter(|&l| held.bytes.saturating_add(topic.len()) > l) {
            return Err(OverLimit::Bytes {
                limit,
                held: held.bytes,
                topic: topic.len(),
            });
        }
    }
    Ok(Some(t.subscribe(topic, peer).new_topic))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request with no cap set: never over one.
    fn on(p: &mut PublisherState<u32>, peer: u32, subscribe: bool, topic: &[u8]) -> bool {
        p.on_request(peer, subscribe, topic)
            .expect("no cap reached")
    }

    fn targets(p: &PublisherState<u32>, topic: &[u8]) -> Vec<u32> {
        let mut v = Vec::new();
        p.targets(topic, &mut v);
        v
    }

    #[test]
    fn a_peers_subscriptions_are_a_set() {
        let mut p = PublisherState::default();
        assert!(on(&mut p, 1, true, b"A"));
        assert!(!on(&mut p, 1, true, b"A"));
        assert!(on(&mut p, 1, false, b"A"), "one cancel ends it");
        assert!(targets(&p, b"A").is_empty());
        assert!(
            !on(&mut p, 1, false, b"A"),
            "a cancel of nothing is not heard"
        );
    }

    #[test]
    fn only_new_and_gone_topics_are_heard_unless_verbose() {
        let mut p = PublisherState::default();
        assert!(on(&mut p, 1, true, b"A"));
        assert!(!on(&mut p, 2, true, b"A"));
        assert!(!on(&mut p, 1, false, b"A"));
        assert!(on(&mut p, 2, false, b"A"));

        p.verbose_subs = true;
        assert!(on(&mut p, 1, true, b"B"));
        assert!(on(&mut p, 2, true, b"B"));
        assert!(on(&mut p, 2, true, b"B"), "verbose hears repeats too");
        assert!(!on(&mut p, 1, false, b"B"));
        p.verbose_unsubs = true;
        assert!(on(&mut p, 2, false, b"B"));
        assert!(!on(&mut p, 2, false, b"B"), "nothing to cancel");
    }

    #[test]
    fn matching_reports_each_peer_once() {
        let mut p = PublisherState::default();
        on(&mut p, 1, true, b"A");
        on(&mut p, 1, true, b"AB");
        on(&mut p, 2, true, b"ABC");
        on(&mut p, 3, true, b"B");
        assert_eq!(targets(&p, b"ABCD"), [1, 2]);
        assert_eq!(targets(&p, b"AX"), [1]);
        assert_eq!(targets(&p, b"C"), Vec::<u32>::new());
    }

    #[test]
    fn a_departing_peer_cancels_what_only_it_had() {
        let mut p = PublisherState::default();
        on(&mut p, 1, true, b"A");
        on(&mut p, 1, true, b"B");
        on(&mut p, 2, true, b"B");
        let mut heard = Vec::new();
        p.peer_gone(1, |t| heard.push(t.to_vec()));
        assert_eq!(heard, [b"A".to_vec()]);
        assert_eq!(targets(&p, b"B"), [2]);

        p.verbose_unsubs = true;
        on(&mut p, 3, true, b"B");
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
        assert!(on(&mut p, 1, true, b"A"));
        assert!(on(&mut p, 1, true, b"A"));
        assert!(targets(&p, b"A").is_empty(), "nothing applied by itself");
        p.apply_manually(1, true, b"X");
        assert_eq!(targets(&p, b"XY"), [1]);
        let mut heard = Vec::new();
        p.peer_gone(1, |t| heard.push(t.to_vec()));
        assert_eq!(heard, [b"A".to_vec()], "the topics the peer asked for");
        assert!(p.is_empty());
    }

    #[test]
    fn the_count_cap_refuses_a_new_topic_but_not_a_repeat() {
        let mut p = PublisherState::<u32> {
            max_subscriptions: Some(2),
            ..Default::default()
        };
        assert!(on(&mut p, 1, true, b"A"));
        assert!(on(&mut p, 1, true, b"B"));
        assert!(!on(&mut p, 1, true, b"A"), "a topic held already");
        assert_eq!(
            p.on_request(1, true, b"C"),
            Err(OverLimit::Subscriptions { limit: 2 })
        );
        assert!(targets(&p, b"C").is_empty(), "nothing applied");
        assert!(on(&mut p, 2, true, b"C"), "each peer has its own cap");
        assert!(on(&mut p, 1, false, b"A"));
        assert!(!on(&mut p, 1, true, b"C"), "a cancel makes room");
        assert_eq!(
            p.holding(1),
            Holding {
                topics: 2,
                bytes: 2
            }
        );
    }

    #[test]
    fn the_byte_cap_counts_each_topic_once() {
        let mut p = PublisherState::<u32> {
            max_subscription_bytes: Some(5),
            ..Default::default()
        };
        assert!(on(&mut p, 1, true, b"abc"));
        assert!(!on(&mut p, 1, true, b"abc"));
        assert!(on(&mut p, 1, true, b"de"));
        assert!(on(&mut p, 1, true, b""), "the empty topic costs nothing");
        let over = p.on_request(1, true, b"f").unwrap_err();
        assert_eq!(
            over,
            OverLimit::Bytes {
                limit: 5,
                held: 5,
                topic: 1
            }
        );
        assert!(
            over.to_string().contains("MAX_SUBSCRIPTION_BYTES (5)"),
            "{over}"
        );
        let mut heard = Vec::new();
        p.peer_gone(1, |t| heard.push(t.to_vec()));
        heard.sort();
        assert_eq!(heard, [b"".to_vec(), b"abc".to_vec(), b"de".to_vec()]);
        assert!(p.is_empty());
    }

    #[test]
    fn under_xpub_manual_the_caps_count_what_the_peer_asked_for() {
        let mut p = PublisherState::<u32> {
            manual: true,
            max_subscriptions: Some(1),
            ..Default::default()
        };
        assert!(on(&mut p, 1, true, b"A"));
        assert!(on(&mut p, 1, true, b"A"), "heard, and not counted again");
        assert!(p.on_request(1, true, b"B").is_err());
        // What the user applies is the user's decision, not capped.
        p.apply_manually(1, true, b"X");
        p.apply_manually(1, true, b"Y");
        assert_eq!(targets(&p, b"Y"), [1]);
        assert_eq!(p.holding(1).topics, 1);
    }
}
