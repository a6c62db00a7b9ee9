//! The one error type of the protocol crate.
//!
//! Every variant that a peer can cause says what the peer did wrong, so that the
//! log line written when a connection is closed is enough to diagnose it.

use crate::greeting::ProtocolVersion;
use crate::socket_type::SocketType;

/// Everything that can go wrong in the wire protocol.
///
/// Errors caused by the peer end that peer's session (see
/// [`Event::Closed`](crate::Event::Closed)); errors caused by the caller
/// (a bad [`SessionConfig`](crate::SessionConfig), sending before the handshake)
/// are returned from the call that caused them and leave the session as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An unversioned peer's first frame is not a ZMTP 1.0 frame: the peer
    /// speaks no revision of ZMTP.
    #[error("peer's first bytes (0x{byte:02x}, ...) are neither a ZMTP greeting nor a ZMTP 1.0 identity frame: it is not a ZMTP peer")]
    NotZmtp {
        /// The first byte the peer sent.
        byte: u8,
    },
    /// A ZMTP 1.0 frame header that no ZMTP 1.0 peer sends.
    #[error("peer sent a malformed ZMTP 1.0 frame: {reason}")]
    MalformedLegacyFrame {
        /// What was wrong with it.
        reason: &'static str,
    },
    /// A ZMTP 1.0 or 2.0 peer, which has no security handshake, tried to
    /// connect to a socket that authenticates its peers (libzmq refuses them
    /// whenever ZAP is enabled: a mechanism other than NULL, or a ZAP domain).
    #[error("refused a {version} peer: it cannot authenticate, and this socket requires {mechanism} authentication; upgrade the peer to ZMTP 3 (libzmq 4, JeroMQ 0.4 or later)")]
    LegacyPeerRefused {
        /// The peer's revision.
        version: ProtocolVersion,
        /// Our mechanism's name (NULL when a ZAP domain is set).
        mechanism: &'static str,
    },
    /// A ZMTP 1.0 or 2.0 greeting named a socket type number that libzmq
    /// does not have.
    #[error("peer's greeting names socket type number {0}, which is not a ZeroMQ socket type")]
    UnknownSocketTypeNumber(u8),
    /// The peer announced a different security mechanism than ours.
    #[error("security mechanism mismatch: we use {ours}, the peer announced {theirs:?}; configure both ends alike")]
    MechanismMismatch {
        /// Our mechanism's name.
        ours: &'static str,
        /// The peer's 20-byte mechanism field, trailing NULs removed, lossily decoded.
        theirs: String,
    },
    /// A frame's length is larger than the configured maximum message size (MAXMSGSIZE).
    #[error("peer sent a {size}-byte frame, above the maximum message size of {limit} bytes (MAXMSGSIZE)")]
    FrameTooLarge {
        /// The length the frame header announced.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// With no MAXMSGSIZE set, a frame announced more bytes than the process
    /// could ever hold.
    #[error("peer announced {size} bytes in one frame or message, more than the {ceiling} bytes this machine could ever hold (set MAXMSGSIZE to refuse smaller ones)")]
    FrameBeyondMemory {
        /// The length the frame header announced.
        size: u64,
        /// The decoder's ceiling (the machine's memory).
        ceiling: u64,
    },
    /// A long frame announced a length no real frame can have (the top bit set).
    #[error("peer sent a frame length of {size} bytes, which is not a valid ZMTP frame length")]
    InvalidFrameLength {
        /// The length the frame header announced.
        size: u64,
    },
    /// A command frame had the MORE flag set; commands are always single frames.
    #[error("peer sent a command frame with the MORE flag set; commands are always one frame")]
    CommandWithMore,
    /// A command frame was too short to hold its own name.
    #[error("peer sent a malformed command frame: {0}")]
    MalformedCommandFrame(&'static str),
    /// A known command whose body does not follow its grammar.
    #[error("peer sent a malformed {command} command: {reason}")]
    MalformedCommand {
        /// The command's name.
        command: &'static str,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// A command arrived that is not valid at this point of the handshake.
    #[error("peer sent the {command} command while we expected {expected}")]
    UnexpectedCommand {
        /// The command name the peer sent, non-printable bytes escaped.
        command: String,
        /// What the handshake was waiting for.
        expected: &'static str,
    },
    /// A message frame arrived before the security handshake completed.
    #[error(
        "peer sent a message frame before the security handshake completed (expected {expected})"
    )]
    MessageDuringHandshake {
        /// What the handshake was waiting for.
        expected: &'static str,
    },
    /// A multipart message's frames add up to more than MAXMSGSIZE.
    #[error("peer sent a multipart message of at least {size} bytes, above the maximum message size of {limit} bytes (MAXMSGSIZE)")]
    MessageTooLarge {
        /// The message's size so far, the refused frame included.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A message had more frames than the configured cap.
    #[error("peer sent a message of more than {limit} frames (MAXMSGFRAMES)")]
    TooManyFrames {
        /// The configured cap.
        limit: usize,
    },
    /// A handshake command was larger than the handshake allows.
    #[error("peer sent a {size}-byte frame during the handshake; at most {limit} bytes are accepted before authentication")]
    HandshakeFrameTooLarge {
        /// The frame's length.
        size: u64,
        /// The handshake limit.
        limit: u64,
    },
    /// Metadata (in READY or INITIATE) did not follow the property grammar.
    #[error("peer sent malformed metadata: {0}")]
    MalformedMetadata(&'static str),
    /// The peer's metadata had no Socket-Type property.
    #[error("peer's metadata has no Socket-Type property, which ZMTP 3 requires")]
    MissingSocketType,
    /// The peer's Socket-Type is not a type we know.
    #[error("peer announced the unknown socket type {0:?}")]
    UnknownSocketType(String),
    /// The peer's socket type cannot talk to ours.
    #[error("a {ours} socket cannot talk to a {theirs} peer")]
    IncompatibleSocketType {
        /// Our socket type.
        ours: SocketType,
        /// The peer's socket type.
        theirs: SocketType,
    },
    /// The peer's Identity property is longer than 255 bytes.
    #[error("peer sent a {0}-byte Identity; routing ids are at most 255 bytes")]
    IdentityTooLong(usize),
    /// The peer sent an ERROR command: it refused us and closes the connection.
    #[error("peer closed the handshake with ERROR: {reason}")]
    PeerError {
        /// The reason the peer gave, lossily decoded.
        reason: String,
    },
    /// The ZAP handler answered with a reply RFC 27 does not allow; the
    /// peer is refused.
    #[error("the ZAP handler's reply is malformed: {0}")]
    ZapReply(ZapReplyProblem),
    /// Our authenticator denied the peer's credentials.
    #[error("authentication of the peer denied: {reason}")]
    AuthenticationDenied {
        /// The reason the authenticator gave (also sent to the peer in ERROR).
        reason: String,
    },
    /// A CURVE box did not open: made with other keys, or altered on the way.
    #[error("peer's CURVE {command} box does not open: the keys do not match (a client given the wrong server key, or a server with another key pair) or the data was altered")]
    CurveBoxRejected {
        /// The command (or part of one) whose box failed.
        command: &'static str,
    },
    /// A CURVE short nonce was not above the last one: a replay or reordering.
    #[error("peer reused or reordered a CURVE nonce: {nonce} after {last} (replayed or out-of-order data)")]
    CurveNonceReused {
        /// The nonce received.
        nonce: u64,
        /// The last nonce accepted from this peer.
        last: u64,
    },
    /// The CURVE key exchange did not hold together.
    #[error("CURVE key exchange failed: {0}")]
    CurveKeyExchange(&'static str),
    /// We sent 2^64 - 1 CURVE MESSAGEs on one connection.
    #[error("the connection used up its CURVE nonces (2^64 - 1 messages); it must be reopened")]
    CurveNonceExhausted,
    /// The handshake did not complete within the handshake interval (HANDSHAKE_IVL).
    #[error("the handshake did not complete within {0:?} (HANDSHAKE_IVL)")]
    HandshakeTimeout(std::time::Duration),
    /// Nothing arrived within the heartbeat timeout after we sent a PING.
    #[error("no traffic from the peer within {0:?} after our PING (HEARTBEAT_TIMEOUT): the peer is dead")]
    HeartbeatTimeout(std::time::Duration),
    /// Nothing arrived within the TTL the peer asked for in its PING.
    #[error("no traffic from the peer within the {0:?} TTL of its last PING: the peer is dead")]
    HeartbeatTtlExpired(std::time::Duration),
    /// The caller tried to send before the handshake completed.
    #[error("the session cannot carry messages before its handshake completes")]
    HandshakeIncomplete,
    /// The caller used a session that is already closed.
    #[error("the session is closed")]
    SessionClosed,
    /// The caller tried to send a message with no frames.
    #[error("a message needs at least one frame")]
    EmptyMessage,
    /// The caller asked for something the socket type does not do.
    #[error("a {socket_type} socket cannot {operation}")]
    NotSupportedBySocketType {
        /// Our socket type.
        socket_type: SocketType,
        /// What was attempted.
        operation: &'static str,
    },
    /// A configuration value is out of range; the field is named.
    #[error("invalid session configuration: {field}: {reason}")]
    InvalidConfig {
        /// The configuration field (libzmq option name where there is one).
        field: &'static str,
        /// Why the value was refused.
        reason: String,
    },
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What is wrong with a ZAP handler's reply (libzmq's
/// ZMQ_PROTOCOL_ERROR_ZAP_* codes name the same cases).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ZapReplyProblem {
    /// Not the reply's seven frames (or not a reply at all).
    #[error("the reply is not RFC 27's seven frames")]
    Malformed,
    /// The request id is not the one asked with.
    #[error("the reply's request id is not the request's")]
    BadRequestId,
    /// The version frame is not "1.0".
    #[error("the reply's version is not 1.0")]
    BadVersion,
    /// The status code is not 200, 300, 400 or 500.
    #[error("the reply's status code is not 200, 300, 400 or 500")]
    InvalidStatusCode,
    /// The metadata frame is not a ZMTP property list.
    #[error("the reply's metadata is not a property list")]
    InvalidMetadata,
}
