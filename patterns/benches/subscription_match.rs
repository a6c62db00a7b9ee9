//! Matching a message's topic against the subscriptions: the radix tree
//! (`SubscriptionTrie`) against a linear scan, at 10, 1,000 and 100,000
//! subscriptions held by 8 subscribers.
//!
//! `cargo bench -p monocoque-patterns --bench subscription_match`
//!
//! Each iteration matches one message topic that one subscription prefixes
//! ("hit") or that none does ("miss"), reporting every matching subscriber,
//! as a PUB socket must once per message.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use monocoque_patterns::strategy::SubscriptionTrie;

const SUBSCRIBERS: u32 = 8;

/// Market-data style topics ("md.<venue>.<symbol>"), deterministic.
fn topics(n: usize) -> Vec<Vec<u8>> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|i| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            format!("md.{:02}.{:08x}", i % 40, (x >> 32) as u32).into_bytes()
        })
        .collect()
}

/// The baseline: every subscription compared with the topic.
struct LinearScan(Vec<(Vec<u8>, u32)>);

impl LinearScan {
    fn matches(&self, topic: &[u8], mut f: impl FnMut(&u32)) {
        for (prefix, k) in &self.0 {
            if topic.starts_with(prefix) {
                f(k);
            }
        }
    }
}

fn matching(c: &mut Criterion) {
    for n in [10usize, 1_000, 100_000] {
        let subs = topics(n);
        let mut trie = SubscriptionTrie::new();
        let mut scan = LinearScan(Vec::with_capacity(n));
        for (i, t) in subs.iter().enumerate() {
            let k = i as u32 % SUBSCRIBERS;
            trie.subscribe(t, k);
            scan.0.push((t.clone(), k));
        }
        let mut hit = subs[n / 2].clone();
        hit.extend_from_slice(b".trade");
        let miss = b"md.99.ffffffff.trade".to_vec();
        let mut g = c.benchmark_group(format!("match/{n}"));
        for (case, topic) in [("hit", &hit), ("miss", &miss)] {
            g.bench_function(format!("trie/{case}"), |b| {
                b.iter(|| {
                    let mut found = 0u32;
                    trie.matches(black_box(topic), |_| found += 1);
                    found
                })
            });
            g.bench_function(format!("linear/{case}"), |b| {
                b.iter(|| {
                    let mut found = 0u32;
                    scan.matches(black_box(topic), |_| found += 1);
                    found
                })
            });
        }
        g.finish();
    }
}

fn churn(c: &mut Criterion) {
    // Subscribe and cancel one topic in a tree of 100,000: what a subscriber
    // joining or leaving costs the publisher.
    let subs = topics(100_000);
    let mut trie = SubscriptionTrie::new();
    for (i, t) in subs.iter().enumerate() {
        trie.subscribe(t, i as u32 % SUBSCRIBERS);
    }
    let topic = b"md.07.0badcafe".to_vec();
    c.bench_function("churn/100000/subscribe+cancel", |b| {
        b.iter(|| {
            trie.subscribe(black_box(&topic), 99);
            trie.unsubscribe(black_box(&topic), 99)
        })
    });
    // A subscriber with 100 topics joins and leaves: removal visits its own
    // subscriptions, so this costs the same in a tree of any size.
    let own: Vec<Vec<u8>> = topics(100)
        .into_iter()
        .map(|mut t| {
            t.extend_from_slice(b".own");
            t
        })
        .collect();
    c.bench_function("churn/100000/peer-with-100-topics-joins-and-leaves", |b| {
        b.iter(|| {
            for t in &own {
                trie.subscribe(black_box(t), 99);
            }
            let mut gone = 0u32;
            trie.remove_subscriber(99, |_, topic_gone| gone += topic_gone as u32);
            gone
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = matching, churn
}
criterion_main!(benches);
