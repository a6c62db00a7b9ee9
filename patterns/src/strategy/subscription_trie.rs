//! Subscriptions as a radix tree: which subscribers want a message, found by
//! walking its first frame once, whatever the number of subscribers.
//!
//! A subscription is a byte prefix; a message matches it when its first frame
//! starts with those bytes (RFC 29's binary comparison). Each node holds an
//! edge label (a run of bytes, so a long topic is one node, not one per byte)
//! and the subscribers whose subscription ends exactly there, each with a
//! count: subscribing twice takes two cancels. Matching walks the topic down
//! the tree and reports every subscriber met on the way: the cost is the
//! length of the topic, not the number of subscriptions (the
//! `subscription_match` benchmark measures it against a linear scan).
//!
//! ```text
//!  subscriptions: "A" (peer 1), "AB" (peer 2), "ABC" (peer 1), "B" (peer 3)
//!
//!  root ─"A"─▶ {1} ─"B"─▶ {2} ─"C"─▶ {1}
//!      └─"B"─▶ {3}
//!
//!  match "ABX": root, "A" {1}, "B" {2}; the "C" edge does not match: {1, 2}
//! ```
//!
//! Nodes live in one arena (`Vec`) and are reused, so churn does not allocate
//! once the tree has reached its size; a node left with no subscribers and one
//! child is merged into it, so the tree never holds more than two nodes per
//! subscription.

/// What [`SubscriptionTrie::subscribe`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscribed {
    /// The subscriber had no subscription to this topic before.
    pub new_for_subscriber: bool,
    /// Nobody had a subscription to this topic before.
    pub new_topic: bool,
}

/// What [`SubscriptionTrie::unsubscribe`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsubscribed {
    /// That was the subscriber's last count of this topic.
    pub gone_for_subscriber: bool,
    /// Nobody is subscribed to this topic any more.
    pub topic_gone: bool,
}

#[derive(Debug, Clone)]
struct Node<K> {
    /// The bytes on the edge from the parent (empty only at the root).
    label: Vec<u8>,
    /// Children sorted by the first byte of their label (distinct by it).
    children: Vec<(u8, u32)>,
    /// Subscribers whose topic ends here, with their counts (never 0).
    subscribers: Vec<(K, u32)>,
}

impl<K> Node<K> {
    fn new(label: Vec<u8>) -> Self {
        Node {
            label,
            children: Vec::new(),
            subscribers: Vec::new(),
        }
    }
}

const ROOT: u32 = 0;

/// Counted prefix subscriptions of subscribers `K` (a peer id, or `()` for a
/// SUB socket's own filter).
///
/// ```
/// use monocoque_patterns::strategy::SubscriptionTrie;
/// let mut t = SubscriptionTrie::new();
/// t.subscribe(b"A", 1);
/// t.subscribe(b"AB", 2);
/// t.subscribe(b"B", 3);
/// let mut who = Vec::new();
/// t.matches(b"ABC", |&k| who.push(k));
/// assert_eq!(who, [1, 2]);
/// assert!(!t.has_match(b"C"));
/// ```
#[derive(Debug, Clone)]
pub struct SubscriptionTrie<K> {
    nodes: Vec<Node<K>>,
    free: Vec<u32>,
    /// Distinct (topic, subscriber) pairs.
    entries: usize,
    /// Distinct topics with at least one subscriber.
    topics: usize,
}

impl<K: Copy + Eq> Default for SubscriptionTrie<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Copy + Eq> SubscriptionTrie<K> {
    /// No subscriptions.
    pub fn new() -> Self {
        SubscriptionTrie {
            nodes: vec![Node::new(Vec::new())],
            free: Vec::new(),
            entries: 0,
            topics: 0,
        }
    }

    /// Distinct (topic, subscriber) pairs held.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Distinct topics someone is subscribed to (libzmq's ZMQ_TOPICS_COUNT).
    pub fn topic_count(&self) -> usize {
        self.topics
    }

