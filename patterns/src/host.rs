//! What a socket offers the tasks that make and serve its connections
//! (listeners, connecters, inproc joins, fan-out owner tasks): the
//! [`SocketHost`] trait. Those tasks sit below the socket and see it only
//! through this, so the arrows run one way: value types -> pipe -> engine ->
//! host -> transports and fan-out -> socket.

use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::Duration;

use monocoque_runtime::net::{Keepalive, TcpStream, TcpTuning, UnixStream};
use monocoque_zmtp::{SessionConfig, SocketType};

use crate::admission::AdmissionPolicy;
use crate::engine::{EngineOwner, EngineSetup, PipePlan};
use crate::monitor::MonitorEvent;
use crate::options::Options;
use crate::pipe::{FarEnd, PipeShape, Signals};
use crate::PeerId;

/// What no frame may announce, MAXMSGSIZE or not: the machine's memory.
fn memory_ceiling() -> Option<u64> {
    static CEILING: OnceLock<Option<u64>> = OnceLock::new();
    *CEILING.get_or_init(monocoque_runtime::physical_memory)
}

/// The options that shape a new connection, read once per option change so
/// that transports never borrow the socket's state to learn them.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionTerms {
    /// The protocol session's configuration, or the configuration error
    /// (incomplete CURVE keys) that refuses every new connection.
    pub(crate) session: Result<SessionConfig, monocoque_zmtp::Error>,
    /// The routing id this socket presents (the Identity it sends over ZMTP).
    routing_id: bytes::Bytes,
    /// How the socket admits the clients of its server mechanism.
    pub(crate) admission: AdmissionPolicy,
    /// ZAP_DOMAIN, for ZAP requests.
    pub(crate) zap_domain: bytes::Bytes,
    /// ROUTING_ID whatever the type, as libzmq fills ZAP's identity frame.
    zap_identity: bytes::Bytes,
    /// How the connection's pipe is sized.
    pub(crate) shape: PipeShape,
    /// PROBE_ROUTER.
    pub(crate) probe_router: bool,
    /// TCP_KEEPALIVE and its settings.
    pub(crate) tcp_keepalive: Keepalive,
    /// TOS, BINDTODEVICE, TCP_MAXRT and BUSY_POLL.
    pub(crate) tcp_tuning: TcpTuning,
    /// CONNECT_TIMEOUT (`None`: the kernel's).
    pub(crate) connect_timeout: Option<Duration>,
    /// RECONNECT_IVL (`None`: do not reconnect).
    pub(crate) reconnect_ivl: Option<Duration>,
    /// RECONNECT_IVL_MAX.
    pub(crate) reconnect_ivl_max: Duration,
    /// RECONNECT_STOP.
    pub(crate) reconnect_stop: u8,
    /// SNDBUF (`None`: the system's).
    pub(crate) sndbuf: Option<u32>,
    /// RCVBUF (`None`: the system's).
    pub(crate) rcvbuf: Option<u32>,
    /// TCP_ACCEPT_FILTER: the networks accepted tcp peers must be in
    /// (none: any).
    pub(crate) tcp_accept_filters: Vec<crate::AcceptFilter>,
    /// IPC_FILTER_UID, _GID, _PID: the peers accepted ipc connections must
    /// be (none: any).
    pub(crate) ipc_filters: crate::ipc_filter::IpcFilters,
    /// SOCKS_PROXY with its credentials: tcp connects go through it.
    pub(crate) socks: Option<crate::socks_proxy::SocksRoute>,
}

impl ConnectionTerms {
    /// The terms `options` give a `kind` socket's connections.
    pub(crate) fn of(options: &Options, kind: SocketType) -> ConnectionTerms {
        let session = options.session_config(kind).map(|mut s| {
            s.memory_ceiling = memory_ceiling();
            s
        });
        let routing_id = if kind.sends_identity() {
            options.routing_id.clone()
        } else {
            bytes::Bytes::new()
        };
        let admission = options
            .security()
            .map(|(_, policy)| policy)
            .unwrap_or(AdmissionPolicy::Refuse);
        ConnectionTerms {
            session,
            routing_id,
            admission,
            zap_domain: options.zap_domain.clone(),
            zap_identity: options.routing_id.clone(),
            shape: PipeShape::of(options, kind),
            probe_router: options.probe_router,
            tcp_keepalive: options.tcp_keepalive,
            tcp_tuning: options.tcp_tuning.clone(),
            connect_timeout: options.connect_timeout,
            reconnect_ivl: options.reconnect_ivl,
            reconnect_ivl_max: options.reconnect_ivl_max,
            reconnect_stop: options.reconnect_stop,
            sndbuf: options.sndbuf,
            rcvbuf: options.rcvbuf,
            tcp_accept_filters: options.tcp_accept_filters.clone(),
            ipc_filters: options.ipc_filters.clone(),
            socks: options
                .socks_proxy
                .clone()
                .map(|proxy| crate::socks_proxy::SocksRoute {
                    proxy,
                    username: options.socks_credentials.0.clone(),
                    password: options.socks_credentials.1.clone(),
                    exchange_limit: Some(options.handshake_ivl).filter(|d| !d.is_zero()),
                }),
        }
    }

