//! Socket options, with libzmq's names and defaults.
//!
//! Every option is a variant of [`SocketOption`], named after libzmq's `ZMQ_*`
//! constant. [`Options::apply`] refuses an option the socket type does not
//! support (ROUTER_MANDATORY on a DEALER, say) instead of ignoring it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use monocoque_runtime::net::{Keepalive, TcpTuning};
use monocoque_zmtp::mechanism::{CurvePublicKey, CurveSecretKey};
use monocoque_zmtp::{Admission, Authenticator, MechanismConfig, SessionConfig, SocketType};

use crate::admission::AdmissionPolicy;
use crate::curve_settings::CurveSettings;
use crate::ipc_filter::IpcFilterKind;
use crate::socks_proxy::SOCKS_CREDENTIAL_MAX;
use crate::{Error, Result};

/// ZMQ_RECONNECT_STOP_CONN_REFUSED: stop when the peer refuses the connection.
pub const RECONNECT_STOP_CONN_REFUSED: u8 = 1;
/// ZMQ_RECONNECT_STOP_HANDSHAKE_FAILED: stop when a handshake fails.
pub const RECONNECT_STOP_HANDSHAKE_FAILED: u8 = 2;
/// ZMQ_RECONNECT_STOP_AFTER_DISCONNECT: stop once an established connection ends.
pub const RECONNECT_STOP_AFTER_DISCONNECT: u8 = 4;

