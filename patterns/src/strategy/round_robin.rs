//! The rotation shared by the load balancer and the fair queue: peers in attach
//! order, each eligible or not, and a cursor that moves past the peer it returned.

use crate::PeerId;

/// Peers with an eligibility flag, visited in turn.
#[derive(Debug, Default, Clone)]
pub(crate) struct RoundRobin {
    peers: Vec<(PeerId, bool)>,
    cursor: usize,
}

impl RoundRobin {
    pub(crate) fn attach(&mut self, peer: PeerId, eligible: bool) {
        if !self.peers.iter().any(|(p, _)| *p == peer) {
            self.peers.push((peer, eligible));
        }
    }

    pub(crate) fn detach(&mut self, peer: PeerId) {
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

    pub(crate) fn set_eligible(&mut self, peer: PeerId, eligible: bool) {
        if let Some(entry) = self.peers.iter_mut().find(|(p, _)| *p == peer) {
            entry.1 = eligible;
        }
    }

    /// The next eligible peer after the last one returned.
    pub(crate) fn next(&mut self) -> Option<PeerId> {
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

    pub(crate) fn len(&self) -> usize {
        self.peers.len()
    }

    pub(crate) fn eligible(&self) -> usize {
        self.peers.iter().filter(|(_, e)| *e).count()
    }
}