    /// What an engine puts in admission requests.
    pub(crate) fn zap_facts(&self) -> crate::engine::ZapFacts {
        crate::engine::ZapFacts {
            domain: self.zap_domain.clone(),
            identity: self.zap_identity.clone(),
            policy: self.admission.clone(),
        }
    }

    /// The routing id this socket presents to an inproc peer (the Identity
    /// property it would send over ZMTP; empty for types that send none).
    pub(crate) fn routing_id(&self) -> bytes::Bytes {
        self.routing_id.clone()
    }
}

/// An accepted or connected network stream.
pub(crate) enum NetStream {
    Tcp(TcpStream),
    Ipc(UnixStream),
}

/// A stream that can move to another reactor (fan-out over IO cores).
pub(crate) trait MovableStream: Sized {
    /// Which kind the far reactor rebuilds.
    const KIND: StreamKind;
    /// Gives up the descriptor (the stream must have nothing in flight).
    fn into_fd(self) -> std::io::Result<OwnedFd>;
    /// Rebuilds the stream on the current reactor.
    fn from_fd(fd: OwnedFd) -> std::io::Result<Self>;
}

/// The kind of stream a descriptor handed between reactors is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamKind {
    Tcp,
    Ipc,
}

impl MovableStream for TcpStream {
    const KIND: StreamKind = StreamKind::Tcp;
    fn into_fd(self) -> std::io::Result<OwnedFd> {
        self.into_owned_fd()
    }
    fn from_fd(fd: OwnedFd) -> std::io::Result<Self> {
        TcpStream::from_owned_fd(fd)
    }
}

impl MovableStream for UnixStream {
    const KIND: StreamKind = StreamKind::Ipc;
    fn into_fd(self) -> std::io::Result<OwnedFd> {
        self.into_owned_fd()
    }
    fn from_fd(fd: OwnedFd) -> std::io::Result<Self> {
        UnixStream::from_owned_fd(fd)
    }
}

/// A socket, as its connection tasks see it.
pub(crate) trait SocketHost: EngineOwner {
    /// The socket's type.
    fn kind(&self) -> SocketType;
    /// Where the socket learns of its pipes' readiness and events.
    fn signals(&self) -> &Rc<Signals>;
    /// Queues an event to the socket's monitors.
    fn post(&self, event: MonitorEvent);
    /// A fresh name for a new pipe.
    fn allocate_peer(&self) -> PeerId;
    /// The terms for a connection starting now.
    fn terms(&self) -> Rc<ConnectionTerms>;
    /// An accepted connection, offered to the socket's IO cores (fan-out):
    /// `None` if one took it (or it was lost moving), the stream back to run
    /// here otherwise.
    fn hand_off(&self, stream: NetStream, endpoint: &str) -> Option<NetStream>;

    /// The setup of an engine for a connection to or from `endpoint` starting
    /// now: it feeds `persistent`, or a fresh pipe; `peer_routing_id`
    /// (CONNECT_ROUTING_ID) names the peer instead of its own Identity.
    fn engine_setup(
        &self,
        endpoint: &str,
        persistent: Option<FarEnd>,
        peer_routing_id: Option<bytes::Bytes>,
    ) -> EngineSetup {
        let terms = self.terms();
        let pipe = match persistent {
            Some(p) => PipePlan::Persistent(p),
            None => PipePlan::Fresh {
                peer: self.allocate_peer(),
                shape: terms.shape,
                signals: self.signals().clone(),
            },
        };
        EngineSetup {
            endpoint: endpoint.to_string(),
            session: terms.session.clone(),
            pipe,
            probe_router: terms.probe_router,
            zap: terms.zap_facts(),
            peer_routing_id,
            raw: self.kind() == SocketType::Stream,
        }
    }
}