/// One socket option and its value.
///
/// ```
/// use std::time::Duration;
/// use monocoque_patterns::{Options, SocketOption};
/// use monocoque_zmtp::SocketType;
/// let mut o = Options::new(SocketType::Router);
/// o.apply(SocketType::Router, SocketOption::RouterMandatory(true)).unwrap();
/// assert!(o.apply(SocketType::Dealer, SocketOption::RouterMandatory(true)).is_err());
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum SocketOption {
    /// ZMQ_SNDHWM: messages queued per outgoing pipe (0 = no limit). Default 1000.
    SndHwm(usize),
    /// ZMQ_RCVHWM: messages queued per incoming pipe (0 = no limit). Default 1000.
    RcvHwm(usize),
    /// ZMQ_LINGER: how long `close` waits for queued messages to leave
    /// (`None` = forever, libzmq's -1, the default).
    Linger(Option<Duration>),
    /// ZMQ_SNDTIMEO: how long `send` waits (`None` = forever, the default;
    /// zero = fail at once with `WouldBlock`).
    SndTimeo(Option<Duration>),
    /// ZMQ_RCVTIMEO: how long `recv` waits (as SNDTIMEO).
    RcvTimeo(Option<Duration>),
    /// ZMQ_IMMEDIATE: queue messages only to completed connections (for
    /// inproc: to bound names). Default off.
    Immediate(bool),
    /// ZMQ_RECONNECT_IVL: wait before reconnecting (`None` = never reconnect,
    /// libzmq's -1). Default 100 ms.
    ReconnectIvl(Option<Duration>),
    /// ZMQ_RECONNECT_IVL_MAX: with a non-zero value, each failed attempt doubles
    /// the wait up to this. Default zero (no backoff).
    ReconnectIvlMax(Duration),
    /// ZMQ_RECONNECT_STOP: when a connect stops reconnecting, a sum of
    /// [`RECONNECT_STOP_CONN_REFUSED`] (the peer refused the connection),
    /// [`RECONNECT_STOP_HANDSHAKE_FAILED`] and
    /// [`RECONNECT_STOP_AFTER_DISCONNECT`] (an established connection
    /// ended); 0, the default, for never.
    ReconnectStop(u8),
    /// ZMQ_HEARTBEAT_IVL: send a PING this often (zero = off, the default).
    HeartbeatIvl(Duration),
    /// ZMQ_HEARTBEAT_TTL: the TTL our PINGs ask the peer to apply (zero = none).
    HeartbeatTtl(Duration),
    /// ZMQ_HEARTBEAT_TIMEOUT: a peer silent this long after a PING is dropped
    /// (zero = HEARTBEAT_IVL, the default).
    HeartbeatTimeout(Duration),
    /// ZMQ_HANDSHAKE_IVL: the handshake must finish within this (zero = no limit).
    /// Default 30 s.
    HandshakeIvl(Duration),
    /// ZMQ_MAXMSGSIZE: the largest message accepted from tcp and ipc peers,
    /// its frames summed (`None` = no limit, the default). libzmq checks each
    /// frame alone; summing keeps a peer from growing one message without
    /// bound through endless MORE frames. A peer over the limit is disconnected.
    MaxMsgSize(Option<u64>),
    /// The most frames a message from a tcp or ipc peer may have (`None` = no
    /// cap, the default). A Monocoque option, not in libzmq: with MAXMSGSIZE it
    /// bounds what a peer can make a connection buffer, since empty frames
    /// cost memory but no bytes. A peer over the cap is disconnected.
    MaxMsgFrames(Option<usize>),
    /// ZMQ_ROUTING_ID: the identity sent to peers (by REQ, DEALER and ROUTER;
    /// 1 to 255 bytes, not starting with a zero byte). Every socket type takes
    /// it, as in libzmq; each puts it in its ZAP requests' identity frame.
    RoutingId(Bytes),
    /// ZMQ_ROUTER_MANDATORY: unroutable messages fail with `HostUnreachable`,
    /// and a full peer with `WouldBlock`, instead of being dropped.
    RouterMandatory(bool),
    /// ZMQ_ROUTER_HANDOVER: a new peer with a routing id in use takes it over.
    RouterHandover(bool),
    /// ZMQ_CONNECT_ROUTING_ID: the routing id the ROUTER gives the peer of
    /// its next `connect` (instead of the Identity the peer sends), for that
    /// connection and its reconnections; taken by that connect, as in
    /// libzmq. 1 to 255 bytes, not starting with a zero byte.
    ConnectRoutingId(Bytes),
    /// ZMQ_ROUTER_NOTIFY: the ROUTER receives `[routing id, ""]` when a peer
    /// connects (1, ZMQ_NOTIFY_CONNECT), disconnects (2,
    /// ZMQ_NOTIFY_DISCONNECT), or both (3); 0, the default, for neither.
    RouterNotify(u8),
    /// ZMQ_IPV6: `tcp://*` binds every IPv6 address as well as every IPv4
    /// one, with one dual-stack socket (off by default, as in libzmq: then
    /// `*` is every IPv4 address). IPv6 literals and names are always
    /// accepted, which libzmq refuses without this option.
    Ipv6(bool),
    /// ZMQ_SNDBUF: the kernel's send buffer for each new tcp or ipc
    /// connection, in bytes (`None`, the default: the system's).
    SndBuf(Option<u32>),
    /// ZMQ_RCVBUF: the kernel's receive buffer for each new connection, in
    /// bytes (`None`, the default: the system's).
    RcvBuf(Option<u32>),
    /// ZMQ_BACKLOG: how many connections the kernel queues for a bound
    /// tcp or ipc endpoint before they are accepted (default 100, libzmq's;
    /// capped by net.core.somaxconn). Applies to later binds.
    Backlog(u32),
    /// ZMQ_STREAM_NOTIFY: a STREAM receives `[routing id, ""]` when a
    /// connection opens and when it closes (on by default, as in libzmq).
    StreamNotify(bool),
    /// ZMQ_PROBE_ROUTER: send an empty message to each new connection
    /// (ROUTER, DEALER, REQ).
    ProbeRouter(bool),
    /// ZMQ_REQ_CORRELATE: number requests and accept only the matching reply.
    ReqCorrelate(bool),
    /// ZMQ_REQ_RELAXED: allow a new request before the reply to the last one.
    ReqRelaxed(bool),
    /// ZMQ_TCP_KEEPALIVE: `None` = the system's setting (libzmq's -1, default).
    TcpKeepalive(Option<bool>),
    /// ZMQ_TCP_KEEPALIVE_IDLE: idle time before probes (`None` = system's).
    TcpKeepaliveIdle(Option<Duration>),
    /// ZMQ_TCP_KEEPALIVE_INTVL: time between probes (`None` = system's).
    TcpKeepaliveIntvl(Option<Duration>),
    /// ZMQ_TCP_KEEPALIVE_CNT: unanswered probes before the connection drops
    /// (`None` = system's).
    TcpKeepaliveCnt(Option<u32>),
    /// ZMQ_TOS: the IP type-of-service byte (IPv6 traffic class) of every
    /// tcp connection and listener made from now on (0, the default: the
    /// system's).
    Tos(u8),
    /// ZMQ_BINDTODEVICE: confine tcp listeners and connections made from
    /// now on to this interface (SO_BINDTODEVICE; "" for none, the default).
    /// A device that does not exist fails the bind, and each connect attempt.
    BindToDevice(String),
    /// ZMQ_CONNECT_TIMEOUT: how long a tcp connect to one address may take
    /// before it is abandoned (the next address of the host is tried, then
    /// the attempt is retried after RECONNECT_IVL; `None`, the default: the
    /// kernel's, minutes against a silent host).
    ConnectTimeout(Option<Duration>),
    /// ZMQ_TCP_MAXRT: how long sent data may go unacknowledged before the
    /// kernel drops the connection (TCP_USER_TIMEOUT; `None`, the default:
    /// the system's retransmission limit).
    TcpMaxrt(Option<Duration>),
    /// ZMQ_BUSY_POLL: the kernel's SO_BUSY_POLL on tcp connections made from
    /// now on, in microseconds of busy polling per blocking read (`None` or
    /// zero, the default: the system's, net.core.busy_read). Raising it above the
    /// system's needs CAP_NET_ADMIN: without it the option is refused when
    /// set. libzmq has it as a draft option.
    BusyPoll(Option<Duration>),
    /// ZMQ_USE_FD: the next tcp or ipc bind takes over this listening
    /// socket instead of making one (the bind's address names only the
    /// transport); `None`, the default, makes one. See [`ListeningFd`].
    ///
    /// [`ListeningFd`]: crate::ListeningFd
    UseFd(Option<crate::ListeningFd>),
    /// ZMQ_TCP_ACCEPT_FILTER: `Some` adds a network (`a.b.c.d/n`, see
    /// [`AcceptFilter`]) the socket's tcp endpoints take connections from;
    /// `None` clears them (every peer taken, the default). A connection
    /// accepted from now on from outside every network is closed at once.
    ///
    /// [`AcceptFilter`]: crate::AcceptFilter
    TcpAcceptFilter(Option<String>),
    /// ZMQ_IPC_FILTER_UID: `Some` adds a user whose processes the socket's
    /// ipc endpoints take connections from; `None` clears the users. With
    /// no IPC filter set (the default) every peer is taken; with some, a
    /// connection accepted from now on whose peer (SO_PEERCRED) matches
    /// none of the users, groups and processes listed is closed at once.
    IpcFilterUid(Option<u32>),
    /// ZMQ_IPC_FILTER_GID: as [`IpcFilterUid`](Self::IpcFilterUid), for a
    /// group: the peer's own group, or one whose member list names the
    /// peer's user (the system's group database is asked at the accept).
    IpcFilterGid(Option<u32>),
    /// ZMQ_IPC_FILTER_PID: as [`IpcFilterUid`](Self::IpcFilterUid), for a
    /// process id.
    IpcFilterPid(Option<u32>),
    /// ZMQ_SOCKS_PROXY: tcp connects go through the SOCKS5 proxy at
    /// `host:port` (libzmq's form, optionally after `source:port;`, the
    /// address the connection to the proxy starts from); the target's
    /// name is sent for the proxy to resolve. `None` (the default) clears
    /// it; an empty text is refused. Binds are not affected.
    SocksProxy(Option<String>),
    /// ZMQ_SOCKS_USERNAME: when not empty, the proxy is asked to take this
    /// username and ZMQ_SOCKS_PASSWORD (RFC 1929) instead of no
    /// authentication. At most 255 bytes.
    SocksUsername(Bytes),
    /// ZMQ_SOCKS_PASSWORD: the password sent with
    /// [`SocksUsername`](Self::SocksUsername). At most 255 bytes.
    SocksPassword(Bytes),
    /// ZMQ_PLAIN_USERNAME and ZMQ_PLAIN_PASSWORD: be a PLAIN client.
    PlainClient {
        /// At most 255 bytes.
        username: Bytes,
        /// At most 255 bytes.
        password: Bytes,
    },
    /// ZMQ_SUBSCRIBE: receive messages whose first frame starts with these
    /// bytes (SUB, XSUB; empty = everything). Counted: subscribing twice takes
    /// two UNSUBSCRIBEs. On an XPUB with XPUB_MANUAL: subscribe the peer whose
    /// request was received last.
    Subscribe(Bytes),
    /// ZMQ_UNSUBSCRIBE: withdraw one count of a subscription (SUB, XSUB; XPUB
    /// with XPUB_MANUAL).
    Unsubscribe(Bytes),
    /// ZMQ_XPUB_VERBOSE: pass every subscribe to the XPUB user, not only
    /// those for topics nobody had (cancels stay deduplicated).
    XpubVerbose(bool),
    /// ZMQ_XPUB_VERBOSER: pass every subscribe and every cancel.
    XpubVerboser(bool),
    /// ZMQ_XPUB_MANUAL: subscriptions are not applied by themselves; the user
    /// reads each request and applies it with Subscribe/Unsubscribe.
    XpubManual(bool),
    /// ZMQ_XPUB_MANUAL_LAST_VALUE: XPUB_MANUAL, and the first message sent
    /// after the user reads a request goes only to the subscriber that sent
    /// it (if its subscriptions match), not to every match: a last-value
    /// cache answers a new subscriber without repeating itself to the others.
    /// One message, then matching is as usual until the next request is read.
    XpubManualLastValue(bool),
    /// ZMQ_ONLY_FIRST_SUBSCRIBE: a multipart message whose first frame is a
    /// subscribe or cancel (`0x01`/`0x00` + topic) is that subscription, and
    /// its other frames are data for the receiver (XPUB, PUB, XSUB). An XSUB
    /// applies the first frame and sends the whole message upstream; an XPUB
    /// applies it and hands the user the whole message; a PUB applies it and
    /// drops the rest. Without it a multipart message is data, whatever its
    /// frames start with (libzmq reads each frame of it as a possible
    /// subscription).
    OnlyFirstSubscribe(bool),
    /// ZMQ_XPUB_NODROP: a send that would drop a message for a subscriber at
    /// its SNDHWM waits (or fails with `WouldBlock`) instead (PUB, XPUB).
    XpubNodrop(bool),
    /// ZMQ_XPUB_WELCOME_MSG: a message sent to each subscriber as it connects
    /// (empty = none, the default).
    XpubWelcomeMsg(Bytes),
    /// The most distinct subscriptions one subscriber connection may hold at
    /// a PUB or XPUB (`None` = no cap, the default: libzmq has no such
    /// limit). A Monocoque option, not in libzmq (ZMQ_MAX_SUBSCRIPTIONS, as
    /// MAXMSGFRAMES is ours): without it one peer can make the publisher hold,
    /// match against and forward upstream any number of topics. A subscribe
    /// to a topic the peer already holds changes nothing and is not counted
    /// again (a PUB keeps each peer's subscriptions as a set); a cancel makes
    /// room. Under XPUB_MANUAL it counts the topics the peer asked for. A
    /// peer whose subscribe would go over is disconnected, its subscriptions
    /// removed as when it leaves (an XPUB user hears the cancels), with a
    /// warning and a `Disconnected` monitor event naming the cap; the other
    /// peers are not affected. A new value applies from each peer's next
    /// subscribe. At least 1.
    MaxSubscriptions(Option<usize>),
    /// The most bytes one subscriber connection's topics may add up to at a
    /// PUB or XPUB, each distinct topic counted once (`None` = no cap, the
    /// default). A Monocoque option (ZMQ_MAX_SUBSCRIPTION_BYTES), counted and
    /// enforced as MAX_SUBSCRIPTIONS is; zero allows only the empty
    /// subscription (everything).
    MaxSubscriptionBytes(Option<usize>),
    /// ZMQ_INVERT_MATCHING: PUB and XPUB send to the subscribers a message
    /// does not match; SUB receives the messages matching none of its
    /// subscriptions. Every socket type takes it, as in libzmq; on the others
    /// it changes nothing (a warning says so).
    InvertMatching(bool),
    /// ZMQ_CONFLATE: keep only the newest message in each pipe (PUB, SUB, PUSH,
    /// PULL, DEALER), for "last value" feeds. SNDHWM and RCVHWM no longer apply
    /// to the conflated direction. Every socket type takes it, as in libzmq;
    /// on the others it changes nothing (a warning says so).
    Conflate(bool),
    /// ZMQ_PLAIN_SERVER, with the authenticator that decides who gets in (libzmq
    /// asks a ZAP handler; here it is a plain Rust trait object).
    PlainServer(Arc<dyn Authenticator>),
    /// ZMQ_CURVE_SERVER: be a CURVE server (true) or go back to NULL
    /// (false). A server needs CURVE_SECRETKEY by the time it binds or
    /// connects.
    CurveServer(bool),
    /// ZMQ_CURVE_PUBLICKEY: our long-term public key (optional: it follows
    /// from the secret key; when given it must match it). Selects CURVE.
    CurvePublicKey(CurvePublicKey),
    /// ZMQ_CURVE_SECRETKEY: our long-term secret key. Selects CURVE.
    CurveSecretKey(CurveSecretKey),
    /// ZMQ_CURVE_SERVERKEY: the server's long-term public key; makes the
    /// socket a CURVE client.
    CurveServerKey(CurvePublicKey),
    /// Who a CURVE server lets in, by the client's long-term public key
    /// (`Credentials::Curve`); the `AuthDecision`'s user id becomes the
    /// peer's User-Id. Without one, every client that completes the
    /// handshake is admitted, as libzmq does when no ZAP handler is bound.
    /// A Monocoque option (libzmq asks a ZAP handler).
    CurveAuthenticator(Arc<dyn Authenticator>),
    /// ZMQ_PLAIN_SERVER as libzmq has it: a PLAIN server whose clients are
    /// admitted by the ZAP handler bound at `inproc://zeromq.zap.01` on the
    /// socket's thread (its context, for the blocking API); with none bound
    /// every client is refused, as in libzmq.
    PlainServerViaZap,
    /// ZMQ_METADATA: an application property sent to every peer in the
    /// handshake (READY or INITIATE), which libzmq peers read with
    /// `zmq_msg_gets`. `name` starts with `X-` (as libzmq requires; at most
    /// 255 bytes); setting a name again (names compare without case, as
    /// ZMTP's do) replaces its value.
    Metadata {
        /// The property's name, `X-` and at least one more character.
        name: String,
        /// Its value.
        value: Bytes,
    },
    /// ZMQ_ZAP_DOMAIN: the domain sent in ZAP requests (at most 255 bytes).
    /// On a NULL socket a non-empty domain makes it ask the ZAP handler
    /// about each peer, as libzmq does (admitting them when none is bound).
    ZapDomain(Bytes),
}

