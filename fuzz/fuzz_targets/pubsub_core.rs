//! The publish/subscribe core without IO: sequences of SUBSCRIBE, CANCEL,
//! published messages and departing peers from several peers against the
//! subscription tree (`SubscriptionTrie`, counted) and a publisher's state
//! (`PublisherState`: per-peer sets, XPUB_VERBOSE/VERBOSER/MANUAL, the
//! MAX_SUBSCRIPTIONS and MAX_SUBSCRIPTION_BYTES caps), each checked after
//! every step against a plain model (maps and a linear scan), and the tree's
//! own invariants. Any disagreement or panic is a finding.
//!
//! Input: the first byte configures the publisher (flags and caps); then
//! each operation is an opcode byte followed by its operands (peer, topic
//! length and bytes over a three-letter alphabet, so prefixes overlap).
#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use libfuzzer_sys::fuzz_target;
use monocoque_patterns::strategy::{Holding, OverLimit, PublisherState, SubscriptionTrie};

/// Reads operands from the input; runs dry as zeros (then the loop stops).
struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }

    fn peer(&mut self) -> Option<u8> {
        Some(self.byte()? % 4)
    }

    /// A topic of 0 to 7 bytes from "abc".
    fn topic(&mut self) -> Option<Vec<u8>> {
        let len = self.byte()? % 8;
        (0..len)
            .map(|_| self.byte().map(|b| b"abc"[b as usize % 3]))
            .collect()
    }
}

/// The counted tree's model: (topic, peer) -> count.
type TrieModel = BTreeMap<(Vec<u8>, u8), u32>;

/// The publisher's model: each peer's topics (what matching uses) and, under
/// XPUB_MANUAL, what each peer asked for.
#[derive(Default)]
struct PubModel {
    subscriptions: BTreeMap<u8, BTreeSet<Vec<u8>>>,
    requested: BTreeMap<u8, BTreeSet<Vec<u8>>>,
}

fn anyone_has(sets: &BTreeMap<u8, BTreeSet<Vec<u8>>>, topic: &[u8]) -> bool {
    sets.values().any(|s| s.contains(topic))
}

fn holding_of(sets: &BTreeMap<u8, BTreeSet<Vec<u8>>>, peer: u8) -> Holding {
    sets.get(&peer).map_or(Holding::default(), |s| Holding {
        topics: s.len(),
        bytes: s.iter().map(Vec::len).sum(),
    })
}

fn check_trie(t: &SubscriptionTrie<u8>, model: &TrieModel) {
    if let Err(e) = t.check_invariants() {
        panic!("tree invariant: {e}");
    }
    assert_eq!(t.len(), model.len());
    let topics: BTreeSet<_> = model.keys().map(|(tp, _)| tp).collect();
    assert_eq!(t.topic_count(), topics.len());
    assert!(t.node_count() <= 2 * model.len() + 1);
    for peer in 0..4u8 {
        let mine: Vec<_> = model.keys().filter(|(_, k)| *k == peer).collect();
        assert_eq!(
            t.holding(peer),
            Holding {
                topics: mine.len(),
                bytes: mine.iter().map(|(tp, _)| tp.len()).sum()
            }
        );
    }
}

