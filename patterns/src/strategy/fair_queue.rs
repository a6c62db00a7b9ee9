//! Fair queuing over peers with messages waiting (DEALER, ROUTER, REP, PULL, SUB
//! receives; libzmq's fq): one whole message from each readable peer in turn.

use super::round_robin::RoundRobin;
use crate::PeerId;

/// Picks the peer to read the next message from.
///
/// ```
/// use monocoque_patterns::{strategy::FairQueue, PeerId};
/// let mut fq = FairQueue::default();
/// fq.attach(PeerId(1));
/// fq.attach(PeerId(2));
/// fq.set_readable(PeerId(2), true);
/// assert_eq!(fq.next_peer(), Some(PeerId(2)));
/// ```
#[derive(Debug, Default, Clone)]
pub struct FairQueue {
    rr: RoundRobin,
}

impl FairQueue {
    /// A new peer, with nothing to read yet.
    pub fn attach(&mut self, peer: PeerId) {
        self.rr.attach(peer, false);
    }

    /// The peer is gone.
    pub fn detach(&mut self, peer: PeerId) {
        self.rr.detach(peer);
    }

    /// The peer has (`true`) or no longer has (`false`) a whole message waiting.
    pub fn set_readable(&mut self, peer: PeerId, readable: bool) {
        self.rr.set_eligible(peer, readable);
    }

    /// The peer to take the next message from, after the last one served.
    pub fn next_peer(&mut self) -> Option<PeerId> {
        self.rr.next()
    }

    /// Peers with a message waiting.
    pub fn readable(&self) -> usize {
        self.rr.eligible()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_peer_cannot_starve_the_others() {
        let mut fq = FairQueue::default();
        for i in 1..=3 {
            fq.attach(PeerId(i));
        }
        assert_eq!(fq.next_peer(), None);
        // Peer 1 always has more; 2 and 3 have one message each.
        fq.set_readable(PeerId(1), true);
        fq.set_readable(PeerId(2), true);
        fq.set_readable(PeerId(3), true);
        let mut order = Vec::new();
        for _ in 0..5 {
            let p = fq.next_peer().unwrap();
            order.push(p.0);
            if p != PeerId(1) {
                fq.set_readable(p, false);
            }
        }
        assert_eq!(order, vec![1, 2, 3, 1, 1]);
    }
}