impl SocketOption {
    /// libzmq's name for the option.
    pub fn name(&self) -> &'static str {
        use SocketOption::*;
        match self {
            SndHwm(_) => "SNDHWM",
            RcvHwm(_) => "RCVHWM",
            Linger(_) => "LINGER",
            SndTimeo(_) => "SNDTIMEO",
            RcvTimeo(_) => "RCVTIMEO",
            Immediate(_) => "IMMEDIATE",
            ReconnectIvl(_) => "RECONNECT_IVL",
            ReconnectIvlMax(_) => "RECONNECT_IVL_MAX",
            ReconnectStop(_) => "RECONNECT_STOP",
            HeartbeatIvl(_) => "HEARTBEAT_IVL",
            HeartbeatTtl(_) => "HEARTBEAT_TTL",
            HeartbeatTimeout(_) => "HEARTBEAT_TIMEOUT",
            HandshakeIvl(_) => "HANDSHAKE_IVL",
            MaxMsgSize(_) => "MAXMSGSIZE",
            MaxMsgFrames(_) => "MAXMSGFRAMES",
            RoutingId(_) => "ROUTING_ID",
            RouterMandatory(_) => "ROUTER_MANDATORY",
            RouterHandover(_) => "ROUTER_HANDOVER",
            RouterNotify(_) => "ROUTER_NOTIFY",
            StreamNotify(_) => "STREAM_NOTIFY",
            Backlog(_) => "BACKLOG",
            SndBuf(_) => "SNDBUF",
            Ipv6(_) => "IPV6",
            RcvBuf(_) => "RCVBUF",
            ConnectRoutingId(_) => "CONNECT_ROUTING_ID",
            ProbeRouter(_) => "PROBE_ROUTER",
            ReqCorrelate(_) => "REQ_CORRELATE",
            ReqRelaxed(_) => "REQ_RELAXED",
            TcpKeepalive(_) => "TCP_KEEPALIVE",
            TcpKeepaliveIdle(_) => "TCP_KEEPALIVE_IDLE",
            TcpKeepaliveIntvl(_) => "TCP_KEEPALIVE_INTVL",
            TcpKeepaliveCnt(_) => "TCP_KEEPALIVE_CNT",
            Tos(_) => "TOS",
            BindToDevice(_) => "BINDTODEVICE",
            ConnectTimeout(_) => "CONNECT_TIMEOUT",
            TcpMaxrt(_) => "TCP_MAXRT",
            BusyPoll(_) => "BUSY_POLL",
            UseFd(_) => "USE_FD",
            TcpAcceptFilter(_) => "TCP_ACCEPT_FILTER",
            IpcFilterUid(_) => "IPC_FILTER_UID",
            IpcFilterGid(_) => "IPC_FILTER_GID",
            IpcFilterPid(_) => "IPC_FILTER_PID",
            SocksProxy(_) => "SOCKS_PROXY",
            SocksUsername(_) => "SOCKS_USERNAME",
            SocksPassword(_) => "SOCKS_PASSWORD",
            PlainClient { .. } => "PLAIN_USERNAME/PLAIN_PASSWORD",
            PlainServer(_) => "PLAIN_SERVER",
            CurveServer(_) => "CURVE_SERVER",
            CurvePublicKey(_) => "CURVE_PUBLICKEY",
            CurveSecretKey(_) => "CURVE_SECRETKEY",
            CurveServerKey(_) => "CURVE_SERVERKEY",
            CurveAuthenticator(_) => "CURVE_AUTHENTICATOR",
            PlainServerViaZap => "PLAIN_SERVER",
            ZapDomain(_) => "ZAP_DOMAIN",
            Metadata { .. } => "METADATA",
            Subscribe(_) => "SUBSCRIBE",
            Unsubscribe(_) => "UNSUBSCRIBE",
            XpubVerbose(_) => "XPUB_VERBOSE",
            XpubVerboser(_) => "XPUB_VERBOSER",
            XpubManual(_) => "XPUB_MANUAL",
            XpubNodrop(_) => "XPUB_NODROP",
            XpubManualLastValue(_) => "XPUB_MANUAL_LAST_VALUE",
            OnlyFirstSubscribe(_) => "ONLY_FIRST_SUBSCRIBE",
            XpubWelcomeMsg(_) => "XPUB_WELCOME_MSG",
            InvertMatching(_) => "INVERT_MATCHING",
            MaxSubscriptions(_) => "MAX_SUBSCRIPTIONS",
            MaxSubscriptionBytes(_) => "MAX_SUBSCRIPTION_BYTES",
            Conflate(_) => "CONFLATE",
        }
    }
}

impl std::fmt::Debug for SocketOption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SocketOption::{}", self.name())
    }
}