fn check_publisher(p: &PublisherState<u8>, model: &PubModel) {
    let all: BTreeSet<&Vec<u8>> = model.subscriptions.values().flatten().collect();
    assert_eq!(p.topic_count(), all.len());
    assert_eq!(
        p.len(),
        model
            .subscriptions
            .values()
            .map(BTreeSet::len)
            .sum::<usize>()
    );
    let capped = if p.manual {
        &model.requested
    } else {
        &model.subscriptions
    };
    for peer in 0..4u8 {
        assert_eq!(p.holding(peer), holding_of(capped, peer));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&config, ops)) = data.split_first() else {
        return;
    };
    let mut input = Input { data: ops };

    let mut trie = SubscriptionTrie::<u8>::new();
    let mut trie_model = TrieModel::new();

    let mut publisher = PublisherState::<u8>::default();
    publisher.manual = config & 1 != 0;
    publisher.verbose_subs = config & 2 != 0;
    publisher.verbose_unsubs = publisher.verbose_subs && config & 4 != 0;
    publisher.max_subscriptions = (config & 8 != 0).then_some(1 + (config as usize >> 5));
    publisher.max_subscription_bytes = (config & 16 != 0).then_some(4 * (config as usize >> 5));
    let mut pub_model = PubModel::default();

    while let Some(op) = input.byte() {
        match op % 11 {
            // The counted tree.
            0 => {
                let (Some(peer), Some(topic)) = (input.peer(), input.topic()) else {
                    break;
                };
                let s = trie.subscribe(&topic, peer);
                let had_topic = trie_model.keys().any(|(tp, _)| *tp == topic);
                let c = trie_model.entry((topic, peer)).or_default();
                assert_eq!(s.new_for_subscriber, *c == 0);
                assert_eq!(s.new_topic, !had_topic);
                *c += 1;
            }
            1 => {
                let (Some(peer), Some(topic)) = (input.peer(), input.topic()) else {
                    break;
                };
                let u = trie.unsubscribe(&topic, peer);
                let key = (topic.clone(), peer);
                match trie_model.get_mut(&key) {
                    None => assert_eq!(u, None),
                    Some(c) => {
                        *c -= 1;
                        let gone = *c == 0;
                        if gone {
                            trie_model.remove(&key);
                        }
                        let u = u.expect("the model has it");
                        assert_eq!(u.gone_for_subscriber, gone);
                        assert_eq!(u.topic_gone, !trie_model.keys().any(|(tp, _)| *tp == topic));
                    }
                }
            }
            2 => {
                let Some(peer) = input.peer() else { break };
                let mut reported = Vec::new();
                trie.remove_subscriber(peer, |topic, gone| reported.push((topic.to_vec(), gone)));
                let mine: Vec<Vec<u8>> = trie_model
                    .keys()
                    .filter(|(_, k)| *k == peer)
                    .map(|(tp, _)| tp.clone())
                    .collect();
                trie_model.retain(|(_, k), _| *k != peer);
                let expect: Vec<(Vec<u8>, bool)> = mine
                    .into_iter()
                    .map(|tp| {
                        let gone = !trie_model.keys().any(|(other, _)| *other == tp);
                        (tp, gone)
                    })
                    .collect();
                // Reported in topic order, as the model's keys are.
                assert_eq!(reported, expect);
            }
            3 => {
                let Some(topic) = input.topic() else { break };
                let mut got = Vec::new();
                trie.matches(&topic, |&k| got.push(k));
                got.sort_unstable();
                let mut expect: Vec<u8> = trie_model
                    .keys()
                    .filter(|(tp, _)| topic.starts_with(tp))
                    .map(|&(_, k)| k)
                    .collect();
                expect.sort_unstable();
                assert_eq!(got, expect);
                assert_eq!(trie.has_match(&topic), !expect.is_empty());
                let mut walked = Vec::new();
                trie.for_each(|tp, &k, c| walked.push(((tp.to_vec(), k), c)));
                let model: Vec<_> = trie_model
                    .iter()
                    .map(|(key, &c)| (key.clone(), c))
                    .collect();
                walked.sort();
                assert_eq!(walked, model);
            }
            4 => {
                // Nested topics "a", "aa", ... up to 255 deep, by one peer:
                // the shape a hostile subscriber builds.
                let (Some(peer), Some(depth)) = (input.peer(), input.byte()) else {
                    break;
                };
                let deep = vec![b'a'; depth as usize];
                for d in 1..=depth as usize {
                    trie.subscribe(&deep[..d], peer);
                    *trie_model.entry((deep[..d].to_vec(), peer)).or_default() += 1;
                }
            }
            // The publisher's state.
            5 | 6 => {
                let (Some(peer), Some(topic)) = (input.peer(), input.topic()) else {
                    break;
                };
                let subscribe = op % 11 == 5;
                let result = publisher.on_request(peer, subscribe, &topic);
                let m = &mut pub_model;
                let (sets, manual) = if publisher.manual {
                    (&mut m.requested, true)
                } else {
                    (&mut m.subscriptions, false)
                };
                let had = sets.get(&peer).is_some_and(|s| s.contains(&topic));
                let expect: Result<bool, OverLimit> = if subscribe && !had {
                    let h = holding_of(sets, peer);
                    if let Some(limit) = publisher.max_subscriptions.filter(|&l| h.topics >= l) {
                        Err(OverLimit::Subscriptions { limit })
                    } else if let Some(limit) = publisher
                        .max_subscription_bytes
                        .filter(|&l| h.bytes + topic.len() > l)
                    {
                        Err(OverLimit::Bytes {
                            limit,
                            held: h.bytes,
                            topic: topic.len(),
                        })
                    } else {
                        let new_topic = !anyone_has(sets, &topic);
                        sets.entry(peer).or_default().insert(topic.clone());
                        Ok(manual || new_topic || publisher.verbose_subs)
                    }
                } else if subscribe {
                    Ok(manual || publisher.verbose_subs)
                } else if had {
                    sets.get_mut(&peer).unwrap().remove(&topic);
                    Ok(manual || !anyone_has(sets, &topic) || publisher.verbose_unsubs)
                } else {
                    Ok(manual)
                };
                assert_eq!(result, expect);
            }
            7 => {
                // XPUB_MANUAL: the user applies a subscription (no caps).
                if !publisher.manual {
                    continue;
                }
                let (Some(peer), Some(sub), Some(topic)) =
                    (input.peer(), input.byte(), input.topic())
                else {
                    break;
                };
                let subscribe = sub & 1 == 1;
                publisher.apply_manually(peer, subscribe, &topic);
                let set = pub_model.subscriptions.entry(peer).or_default();
                if subscribe {
                    set.insert(topic);
                } else {
                    set.remove(&topic);
                }
            }
            8 => {
                let Some(peer) = input.peer() else { break };
                let mut heard = Vec::new();
                publisher.peer_gone(peer, |t| heard.push(t.to_vec()));
                heard.sort();
                let m = &mut pub_model;
                let mine = m.subscriptions.remove(&peer).unwrap_or_default();
                let asked = m.requested.remove(&peer).unwrap_or_default();
                let mut expect: Vec<Vec<u8>> = if publisher.manual {
                    asked.into_iter().collect()
                } else {
                    mine.into_iter()
                        .filter(|t| publisher.verbose_unsubs || !anyone_has(&m.subscriptions, t))
                        .collect()
                };
                expect.sort();
                assert_eq!(heard, expect);
            }
            9 => {
                // A published message: its targets, each once, in order.
                let Some(topic) = input.topic() else { break };
                let mut targets = Vec::new();
                publisher.targets(&topic, &mut targets);
                let expect: Vec<u8> = pub_model
                    .subscriptions
                    .iter()
                    .filter(|(_, set)| set.iter().any(|t| topic.starts_with(t)))
                    .map(|(&peer, _)| peer)
                    .collect();
                assert_eq!(targets, expect);
            }
            _ => {
                // Caps changed on the fly, as set_option does: they apply
                // from each peer's next subscribe.
                let Some(b) = input.byte() else { break };
                publisher.max_subscriptions = (b & 1 != 0).then_some(1 + (b as usize >> 4));
                publisher.max_subscription_bytes = (b & 2 != 0).then_some(b as usize >> 2);
            }
        }
        check_trie(&trie, &trie_model);
        check_publisher(&publisher, &pub_model);
    }
});
