//! A SUB or XSUB socket's own subscriptions: the filter on what it receives
//! (SUB only) and what it tells its publishers.
//!
//! Subscriptions are counted: subscribing to "A" twice takes two cancels.
//! Every subscribe is sent upstream (a verbose XPUB upstream counts them),
//! but a cancel only when the last count goes, as libzmq's SUB does. A new
//! or reconnected publisher is sent each topic once.

use super::SubscriptionTrie;

/// Counted prefix subscriptions and the receive filter built on them.
///
/// ```
/// use monocoque_patterns::strategy::SubscriberFilter;
/// let mut f = SubscriberFilter::default();
/// assert!(!f.accepts(b"anything"), "no subscription, nothing received");
/// f.subscribe(b"A");
/// f.subscribe(b"A");
/// assert!(f.accepts(b"AB"));
/// assert!(!f.cancel(b"A"), "one count left: no cancel goes upstream");
/// assert!(f.cancel(b"A"));
/// assert!(!f.accepts(b"AB"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct SubscriberFilter {
    topics: SubscriptionTrie<()>,
    /// INVERT_MATCHING: accept what matches no subscription instead.
    pub invert: bool,
}

impl SubscriberFilter {
    /// Adds one count of `topic` (the caller sends the subscribe upstream).
    pub fn subscribe(&mut self, topic: &[u8]) {
        self.topics.subscribe(topic, ());
    }

    /// Removes one count of `topic`; returns whether the cancel should go
    /// upstream (that was its last count).
    pub fn cancel(&mut self, topic: &[u8]) -> bool {
        self.topics
            .unsubscribe(topic, ())
            .is_some_and(|u| u.topic_gone)
    }

    /// Whether a message with this first frame is delivered.
    pub fn accepts(&self, first_frame: &[u8]) -> bool {
        self.topics.has_match(first_frame) != self.invert
    }

    /// Calls `f` once for each subscribed topic (for a new publisher), in
    /// topic order. Iterative, like every walk of the tree: however deeply
    /// the topics nest, this uses heap, not the thread's stack.
    pub fn for_each_topic(&self, mut f: impl FnMut(&[u8])) {
        self.topics.for_each(|topic, _, _| f(topic));
    }

    /// Distinct topics subscribed (ZMQ_TOPICS_COUNT).
    pub fn len(&self) -> usize {
        self.topics.topic_count()
    }

    /// Whether nothing is subscribed.
    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_subscription_matches_everything() {
        let mut f = SubscriberFilter::default();
        f.subscribe(b"");
        assert!(f.accepts(b""));
        assert!(f.accepts(b"x"));
    }

    #[test]
    fn inverted_accepts_what_matches_nothing() {
        let mut f = SubscriberFilter {
            invert: true,
            ..Default::default()
        };
        assert!(f.accepts(b"x"), "no subscription: everything");
        f.subscribe(b"pre");
        assert!(!f.accepts(b"prefix"));
        assert!(f.accepts(b"other"));
    }

    #[test]
    fn each_topic_is_resent_once_whatever_its_count() {
        let mut f = SubscriberFilter::default();
        f.subscribe(b"A");
        f.subscribe(b"A");
        f.subscribe(b"B");
        let mut seen = Vec::new();
        f.for_each_topic(|t| seen.push(t.to_vec()));
        assert_eq!(seen, [b"A".to_vec(), b"B".to_vec()]);
        assert!(!f.cancel(b"C"), "a cancel of nothing goes nowhere");
    }

    #[test]
    fn topics_nested_20000_deep_are_resent_without_recursion() {
        // An XSUB forwarding a hostile downstream's "a", "aa", "aaa"...: the
        // walk for a new publisher runs on a stack a recursion would overflow.
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                const DEPTH: usize = 20_000;
                let deep = vec![b'a'; DEPTH];
                let mut f = SubscriberFilter::default();
                // Longest first builds the same one-node-per-level tree as
                // the shortest first, without the walk down the chain for
                // each topic (slow in an unoptimised test build).
                for d in (1..=DEPTH).rev() {
                    f.subscribe(&deep[..d]);
                }
                let mut lengths = Vec::new();
                f.for_each_topic(|t| lengths.push(t.len()));
                assert_eq!(lengths, (1..=DEPTH).collect::<Vec<_>>());
                assert!(f.accepts(&deep));
                for d in 1..=DEPTH {
                    assert!(f.cancel(&deep[..d]));
                }
                assert!(f.is_empty());
            })
            .expect("thread")
            .join()
            .expect("no stack overflow");
    }
}
