//! How an engine and the one it serves talk: what it is handed when spawned
//! ([`EngineSetup`]), the four things it asks of its owner
//! ([`EngineOwner`]), and what it reports ([`EngineEvent`]).
//!
//! Owners are a socket (every tcp and ipc connection of it) and a fan-out
//! relay on an IO core (the connections a publisher spread there). Neither
//! lends the engine its state: the engine builds the pipe from the shape it
//! was given and hands the owner its end in an event.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use bytes::Bytes;
use monocoque_zmtp::{AuthDecision, Msg, SessionConfig, SocketType};

use crate::admission::{AdmissionPolicy, ZapRequest};

use crate::close_reason::CloseReason;
use crate::lifecycle::Lifecycle;
use crate::pipe::{FarEnd, PipeShape, Signals};
use crate::PeerId;

/// Everything an engine needs to know about its connection, fixed when it
/// is spawned (options changed later apply to later connections).
#[derive(Debug)]
pub(crate) struct EngineSetup {
    /// The endpoint, for logs and monitor events.
    pub(crate) endpoint: String,
    /// The protocol session's configuration (socket type, identity,
    /// mechanism, limits, heartbeats).
    pub(crate) session: Result<SessionConfig, monocoque_zmtp::Error>,
    /// The pipe the connection feeds once its handshake completes.
    pub(crate) pipe: PipePlan,
    /// PROBE_ROUTER: an empty message goes first on the new connection.
    pub(crate) probe_router: bool,
    /// Our routing id and ZAP domain, for admitting clients.
    pub(crate) zap: super::ZapFacts,
    /// CONNECT_ROUTING_ID: the name the owner knows the peer by, instead of
    /// the Identity the peer sends.
    pub(crate) peer_routing_id: Option<Bytes>,
    /// A STREAM socket's connection: raw bytes, no ZMTP (`engine/raw.rs`).
    pub(crate) raw: bool,
}

/// Which pipe a connection feeds.
#[derive(Debug)]
pub(crate) enum PipePlan {
    /// A pipe made at the handshake (accepted connections, and connects
    /// under IMMEDIATE): `peer` is its name at the owner, `shape` sizes it and
    /// the owner's end reports readiness to `signals`.
    Fresh {
        peer: PeerId,
        shape: PipeShape,
        signals: Rc<Signals>,
    },
    /// A connect-side pipe that outlives its connections (IMMEDIATE off):
    /// messages queued to it while disconnected leave after the handshake.
    Persistent(FarEnd),
}

/// What an engine reports to its owner.
#[derive(Debug)]
pub(crate) enum EngineEvent {
    /// The handshake completed on a fresh pipe: this is the owner's end.
    Attached(crate::pipe::Pipe),
    /// The handshake completed on the persistent pipe `peer`.
    Reattached {
        peer: PeerId,
        remote: Option<String>,
        properties: std::sync::Arc<crate::PeerProperties>,
        identity: Bytes,
        socket_type: Option<SocketType>,
        endpoint: String,
    },
    /// The connection is over. `pipe` is the pipe it fed, if its handshake
    /// completed; `persistent` says whether that pipe outlives it.
    Ended {
        endpoint: String,
        remote: Option<String>,
        pipe: Option<PeerId>,
        persistent: bool,
        end: EngineEnd,
    },
}

/// How an engine ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EngineEnd {
    /// The handshake did not complete.
    HandshakeFailed(CloseReason),
    /// An established connection dropped.
    Disconnected(CloseReason),
    /// The owner let go of the connection (close, unbind, pipe dropped).
    Released,
}

/// What an engine asks of the socket or relay it serves.
pub(crate) trait EngineOwner {
    /// The owner's closing state: a closing owner's engines finish within
    /// its linger.
    fn lifecycle(&self) -> &Lifecycle;

    /// What the owner says first to every new peer, ahead of anything
    /// queued (a SUB's subscriptions, an XPUB's welcome message); read at
    /// the moment the handshake completes, so none made since the spawn is
    /// missed.
    fn greeting(&self) -> Vec<Msg>;

    /// Takes one event. Called on the engine's task; must not wait.
    fn report(&self, event: EngineEvent);

    /// Decides whether the client of `request` gets in under `policy` (the
    /// one its connection started with; its session deferred the
    /// decision): at once, or later (a ZAP handler's reply).
    fn admit(&self, request: ZapRequest, policy: &AdmissionPolicy) -> Verdict;
}

/// An owner's answer to [`EngineOwner::admit`].
pub(crate) enum Verdict {
    /// Decided.
    Now(AuthDecision),
    /// To be awaited; the engine polls it between its other phases.
    Later(Pin<Box<dyn Future<Output = AuthDecision>>>),
}
