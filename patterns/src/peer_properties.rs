//! What libzmq's `zmq_msg_gets` tells about the peer a message came from:
//! Socket-Type, Routing-Id (Identity), User-Id, Peer-Address, and the
//! peer's application metadata (its `X-` properties).
//!
//! One value per connection, made when its handshake completes and shared
//! by reference: receiving a message costs nothing for properties nobody
//! reads (the socket remembers which peer the last message came from).

use std::os::fd::RawFd;

use bytes::Bytes;
use monocoque_zmtp::{Metadata, PeerInfo, SocketType};

/// The IP of a peer's `ip:port` address, as libzmq reports Peer-Address
/// and ZAP's address frame; `None` for ipc and inproc peers.
pub(crate) fn peer_ip(remote: Option<&str>) -> Option<String> {
    remote
        .and_then(|r| r.parse::<std::net::SocketAddr>().ok())
        .map(|a| a.ip().to_string())
}

/// The properties of one peer connection.
///
/// ```
/// use monocoque_patterns::Socket;
/// use monocoque_zmtp::SocketType;
/// let rt = monocoque_runtime::Runtime::builder().build().unwrap();
/// rt.block_on(async {
///     let pull = Socket::new(SocketType::Pull).unwrap();
///     pull.bind("inproc://props-doc").unwrap();
///     let push = Socket::new(SocketType::Push).unwrap();
///     push.connect("inproc://props-doc").unwrap();
///     push.send("hello").await.unwrap();
///     let (_msg, props) = pull.recv_with_properties().await.unwrap();
///     let props = props.unwrap();
///     assert_eq!(props.get("Socket-Type").as_deref(), Some(&b"PUSH"[..]));
/// });
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerProperties {
    socket_type: Option<SocketType>,
    routing_id: Bytes,
    user_id: Option<Bytes>,
    peer_address: Option<String>,
    metadata: Metadata,
    /// The connection's descriptor (`None` for inproc).
    source_fd: Option<RawFd>,
}

impl PeerProperties {
    /// A network peer's, from its handshake and address (`ip:port`; the
    /// Peer-Address property is the IP alone, as libzmq gives it).
    pub(crate) fn of(
        info: &PeerInfo,
        remote: Option<&str>,
        source_fd: Option<RawFd>,
    ) -> PeerProperties {
        PeerProperties {
            socket_type: info.socket_type,
            routing_id: info.identity.clone(),
            user_id: info.user_id.clone(),
            peer_address: peer_ip(remote),
            metadata: info.metadata.clone(),
            source_fd,
        }
    }

    /// A STREAM connection's: its address, and the routing id it was
    /// connected under (CONNECT_ROUTING_ID; else empty until the socket
    /// names it).
    pub(crate) fn raw(
        remote: Option<&str>,
        routing_id: Bytes,
        source_fd: Option<RawFd>,
    ) -> PeerProperties {
        PeerProperties {
            peer_address: peer_ip(remote),
            routing_id,
            source_fd,
            ..PeerProperties::default()
        }
    }

    /// An inproc peer's: its type and routing id.
    pub(crate) fn inproc(socket_type: SocketType, routing_id: Bytes) -> PeerProperties {
        PeerProperties {
            socket_type: Some(socket_type),
            routing_id,
            ..PeerProperties::default()
        }
    }

    /// The descriptor of the connection the message came from (libzmq's
    /// ZMQ_SRCFD, deprecated there): `None` for inproc. It stays the
    /// connection's while the connection lives, and is closed (then maybe
    /// reused) after: read options or the peer's address with it, never
    /// close it.
    pub fn source_fd(&self) -> Option<RawFd> {
        self.source_fd
    }

    /// A property by name, compared without case as ZMTP's names are:
    /// `Socket-Type`, `Routing-Id` or `Identity`, `User-Id`, `Peer-Address`,
    /// or one of the peer's metadata properties. `None` when the peer has
    /// no such property.
    pub fn get(&self, name: &str) -> Option<Bytes> {
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("Socket-Type") {
            return self
                .socket_type
                .map(|t| Bytes::from_static(t.as_str().as_bytes()));
        }
        if is("Routing-Id") || is("Identity") {
            return Some(self.routing_id.clone());
        }
        if is("User-Id") {
            return self.user_id.clone();
        }
        if is("Peer-Address") {
            return self.peer_address.clone().map(Bytes::from);
        }
        self.metadata.get(name).cloned()
    }

    /// The peer's socket type.
    pub fn socket_type(&self) -> Option<SocketType> {
        self.socket_type
    }

    /// The peer's routing id (empty if it sent none).
    pub fn routing_id(&self) -> &Bytes {
        &self.routing_id
    }

    /// The User-Id its authentication gave (PLAIN, CURVE, ZAP).
    pub fn user_id(&self) -> Option<&Bytes> {
        self.user_id.as_ref()
    }

    /// The peer's IP address (`None` for ipc and inproc).
    pub fn peer_address(&self) -> Option<&str> {
        self.peer_address.as_deref()
    }

    /// Everything the peer sent in its handshake.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }
}
