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
//!
//! Peers choose the shape of the tree (nested topics "a", "aa", "aaa"... make
//! it as deep as they like), so nothing here recurses: every walk is a loop,
//! with an explicit stack on the heap where it needs one. Each subscriber's
//! subscriptions are indexed (node and position there), so removing a
//! subscriber that left visits its own subscriptions only, not the tree, and
//! a node's subscriber list is never searched. A node holding a subscription
//! keeps its index in the arena for as long as it does (splits add a node
//! above it; merges fold a subscriber-less node into its only child), which
//! is what keeps that index valid.

use std::hash::Hash;

use rustc_hash::{FxHashMap, FxHashSet};

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

/// What one subscriber holds ([`SubscriptionTrie::holding`]): what a
/// publisher caps per peer (MAX_SUBSCRIPTIONS, MAX_SUBSCRIPTION_BYTES).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Holding {
    /// Distinct topics (a topic subscribed several times counts once).
    pub topics: usize,
    /// The topics' lengths summed, each distinct topic once.
    pub bytes: usize,
}

#[derive(Debug, Clone)]
struct Node<K> {
    /// The bytes on the edge from the parent (empty only at the root).
    label: Vec<u8>,
    /// The node above (the root's is itself): removal climbs from a
    /// subscriber's node to prune without a search (and `check_invariants`
    /// rebuilds topics from it).
    parent: u32,
    /// Children sorted by the first byte of their label (distinct by it).
    children: Vec<(u8, u32)>,
    /// Subscribers whose topic ends here, with their counts (never 0).
    subscribers: Vec<(K, u32)>,
}

impl<K> Node<K> {
    fn new(label: Vec<u8>, parent: u32) -> Self {
        Node {
            label,
            parent,
            children: Vec::new(),
            subscribers: Vec::new(),
        }
    }
}

/// One subscriber's index: where each of its subscriptions is.
#[derive(Debug, Clone, Default)]
struct Held {
    /// Node -> position of this subscriber's entry in the node's
    /// `subscribers`.
    at: FxHashMap<u32, u32>,
    /// The topics' lengths summed.
    bytes: usize,
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
    /// Each subscriber's subscriptions (only subscribers holding some).
    held: FxHashMap<K, Held>,
    /// Distinct (topic, subscriber) pairs.
    entries: usize,
    /// Distinct topics with at least one subscriber.
    topics: usize,
}

