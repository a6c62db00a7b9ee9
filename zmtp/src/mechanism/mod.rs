//! Security mechanisms: the handshake between the greeting and the first message.
//!
//! A mechanism sees only command frames, split into name and data, and writes its
//! own commands to the transmit queue. The session does the rest (greeting, ERROR
//! from the peer, timers), so a new mechanism is a new implementation of
//! [`Mechanism`] and nothing else. A mechanism that transforms message frames
//! after the handshake (CURVE boxes each frame in a MESSAGE command) returns a
//! [`MessageCodec`] with [`HandshakeStatus::Complete`]; the session then passes
//! every message frame through it.

mod authenticator;
pub mod curve;
mod null;
mod plain_client;
mod plain_server;

use std::fmt;

use bytes::Bytes;

pub use crate::error::ZapReplyProblem;
pub use authenticator::{
    Admission, AuthDecision, AuthRequest, Authenticator, Credentials, PresentedCredentials,
};
pub use curve::{CurveClient, CurveKeyPair, CurvePublicKey, CurveSecretKey, CurveServer};
pub use null::NullMechanism;
pub use plain_client::PlainClient;
pub use plain_server::PlainServer;

use crate::error::Result;
use crate::frame::Frame;
use crate::metadata::Metadata;
use crate::peer::PeerProperties;
use crate::socket_type::SocketType;
use crate::transmit_queue::TransmitQueue;

/// What we tell the peer about ourselves, prepared once per session.
#[derive(Debug, Clone)]
pub struct LocalProperties {
    /// Our socket type, used to check the peer's.
    pub socket_type: SocketType,
    /// Our READY/INITIATE metadata (Socket-Type, Identity, X- properties).
    pub metadata: Metadata,
}

/// Where a handshake stands after a step.
#[derive(Debug)]
pub enum HandshakeStatus {
    /// More commands are needed.
    InProgress,
    /// The client presented these credentials; the layer above decides
    /// ([`Admission::Deferred`]) and answers through
    /// [`Mechanism::on_admission`].
    Authenticate(PresentedCredentials),
    /// Done: the peer is known. Any commands the mechanism queued go out first.
    Complete {
        /// The peer's checked properties.
        peer: PeerProperties,
        /// `None` when message frames travel as they are (NULL, PLAIN).
        codec: Option<Box<dyn MessageCodec>>,
    },
}

/// Transforms every frame after the handshake (for mechanisms that encrypt):
/// message frames, and the commands (SUBSCRIBE, CANCEL, PING, PONG) that then
/// travel inside the transformed frames.
pub trait MessageCodec: Send + fmt::Debug {
    /// Appends one outgoing frame, transformed, to `out`. `command` marks a
    /// command body (length-prefixed name, then data).
    fn encode(
        &mut self,
        more: bool,
        command: bool,
        body: &[u8],
        out: &mut TransmitQueue,
    ) -> Result<()>;
    /// Turns one received frame back into the frame it carries, with the
    /// MORE and COMMAND flags it was sent with.
    fn decode(&mut self, frame: Frame) -> Result<Frame>;
}

/// One side of a security handshake.
pub trait Mechanism: Send + fmt::Debug {
    /// The name in the greeting ("NULL", "PLAIN").
    fn name(&self) -> &'static str;
    /// Our greeting's as-server byte.
    fn as_server(&self) -> bool;
    /// Called once the peer's greeting is accepted: queue the first commands.
    fn start(
        &mut self,
        local: &LocalProperties,
        out: &mut TransmitQueue,
    ) -> Result<HandshakeStatus>;
    /// Handles one handshake command (ERROR is handled by the session).
    fn on_command(
        &mut self,
        local: &LocalProperties,
        name: Bytes,
        data: Bytes,
        out: &mut TransmitQueue,
    ) -> Result<HandshakeStatus>;
    /// The layer above's decision on the credentials this mechanism
    /// reported with [`HandshakeStatus::Authenticate`].
    fn on_admission(
        &mut self,
        _local: &LocalProperties,
        _decision: AuthDecision,
        _out: &mut TransmitQueue,
    ) -> Result<HandshakeStatus> {
        Err(crate::Error::InvalidConfig {
            field: "admission",
            reason: format!("the {} mechanism asked for no decision", self.name()),
        })
    }
    /// What the mechanism is waiting for, for error messages.
    fn expecting(&self) -> &'static str;
    /// Whether a ZMTP 1.0 or 2.0 peer, which has no security handshake, may
    /// connect: only under NULL with no one to ask (libzmq refuses legacy
    /// peers whenever ZAP is enabled).
    fn serves_legacy_peers(&self) -> bool {
        false
    }
}

