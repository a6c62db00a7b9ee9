//! What the handshake learns about the peer, and the checks made on it.

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::greeting::ProtocolVersion;
use crate::metadata::{self, Metadata};
use crate::socket_type::SocketType;

/// Longest routing id libzmq allows.
pub const MAX_IDENTITY_LEN: usize = 255;

/// The peer, as known once the handshake has completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The ZMTP revision spoken with this peer.
    pub version: ProtocolVersion,
    /// The peer's socket type (already checked against ours); `None` for an
    /// unversioned ZMTP 1.0 peer, whose greeting does not say.
    pub socket_type: Option<SocketType>,
    /// The peer's `Identity` property (or, from a ZMTP 1.0 or 2.0 peer, its
    /// identity message); empty when it sent none or an empty one.
    pub identity: Bytes,
    /// Everything the peer sent in READY (or INITIATE), in order; empty for
    /// a ZMTP 1.0 or 2.0 peer.
    pub metadata: Metadata,
    /// The user id our authenticator assigned, if any (PLAIN server side).
    pub user_id: Option<Bytes>,
}

/// What a mechanism hands the session when its handshake completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerProperties {
    /// The peer's socket type, checked by [`check_peer_metadata`].
    pub socket_type: SocketType,
    /// The peer's routing id (empty if none).
    pub identity: Bytes,
    /// All the peer's properties.
    pub metadata: Metadata,
    /// The user id our authenticator assigned, if any.
    pub user_id: Option<Bytes>,
}

/// Checks the peer's metadata against our socket type, as libzmq does on READY
/// and INITIATE: the Socket-Type must be present, and every Socket-Type
/// property the peer sent (a peer may repeat it) known and compatible; the
/// Identity, if any, at most 255 bytes. A repeated Identity counts by its last
/// value, as libzmq sets the routing id once per property in order.
pub fn check_peer_metadata(local: SocketType, metadata: Metadata) -> Result<PeerProperties> {
    let mut theirs = None;
    let mut identity = Bytes::new();
    for (name, value) in metadata.iter() {
        if name.eq_ignore_ascii_case(metadata::SOCKET_TYPE.as_bytes()) {
            let t = SocketType::from_wire(value).ok_or_else(|| {
                Error::UnknownSocketType(String::from_utf8_lossy(value).into_owned())
            })?;
            if !local.is_compatible_with(t) {
                return Err(Error::IncompatibleSocketType {
                    ours: local,
                    theirs: t,
                });
            }
            theirs.get_or_insert(t);
        } else if name.eq_ignore_ascii_case(metadata::IDENTITY.as_bytes()) {
            if value.len() > MAX_IDENTITY_LEN {
                return Err(Error::IdentityTooLong(value.len()));
            }
            identity = value.clone();
        }
    }
    let theirs = theirs.ok_or(Error::MissingSocketType)?;
    Ok(PeerProperties {
        socket_type: theirs,
        identity,
        metadata,
        user_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(pairs: &[(&'static str, &'static [u8])]) -> Metadata {
        let mut m = Metadata::new();
        for (n, v) in pairs {
            m.push(*n, Bytes::from_static(v));
        }
        m
    }

    #[test]
    fn checks() {
        let ok = check_peer_metadata(
            SocketType::Router,
            md(&[("socket-type", b"DEALER"), ("Identity", b"abc")]),
        )
        .unwrap();
        assert_eq!(ok.socket_type, SocketType::Dealer);
        assert_eq!(&ok.identity[..], b"abc");
        assert_eq!(
            check_peer_metadata(SocketType::Router, md(&[])),
            Err(Error::MissingSocketType)
        );
        assert_eq!(
            check_peer_metadata(SocketType::Router, md(&[("Socket-Type", b"dealer")])),
            Err(Error::UnknownSocketType("dealer".into()))
        );
        assert_eq!(
            check_peer_metadata(SocketType::Push, md(&[("Socket-Type", b"PUSH")])),
            Err(Error::IncompatibleSocketType {
                ours: SocketType::Push,
                theirs: SocketType::Push
            })
        );
        let long: &'static [u8] = Box::leak(vec![b'i'; 256].into_boxed_slice());
        assert_eq!(
            check_peer_metadata(
                SocketType::Router,
                md(&[("Socket-Type", b"REQ"), ("Identity", long)])
            ),
            Err(Error::IdentityTooLong(256))
        );
    }

    #[test]
    fn repeated_properties_are_each_checked() {
        assert_eq!(
            check_peer_metadata(
                SocketType::Router,
                md(&[("Socket-Type", b"DEALER"), ("Socket-Type", b"PUSH")])
            ),
            Err(Error::IncompatibleSocketType {
                ours: SocketType::Router,
                theirs: SocketType::Push
            })
        );
        assert_eq!(
            check_peer_metadata(
                SocketType::Router,
                md(&[("Socket-Type", b"DEALER"), ("Socket-Type", b"bogus")])
            ),
            Err(Error::UnknownSocketType("bogus".into()))
        );
        let twice = check_peer_metadata(
            SocketType::Router,
            md(&[
                ("Socket-Type", b"DEALER"),
                ("Identity", b"first"),
                ("Identity", b"last"),
            ]),
        )
        .unwrap();
        assert_eq!(&twice.identity[..], b"last");
    }
}