    /// Whether nobody is subscribed to anything.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    fn alloc(&mut self, label: Vec<u8>) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = Node::new(label);
                i
            }
            None => {
                self.nodes.push(Node::new(label));
                (self.nodes.len() - 1) as u32
            }
        }
    }

    fn release(&mut self, i: u32) {
        let n = &mut self.nodes[i as usize];
        n.label = Vec::new();
        n.children = Vec::new();
        n.subscribers = Vec::new();
        self.free.push(i);
    }

    /// The position in `node`'s children of the child whose label starts
    /// with `byte`, or where it would be inserted.
    fn child_slot(&self, node: u32, byte: u8) -> Result<usize, usize> {
        self.nodes[node as usize]
            .children
            .binary_search_by_key(&byte, |&(b, _)| b)
    }

    fn child(&self, node: u32, byte: u8) -> Option<u32> {
        let n = &self.nodes[node as usize];
        self.child_slot(node, byte).ok().map(|i| n.children[i].1)
    }

    /// Adds one count of `key`'s subscription to `topic`.
    pub fn subscribe(&mut self, topic: &[u8], key: K) -> Subscribed {
        let mut node = ROOT;
        let mut rest = topic;
        while let Some(&first) = rest.first() {
            match self.child_slot(node, first) {
                Err(at) => {
                    let leaf = self.alloc(rest.to_vec());
                    self.nodes[node as usize].children.insert(at, (first, leaf));
                    node = leaf;
                    rest = &[];
                }
                Ok(at) => {
                    let child = self.nodes[node as usize].children[at].1;
                    let label = &self.nodes[child as usize].label;
                    let common = label.iter().zip(rest).take_while(|(a, b)| a == b).count();
                    if common < label.len() {
                        // Split the edge: a new node for the shared part.
                        let shared = label[..common].to_vec();
                        let mid = self.alloc(shared);
                        let tail_first = self.nodes[child as usize].label[common];
                        self.nodes[child as usize].label.drain(..common);
                        self.nodes[mid as usize].children.push((tail_first, child));
                        self.nodes[node as usize].children[at].1 = mid;
                        node = mid;
                    } else {
                        node = child;
                    }
                    rest = &rest[common..];
                }
            }
        }
        let subs = &mut self.nodes[node as usize].subscribers;
        let new_topic = subs.is_empty();
        if new_topic {
            self.topics += 1;
        }
        match subs.iter_mut().find(|(k, _)| *k == key) {
            Some((_, count)) => {
                *count += 1;
                Subscribed {
                    new_for_subscriber: false,
                    new_topic,
                }
            }
            None => {
                subs.push((key, 1));
                self.entries += 1;
                Subscribed {
                    new_for_subscriber: true,
                    new_topic,
                }
            }
        }
    }

    /// The node where `topic` ends exactly, with the path to it as
    /// (parent, index in parent's children) pairs.
    fn find(&self, topic: &[u8], path: &mut Vec<(u32, usize)>) -> Option<u32> {
        let mut node = ROOT;
        let mut rest = topic;
        while let Some(&first) = rest.first() {
            let at = self.child_slot(node, first).ok()?;
            let child = self.nodes[node as usize].children[at].1;
            let label = &self.nodes[child as usize].label;
            if !rest.starts_with(label) {
                return None;
            }
            path.push((node, at));
            rest = &rest[label.len()..];
            node = child;
        }
        Some(node)
    }

    /// The number of times `key` is subscribed to exactly `topic`.
    pub fn count(&self, topic: &[u8], key: K) -> u32 {
        let mut path = Vec::new();
        self.find(topic, &mut path)
            .and_then(|n| {
                self.nodes[n as usize]
                    .subscribers
                    .iter()
                    .find(|(k, _)| *k == key)
            })
            .map_or(0, |&(_, c)| c)
    }

    /// Removes one count of `key`'s subscription to `topic`; `None` if it had
    /// none (nothing changes).
    pub fn unsubscribe(&mut self, topic: &[u8], key: K) -> Option<Unsubscribed> {
        let mut path = Vec::new();
        let node = self.find(topic, &mut path)?;
        let subs = &mut self.nodes[node as usize].subscribers;
        let i = subs.iter().position(|(k, _)| *k == key)?;
        subs[i].1 -= 1;
        if subs[i].1 > 0 {
            return Some(Unsubscribed {
                gone_for_subscriber: false,
                topic_gone: false,
            });
        }
        subs.swap_remove(i);
        self.entries -= 1;
        let topic_gone = subs.is_empty();
        if topic_gone {
            self.topics -= 1;
            self.prune(node, &mut path);
        }
        Some(Unsubscribed {
            gone_for_subscriber: true,
            topic_gone,
        })
    }

    /// Restores the shape after `node` lost its last subscriber: a node with
    /// no subscribers and no children goes; one with a single child is merged
    /// into it (and so, in turn, may its parent be).
    fn prune(&mut self, node: u32, path: &mut Vec<(u32, usize)>) {
        let mut node = node;
        while node != ROOT {
            let n = &self.nodes[node as usize];
            if !n.subscribers.is_empty() {
                return;
            }
            let (parent, at) = path.pop().expect("a non-root node has a parent");
            match n.children.len() {
                0 => {
                    self.nodes[parent as usize].children.remove(at);
                    self.release(node);
                    node = parent;
                }
                1 => {
                    self.merge_with_only_child(node);
                    return;
                }
                _ => return,
            }
        }
    }

    fn merge_with_only_child(&mut self, node: u32) {
        let child = self.nodes[node as usize].children[0].1;
        let c = std::mem::replace(&mut self.nodes[child as usize], Node::new(Vec::new()));
        let n = &mut self.nodes[node as usize];
        n.label.extend_from_slice(&c.label);
        n.children = c.children;
        n.subscribers = c.subscribers;
        self.release(child);
    }

    /// Calls `f` for each subscriber with a subscription that prefixes
    /// `topic`. A subscriber with several such subscriptions ("A" and "AB"
    /// for "ABC") is reported once for each.
    pub fn matches(&self, topic: &[u8], mut f: impl FnMut(&K)) {
        let mut node = ROOT;
        let mut rest = topic;
        loop {
            for (k, _) in &self.nodes[node as usize].subscribers {
                f(k);
            }
            let Some(&first) = rest.first() else { return };
            let Some(child) = self.child(node, first) else {
                return;
            };
            let label = &self.nodes[child as usize].label;
            if !rest.starts_with(label) {
                return;
            }
            rest = &rest[label.len()..];
            node = child;
        }
    }

    /// Whether any subscription prefixes `topic` (a SUB socket's filter).
    pub fn has_match(&self, topic: &[u8]) -> bool {
        let mut node = ROOT;
        let mut rest = topic;
        loop {
            if !self.nodes[node as usize].subscribers.is_empty() {
                return true;
            }
            let Some(&first) = rest.first() else {
                return false;
            };
            let Some(child) = self.child(node, first) else {
                return false;
            };
            let label = &self.nodes[child as usize].label;
            if !rest.starts_with(label) {
                return false;
            }
            rest = &rest[label.len()..];
            node = child;
        }
    }

    /// Calls `f(topic, key, count)` for every subscription (to send them all
    /// again after a reconnect, or to a new upstream peer).
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &K, u32)) {
        let mut topic = Vec::new();
        self.walk(ROOT, &mut topic, &mut f);
    }

    fn walk(&self, node: u32, topic: &mut Vec<u8>, f: &mut impl FnMut(&[u8], &K, u32)) {
        let n = &self.nodes[node as usize];
        let depth = topic.len();
        topic.extend_from_slice(&n.label);
        for (k, c) in &n.subscribers {
            f(topic, k, *c);
        }
        for &(_, child) in &n.children {
            self.walk(child, topic, f);
        }
        topic.truncate(depth);
    }

    /// Drops every subscription of `key` (a peer that left), calling
    /// `removed(topic, topic_gone)` once for each topic it had, with whether
    /// nobody is subscribed to that topic any more.
    pub fn remove_subscriber(&mut self, key: K, mut removed: impl FnMut(&[u8], bool)) {
        let mut topics = Vec::new();
        self.for_each(|topic, k, count| {
            if *k == key {
                topics.push((topic.to_vec(), count));
            }
        });
        for (topic, count) in topics {
            let mut gone = false;
            for _ in 0..count {
                if let Some(u) = self.unsubscribe(&topic, key) {
                    gone = u.topic_gone;
                }
            }
            removed(&topic, gone);
        }
    }

    /// Nodes in use (for tests and memory accounting): at most two per
    /// (topic, subscriber) pair, plus the root.
    pub fn node_count(&self) -> usize {
        self.nodes.len() - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn matched(t: &SubscriptionTrie<u8>, topic: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        t.matches(topic, |&k| v.push(k));
        v.sort_unstable();
        v
    }

    #[test]
    fn the_empty_subscription_matches_everything() {
        let mut t = SubscriptionTrie::new();
        t.subscribe(b"", 7u8);
        assert_eq!(matched(&t, b""), [7]);
        assert_eq!(matched(&t, b"anything"), [7]);
        assert!(t.has_match(b"x"));
    }

    #[test]
    fn a_subscriber_with_no_subscription_matches_nothing() {
        let t = SubscriptionTrie::<u8>::new();
        assert!(matched(&t, b"A").is_empty());
        assert!(!t.has_match(b""));
    }

    #[test]
    fn counted_subscribe_twice_cancel_twice() {
        let mut t = SubscriptionTrie::new();
        assert_eq!(
            t.subscribe(b"A", ()),
            Subscribed {
                new_for_subscriber: true,
                new_topic: true
            }
        );
        assert_eq!(
            t.subscribe(b"A", ()),
            Subscribed {
                new_for_subscriber: false,
                new_topic: false
            }
        );
        assert_eq!(
            t.unsubscribe(b"A", ()),
            Some(Unsubscribed {
                gone_for_subscriber: false,
                topic_gone: false
            })
        );
        assert!(t.has_match(b"AB"));
        assert_eq!(
            t.unsubscribe(b"A", ()),
            Some(Unsubscribed {
                gone_for_subscriber: true,
                topic_gone: true
            })
        );
        assert!(!t.has_match(b"AB"));
        assert_eq!(t.unsubscribe(b"A", ()), None);
        assert_eq!(t.node_count(), 1);
    }

    #[test]
    fn overlapping_prefixes_split_and_merge_edges() {
        let mut t = SubscriptionTrie::new();
        t.subscribe(b"ABCD", 1u8);
        t.subscribe(b"AB", 2);
        t.subscribe(b"ABXY", 3);
        assert_eq!(matched(&t, b"ABCDE"), [1, 2]);
        assert_eq!(matched(&t, b"ABXYZ"), [2, 3]);
        assert_eq!(matched(&t, b"ABC"), [2]);
        assert_eq!(matched(&t, b"A"), Vec::<u8>::new());
        t.unsubscribe(b"AB", 2);
        t.unsubscribe(b"ABXY", 3);
        // Back to a single "ABCD" edge under the root.
        assert_eq!(t.node_count(), 2);
        assert_eq!(matched(&t, b"ABCD"), [1]);
    }

    #[test]
    fn removing_a_subscriber_reports_the_topics_nobody_wants() {
        let mut t = SubscriptionTrie::new();
        t.subscribe(b"A", 1u8);
        t.subscribe(b"A", 1);
        t.subscribe(b"A", 2);
        t.subscribe(b"B", 1);
        let mut gone = Vec::new();
        t.remove_subscriber(1, |topic, topic_gone| {
            if topic_gone {
                gone.push(topic.to_vec())
            }
        });
        assert_eq!(gone, [b"B".to_vec()]);
        assert_eq!(matched(&t, b"A"), [2]);
        assert_eq!(t.len(), 1);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Sub(Vec<u8>, u8),
        Unsub(Vec<u8>, u8),
        Gone(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        // A small alphabet and short topics, so prefixes overlap often.
        let topic = proptest::collection::vec(0u8..3, 0..5);
        prop_oneof![
            4 => (topic.clone(), 0u8..4).prop_map(|(t, k)| Op::Sub(t, k)),
            3 => (topic, 0u8..4).prop_map(|(t, k)| Op::Unsub(t, k)),
            1 => (0u8..4).prop_map(Op::Gone),
        ]
    }

    proptest! {
        #[test]
        fn agrees_with_a_linear_scan(
            ops in proptest::collection::vec(op(), 0..60),
            probes in proptest::collection::vec(proptest::collection::vec(0u8..3, 0..6), 8),
        ) {
            let mut t = SubscriptionTrie::new();
            let mut model: HashMap<(Vec<u8>, u8), u32> = HashMap::new();
            for op in ops {
                match op {
                    Op::Sub(topic, k) => {
                        let s = t.subscribe(&topic, k);
                        let had_topic = model.keys().any(|(tp, _)| *tp == topic);
                        let c = model.entry((topic, k)).or_default();
                        prop_assert_eq!(s.new_for_subscriber, *c == 0);
                        prop_assert_eq!(s.new_topic, !had_topic);
                        *c += 1;
                    }
                    Op::Unsub(topic, k) => {
                        let u = t.unsubscribe(&topic, k);
                        match model.get_mut(&(topic.clone(), k)) {
                            None => prop_assert_eq!(u, None),
                            Some(c) => {
                                *c -= 1;
                                let gone = *c == 0;
                                if gone {
                                    model.remove(&(topic.clone(), k));
                                }
                                let u = u.expect("the model has it");
                                prop_assert_eq!(u.gone_for_subscriber, gone);
                                prop_assert_eq!(
                                    u.topic_gone,
                                    !model.keys().any(|(tp, _)| *tp == topic)
                                );
                            }
                        }
                    }
                    Op::Gone(k) => {
                        t.remove_subscriber(k, |_, _| {});
                        model.retain(|(_, key), _| *key != k);
                    }
                }
                prop_assert_eq!(t.len(), model.len());
                let topics: std::collections::HashSet<_> = model.keys().map(|(tp, _)| tp).collect();
                prop_assert_eq!(t.topic_count(), topics.len());
                prop_assert!(t.node_count() <= 2 * model.len() + 1);
            }
            for probe in probes {
                let mut expect: Vec<u8> = model
                    .keys()
                    .filter(|(tp, _)| probe.starts_with(tp))
                    .map(|&(_, k)| k)
                    .collect();
                expect.sort_unstable();
                prop_assert_eq!(matched(&t, &probe), expect.clone());
                prop_assert_eq!(t.has_match(&probe), !expect.is_empty());
            }
            for ((topic, k), c) in &model {
                prop_assert_eq!(t.count(topic, *k), *c);
            }
        }
    }
}
