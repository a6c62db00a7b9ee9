//! The opaque name strategies give a peer (one connection, one pipe).

/// Identifies one peer (connection) of a socket. Assigned by the socket; never
/// reused while the socket lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);