/// Which mechanism a session uses, and its role.
#[derive(Clone)]
#[non_exhaustive]
pub enum MechanismConfig {
    /// No security (the default).
    Null,
    /// NULL whose peer must be admitted first (libzmq's NULL with a ZAP
    /// domain): our READY waits for the decision; a refusal sends ERROR.
    NullWithAdmission {
        /// Who decides.
        admission: Admission,
    },
    /// PLAIN client: presents a username and password.
    PlainClient {
        /// At most 255 bytes.
        username: Bytes,
        /// At most 255 bytes.
        password: Bytes,
    },
    /// PLAIN server: each client's username and password are admitted (or
    /// not) by `admission`.
    PlainServer {
        /// Decides who gets in.
        admission: Admission,
    },
    /// CURVE client: talks to the server whose long-term public key is
    /// `server_key`, presenting `keys` (libzmq's CURVE_SERVERKEY,
    /// CURVE_PUBLICKEY, CURVE_SECRETKEY).
    CurveClient {
        /// The server's long-term public key.
        server_key: CurvePublicKey,
        /// Our long-term pair.
        keys: CurveKeyPair,
    },
    /// CURVE server with the long-term pair `keys` (CURVE_SERVER).
    CurveServer {
        /// Our long-term pair.
        keys: CurveKeyPair,
        /// Decides which client keys get in ([`Admission::Everyone`]: every
        /// client that completes the handshake, as libzmq without a ZAP
        /// handler).
        admission: Admission,
    },
}

impl fmt::Debug for MechanismConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MechanismConfig::Null => f.write_str("Null"),
            MechanismConfig::NullWithAdmission { admission } => f
                .debug_struct("NullWithAdmission")
                .field("admission", admission)
                .finish(),
            MechanismConfig::PlainClient { username, .. } => f
                .debug_struct("PlainClient")
                .field("username", username)
                .field("password", &"<hidden>")
                .finish(),
            MechanismConfig::PlainServer { admission } => f
                .debug_struct("PlainServer")
                .field("admission", admission)
                .finish(),
            MechanismConfig::CurveClient { server_key, keys } => f
                .debug_struct("CurveClient")
                .field("server_key", server_key)
                .field("public_key", &keys.public)
                .finish_non_exhaustive(),
            MechanismConfig::CurveServer { keys, admission } => f
                .debug_struct("CurveServer")
                .field("public_key", &keys.public)
                .field("admission", admission)
                .finish_non_exhaustive(),
        }
    }
}

impl MechanismConfig {
    /// A fresh mechanism for one connection.
    pub fn build(&self) -> Box<dyn Mechanism> {
        match self {
            MechanismConfig::Null => Box::new(NullMechanism::new()),
            MechanismConfig::NullWithAdmission { admission } => {
                Box::new(NullMechanism::with_admission(admission.clone()))
            }
            MechanismConfig::PlainClient { username, password } => {
                Box::new(PlainClient::new(username.clone(), password.clone()))
            }
            MechanismConfig::PlainServer { admission } => {
                Box::new(PlainServer::new(admission.clone()))
            }
            MechanismConfig::CurveClient { server_key, keys } => {
                Box::new(CurveClient::new(*server_key, keys.clone()))
            }
            MechanismConfig::CurveServer { keys, admission } => {
                Box::new(CurveServer::new(keys.clone(), admission.clone()))
            }
        }
    }
}

/// The error for a command that does not fit the handshake's state.
pub(crate) fn unexpected(name: &Bytes, expected: &'static str) -> crate::Error {
    crate::Error::UnexpectedCommand {
        command: printable_name(name),
        expected,
    }
}

/// A command name a peer sent, for the log: printable ASCII as it is, any
/// other byte escaped (`\xNN`), so a hostile peer cannot put raw bytes or
/// control characters in our log.
pub(crate) fn printable_name(name: &[u8]) -> String {
    name.escape_ascii().to_string()
}