/// A socket's option values.
///
/// Read them with the accessor named after each option and change them with
/// [`Options::apply`], which checks each value; the fields stay private so
/// that new options can be added without breaking callers.
///
/// ```
/// use monocoque_patterns::Options;
/// use monocoque_zmtp::SocketType;
/// let o = Options::new(SocketType::Dealer);
/// assert_eq!(o.sndhwm(), 1000);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Options {
    /// SNDHWM.
    pub(crate) sndhwm: usize,
    /// RCVHWM.
    pub(crate) rcvhwm: usize,
    /// LINGER.
    pub(crate) linger: Option<Duration>,
    /// SNDTIMEO.
    pub(crate) sndtimeo: Option<Duration>,
    /// RCVTIMEO.
    pub(crate) rcvtimeo: Option<Duration>,
    /// IMMEDIATE.
    pub(crate) immediate: bool,
    /// RECONNECT_IVL.
    pub(crate) reconnect_ivl: Option<Duration>,
    /// RECONNECT_IVL_MAX.
    pub(crate) reconnect_ivl_max: Duration,
    /// RECONNECT_STOP.
    pub(crate) reconnect_stop: u8,
    /// HEARTBEAT_IVL.
    pub(crate) heartbeat_ivl: Duration,
    /// HEARTBEAT_TTL.
    pub(crate) heartbeat_ttl: Duration,
    /// HEARTBEAT_TIMEOUT.
    pub(crate) heartbeat_timeout: Duration,
    /// HANDSHAKE_IVL.
    pub(crate) handshake_ivl: Duration,
    /// MAXMSGSIZE.
    pub(crate) maxmsgsize: Option<u64>,
    /// MAXMSGFRAMES (Monocoque's).
    pub(crate) maxmsgframes: Option<usize>,
    /// ROUTING_ID.
    pub(crate) routing_id: Bytes,
    /// ROUTER_MANDATORY.
    pub(crate) router_mandatory: bool,
    /// ROUTER_HANDOVER.
    pub(crate) router_handover: bool,
    /// ROUTER_NOTIFY (1 connect, 2 disconnect).
    pub(crate) router_notify: u8,
    /// STREAM_NOTIFY.
    pub(crate) stream_notify: bool,
    /// BACKLOG.
    pub(crate) backlog: u32,
    /// ZMQ_USE_FD: a listening socket for the next tcp or ipc bind.
    pub(crate) use_fd: Option<crate::ListeningFd>,
    /// ZMQ_TCP_ACCEPT_FILTER: the networks tcp peers are taken from (none:
    /// any).
    pub(crate) tcp_accept_filters: Vec<crate::AcceptFilter>,
    /// ZMQ_IPC_FILTER_UID, _GID, _PID: the peers ipc endpoints take (none
    /// set: any).
    pub(crate) ipc_filters: crate::ipc_filter::IpcFilters,
    /// ZMQ_SOCKS_PROXY (`None`: connect directly).
    pub(crate) socks_proxy: Option<crate::socks_proxy::SocksProxy>,
    /// ZMQ_SOCKS_USERNAME and ZMQ_SOCKS_PASSWORD (empty username: none).
    pub(crate) socks_credentials: (Bytes, Bytes),
    /// IPV6.
    pub(crate) ipv6: bool,
    /// SNDBUF.
    pub(crate) sndbuf: Option<u32>,
    /// RCVBUF.
    pub(crate) rcvbuf: Option<u32>,
    /// CONNECT_ROUTING_ID, until the next connect takes it (empty: none).
    pub(crate) connect_routing_id: Bytes,
    /// PROBE_ROUTER.
    pub(crate) probe_router: bool,
    /// REQ_CORRELATE.
    pub(crate) req_correlate: bool,
    /// REQ_RELAXED.
    pub(crate) req_relaxed: bool,
    /// TCP_KEEPALIVE and friends.
    pub(crate) tcp_keepalive: Keepalive,
    /// TOS, BINDTODEVICE, TCP_MAXRT and BUSY_POLL.
    pub(crate) tcp_tuning: TcpTuning,
    /// CONNECT_TIMEOUT.
    pub(crate) connect_timeout: Option<Duration>,
    /// The security mechanism and role, when it is NULL or PLAIN.
    pub(crate) mechanism: MechanismConfig,
    /// The CURVE options; they choose the mechanism while `curve.selected`.
    pub(crate) curve: CurveSettings,
    /// ZAP_DOMAIN.
    pub(crate) zap_domain: Bytes,
    /// METADATA: application properties sent in the handshake.
    pub(crate) metadata: Vec<(String, Bytes)>,
    /// XPUB_VERBOSE (or XPUB_VERBOSER): every subscribe reaches the XPUB user.
    pub(crate) xpub_verbose_subs: bool,
    /// XPUB_VERBOSER: every cancel reaches the XPUB user.
    pub(crate) xpub_verbose_unsubs: bool,
    /// XPUB_MANUAL.
    pub(crate) xpub_manual: bool,
    /// XPUB_NODROP.
    pub(crate) xpub_nodrop: bool,
    /// XPUB_MANUAL_LAST_VALUE: the message after a read request goes to its
    /// sender only.
    pub(crate) xpub_send_last: bool,
    /// ONLY_FIRST_SUBSCRIBE.
    pub(crate) only_first_subscribe: bool,
    /// XPUB_WELCOME_MSG (empty = none).
    pub(crate) xpub_welcome_msg: Bytes,
    /// INVERT_MATCHING.
    pub(crate) invert_matching: bool,
    /// MAX_SUBSCRIPTIONS (Monocoque's).
    pub(crate) max_subscriptions: Option<usize>,
    /// MAX_SUBSCRIPTION_BYTES (Monocoque's).
    pub(crate) max_subscription_bytes: Option<usize>,
    /// CONFLATE.
    pub(crate) conflate: bool,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("sndhwm", &self.sndhwm)
            .field("rcvhwm", &self.rcvhwm)
            .field("linger", &self.linger)
            .field("immediate", &self.immediate)
            .field("reconnect_ivl", &self.reconnect_ivl)
            .field("mechanism", &self.mechanism)
            .finish_non_exhaustive()
    }
}

impl Options {
    /// libzmq's defaults.
    pub fn new(_socket_type: SocketType) -> Options {
        Options {
            sndhwm: 1000,
            rcvhwm: 1000,
            linger: None,
            sndtimeo: None,
            rcvtimeo: None,
            immediate: false,
            reconnect_ivl: Some(Duration::from_millis(100)),
            reconnect_ivl_max: Duration::ZERO,
            reconnect_stop: 0,
            heartbeat_ivl: Duration::ZERO,
            heartbeat_ttl: Duration::ZERO,
            heartbeat_timeout: Duration::ZERO,
            handshake_ivl: Duration::from_secs(30),
            maxmsgsize: None,
            maxmsgframes: None,
            routing_id: Bytes::new(),
            router_mandatory: false,
            router_handover: false,
            router_notify: 0,
            stream_notify: true,
            backlog: 100,
            use_fd: None,
            tcp_accept_filters: Vec::new(),
            ipc_filters: Default::default(),
            socks_proxy: None,
            socks_credentials: Default::default(),
            ipv6: false,
            sndbuf: None,
            rcvbuf: None,
            connect_routing_id: Bytes::new(),
            probe_router: false,
            req_correlate: false,
            req_relaxed: false,
            tcp_keepalive: Keepalive::default(),
            tcp_tuning: TcpTuning::default(),
            connect_timeout: None,
            mechanism: MechanismConfig::Null,
            curve: CurveSettings::default(),
            zap_domain: Bytes::new(),
            metadata: Vec::new(),
            xpub_verbose_subs: false,
            xpub_verbose_unsubs: false,
            xpub_manual: false,
            xpub_nodrop: false,
            xpub_send_last: false,
            only_first_subscribe: false,
            xpub_welcome_msg: Bytes::new(),
            invert_matching: false,
            max_subscriptions: None,
            max_subscription_bytes: None,
            conflate: false,
        }
    }

    /// ZMQ_SNDHWM: messages queued per outgoing pipe (0 = no limit).
    pub fn sndhwm(&self) -> usize {
        self.sndhwm
    }

    /// ZMQ_RCVHWM: messages queued per incoming pipe (0 = no limit).
    pub fn rcvhwm(&self) -> usize {
        self.rcvhwm
    }

    /// ZMQ_LINGER: how long `close` waits for queued messages (`None` = forever).
    pub fn linger(&self) -> Option<Duration> {
        self.linger
    }

    /// ZMQ_SNDTIMEO: how long `send` waits (`None` = forever, zero = not at all).
    pub fn sndtimeo(&self) -> Option<Duration> {
        self.sndtimeo
    }

    /// ZMQ_RCVTIMEO: how long `recv` waits (`None` = forever, zero = not at all).
    pub fn rcvtimeo(&self) -> Option<Duration> {
        self.rcvtimeo
    }

    /// ZMQ_IMMEDIATE: whether messages queue only to completed connections (a flag).
    pub fn immediate(&self) -> bool {
        self.immediate
    }

    /// ZMQ_RECONNECT_IVL: the wait before reconnecting (`None` = never reconnect).
    pub fn reconnect_ivl(&self) -> Option<Duration> {
        self.reconnect_ivl
    }

    /// ZMQ_RECONNECT_STOP: when a connect stops reconnecting (0: never).
    pub fn reconnect_stop(&self) -> u8 {
        self.reconnect_stop
    }

    /// ZMQ_RECONNECT_IVL_MAX: the longest backed-off reconnect wait (zero = no backoff).
    pub fn reconnect_ivl_max(&self) -> Duration {
        self.reconnect_ivl_max
    }

    /// ZMQ_HEARTBEAT_IVL: the time between PINGs (zero = no heartbeats).
    pub fn heartbeat_ivl(&self) -> Duration {
        self.heartbeat_ivl
    }

    /// ZMQ_HEARTBEAT_TTL: the TTL our PINGs ask the peer to apply (zero = none).
    pub fn heartbeat_ttl(&self) -> Duration {
        self.heartbeat_ttl
    }

    /// ZMQ_HEARTBEAT_TIMEOUT: the silence after a PING that drops a peer (zero = HEARTBEAT_IVL).
    pub fn heartbeat_timeout(&self) -> Duration {
        self.heartbeat_timeout
    }

    /// ZMQ_HANDSHAKE_IVL: the time the handshake may take (zero = no limit).
    pub fn handshake_ivl(&self) -> Duration {
        self.handshake_ivl
    }

    /// ZMQ_MAXMSGSIZE: the largest message accepted, in bytes over all frames (`None` = no limit).
    pub fn maxmsgsize(&self) -> Option<u64> {
        self.maxmsgsize
    }

