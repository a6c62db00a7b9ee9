//! The rotation shared by the load balancer and the fair queue: peers in attach
//! order, each eligible or not, and a cursor that moves past the peer it returned.
//!
//! A box has thousands of peers on one socket (10,000 idle clients on a queue,
//! one busy one), so no operation may walk them all: the peers sit in a vector
//! in attach order with their flags, a map finds a peer's slot, and above
//! [`SCAN_LIMIT`] peers an ordered set of the eligible slots gives the next one
//! after the cursor in O(log n). Up to it a scan of the vector is cheaper than
//! keeping the set (callgrind: the set cost about 120 instructions a message
//! with one peer). A detached peer leaves an empty slot, and the vector is
//! compacted once empty slots outnumber peers. (The first version scanned the
//! vector on every call; with 10,000 idle peers each message cost a scan, and
//! a served client's round trip grew by about 35 us.)

use std::collections::BTreeSet;

use rustc_hash::FxHashMap;

use crate::PeerId;

/// Up to this many slots `next` scans them; above it, the eligible slots are
/// kept in an ordered set.
pub(crate) const SCAN_LIMIT: usize = 32;

/// Peers with an eligibility flag, visited in turn.
#[derive(Debug, Default, Clone)]
pub(crate) struct RoundRobin {
    /// Attach order, with each peer's flag; `None` where a peer was detached
    /// (until compaction). The last slot, if any, always holds a peer.
    slots: Vec<Option<(PeerId, bool)>>,
    /// Where each attached peer sits in `slots`.
    index: FxHashMap<PeerId, usize>,
    /// Peers eligible.
    eligible: usize,
    /// The slots of the eligible peers, kept while there are more than
    /// [`SCAN_LIMIT`] slots.
    eligible_slots: Option<BTreeSet<usize>>,
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
        self.slots.push(Some((peer, eligible)));
        self.index.insert(peer, slot);
        if eligible {
            self.eligible += 1;
            if let Some(set) = &mut self.eligible_slots {
                set.insert(slot);
            }
        }
        if self.eligible_slots.is_none() && self.slots.len() > SCAN_LIMIT {
            self.eligible_slots = Some(self.collect_eligible());
        }
    }

    /// Removes `peer`; the rotation goes on from where it was.
    pub(crate) fn detach(&mut self, peer: PeerId) {
        let Some(slot) = self.index.remove(&peer) else {
            return;
        };
        if let Some((_, true)) = self.slots[slot].take() {
            self.eligible -= 1;
            if let Some(set) = &mut self.eligible_slots {
                set.remove(&slot);
            }
        }
        while self.slots.last() == Some(&None) {
            self.slots.pop();
        }
        if self.cursor >= self.slots.len() {
            self.cursor = 0;
        }
        if self.slots.len() > 2 * self.index.len() + 16 {
            self.compact();
        }
        // Below half the limit the set is dropped (not at the limit itself,
        // so that a peer coming and going there does not rebuild it each time).
        if self.slots.len() <= SCAN_LIMIT / 2 {
            self.eligible_slots = None;
        }
    }

    /// Marks `peer` as eligible or not.
    pub(crate) fn set_eligible(&mut self, peer: PeerId, eligible: bool) {
        // Called for nearly every message: with few peers a look along the
        // vector is cheaper than hashing.
        let slot = match self.eligible_slots {
            None => self
                .slots
                .iter()
                .position(|s| matches!(s, Some((p, _)) if *p == peer)),
            Some(_) => self.index.get(&peer).copied(),
        };
        let Some(slot) = slot else {
            return;
        };
        let Some((_, flag)) = &mut self.slots[slot] else {
            unreachable!("an indexed slot holds its peer")
        };
        if *flag == eligible {
            return;
        }
        *flag = eligible;
        if eligible {
            self.eligible += 1;
            if let Some(set) = &mut self.eligible_slots {
                set.insert(slot);
            }
        } else {
            self.eligible -= 1;
            if let Some(set) = &mut self.eligible_slots {
                set.remove(&slot);
            }
        }
    }

    /// The next eligible peer after the last one returned.
    pub(crate) fn next(&mut self) -> Option<PeerId> {
        if self.eligible == 0 {
            return None;
        }
        let slot = match &self.eligible_slots {
            Some(set) => *set.range(self.cursor..).next().or_else(|| set.first())?,
            None => {
                let eligible = |s: &Option<(PeerId, bool)>| matches!(s, Some((_, true)));
                // From the cursor to the end, then from the start round to it.
                let (wrapped, ahead) = self.slots.split_at(self.cursor.min(self.slots.len()));
                match ahead.iter().position(eligible) {
                    Some(i) => self.cursor + i,
                    None => wrapped.iter().position(eligible)?,
                }
            }
        };
        // Past the last peer the rotation starts again at the first, so a
        // peer attached now waits for its turn after those already there.
        self.cursor = if slot + 1 >= self.slots.len() {
            0
        } else {
            slot + 1
        };
        self.slots[slot].map(|(p, _)| p)
    }

    /// Calls `each` for up to `limit` eligible peers, in attach order:
    /// a sample that costs O(`limit`) steps however many peers are not
    /// eligible (past [`SCAN_LIMIT`] slots, from the ordered set).
    pub(crate) fn some_eligible(&self, limit: usize, mut each: impl FnMut(PeerId)) {
        match &self.eligible_slots {
            Some(set) => set
                .iter()
                .take(limit)
                .filter_map(|&slot| self.slots[slot])
                .for_each(|(p, _)| each(p)),
            None => self
                .slots
                .iter()
                .flatten()
                .filter(|(_, eligible)| *eligible)
                .take(limit)
                .for_each(|&(p, _)| each(p)),
        }
    }

    /// Peers attached.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Peers eligible.
    pub(crate) fn eligible(&self) -> usize {
        self.eligible
    }

    /// The slots of the eligible peers, read from the vector.
    fn collect_eligible(&self) -> BTreeSet<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Some((_, true))))
            .map(|(i, _)| i)
            .collect()
    }

    /// Drops the empty slots, keeping the order and the cursor's place in it.
    fn compact(&mut self) {
        let mut moved = Vec::with_capacity(self.index.len());
        let mut cursor = 0;
        for (old, entry) in self.slots.iter().enumerate() {
            if old == self.cursor {
                cursor = moved.len();
            }
            if let Some((p, _)) = entry {
                self.index.insert(*p, moved.len());
                moved.push(*entry);
            }
        }
        if self.cursor >= self.slots.len() {
            cursor = 0;
        }
        self.slots = moved;
        self.cursor = cursor;
        if self.eligible_slots.is_some() {
            self.eligible_slots = Some(self.collect_eligible());
        }
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
            (0..80u64, any::<bool>()).prop_map(|(p, e)| Op::Attach(p, e)),
            (0..80u64).prop_map(Op::Detach),
            (0..80u64, any::<bool>()).prop_map(|(p, e)| Op::Eligible(p, e)),
            Just(Op::Next),
            Just(Op::Next),
        ]
    }

    proptest! {
        #[test]
        fn visits_peers_in_the_order_a_scan_would(ops in prop::collection::vec(op(), 0..600)) {
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
