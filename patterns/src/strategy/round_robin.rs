//! The rotation shared by the load balancer and the fair queue: peers in attach
//! order, each eligible or not, and a cursor that moves past the peer it returned.
//!
//! A box has thousands of peers on one socket (10,000 idle clients on a queue,
//! one busy one), so no operation may walk them all: the peers sit in a vector
//! in attach order, a map finds a peer's slot, and an ordered set of the
//! eligible slots gives the next one after the cursor in O(log n). A detached
//! peer leaves an empty slot, and the vector is compacted once empty slots
//! outnumber peers, so detaching is amortised O(log n) too. (The first version
//! scanned the vector on every call; with 10,000 idle peers each message cost
//! a scan, and a served client's round trip grew by about 35 us.)

use std::collections::BTreeSet;

use rustc_hash::FxHashMap;

use crate::PeerId;

/// Peers with an eligibility flag, visited in turn.
#[derive(Debug, Default, Clone)]
pub(crate) struct RoundRobin {
    /// Attach order; `None` where a peer was detached (until compaction).
    /// The last slot, if any, always holds a peer.
    slots: Vec<Option<PeerId>>,
    /// Where each attached peer sits in `slots`.
    index: FxHashMap<PeerId, usize>,
    /// The slots of the eligible peers.
    eligible: BTreeSet<usize>,
    /// Where the search for the next peer starts: the slot after the last
    /// one returned, or 0 once the rotation has gone past the last peer.
    cursor: usize,
}

impl RoundRobin {
    /// Adds `peer` at the end of the rotation (nothing if it is already in).
    pub(crate) fn attach(&mut self, peer: PeerId, eligible: bool) {
        if self.index.contains_key(&peer) {
            return;
        }
        let slot = self.slots.len();
        self.slots.push(Some(peer));
        self.index.insert(peer, slot);
        if eligible {
            self.eligible.insert(slot);
        }
    }

    /// Removes `peer`; the rotation goes on from where it was.
    pub(crate) fn detach(&mut self, peer: PeerId) {
        let Some(slot) = self.index.remove(&peer) else {
            return;
        };
        self.slots[slot] = None;
        self.eligible.remove(&slot);
        while self.slots.last() == Some(&None) {
            self.slots.pop();
        }
        if self.cursor >= self.slots.len() {
            self.cursor = 0;
        }
        if self.slots.len() > 2 * self.index.len() + 16 {
            self.compact();
        }
    }

    /// Marks `peer` as eligible or not.
    pub(crate) fn set_eligible(&mut self, peer: PeerId, eligible: bool) {
        if let Some(&slot) = self.index.get(&peer) {
            if eligible {
                self.eligible.insert(slot);
            } else {
                self.eligible.remove(&slot);
            }
        }
    }

    /// The next eligible peer after the last one returned.
    pub(crate) fn next(&mut self) -> Option<PeerId> {
        let slot = *self
            .eligible
            .range(self.cursor..)
            .next()
            .or_else(|| self.eligible.first())?;
        // Past the last peer the rotation starts again at the first, so a
        // peer attached now waits for its turn after those already there.
        self.cursor = if slot + 1 >= self.slots.len() {
            0
        } else {
            slot + 1
        };
        self.slots[slot]
    }

    /// Peers attached.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Peers eligible.
    pub(crate) fn eligible(&self) -> usize {
        self.eligible.len()
    }

    /// Drops the empty slots, keeping the order and the cursor's place in it.
    fn compact(&mut self) {
        let mut moved = Vec::with_capacity(self.index.len());
        let mut cursor = 0;
        let eligible = std::mem::take(&mut self.eligible);
        for (old, peer) in self.slots.iter().enumerate() {
            if old == self.cursor {
                cursor = moved.len();
            }
            if let Some(p) = peer {
                let new = moved.len();
                self.index.insert(*p, new);
                if eligible.contains(&old) {
                    self.eligible.insert(new);
                }
                moved.push(Some(*p));
            }
        }
        if self.cursor >= self.slots.len() {
            cursor = 0;
        }
        self.slots = moved;
        self.cursor = cursor;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The first version, a scan per call: the reference for the order.
    #[derive(Default)]
    struct Linear {
        peers: Vec<(PeerId, bool)>,
        cursor: usize,
    }

    impl Linear {
        fn attach(&mut self, peer: PeerId, eligible: bool) {
            if !self.peers.iter().any(|(p, _)| *p == peer) {
                self.peers.push((peer, eligible));
            }
        }
        fn detach(&mut self, peer: PeerId) {
            if let Some(i) = self.peers.iter().position(|(p, _)| *p == peer) {
                self.peers.remove(i);
                if i < self.cursor {
                    self.cursor -= 1;
                }
                if self.cursor >= self.peers.len() {
                    self.cursor = 0;
                }
            }
        }
        fn set_eligible(&mut self, peer: PeerId, eligible: bool) {
            if let Some(e) = self.peers.iter_mut().find(|(p, _)| *p == peer) {
                e.1 = eligible;
            }
        }
        fn next(&mut self) -> Option<PeerId> {
            let n = self.peers.len();
            for step in 0..n {
                let i = (self.cursor + step) % n;
                if self.peers[i].1 {
                    self.cursor = (i + 1) % n;
                    return Some(self.peers[i].0);
                }
            }
            None
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Attach(u64, bool),
        Detach(u64),
        Eligible(u64, bool),
        Next,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..24u64, any::<bool>()).prop_map(|(p, e)| Op::Attach(p, e)),
            (0..24u64).prop_map(Op::Detach),
            (0..24u64, any::<bool>()).prop_map(|(p, e)| Op::Eligible(p, e)),
            Just(Op::Next),
            Just(Op::Next),
        ]
    }

    proptest! {
        #[test]
        fn visits_peers_in_the_order_a_scan_would(ops in prop::collection::vec(op(), 0..400)) {
            let (mut rr, mut model) = (RoundRobin::default(), Linear::default());
            for op in ops {
                match op {
                    Op::Attach(p, e) => { rr.attach(PeerId(p), e); model.attach(PeerId(p), e) }
                    Op::Detach(p) => { rr.detach(PeerId(p)); model.detach(PeerId(p)) }
                    Op::Eligible(p, e) => {
                        rr.set_eligible(PeerId(p), e);
                        model.set_eligible(PeerId(p), e)
                    }
                    Op::Next => prop_assert_eq!(rr.next(), model.next()),
                }
                prop_assert_eq!(rr.len(), model.peers.len());
                prop_assert_eq!(rr.eligible(), model.peers.iter().filter(|(_, e)| *e).count());
            }
        }
    }

    #[test]
    fn ten_thousand_idle_peers_do_not_slow_the_busy_one() {
        let mut rr = RoundRobin::default();
        for p in 0..10_000 {
            rr.attach(PeerId(p), false);
        }
        rr.attach(PeerId(99_999), true);
        // Each call is a set look-up, not a scan: a million take well under
        // a second even unoptimised (a scan each would be 10^10 steps).
        for _ in 0..1_000_000 {
            assert_eq!(rr.next(), Some(PeerId(99_999)));
        }
        for p in 0..10_000 {
            rr.detach(PeerId(p));
        }
        assert_eq!((rr.len(), rr.next()), (1, Some(PeerId(99_999))));
    }
}