    /// MAXMSGFRAMES (Monocoque's, not libzmq's): the most frames in a message (`None` = no cap).
    pub fn maxmsgframes(&self) -> Option<usize> {
        self.maxmsgframes
    }

    /// ZMQ_ROUTING_ID: the identity sent to peers, as bytes (empty = none set).
    pub fn routing_id(&self) -> &Bytes {
        &self.routing_id
    }

    /// ZMQ_ROUTER_MANDATORY: whether unroutable sends fail instead of dropping (a flag).
    pub fn router_mandatory(&self) -> bool {
        self.router_mandatory
    }

    /// ZMQ_ROUTER_HANDOVER: whether a new peer takes over a routing id in use (a flag).
    pub fn router_handover(&self) -> bool {
        self.router_handover
    }

    /// ZMQ_METADATA: the application properties sent in the handshake.
    pub fn metadata(&self) -> &[(String, Bytes)] {
        &self.metadata
    }

    /// ZMQ_CONNECT_ROUTING_ID still waiting for a connect (empty: none).
    pub fn connect_routing_id(&self) -> &Bytes {
        &self.connect_routing_id
    }

    /// ZMQ_ROUTER_NOTIFY: 1 connect, 2 disconnect, 3 both.
    pub fn router_notify(&self) -> u8 {
        self.router_notify
    }

    /// ZMQ_IPV6: whether `tcp://*` binds IPv6 as well as IPv4.
    pub fn ipv6(&self) -> bool {
        self.ipv6
    }

    /// ZMQ_SNDBUF and ZMQ_RCVBUF for new connections (`None`: the system's).
    pub fn buffer_sizes(&self) -> (Option<u32>, Option<u32>) {
        (self.sndbuf, self.rcvbuf)
    }

    /// ZMQ_USE_FD: the descriptor set for the next bind (`None`: none; it
    /// still reads back after a bind took it, as libzmq's does).
    pub fn use_fd(&self) -> Option<std::os::fd::RawFd> {
        self.use_fd.as_ref().map(crate::ListeningFd::raw)
    }

    /// ZMQ_BACKLOG: pending connections queued for a later bind.
    pub fn backlog(&self) -> u32 {
        self.backlog
    }

    /// ZMQ_STREAM_NOTIFY: whether a STREAM receives connect and disconnect
    /// notifications.
    pub fn stream_notify(&self) -> bool {
        self.stream_notify
    }

    /// ZMQ_PROBE_ROUTER: whether each new connection gets an empty message (a flag).
    pub fn probe_router(&self) -> bool {
        self.probe_router
    }

    /// ZMQ_REQ_CORRELATE: whether requests are numbered and replies matched (a flag).
    pub fn req_correlate(&self) -> bool {
        self.req_correlate
    }

    /// ZMQ_REQ_RELAXED: whether a new request may go before the last reply (a flag).
    pub fn req_relaxed(&self) -> bool {
        self.req_relaxed
    }

    /// ZMQ_TCP_KEEPALIVE, _IDLE, _INTVL and _CNT (whole seconds; `None` = the system's).
    pub fn tcp_keepalive(&self) -> Keepalive {
        self.tcp_keepalive
    }

    /// ZMQ_TOS, ZMQ_BINDTODEVICE, ZMQ_TCP_MAXRT and ZMQ_BUSY_POLL, as the
    /// kernel options they set (`None`: not set).
    pub fn tcp_tuning(&self) -> &TcpTuning {
        &self.tcp_tuning
    }

    /// ZMQ_SOCKS_PROXY as it was set (`None`: connects go directly).
    pub fn socks_proxy(&self) -> Option<&str> {
        self.socks_proxy.as_ref().map(|p| p.text.as_str())
    }

    /// ZMQ_SOCKS_USERNAME and ZMQ_SOCKS_PASSWORD (empty when not set).
    pub fn socks_credentials(&self) -> (&[u8], &[u8]) {
        (&self.socks_credentials.0, &self.socks_credentials.1)
    }

    /// ZMQ_CONNECT_TIMEOUT (`None`: the kernel's).
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    /// ZMQ_MECHANISM with ZMQ_PLAIN_*: the security mechanism and role (NULL by default).
    /// CURVE options are kept apart until a connection needs them: see
    /// [`curve_selected`](Self::curve_selected).
    pub fn mechanism(&self) -> &MechanismConfig {
        &self.mechanism
    }

    /// ZMQ_ZAP_DOMAIN (empty: none).
    pub fn zap_domain(&self) -> &[u8] {
        &self.zap_domain
    }

    /// ZMQ_MECHANISM is CURVE: a CURVE option selected it (and no later
    /// PLAIN or NULL option deselected it).
    pub fn curve_selected(&self) -> bool {
        self.curve.selected
    }

    /// ZMQ_CURVE_SERVER as libzmq reads it back: CURVE is selected, in the
    /// server's role.
    pub fn curve_server(&self) -> bool {
        self.curve.selected && self.curve.as_server
    }

    /// ZMQ_XPUB_VERBOSE (or _VERBOSER): whether every subscribe reaches the XPUB user (a flag).
    pub fn xpub_verbose_subs(&self) -> bool {
        self.xpub_verbose_subs
    }

    /// ZMQ_XPUB_VERBOSER: whether every cancel reaches the XPUB user (a flag).
    pub fn xpub_verbose_unsubs(&self) -> bool {
        self.xpub_verbose_unsubs
    }

    /// ZMQ_XPUB_MANUAL: whether the XPUB user applies subscriptions itself (a flag).
    pub fn xpub_manual(&self) -> bool {
        self.xpub_manual
    }

    /// ZMQ_XPUB_NODROP: whether a send to a full subscriber waits instead of dropping (a flag).
    pub fn xpub_nodrop(&self) -> bool {
        self.xpub_nodrop
    }

    /// ZMQ_XPUB_MANUAL_LAST_VALUE.
    pub fn xpub_manual_last_value(&self) -> bool {
        self.xpub_send_last
    }

    /// ZMQ_ONLY_FIRST_SUBSCRIBE.
    pub fn only_first_subscribe(&self) -> bool {
        self.only_first_subscribe
    }

    /// ZMQ_XPUB_WELCOME_MSG: the message sent to each new subscriber, as bytes (empty = none).
    pub fn xpub_welcome_msg(&self) -> &Bytes {
        &self.xpub_welcome_msg
    }

    /// ZMQ_INVERT_MATCHING: whether matching is inverted (a flag).
    pub fn invert_matching(&self) -> bool {
        self.invert_matching
    }

    /// MAX_SUBSCRIPTIONS (Monocoque's): distinct topics per subscriber (`None` = no cap).
    pub fn max_subscriptions(&self) -> Option<usize> {
        self.max_subscriptions
    }

    /// MAX_SUBSCRIPTION_BYTES (Monocoque's): topic bytes per subscriber (`None` = no cap).
    pub fn max_subscription_bytes(&self) -> Option<usize> {
        self.max_subscription_bytes
    }

    /// ZMQ_CONFLATE: whether each pipe keeps only the newest message (a flag).
    pub fn conflate(&self) -> bool {
        self.conflate
    }

