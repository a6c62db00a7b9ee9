//! Round-robin over the peers that have room (REQ, DEALER, PUSH sends; libzmq's lb).
//!
//! A peer whose pipe reached its high-water mark is marked full and skipped until
//! it drains; a message goes whole to the one peer `next` returned.

use super::round_robin::RoundRobin;
use crate::PeerId;

/// Picks the peer for each outgoing message.
///
/// ```
/// use monocoque_patterns::{strategy::LoadBalancer, PeerId};
/// let mut lb = LoadBalancer::default();
/// lb.attach(PeerId(1));
/// lb.attach(PeerId(2));
/// lb.set_full(PeerId(1), true);
/// assert_eq!(lb.next_peer(), Some(PeerId(2)));
/// assert_eq!(lb.next_peer(), Some(PeerId(2)));
/// ```
#[derive(Debug, Default, Clone)]
pub struct LoadBalancer {
    rr: RoundRobin,
}

impl LoadBalancer {
    /// A new peer, with room.
    pub fn attach(&mut self, peer: PeerId) {
        self.rr.attach(peer, true);
    }

    /// The peer is gone.
    pub fn detach(&mut self, peer: PeerId) {
        self.rr.detach(peer);
    }

    /// The peer's pipe is at (`true`) or below (`false`) its high-water mark.
    pub fn set_full(&mut self, peer: PeerId, full: bool) {
        self.rr.set_eligible(peer, !full);
    }

    /// The peer for the next message, or `None` if every peer is full (or there
    /// are none): the socket then blocks or returns EAGAIN, as its type says.
    pub fn next_peer(&mut self) -> Option<PeerId> {
        self.rr.next()
    }

    /// Peers attached.
    pub fn len(&self) -> usize {
        self.rr.len()
    }

    /// Whether no peer is attached.
    pub fn is_empty(&self) -> bool {
        self.rr.len() == 0
    }

    /// Peers with room.
    pub fn with_room(&self) -> usize {
        self.rr.eligible()
    }

    /// Calls `each` for up to `limit` of the peers with room (cheap
    /// however many peers are full).
    pub fn some_with_room(&self, limit: usize, each: impl FnMut(PeerId)) {
        self.rr.some_eligible(limit, each)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_over_peers_with_room() {
        let mut lb = LoadBalancer::default();
        assert_eq!(lb.next_peer(), None);
        for i in 1..=3 {
            lb.attach(PeerId(i));
        }
        let got: Vec<u64> = (0..6).map(|_| lb.next_peer().unwrap().0).collect();
        assert_eq!(got, vec![1, 2, 3, 1, 2, 3]);
        lb.set_full(PeerId(2), true);
        let got: Vec<u64> = (0..4).map(|_| lb.next_peer().unwrap().0).collect();
        assert_eq!(got, vec![1, 3, 1, 3]);
        lb.set_full(PeerId(1), true);
        lb.set_full(PeerId(3), true);
        assert_eq!(lb.next_peer(), None, "every peer full: block or EAGAIN");
        lb.set_full(PeerId(2), false);
        assert_eq!(lb.next_peer(), Some(PeerId(2)));
    }

    #[test]
    fn a_sample_of_the_peers_with_room_skips_the_full_ones() {
        // Below and above the round robin's scan limit (vector, then set).
        for peers in [8u64, 100] {
            let mut lb = LoadBalancer::default();
            for p in 0..peers {
                lb.attach(PeerId(p));
                lb.set_full(PeerId(p), p % 2 == 0);
            }
            let mut seen = Vec::new();
            lb.some_with_room(3, |p| seen.push(p));
            assert_eq!(seen, vec![PeerId(1), PeerId(3), PeerId(5)], "{peers} peers");
            let mut all = 0;
            lb.some_with_room(usize::MAX, |_| all += 1);
            assert_eq!(all, peers / 2);
        }
    }

    #[test]
    fn detaching_keeps_the_rotation_fair() {
        let mut lb = LoadBalancer::default();
        for i in 1..=4 {
            lb.attach(PeerId(i));
        }
        assert_eq!(lb.next_peer(), Some(PeerId(1)));
        assert_eq!(lb.next_peer(), Some(PeerId(2)));
        lb.detach(PeerId(1));
        assert_eq!(
            lb.next_peer(),
            Some(PeerId(3)),
            "the peer after the last served"
        );
        lb.detach(PeerId(4));
        assert_eq!(lb.next_peer(), Some(PeerId(2)));
        assert_eq!(lb.len(), 2);
    }
}