impl<K: Copy + Eq + Hash> Default for SubscriptionTrie<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Copy + Eq + Hash> SubscriptionTrie<K> {
    /// No subscriptions.
    pub fn new() -> Self {
        SubscriptionTrie {
            nodes: vec![Node::new(Vec::new(), ROOT)],
            free: Vec::new(),
            held: FxHashMap::default(),
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

    /// What `key` holds: its distinct topics and their bytes (zero for a
    /// subscriber with no subscription).
    pub fn holding(&self, key: K) -> Holding {
        self.held.get(&key).map_or(Holding::default(), |h| Holding {
            topics: h.at.len(),
            bytes: h.bytes,
        })
    }

    fn alloc(&mut self, label: Vec<u8>, parent: u32) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = Node::new(label, parent);
                i
            }
            None => {
                self.nodes.push(Node::new(label, parent));
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
        let node = self.insert_path(topic);
        let subs = &mut self.nodes[node as usize].subscribers;
        let new_topic = subs.is_empty();
        let held = self.held.entry(key).or_default();
        if let Some(&i) = held.at.get(&node) {
            let count = &mut subs[i as usize].1;
            // Saturating: four billion counts of one topic are as good as
            // infinitely many, and an application's subscribe calls must not
            // be able to panic the socket.
            *count = count.saturating_add(1);
            return Subscribed {
                new_for_subscriber: false,
                new_topic: false,
            };
        }
        held.at.insert(node, subs.len() as u32);
        held.bytes += topic.len();
        subs.push((key, 1));
        self.entries += 1;
        if new_topic {
            self.topics += 1;
        }
        Subscribed {
            new_for_subscriber: true,
            new_topic,
        }
    }

    /// The node where `topic` ends, made if needed (splitting an edge that
    /// diverges from it midway).
    fn insert_path(&mut self, topic: &[u8]) -> u32 {
        let mut node = ROOT;
        let mut rest = topic;
        while let Some(&first) = rest.first() {
            match self.child_slot(node, first) {
                Err(at) => {
                    let leaf = self.alloc(rest.to_vec(), node);
                    self.nodes[node as usize].children.insert(at, (first, leaf));
                    return leaf;
                }
                Ok(at) => {
                    let child = self.nodes[node as usize].children[at].1;
                    let label = &self.nodes[child as usize].label;
                    let common = common_prefix(label, rest);
                    if common < label.len() {
                        // Split the edge: a new node for the shared part, above
                        // the child (which keeps its index and subscribers).
                        let shared = label[..common].to_vec();
                        let mid = self.alloc(shared, node);
                        let c = &mut self.nodes[child as usize];
                        let tail_first = c.label[common];
                        c.label.drain(..common);
                        c.parent = mid;
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
        node
    }

    /// The node where `topic` ends exactly, if there is one.
    fn find(&self, topic: &[u8]) -> Option<u32> {
        let mut node = ROOT;
        let mut rest = topic;
        while let Some(&first) = rest.first() {
            let child = self.child(node, first)?;
            let label = &self.nodes[child as usize].label;
            if !rest.starts_with(label) {
                return None;
            }
            rest = &rest[label.len()..];
            node = child;
        }
        Some(node)
    }

    /// The number of times `key` is subscribed to exactly `topic`.
    pub fn count(&self, topic: &[u8], key: K) -> u32 {
        let Some(node) = self.find(topic) else {
            return 0;
        };
        self.held
            .get(&key)
            .and_then(|h| h.at.get(&node))
            .map_or(0, |&i| self.nodes[node as usize].subscribers[i as usize].1)
    }

    /// Removes one count of `key`'s subscription to `topic`; `None` if it had
    /// none (nothing changes).
    pub fn unsubscribe(&mut self, topic: &[u8], key: K) -> Option<Unsubscribed> {
        let node = self.find(topic)?;
        let held = self.held.get_mut(&key)?;
        let &i = held.at.get(&node)?;
        let count = &mut self.nodes[node as usize].subscribers[i as usize].1;
        *count -= 1;
        if *count > 0 {
            return Some(Unsubscribed {
                gone_for_subscriber: false,
                topic_gone: false,
            });
        }
        held.at.remove(&node);
        held.bytes -= topic.len();
        if held.at.is_empty() {
            // A departed peer's key must not stay behind, or churn would grow it.
            self.held.remove(&key);
        }
        let topic_gone = self.drop_entry(node, i);
        Some(Unsubscribed {
            gone_for_subscriber: true,
            topic_gone,
        })
    }

    /// Removes the entry at position `i` of `node`'s subscribers (already
    /// gone from its subscriber's index); returns whether the topic is gone.
    fn drop_entry(&mut self, node: u32, i: u32) -> bool {
        let subs = &mut self.nodes[node as usize].subscribers;
        subs.swap_remove(i as usize);
        if let Some(&(moved, _)) = subs.get(i as usize) {
            // The last entry took the freed place: its subscriber's index
            // follows it there.
            let at = self
                .held
                .get_mut(&moved)
                .and_then(|h| h.at.get_mut(&node))
                .expect("every subscriber entry is indexed");
            *at = i;
        }
        self.entries -= 1;
        let topic_gone = subs.is_empty();
        if topic_gone {
            self.topics -= 1;
            self.prune(node);
        }
        topic_gone
    }

    /// Restores the shape after `node` lost its last subscriber: a node with
    /// no subscribers and no children goes (and so, in turn, may its parent);
    /// one with a single child is folded into it.
    fn prune(&mut self, node: u32) {
        let mut node = node;
        while node != ROOT {
            let n = &self.nodes[node as usize];
            if !n.subscribers.is_empty() {
                return;
            }
            match n.children.len() {
                0 => {
                    let parent = n.parent;
                    let at = self
                        .child_slot(parent, n.label[0])
                        .expect("a node is its parent's child");
                    self.nodes[parent as usize].children.remove(at);
                    self.release(node);
                    node = parent;
                }
                1 => {
                    self.merge_into_only_child(node);
                    return;
                }
                _ => return,
            }
        }
    }

    /// Folds `node` (no subscribers, one child) into its child: the child's
    /// label gains `node`'s in front and it takes `node`'s place under the
    /// parent. The child keeps its index, so the subscriber indexes pointing
    /// at it stay valid.
    fn merge_into_only_child(&mut self, node: u32) {
        let child = self.nodes[node as usize].children[0].1;
        let parent = self.nodes[node as usize].parent;
        let mut label = std::mem::take(&mut self.nodes[node as usize].label);
        let first = label[0];
        label.extend_from_slice(&self.nodes[child as usize].label);
        let c = &mut self.nodes[child as usize];
        c.label = label;
        c.parent = parent;
        let at = self
            .child_slot(parent, first)
            .expect("a node is its parent's child");
        self.nodes[parent as usize].children[at].1 = child;
        self.release(node);
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
    /// again after a reconnect, or to a new upstream peer), in topic order.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &K, u32)) {
        let mut topic = Vec::new();
        for (k, c) in &self.nodes[ROOT as usize].subscribers {
            f(&topic, k, *c);
        }
        // Depth first, the path from the root on a heap stack as (node, next
        // child to visit): a tree as deep as a peer makes it costs memory in
        // proportion, never the thread's stack.
        let mut stack: Vec<(u32, usize)> = vec![(ROOT, 0)];
        while let Some(top) = stack.last_mut() {
            let (node, next) = *top;
            let n = &self.nodes[node as usize];
            match n.children.get(next) {
                Some(&(_, child)) => {
                    top.1 += 1;
                    let c = &self.nodes[child as usize];
                    topic.extend_from_slice(&c.label);
                    for (k, count) in &c.subscribers {
                        f(&topic, k, *count);
                    }
                    stack.push((child, 0));
                }
                None => {
                    topic.truncate(topic.len() - n.label.len());
                    stack.pop();
                }
            }
        }
    }

    /// Drops every subscription of `key` (a peer that left), calling
    /// `removed(topic, topic_gone)` once for each topic it had, in topic
    /// order, with whether nobody is subscribed to that topic any more.
    /// Costs in proportion to `key`'s own subscriptions (the nodes on the
    /// paths to them), not to the tree.
    pub fn remove_subscriber(&mut self, key: K, removed: impl FnMut(&[u8], bool)) {
        let Some(held) = self.held.remove(&key) else {
            return;
        };
        // Report first, while the tree is intact: a topic goes with `key`
        // when `key` is its only subscriber.
        self.report_held(&held, removed);
        // `key` has one entry per node, and only its entries are removed
        // here: its positions at the nodes not yet visited do not move, and
        // pruning only removes or folds nodes nobody is subscribed at.
        for (node, i) in held.at {
            self.drop_entry(node, i);
        }
    }

    /// Calls `removed(topic, only_subscriber)` for each node of `held`,
    /// walking only the part of the tree above them: each node on a path to
    /// one is visited once, so a subscriber's nested topics ("a", "aa",
    /// "aaa"...) cost their deepest topic's length, not the sum of all.
    fn report_held(&self, held: &Held, mut removed: impl FnMut(&[u8], bool)) {
        // The union of the paths from the root, as child lists, built by
        // climbing from each node until a node already linked to its parent.
        let mut below: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
        let mut linked: FxHashSet<u32> = FxHashSet::default();
        for &node in held.at.keys() {
            let mut n = node;
            while n != ROOT && linked.insert(n) {
                let parent = self.nodes[n as usize].parent;
                below.entry(parent).or_default().push(n);
                n = parent;
            }
        }
        for kids in below.values_mut() {
            kids.sort_unstable_by_key(|&c| self.nodes[c as usize].label[0]);
        }
        let only = |node: u32| self.nodes[node as usize].subscribers.len() == 1;
        let mut topic = Vec::new();
        if held.at.contains_key(&ROOT) {
            removed(&topic, only(ROOT));
        }
        // Depth first over that part, the path on a heap stack (as for_each).
        let mut stack: Vec<(u32, usize)> = vec![(ROOT, 0)];
        while let Some(top) = stack.last_mut() {
            let (node, next) = *top;
            match below.get(&node).and_then(|kids| kids.get(next)) {
                Some(&child) => {
                    top.1 += 1;
                    topic.extend_from_slice(&self.nodes[child as usize].label);
                    if held.at.contains_key(&child) {
                        removed(&topic, only(child));
                    }
                    stack.push((child, 0));
                }
                None => {
                    topic.truncate(topic.len() - self.nodes[node as usize].label.len());
                    stack.pop();
                }
            }
        }
    }

    /// The topic ending at `node`, into `topic`, climbing the parents
    /// (`path` is scratch space).
    fn topic_of(&self, node: u32, path: &mut Vec<u32>, topic: &mut Vec<u8>) {
        path.clear();
        let mut n = node;
        while n != ROOT {
            path.push(n);
            n = self.nodes[n as usize].parent;
        }
        topic.clear();
        for &n in path.iter().rev() {
            topic.extend_from_slice(&self.nodes[n as usize].label);
        }
    }

    /// Nodes in use (for tests and memory accounting): at most two per
    /// (topic, subscriber) pair, plus the root.
    pub fn node_count(&self) -> usize {
        self.nodes.len() - self.free.len()
    }

    /// Checks the tree's internal invariants (for tests and fuzzing; costs a
    /// pass over the whole tree): parent and child links agree, children are
    /// sorted by distinct first bytes, only the root has an empty label, no
    /// node is left without a reason to exist, and the subscriber indexes and
    /// counters match the nodes. Returns the first violation found.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut entries = 0;
        let mut topics = 0;
        let mut seen = 0usize;
        let mut stack = vec![ROOT];
        let (mut path, mut topic) = (Vec::new(), Vec::new());
        while let Some(node) = stack.pop() {
            seen += 1;
            let n = &self.nodes[node as usize];
            if node != ROOT {
                if n.label.is_empty() {
                    return Err(format!("node {node} has an empty label"));
                }
                if n.subscribers.is_empty() && n.children.len() < 2 {
                    return Err(format!(
                        "node {node} has no subscriber and {} children",
                        n.children.len()
                    ));
                }
            }
            if n.children.windows(2).any(|w| w[0].0 >= w[1].0) {
                return Err(format!("node {node}'s children are not sorted"));
            }
            for &(b, c) in &n.children {
                let child = &self.nodes[c as usize];
                if child.parent != node || child.label.first() != Some(&b) {
                    return Err(format!("node {c} is not linked to its parent {node}"));
                }
                stack.push(c);
            }
            if !n.subscribers.is_empty() {
                topics += 1;
            }
            for (i, &(k, count)) in n.subscribers.iter().enumerate() {
                entries += 1;
                if count == 0 {
                    return Err(format!("node {node} holds a zero count"));
                }
                if self.held.get(&k).and_then(|h| h.at.get(&node)) != Some(&(i as u32)) {
                    return Err(format!("node {node}'s entry {i} is not indexed"));
                }
            }
        }
        if seen != self.node_count() {
            return Err(format!(
                "{seen} nodes reachable, {} in use",
                self.node_count()
            ));
        }
        let indexed: usize = self.held.values().map(|h| h.at.len()).sum();
        if (entries, topics, indexed) != (self.entries, self.topics, self.entries) {
            return Err(format!(
                "counted {entries} entries, {topics} topics, {indexed} indexed; \
                 recorded {} and {}",
                self.entries, self.topics
            ));
        }
        for h in self.held.values() {
            if h.at.is_empty() {
                return Err("a subscriber with nothing is still indexed".into());
            }
            let mut bytes = 0;
            for &node in h.at.keys() {
                self.topic_of(node, &mut path, &mut topic);
                bytes += topic.len();
            }
            if bytes != h.bytes {
                return Err(format!("{bytes} topic bytes held, {} recorded", h.bytes));
            }
        }
        Ok(())
    }
}

/// How many leading bytes `label` and `rest` share. The usual cases (the
/// whole label, or all of `rest`) take one comparison; only a real
/// divergence is searched byte by byte.
fn common_prefix(label: &[u8], rest: &[u8]) -> usize {
    let n = label.len().min(rest.len());
    if label[..n] == rest[..n] {
        return n;
    }
    label.iter().zip(rest).take_while(|(a, b)| a == b).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeSet, HashMap};

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
            t.holding(()),
            Holding {
                topics: 1,
                bytes: 1
            },
            "a topic held twice counts once"
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
        assert_eq!(t.holding(()), Holding::default());
        t.check_invariants().unwrap();
    }

    #[test]
    fn overlapping_prefixes_split_and_merge_edges() {
        let mut t = SubscriptionTrie::new();
        t.subscribe(b"ABCD", 1u8);
        t.subscribe(b"AB", 2);
        t.subscribe(b"ABXY", 3);
        t.check_invariants().unwrap();
        assert_eq!(matched(&t, b"ABCDE"), [1, 2]);
        assert_eq!(matched(&t, b"ABXYZ"), [2, 3]);
        assert_eq!(matched(&t, b"ABC"), [2]);
        assert_eq!(matched(&t, b"A"), Vec::<u8>::new());
        t.unsubscribe(b"AB", 2);
        t.unsubscribe(b"ABXY", 3);
        // Back to a single "ABCD" edge under the root.
        assert_eq!(t.node_count(), 2);
        assert_eq!(matched(&t, b"ABCD"), [1]);
        t.check_invariants().unwrap();
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
        t.check_invariants().unwrap();
    }

    #[test]
    fn a_departing_subscriber_leaves_the_others_positions_right() {
        // Several subscribers at one node: removing one moves another's entry
        // into its place, and that one's later cancel must still find it.
        let mut t = SubscriptionTrie::new();
        for k in 0..5u8 {
            t.subscribe(b"T", k);
        }
        t.remove_subscriber(0, |_, _| {});
        t.check_invariants().unwrap();
        assert_eq!(t.unsubscribe(b"T", 4).map(|u| u.topic_gone), Some(false));
        assert_eq!(matched(&t, b"T"), [1, 2, 3]);
        t.check_invariants().unwrap();
    }

    /// Runs `f` on a thread whose stack a recursion as deep as the trees the
    /// tests build would overflow.
    fn on_a_small_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(f)
            .expect("thread")
            .join()
            .expect("no stack overflow, no panic");
    }

    /// The nested topics a hostile peer sends: "a", "aa", "aaa"... one node
    /// per level.
    const DEPTH: usize = 20_000;

    #[test]
    fn nested_topics_20000_deep_need_no_stack() {
        on_a_small_stack(|| {
            let deep = vec![b'a'; DEPTH];
            let mut t = SubscriptionTrie::new();
            // Longest first: the same tree as "a", "aa"... in that order (a
            // node per level, each split off the one above), without walking
            // down the whole chain for each topic in an unoptimised build.
            for d in (1..=DEPTH).rev() {
                t.subscribe(&deep[..d], 1u8);
            }
            assert_eq!(t.node_count(), DEPTH + 1, "one node per level");
            t.subscribe(b"b", 2u8);
            t.subscribe(&deep[..DEPTH / 2], 2u8);
            assert_eq!(t.topic_count(), DEPTH + 1);
            assert_eq!(
                t.holding(1),
                Holding {
                    topics: DEPTH,
                    bytes: DEPTH * (DEPTH + 1) / 2
                }
            );

            let (mut n, mut longest) = (0, 0);
            t.for_each(|topic, _, _| {
                n += 1;
                longest = longest.max(topic.len());
            });
            assert_eq!((n, longest), (DEPTH + 2, DEPTH));
            let mut hits = 0;
            t.matches(&deep, |_| hits += 1);
            assert_eq!(hits, DEPTH + 1);
            assert!(t.has_match(&deep));
            assert_eq!(t.count(&deep, 1), 1);

            // Cloning and dropping a deep tree does not recurse either.
            let mut copy = t.clone();
            // Cancel one by one, from the top: every cancel folds a node
            // into its child, the longest label growing each time.
            for d in 1..=DEPTH {
                assert!(copy.unsubscribe(&deep[..d], 1u8).is_some());
            }
            assert_eq!(copy.topic_count(), 2);
            copy.check_invariants().unwrap();
            drop(copy);

            let mut gone = 0;
            let mut reported = 0;
            t.remove_subscriber(1, |topic, topic_gone| {
                reported += 1;
                assert!(topic.iter().all(|&b| b == b'a'));
                if topic_gone {
                    gone += 1;
                } else {
                    assert_eq!(topic.len(), DEPTH / 2, "peer 2 still has that one");
                }
            });
            assert_eq!((reported, gone), (DEPTH, DEPTH - 1));
            assert_eq!(t.holding(1), Holding::default());
            assert_eq!(t.topic_count(), 2);
            assert_eq!(t.node_count(), 3);
            assert!(t.has_match(&deep));
            assert!(!t.has_match(&deep[..DEPTH / 2 - 1]));
            t.check_invariants().unwrap();
        });
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
                        let mut reported = Vec::new();
                        t.remove_subscriber(k, |topic, gone| reported.push((topic.to_vec(), gone)));
                        reported.sort();
                        let mine: BTreeSet<Vec<u8>> = model
                            .keys()
                            .filter(|(_, key)| *key == k)
                            .map(|(tp, _)| tp.clone())
                            .collect();
                        model.retain(|(_, key), _| *key != k);
                        // Model: each topic k had, reported once, gone when
                        // nobody else has it.
                        let expect: Vec<(Vec<u8>, bool)> = mine
                            .into_iter()
                            .map(|tp| {
                                let gone = !model.keys().any(|(other, _)| *other == tp);
                                (tp, gone)
                            })
                            .collect();
                        prop_assert_eq!(&reported, &expect);
                        prop_assert_eq!(t.holding(k), Holding::default());
                    }
                }
                if let Err(e) = t.check_invariants() {
                    prop_assert!(false, "{}", e);
                }
                prop_assert_eq!(t.len(), model.len());
                let topics: BTreeSet<_> = model.keys().map(|(tp, _)| tp).collect();
                prop_assert_eq!(t.topic_count(), topics.len());
                prop_assert!(t.node_count() <= 2 * model.len() + 1);
                for k in 0..4u8 {
                    let mine: Vec<_> = model.keys().filter(|(_, key)| *key == k).collect();
                    prop_assert_eq!(
                        t.holding(k),
                        Holding {
                            topics: mine.len(),
                            bytes: mine.iter().map(|(tp, _)| tp.len()).sum(),
                        }
                    );
                }
            }
            let mut walked = Vec::new();
            t.for_each(|topic, &k, c| walked.push((topic.to_vec(), k, c)));
            prop_assert!(walked.windows(2).all(|w| w[0].0 <= w[1].0), "topic order");
            walked.sort();
            let mut expect: Vec<_> = model.iter().map(|((tp, k), &c)| (tp.clone(), *k, c)).collect();
            expect.sort();
            prop_assert_eq!(walked, expect);
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