    /// Sets one option, refusing it when `socket_type` does not support it or
    /// the value is out of range.
    pub fn apply(&mut self, socket_type: SocketType, option: SocketOption) -> Result<()> {
        // The socket type is checked before the value, so that an option on
        // the wrong socket reports that rather than its value.
        if let Some(types) = accepted_by(&option) {
            if !types.contains(&socket_type) {
                return Err(invalid(
                    option.name(),
                    format!("not supported by {socket_type} sockets"),
                ));
            }
        }
        if no_effect_on(&option, socket_type) {
            tracing::warn!(
                option = option.name(),
                socket_type = %socket_type,
                "taken, as libzmq takes it, but it changes nothing on this socket type"
            );
        }
        // Exhaustive, so that a new option has to be given a family; each
        // family's setter can then take the others as unreachable.
        match option {
            SocketOption::SndHwm(_)
            | SocketOption::RcvHwm(_)
            | SocketOption::Linger(_)
            | SocketOption::SndTimeo(_)
            | SocketOption::RcvTimeo(_)
            | SocketOption::Immediate(_)
            | SocketOption::ReconnectIvl(_)
            | SocketOption::ReconnectIvlMax(_)
            | SocketOption::ReconnectStop(_)
            | SocketOption::HeartbeatIvl(_)
            | SocketOption::HeartbeatTtl(_)
            | SocketOption::HeartbeatTimeout(_)
            | SocketOption::HandshakeIvl(_)
            | SocketOption::MaxMsgSize(_)
            | SocketOption::MaxMsgFrames(_)
            | SocketOption::Backlog(_)
            | SocketOption::SndBuf(_)
            | SocketOption::RcvBuf(_)
            | SocketOption::Ipv6(_) => self.apply_queueing_and_timing(option),
            SocketOption::RoutingId(_)
            | SocketOption::RouterMandatory(_)
            | SocketOption::RouterHandover(_)
            | SocketOption::RouterNotify(_)
            | SocketOption::StreamNotify(_)
            | SocketOption::ConnectRoutingId(_)
            | SocketOption::ProbeRouter(_)
            | SocketOption::ReqCorrelate(_)
            | SocketOption::ReqRelaxed(_) => self.apply_routing(option),
            SocketOption::Subscribe(_)
            | SocketOption::Unsubscribe(_)
            | SocketOption::XpubVerbose(_)
            | SocketOption::XpubVerboser(_)
            | SocketOption::XpubManual(_)
            | SocketOption::XpubNodrop(_)
            | SocketOption::XpubManualLastValue(_)
            | SocketOption::OnlyFirstSubscribe(_)
            | SocketOption::XpubWelcomeMsg(_)
            | SocketOption::InvertMatching(_)
            | SocketOption::MaxSubscriptions(_)
            | SocketOption::MaxSubscriptionBytes(_)
            | SocketOption::Conflate(_) => self.apply_pubsub(option),
            SocketOption::TcpKeepalive(_)
            | SocketOption::TcpKeepaliveIdle(_)
            | SocketOption::TcpKeepaliveIntvl(_)
            | SocketOption::TcpKeepaliveCnt(_)
            | SocketOption::Tos(_)
            | SocketOption::BindToDevice(_)
            | SocketOption::ConnectTimeout(_)
            | SocketOption::TcpMaxrt(_)
            | SocketOption::BusyPoll(_)
            | SocketOption::UseFd(_)
            | SocketOption::TcpAcceptFilter(_)
            | SocketOption::IpcFilterUid(_)
            | SocketOption::IpcFilterGid(_)
            | SocketOption::IpcFilterPid(_)
            | SocketOption::SocksProxy(_)
            | SocketOption::SocksUsername(_)
            | SocketOption::SocksPassword(_)
            | SocketOption::PlainClient { .. }
            | SocketOption::PlainServer(_)
            | SocketOption::PlainServerViaZap
            | SocketOption::ZapDomain(_)
            | SocketOption::Metadata { .. } => self.apply_transport_and_security(option),
            SocketOption::CurveServer(_)
            | SocketOption::CurvePublicKey(_)
            | SocketOption::CurveSecretKey(_)
            | SocketOption::CurveServerKey(_)
            | SocketOption::CurveAuthenticator(_) => {
                self.apply_curve(option);
                Ok(())
            }
        }
    }

    /// Stores a queueing, timing or message-limit option (HWMs, timeouts,
    /// reconnection, heartbeats, MAXMSGSIZE).
    fn apply_queueing_and_timing(&mut self, option: SocketOption) -> Result<()> {
        use SocketOption::*;
        let name = option.name();
        match option {
            SndHwm(v) => self.sndhwm = v,
            RcvHwm(v) => self.rcvhwm = v,
            Backlog(v) => self.backlog = v,
            SndBuf(v) => self.sndbuf = v,
            Ipv6(v) => self.ipv6 = v,
            RcvBuf(v) => self.rcvbuf = v,
            Linger(v) => self.linger = v,
            SndTimeo(v) => self.sndtimeo = v,
            RcvTimeo(v) => self.rcvtimeo = v,
            Immediate(v) => self.immediate = v,
            ReconnectIvl(v) => self.reconnect_ivl = v,
            ReconnectIvlMax(v) => self.reconnect_ivl_max = v,
            ReconnectStop(v) => {
                if v > 7 {
                    return Err(invalid(
                        name,
                        "a sum of 1 (refused), 2 (handshake failed) and 4 (after disconnect)",
                    ));
                }
                self.reconnect_stop = v;
            }
            HeartbeatIvl(v) => self.heartbeat_ivl = v,
            HeartbeatTtl(v) => {
                if v > monocoque_zmtp::MAX_HEARTBEAT_TTL {
                    return Err(invalid(
                        name,
                        "at most 6553.5 s (the wire carries deciseconds in 16 bits)",
                    ));
                }
                self.heartbeat_ttl = v
            }
            HeartbeatTimeout(v) => self.heartbeat_timeout = v,
            HandshakeIvl(v) => self.handshake_ivl = v,
            MaxMsgSize(v) => self.maxmsgsize = v,
            MaxMsgFrames(Some(0)) => {
                return Err(invalid(
                    name,
                    "zero; a message has at least one frame (None for no cap)",
                ))
            }
            MaxMsgFrames(v) => self.maxmsgframes = v,
            other => unreachable!("{} is not a queueing or timing option", other.name()),
        }
        Ok(())
    }

    /// Stores a routing option (ROUTING_ID, the ROUTER and REQ switches).
    fn apply_routing(&mut self, option: SocketOption) -> Result<()> {
        use SocketOption::*;
        let name = option.name();
        match option {
            RoutingId(v) => {
                if v.is_empty() || v.len() > 255 || v[0] == 0 {
                    return Err(invalid(
                        name,
                        "1 to 255 bytes, not starting with a zero byte (reserved for automatic ids)",
                    ));
                }
                self.routing_id = v
            }
            ConnectRoutingId(v) => {
                if v.is_empty() || v.len() > 255 || v[0] == 0 {
                    return Err(invalid(
                        name,
                        "1 to 255 bytes, not starting with a zero byte (reserved for automatic ids)",
                    ));
                }
                self.connect_routing_id = v
            }
            RouterMandatory(v) => self.router_mandatory = v,
            RouterHandover(v) => self.router_handover = v,
            RouterNotify(v) => {
                if v > 3 {
                    return Err(invalid(name, "0, 1 (connect), 2 (disconnect) or 3 (both)"));
                }
                self.router_notify = v;
            }
            StreamNotify(v) => self.stream_notify = v,
            ProbeRouter(v) => self.probe_router = v,
            ReqCorrelate(v) => self.req_correlate = v,
            ReqRelaxed(v) => self.req_relaxed = v,
            other => unreachable!("{} is not a routing option", other.name()),
        }
        Ok(())
    }

    /// Stores a publish-subscribe option (the XPUB switches, matching,
    /// subscription caps, CONFLATE).
    fn apply_pubsub(&mut self, option: SocketOption) -> Result<()> {
        use SocketOption::*;
        let name = option.name();
        match option {
            Subscribe(_) | Unsubscribe(_) => {
                return Err(invalid(
                    name,
                    "changes a socket's subscriptions, not a stored value: \
                     give it to Socket::set_option",
                ));
            }
            XpubVerbose(v) => {
                self.xpub_verbose_subs = v;
                self.xpub_verbose_unsubs = false;
            }
            XpubVerboser(v) => {
                self.xpub_verbose_subs = v;
                self.xpub_verbose_unsubs = v;
            }
            XpubManual(v) => self.xpub_manual = v,
            // As libzmq: manual mode on or off with it.
            XpubManualLastValue(v) => {
                self.xpub_manual = v;
                self.xpub_send_last = v;
            }
            OnlyFirstSubscribe(v) => self.only_first_subscribe = v,
            XpubNodrop(v) => self.xpub_nodrop = v,
            XpubWelcomeMsg(v) => self.xpub_welcome_msg = v,
            InvertMatching(v) => self.invert_matching = v,
            MaxSubscriptions(Some(0)) => {
                return Err(invalid(
                    name,
                    "zero would disconnect every subscriber (None for no cap)",
                ));
            }
            MaxSubscriptions(v) => self.max_subscriptions = v,
            MaxSubscriptionBytes(v) => self.max_subscription_bytes = v,
            Conflate(v) => self.conflate = v,
            other => unreachable!("{} is not a publish-subscribe option", other.name()),
        }
        Ok(())
    }

