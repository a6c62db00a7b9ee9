//! ROUTER's routing table: routing id to peer and back.
//!
//! A peer that sent no Identity (or an empty one) gets an automatic 5-byte id,
//! 0x00 followed by a big-endian u32 counter, as libzmq does (its counter starts at
//! a random value; the socket passes one in, since strategies read no randomness).
//! A peer asking for an id another connected peer holds is refused, unless
//! ROUTER_HANDOVER is on: then it takes the id and the old peer is evicted.

use rustc_hash::FxHashMap;
use std::collections::HashMap;

use bytes::{BufMut, Bytes, BytesMut};

use crate::{Error, PeerId, Result};

/// The outcome of registering a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The routing id the peer is known by.
    pub identity: Bytes,
    /// With ROUTER_HANDOVER: the peer that held the id before and must be disconnected.
    pub evicted: Option<PeerId>,
}

/// Maps routing ids to peers.
///
/// ```
/// use bytes::Bytes;
/// use monocoque_patterns::{strategy::RoutingTable, PeerId};
/// let mut t = RoutingTable::new(7);
/// let auto = t.register(PeerId(1), &Bytes::new(), false).unwrap();
/// assert_eq!(&auto.identity[..], &[0, 0, 0, 0, 7]);
/// t.register(PeerId(2), &Bytes::from_static(b"worker"), false).unwrap();
/// assert_eq!(t.lookup(b"worker"), Some(PeerId(2)));
/// ```
#[derive(Debug, Clone)]
pub struct RoutingTable {
    by_identity: HashMap<Bytes, PeerId>,
    by_peer: FxHashMap<PeerId, Bytes>,
    next_auto: u32,
}

impl RoutingTable {
    /// An empty table whose automatic ids count from `seed`.
    pub fn new(seed: u32) -> Self {
        RoutingTable {
            by_identity: HashMap::new(),
            by_peer: FxHashMap::default(),
            next_auto: seed,
        }
    }

    fn auto_identity(&mut self) -> Bytes {
        loop {
            let mut id = BytesMut::with_capacity(5);
            id.put_u8(0);
            id.put_u32(self.next_auto);
            self.next_auto = self.next_auto.wrapping_add(1);
            let id = id.freeze();
            if !self.by_identity.contains_key(&id) {
                return id;
            }
        }
    }

    /// Registers `peer` under the id it asked for (`requested`, empty for none).
    pub fn register(
        &mut self,
        peer: PeerId,
        requested: &Bytes,
        handover: bool,
    ) -> Result<Registration> {
        let mut evicted = None;
        let identity = if requested.is_empty() {
            self.auto_identity()
        } else {
            if let Some(&holder) = self.by_identity.get(requested) {
                if holder == peer {
                    // Registered early (CONNECT_ROUTING_ID), again at the
                    // handshake: nothing changes.
                    return Ok(Registration {
                        identity: requested.clone(),
                        evicted: None,
                    });
                }
                if !handover {
                    return Err(Error::DuplicateIdentity);
                }
                self.remove(holder);
                evicted = Some(holder);
            }
            requested.clone()
        };
        self.by_identity.insert(identity.clone(), peer);
        self.by_peer.insert(peer, identity.clone());
        Ok(Registration { identity, evicted })
    }

    /// The peer with this routing id.
    pub fn lookup(&self, identity: &[u8]) -> Option<PeerId> {
        self.by_identity.get(identity).copied()
    }

    /// The routing id of `peer`.
    pub fn identity(&self, peer: PeerId) -> Option<&Bytes> {
        self.by_peer.get(&peer)
    }

    /// Forgets `peer` (disconnected).
    pub fn remove(&mut self, peer: PeerId) {
        if let Some(id) = self.by_peer.remove(&peer) {
            self.by_identity.remove(&id);
        }
    }

    /// Peers registered.
    pub fn len(&self) -> usize {
        self.by_peer.len()
    }

    /// Whether no peer is registered.
    pub fn is_empty(&self) -> bool {
        self.by_peer.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_ids_are_five_bytes_and_unique() {
        let mut t = RoutingTable::new(u32::MAX);
        let a = t
            .register(PeerId(1), &Bytes::new(), false)
            .unwrap()
            .identity;
        let b = t
            .register(PeerId(2), &Bytes::new(), false)
            .unwrap()
            .identity;
        assert_eq!(&a[..], &[0, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(&b[..], &[0, 0, 0, 0, 0], "the counter wraps");
        // A peer that asked for what would be the next automatic id keeps it...
        t.register(PeerId(3), &Bytes::from_static(&[0, 0, 0, 0, 1]), false)
            .unwrap();
        // ...and the counter skips it.
        let c = t
            .register(PeerId(4), &Bytes::new(), false)
            .unwrap()
            .identity;
        assert_eq!(&c[..], &[0, 0, 0, 0, 2]);
    }

    #[test]
    fn duplicates_refused_without_handover_taken_over_with_it() {
        let mut t = RoutingTable::new(0);
        let id = Bytes::from_static(b"A");
        t.register(PeerId(1), &id, false).unwrap();
        assert_eq!(
            t.register(PeerId(2), &id, false),
            Err(Error::DuplicateIdentity)
        );
        assert_eq!(t.lookup(b"A"), Some(PeerId(1)));
        let r = t.register(PeerId(2), &id, true).unwrap();
        assert_eq!(r.evicted, Some(PeerId(1)));
        assert_eq!(t.lookup(b"A"), Some(PeerId(2)));
        assert_eq!(t.identity(PeerId(1)), None);
        t.remove(PeerId(2));
        assert!(t.is_empty());
        assert_eq!(t.lookup(b"A"), None);
    }
}