    /// Stores a tcp keepalive or security-mechanism option.
    fn apply_transport_and_security(&mut self, option: SocketOption) -> Result<()> {
        use SocketOption::*;
        let name = option.name();
        match option {
            TcpKeepalive(v) => self.tcp_keepalive.enabled = v,
            TcpKeepaliveIdle(v) => self.tcp_keepalive.idle = v,
            TcpKeepaliveIntvl(v) => self.tcp_keepalive.interval = v,
            TcpKeepaliveCnt(v) => self.tcp_keepalive.count = v,
            Tos(v) => self.tcp_tuning.tos = (v != 0).then_some(v),
            BindToDevice(device) => {
                if device.len() >= 16
                    || device.contains(['\0', '/'])
                    || device.contains(char::is_whitespace)
                {
                    return Err(invalid(
                        name,
                        "an interface name: at most 15 bytes, without '/', NUL or spaces",
                    ));
                }
                self.tcp_tuning.device = (!device.is_empty()).then_some(device);
            }
            ConnectTimeout(v) => self.connect_timeout = v.and_then(non_zero),
            TcpMaxrt(v) => self.tcp_tuning.user_timeout = v.and_then(non_zero),
            BusyPoll(v) => {
                // 0 is libzmq's "leave the system's" too.
                let v = v.and_then(non_zero);
                if let Some(d) = v {
                    monocoque_runtime::net::check_busy_poll(d).map_err(|e| {
                        invalid(
                            name,
                            format!("the kernel refuses {} us: {e}", d.as_micros()),
                        )
                    })?;
                }
                self.tcp_tuning.busy_poll = v;
            }
            UseFd(v) => self.use_fd = v,
            TcpAcceptFilter(None) => self.tcp_accept_filters.clear(),
            TcpAcceptFilter(Some(text)) => {
                let filter = crate::AcceptFilter::parse(&text, self.ipv6)?;
                self.tcp_accept_filters.push(filter);
            }
            IpcFilterUid(id) => self.ipc_filters.set(IpcFilterKind::Uid, id),
            IpcFilterGid(id) => self.ipc_filters.set(IpcFilterKind::Gid, id),
            IpcFilterPid(id) => self.ipc_filters.set(IpcFilterKind::Pid, id),
            SocksProxy(None) => self.socks_proxy = None,
            SocksProxy(Some(text)) => {
                self.socks_proxy = Some(crate::socks_proxy::SocksProxy::parse(&text)?);
            }
            SocksUsername(v) | SocksPassword(v) if v.len() > SOCKS_CREDENTIAL_MAX => {
                return Err(invalid(name, format!("{} bytes; at most 255", v.len())));
            }
            SocksUsername(v) => self.socks_credentials.0 = v,
            SocksPassword(v) => self.socks_credentials.1 = v,
            PlainClient { username, password } => {
                if username.len() > 255 || password.len() > 255 {
                    return Err(invalid(
                        name,
                        "username and password are at most 255 bytes each",
                    ));
                }
                self.mechanism = MechanismConfig::PlainClient { username, password };
                self.curve.selected = false;
            }
            PlainServer(authenticator) => {
                self.mechanism = MechanismConfig::PlainServer {
                    admission: Admission::Authenticator(authenticator),
                };
                self.curve.selected = false;
            }
            PlainServerViaZap => {
                self.mechanism = MechanismConfig::PlainServer {
                    admission: Admission::Deferred,
                };
                self.curve.selected = false;
            }
            Metadata { name, value } => {
                let valid_name = name.len() > 2
                    && name.len() <= 255
                    && name.starts_with("X-")
                    && name
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || b"-_.+".contains(&c));
                if !valid_name {
                    return Err(invalid(
                        "METADATA",
                        "a name starting with X- (letters, digits, - _ . +; at most 255 bytes)",
                    ));
                }
                self.metadata
                    .retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
                self.metadata.push((name, value));
            }
            ZapDomain(domain) => {
                if domain.len() > 255 {
                    return Err(invalid(name, "a ZAP domain is at most 255 bytes"));
                }
                self.zap_domain = domain;
            }
            other => unreachable!("{} is not a transport or security option", other.name()),
        }
        Ok(())
    }

    /// Stores a CURVE option; each selects CURVE as libzmq's do (see
    /// `curve_settings.rs`).
    fn apply_curve(&mut self, option: SocketOption) {
        use SocketOption::*;
        let curve = &mut self.curve;
        match option {
            CurveServer(on) => {
                curve.as_server = on;
                curve.selected = on;
                if !on {
                    self.mechanism = MechanismConfig::Null;
                }
            }
            CurvePublicKey(key) => {
                curve.public = Some(key);
                curve.selected = true;
            }
            CurveSecretKey(key) => {
                curve.secret = Some(key);
                curve.selected = true;
            }
            CurveServerKey(key) => {
                curve.server_key = Some(key);
                curve.as_server = false;
                curve.selected = true;
            }
            CurveAuthenticator(auth) => curve.authenticator = Some(auth),
            other => unreachable!("{} is not a CURVE option", other.name()),
        }
    }

    /// The mechanism a new connection uses, or why the security options
    /// cannot make one (incomplete CURVE keys). Never a weaker mechanism
    /// than the one configured.
    pub(crate) fn mechanism_config(&self) -> Result<MechanismConfig> {
        self.security().map(|(m, _)| m)
    }

    /// The session's mechanism and how the socket admits its clients. A
    /// server mechanism always defers to the socket (`Admission::Deferred`),
    /// which asks its authenticator or the ZAP handler with the whole
    /// request (domain, address, identity), as libzmq asks ZAP.
    pub(crate) fn security(&self) -> Result<(MechanismConfig, AdmissionPolicy)> {
        let configured = if self.curve.selected {
            self.curve
                .mechanism()
                .map_err(|(option, reason)| invalid(option, reason))?
        } else {
            self.mechanism.clone()
        };
        let deferred = Admission::Deferred;
        Ok(match configured {
            MechanismConfig::PlainServer { admission } => (
                MechanismConfig::PlainServer {
                    admission: deferred,
                },
                policy_for(admission, true),
            ),
            MechanismConfig::CurveServer { keys, admission } => (
                MechanismConfig::CurveServer {
                    keys,
                    admission: deferred,
                },
                policy_for(admission, false),
            ),
            MechanismConfig::Null if !self.zap_domain.is_empty() => (
                MechanismConfig::NullWithAdmission {
                    admission: deferred,
                },
                AdmissionPolicy::Zap { required: false },
            ),
            other => (other, AdmissionPolicy::NotAsked),
        })
    }

    /// Whether CONFLATE applies to what this socket receives.
    pub(crate) fn conflate_inbound(&self, socket_type: SocketType) -> bool {
        use SocketType as T;
        self.conflate && matches!(socket_type, T::Sub | T::Pull | T::Dealer)
    }

    /// Whether CONFLATE applies to what this socket sends.
    pub(crate) fn conflate_outbound(&self, socket_type: SocketType) -> bool {
        use SocketType as T;
        self.conflate && matches!(socket_type, T::Pub | T::Push | T::Dealer)
    }

    /// The protocol session's configuration for one connection, or, when the
    /// security options are incomplete, the configuration error that closes
    /// it.
    pub(crate) fn session_config(
        &self,
        socket_type: SocketType,
    ) -> std::result::Result<SessionConfig, monocoque_zmtp::Error> {
        let mut c = SessionConfig::new(socket_type);
        if socket_type.sends_identity() {
            c.identity = self.routing_id.clone();
        }
        c.mechanism = self.mechanism_config().map_err(|e| match e {
            Error::InvalidOption { option, reason } => monocoque_zmtp::Error::InvalidConfig {
                field: option,
                reason,
            },
            other => monocoque_zmtp::Error::InvalidConfig {
                field: "security",
                reason: other.to_string(),
            },
        })?;
        c.max_message_size = self.maxmsgsize;
        c.max_message_frames = self.maxmsgframes;
        c.handshake_timeout = non_zero(self.handshake_ivl);
        c.heartbeat_interval = non_zero(self.heartbeat_ivl);
        c.heartbeat_timeout = non_zero(self.heartbeat_timeout);
        c.heartbeat_ttl = non_zero(self.heartbeat_ttl);
        c.properties = self.metadata.clone();
        Ok(c)
    }
}

/// How the socket admits clients configured with `admission`: a local
/// authenticator, or the ZAP handler (`required` when none bound must refuse).
fn policy_for(admission: Admission, required: bool) -> AdmissionPolicy {
    match admission {
        Admission::Authenticator(a) => AdmissionPolicy::Local(a),
        Admission::Everyone | Admission::Deferred => AdmissionPolicy::Zap { required },
    }
}

/// Whether `option`, which every type accepts (as in libzmq), does nothing
/// on `socket_type`: CONFLATE outside DEALER, PULL, PUSH, PUB and SUB,
/// INVERT_MATCHING outside PUB, XPUB and SUB (an XSUB passes everything).
fn no_effect_on(option: &SocketOption, socket_type: SocketType) -> bool {
    use SocketType as T;
    match option {
        SocketOption::Conflate(true) => {
            !matches!(socket_type, T::Dealer | T::Pull | T::Push | T::Pub | T::Sub)
        }
        SocketOption::InvertMatching(true) => !matches!(socket_type, T::Pub | T::XPub | T::Sub),
        _ => false,
    }
}

/// The socket types that accept `option`, or `None` when every type does.
fn accepted_by(option: &SocketOption) -> Option<&'static [SocketType]> {
    use SocketOption::*;
    use SocketType as T;
    match option {
        ProbeRouter(_) => Some(&[T::Req, T::Dealer, T::Router]),
        RouterMandatory(_) | RouterHandover(_) | RouterNotify(_) => Some(&[T::Router]),
        ConnectRoutingId(_) => Some(&[T::Router, T::Stream]),
        StreamNotify(_) => Some(&[T::Stream]),
        ReqCorrelate(_) | ReqRelaxed(_) => Some(&[T::Req]),
        Subscribe(_) | Unsubscribe(_) => Some(&[T::Sub, T::XSub, T::XPub]),
        XpubVerbose(_)
        | XpubVerboser(_)
        | XpubManual(_)
        | XpubManualLastValue(_)
        | XpubWelcomeMsg(_) => Some(&[T::XPub]),
        OnlyFirstSubscribe(_) => Some(&[T::XPub, T::Pub, T::XSub]),
        XpubNodrop(_) | MaxSubscriptions(_) | MaxSubscriptionBytes(_) => Some(&[T::Pub, T::XPub]),
        // libzmq takes ROUTING_ID, INVERT_MATCHING and CONFLATE on every
        // socket type; `no_effect_on` says where they change nothing.
        RoutingId(_) | InvertMatching(_) | Conflate(_) => None,
        // Listed rather than caught by `_`, so that a new option has to be
        // placed here deliberately.
        SndHwm(_)
        | RcvHwm(_)
        | Linger(_)
        | SndTimeo(_)
        | RcvTimeo(_)
        | Immediate(_)
        | ReconnectIvl(_)
        | ReconnectIvlMax(_)
        | HeartbeatIvl(_)
        | HeartbeatTtl(_)
        | HeartbeatTimeout(_)
        | HandshakeIvl(_)
        | MaxMsgSize(_)
        | MaxMsgFrames(_)
        | TcpKeepalive(_)
        | TcpKeepaliveIdle(_)
        | TcpKeepaliveIntvl(_)
        | TcpKeepaliveCnt(_)
        | Tos(_)
        | BindToDevice(_)
        | ConnectTimeout(_)
        | TcpMaxrt(_)
        | BusyPoll(_)
        | UseFd(_)
        | TcpAcceptFilter(_)
        | IpcFilterUid(_)
        | IpcFilterGid(_)
        | IpcFilterPid(_)
        | SocksProxy(_)
        | SocksUsername(_)
        | SocksPassword(_)
        | PlainClient { .. }
        | PlainServer(_)
        | CurveServer(_)
        | CurvePublicKey(_)
        | CurveSecretKey(_)
        | CurveServerKey(_)
        | CurveAuthenticator(_)
        | PlainServerViaZap
        | ZapDomain(_)
        | Backlog(_)
        | SndBuf(_)
        | RcvBuf(_)
        | Ipv6(_)
        | ReconnectStop(_)
        | Metadata { .. } => None,
    }
}

/// The error refusing `option`, for `reason`.
fn invalid(option: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidOption {
        option,
        reason: reason.into(),
    }
}

fn non_zero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_libzmqs() {
        let o = Options::new(SocketType::Dealer);
        assert_eq!((o.sndhwm, o.rcvhwm), (1000, 1000));
        assert_eq!(o.linger, None);
        assert_eq!(o.reconnect_ivl, Some(Duration::from_millis(100)));
        assert_eq!(o.handshake_ivl, Duration::from_secs(30));
        assert!(!o.immediate && !o.router_mandatory && !o.router_handover);
    }

    #[test]
    fn accessors_read_what_apply_stored() {
        let t = SocketType::XPub;
        let mut o = Options::new(t);
        for opt in [
            SocketOption::SndHwm(7),
            SocketOption::Linger(Some(Duration::ZERO)),
            SocketOption::TcpKeepaliveCnt(Some(3)),
            SocketOption::XpubVerboser(true),
            SocketOption::XpubWelcomeMsg(Bytes::from_static(b"hi")),
            SocketOption::PlainClient {
                username: Bytes::from_static(b"u"),
                password: Bytes::from_static(b"p"),
            },
        ] {
            o.apply(t, opt).unwrap();
        }
        assert_eq!((o.sndhwm(), o.rcvhwm()), (7, 1000));
        assert_eq!(o.linger(), Some(Duration::ZERO));
        assert_eq!(o.tcp_keepalive().count, Some(3));
        assert!(o.xpub_verbose_subs() && o.xpub_verbose_unsubs());
        assert_eq!(&o.xpub_welcome_msg()[..], b"hi");
        assert!(matches!(o.mechanism(), MechanismConfig::PlainClient { .. }));
        // XPUB_VERBOSE after XPUB_VERBOSER turns cancels back off.
        o.apply(t, SocketOption::XpubVerbose(true)).unwrap();
        assert!(o.xpub_verbose_subs() && !o.xpub_verbose_unsubs());
    }

    #[test]
    fn type_specific_options_are_refused_elsewhere() {
        let cases: [(SocketOption, &[SocketType]); 5] = [
            (SocketOption::RouterMandatory(true), &[SocketType::Router]),
            (SocketOption::RouterHandover(true), &[SocketType::Router]),
            (SocketOption::ReqCorrelate(true), &[SocketType::Req]),
            (SocketOption::ReqRelaxed(true), &[SocketType::Req]),
            (
                SocketOption::ProbeRouter(true),
                &[SocketType::Router, SocketType::Dealer, SocketType::Req],
            ),
        ];
        for (opt, allowed) in cases {
            for t in [
                SocketType::Req,
                SocketType::Rep,
                SocketType::Dealer,
                SocketType::Router,
                SocketType::Push,
                SocketType::Pull,
                SocketType::Pair,
            ] {
                let r = Options::new(t).apply(t, opt.clone());
                assert_eq!(r.is_ok(), allowed.contains(&t), "{} on {t}", opt.name());
                if let Err(e) = r {
                    assert!(e.to_string().contains(opt.name()), "{e}");
                }
            }
        }
    }

    #[test]
    fn subscription_caps_are_for_publishers_and_off_by_default() {
        for t in SocketType::ALL {
            let mut o = Options::new(t);
            assert_eq!(
                (o.max_subscriptions, o.max_subscription_bytes),
                (None, None)
            );
            let publisher = matches!(t, SocketType::Pub | SocketType::XPub);
            for opt in [
                SocketOption::MaxSubscriptions(Some(10)),
                SocketOption::MaxSubscriptionBytes(Some(0)),
            ] {
                let r = o.apply(t, opt.clone());
                assert_eq!(r.is_ok(), publisher, "{} on {t}", opt.name());
            }
            if publisher {
                assert_eq!(
                    (o.max_subscriptions, o.max_subscription_bytes),
                    (Some(10), Some(0))
                );
                assert!(o.apply(t, SocketOption::MaxSubscriptions(Some(0))).is_err());
                o.apply(t, SocketOption::MaxSubscriptions(None)).unwrap();
                assert_eq!(o.max_subscriptions, None);
            }
        }
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let t = SocketType::Dealer;
        let mut o = Options::new(t);
        assert!(o
            .apply(t, SocketOption::RoutingId(Bytes::from_static(b"\0x")))
            .is_err());
        assert!(o.apply(t, SocketOption::RoutingId(Bytes::new())).is_err());
        assert!(o
            .apply(t, SocketOption::HeartbeatTtl(Duration::from_secs(7000)))
            .is_err());
        assert!(o
            .apply(
                t,
                SocketOption::PlainClient {
                    username: Bytes::from(vec![b'u'; 256]),
                    password: Bytes::new()
                }
            )
            .is_err());
    }

    #[test]
    fn session_config_follows_the_options() {
        let t = SocketType::Req;
        let mut o = Options::new(t);
        o.apply(t, SocketOption::RoutingId(Bytes::from_static(b"me")))
            .unwrap();
        o.apply(t, SocketOption::HeartbeatIvl(Duration::from_millis(50)))
            .unwrap();
        o.apply(t, SocketOption::HandshakeIvl(Duration::ZERO))
            .unwrap();
        o.apply(t, SocketOption::MaxMsgSize(Some(10))).unwrap();
        let c = o.session_config(t).unwrap();
        assert_eq!(&c.identity[..], b"me");
        assert_eq!(c.heartbeat_interval, Some(Duration::from_millis(50)));
        assert_eq!(c.heartbeat_timeout, None);
        assert_eq!(c.handshake_timeout, None);
        assert_eq!(c.max_message_size, Some(10));
    }
}
