//! Socket options, with libzmq's names and defaults.
//!
//! Every option is a variant of [`SocketOption`], named after libzmq's `ZMQ_*`
//! constant. [`Options::apply`] refuses an option the socket type does not
//! support (ROUTER_MANDATORY on a DEALER, say) instead of ignoring it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use monocoque_runtime::net::Keepalive;
use monocoque_zmtp::{Authenticator, MechanismConfig, SessionConfig, SocketType};

use crate::{Error, Result};

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
    /// ZMQ_ROUTING_ID: the identity sent to peers (REQ, DEALER, ROUTER; 1 to 255
    /// bytes, not starting with a zero byte).
    RoutingId(Bytes),
    /// ZMQ_ROUTER_MANDATORY: unroutable messages fail with `HostUnreachable`,
    /// and a full peer with `WouldBlock`, instead of being dropped.
    RouterMandatory(bool),
    /// ZMQ_ROUTER_HANDOVER: a new peer with a routing id in use takes it over.
    RouterHandover(bool),
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
    /// subscriptions.
    InvertMatching(bool),
    /// ZMQ_CONFLATE: keep only the newest message in each pipe (PUB, SUB, PUSH,
    /// PULL, DEALER), for "last value" feeds. SNDHWM and RCVHWM no longer apply
    /// to the conflated direction.
    Conflate(bool),
    /// ZMQ_PLAIN_SERVER, with the authenticator that decides who gets in (libzmq
    /// asks a ZAP handler; here it is a plain Rust trait object).
    PlainServer(Arc<dyn Authenticator>),
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
            HeartbeatIvl(_) => "HEARTBEAT_IVL",
            HeartbeatTtl(_) => "HEARTBEAT_TTL",
            HeartbeatTimeout(_) => "HEARTBEAT_TIMEOUT",
            HandshakeIvl(_) => "HANDSHAKE_IVL",
            MaxMsgSize(_) => "MAXMSGSIZE",
            MaxMsgFrames(_) => "MAXMSGFRAMES",
            RoutingId(_) => "ROUTING_ID",
            RouterMandatory(_) => "ROUTER_MANDATORY",
            RouterHandover(_) => "ROUTER_HANDOVER",
            ProbeRouter(_) => "PROBE_ROUTER",
            ReqCorrelate(_) => "REQ_CORRELATE",
            ReqRelaxed(_) => "REQ_RELAXED",
            TcpKeepalive(_) => "TCP_KEEPALIVE",
            TcpKeepaliveIdle(_) => "TCP_KEEPALIVE_IDLE",
            TcpKeepaliveIntvl(_) => "TCP_KEEPALIVE_INTVL",
            TcpKeepaliveCnt(_) => "TCP_KEEPALIVE_CNT",
            PlainClient { .. } => "PLAIN_USERNAME/PLAIN_PASSWORD",
            PlainServer(_) => "PLAIN_SERVER",
            Subscribe(_) => "SUBSCRIBE",
            Unsubscribe(_) => "UNSUBSCRIBE",
            XpubVerbose(_) => "XPUB_VERBOSE",
            XpubVerboser(_) => "XPUB_VERBOSER",
            XpubManual(_) => "XPUB_MANUAL",
            XpubNodrop(_) => "XPUB_NODROP",
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
#[derive(Clone)]
pub struct Options {
    /// SNDHWM.
    pub sndhwm: usize,
    /// RCVHWM.
    pub rcvhwm: usize,
    /// LINGER.
    pub linger: Option<Duration>,
    /// SNDTIMEO.
    pub sndtimeo: Option<Duration>,
    /// RCVTIMEO.
    pub rcvtimeo: Option<Duration>,
    /// IMMEDIATE.
    pub immediate: bool,
    /// RECONNECT_IVL.
    pub reconnect_ivl: Option<Duration>,
    /// RECONNECT_IVL_MAX.
    pub reconnect_ivl_max: Duration,
    /// HEARTBEAT_IVL.
    pub heartbeat_ivl: Duration,
    /// HEARTBEAT_TTL.
    pub heartbeat_ttl: Duration,
    /// HEARTBEAT_TIMEOUT.
    pub heartbeat_timeout: Duration,
    /// HANDSHAKE_IVL.
    pub handshake_ivl: Duration,
    /// MAXMSGSIZE.
    pub maxmsgsize: Option<u64>,
    /// MAXMSGFRAMES (Monocoque's).
    pub maxmsgframes: Option<usize>,
    /// ROUTING_ID.
    pub routing_id: Bytes,
    /// ROUTER_MANDATORY.
    pub router_mandatory: bool,
    /// ROUTER_HANDOVER.
    pub router_handover: bool,
    /// PROBE_ROUTER.
    pub probe_router: bool,
    /// REQ_CORRELATE.
    pub req_correlate: bool,
    /// REQ_RELAXED.
    pub req_relaxed: bool,
    /// TCP_KEEPALIVE and friends.
    pub tcp_keepalive: Keepalive,
    /// The security mechanism and role.
    pub mechanism: MechanismConfig,
    /// XPUB_VERBOSE (or XPUB_VERBOSER): every subscribe reaches the XPUB user.
    pub xpub_verbose_subs: bool,
    /// XPUB_VERBOSER: every cancel reaches the XPUB user.
    pub xpub_verbose_unsubs: bool,
    /// XPUB_MANUAL.
    pub xpub_manual: bool,
    /// XPUB_NODROP.
    pub xpub_nodrop: bool,
    /// XPUB_WELCOME_MSG (empty = none).
    pub xpub_welcome_msg: Bytes,
    /// INVERT_MATCHING.
    pub invert_matching: bool,
    /// MAX_SUBSCRIPTIONS (Monocoque's).
    pub max_subscriptions: Option<usize>,
    /// MAX_SUBSCRIPTION_BYTES (Monocoque's).
    pub max_subscription_bytes: Option<usize>,
    /// CONFLATE.
    pub conflate: bool,
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
            heartbeat_ivl: Duration::ZERO,
            heartbeat_ttl: Duration::ZERO,
            heartbeat_timeout: Duration::ZERO,
            handshake_ivl: Duration::from_secs(30),
            maxmsgsize: None,
            maxmsgframes: None,
            routing_id: Bytes::new(),
            router_mandatory: false,
            router_handover: false,
            probe_router: false,
            req_correlate: false,
            req_relaxed: false,
            tcp_keepalive: Keepalive::default(),
            mechanism: MechanismConfig::Null,
            xpub_verbose_subs: false,
            xpub_verbose_unsubs: false,
            xpub_manual: false,
            xpub_nodrop: false,
            xpub_welcome_msg: Bytes::new(),
            invert_matching: false,
            max_subscriptions: None,
            max_subscription_bytes: None,
            conflate: false,
        }
    }

    /// Sets one option, refusing it when `socket_type` does not support it or
    /// the value is out of range.
    pub fn apply(&mut self, socket_type: SocketType, option: SocketOption) -> Result<()> {
        use SocketOption::*;
        use SocketType as T;
        let name = option.name();
        let only = |types: &[SocketType]| -> Result<()> {
            if types.contains(&socket_type) {
                Ok(())
            } else {
                Err(Error::InvalidOption {
                    option: name,
                    reason: format!("not supported by {socket_type} sockets"),
                })
            }
        };
        match option {
            SndHwm(v) => self.sndhwm = v,
            RcvHwm(v) => self.rcvhwm = v,
            Linger(v) => self.linger = v,
            SndTimeo(v) => self.sndtimeo = v,
            RcvTimeo(v) => self.rcvtimeo = v,
            Immediate(v) => self.immediate = v,
            ReconnectIvl(v) => self.reconnect_ivl = v,
            ReconnectIvlMax(v) => self.reconnect_ivl_max = v,
            HeartbeatIvl(v) => self.heartbeat_ivl = v,
            HeartbeatTtl(v) => {
                if v > monocoque_zmtp::MAX_HEARTBEAT_TTL {
                    return Err(Error::InvalidOption {
                        option: name,
                        reason: "at most 6553.5 s (the wire carries deciseconds in 16 bits)".into(),
                    });
                }
                self.heartbeat_ttl = v
            }
            HeartbeatTimeout(v) => self.heartbeat_timeout = v,
            HandshakeIvl(v) => self.handshake_ivl = v,
            MaxMsgSize(v) => self.maxmsgsize = v,
            MaxMsgFrames(Some(0)) => {
                return Err(Error::InvalidOption {
                    option: name,
                    reason: "zero; a message has at least one frame (None for no cap)".into(),
                })
            }
            MaxMsgFrames(v) => self.maxmsgframes = v,
            RoutingId(v) => {
                only(&[T::Req, T::Dealer, T::Router])?;
                if v.is_empty() || v.len() > 255 || v[0] == 0 {
                    return Err(Error::InvalidOption {
                        option: name,
                        reason: "1 to 255 bytes, not starting with a zero byte (reserved for automatic ids)".into(),
                    });
                }
                self.routing_id = v
            }
            RouterMandatory(v) => {
                only(&[T::Router])?;
                self.router_mandatory = v
            }
            RouterHandover(v) => {
                only(&[T::Router])?;
                self.router_handover = v
            }
            ProbeRouter(v) => {
                only(&[T::Router, T::Dealer, T::Req])?;
                self.probe_router = v
            }
            ReqCorrelate(v) => {
                only(&[T::Req])?;
                self.req_correlate = v
            }
            ReqRelaxed(v) => {
                only(&[T::Req])?;
                self.req_relaxed = v
            }
            TcpKeepalive(v) => self.tcp_keepalive.enabled = v,
            TcpKeepaliveIdle(v) => self.tcp_keepalive.idle = v,
            TcpKeepaliveIntvl(v) => self.tcp_keepalive.interval = v,
            TcpKeepaliveCnt(v) => self.tcp_keepalive.count = v,
            PlainClient { username, password } => {
                if username.len() > 255 || password.len() > 255 {
                    return Err(Error::InvalidOption {
                        option: name,
                        reason: "username and password are at most 255 bytes each".into(),
                    });
                }
                self.mechanism = MechanismConfig::PlainClient { username, password }
            }
            PlainServer(authenticator) => {
                self.mechanism = MechanismConfig::PlainServer { authenticator }
            }
            Subscribe(_) | Unsubscribe(_) => {
                only(&[T::Sub, T::XSub, T::XPub])?;
                return Err(Error::InvalidOption {
                    option: name,
                    reason: "changes a socket's subscriptions, not a stored value: \
                             give it to Socket::set_option"
                        .into(),
                });
            }
            XpubVerbose(v) => {
                only(&[T::XPub])?;
                self.xpub_verbose_subs = v;
                self.xpub_verbose_unsubs = false;
            }
            XpubVerboser(v) => {
                only(&[T::XPub])?;
                self.xpub_verbose_subs = v;
                self.xpub_verbose_unsubs = v;
            }
            XpubManual(v) => {
                only(&[T::XPub])?;
                self.xpub_manual = v
            }
            XpubNodrop(v) => {
                only(&[T::Pub, T::XPub])?;
                self.xpub_nodrop = v
            }
            XpubWelcomeMsg(v) => {
                only(&[T::XPub])?;
                self.xpub_welcome_msg = v
            }
            InvertMatching(v) => {
                only(&[T::Pub, T::XPub, T::Sub])?;
                self.invert_matching = v
            }
            MaxSubscriptions(v) => {
                only(&[T::Pub, T::XPub])?;
                if v == Some(0) {
                    return Err(Error::InvalidOption {
                        option: name,
                        reason: "zero would disconnect every subscriber (None for no cap)".into(),
                    });
                }
                self.max_subscriptions = v
            }
            MaxSubscriptionBytes(v) => {
                only(&[T::Pub, T::XPub])?;
                self.max_subscription_bytes = v
            }
            Conflate(v) => {
                only(&[T::Pub, T::Sub, T::Push, T::Pull, T::Dealer])?;
                self.conflate = v
            }
        }
        Ok(())
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

    /// The protocol session's configuration for one connection.
    pub(crate) fn session_config(&self, socket_type: SocketType) -> SessionConfig {
        let mut c = SessionConfig::new(socket_type);
        if socket_type.sends_identity() {
            c.identity = self.routing_id.clone();
        }
        c.mechanism = self.mechanism.clone();
        c.max_message_size = self.maxmsgsize;
        c.max_message_frames = self.maxmsgframes;
        c.handshake_timeout = non_zero(self.handshake_ivl);
        c.heartbeat_interval = non_zero(self.heartbeat_ivl);
        c.heartbeat_timeout = non_zero(self.heartbeat_timeout);
        c.heartbeat_ttl = non_zero(self.heartbeat_ttl);
        c
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
    fn type_specific_options_are_refused_elsewhere() {
        let cases: [(SocketOption, &[SocketType]); 6] = [
            (SocketOption::RouterMandatory(true), &[SocketType::Router]),
            (SocketOption::RouterHandover(true), &[SocketType::Router]),
            (SocketOption::ReqCorrelate(true), &[SocketType::Req]),
            (SocketOption::ReqRelaxed(true), &[SocketType::Req]),
            (
                SocketOption::ProbeRouter(true),
                &[SocketType::Router, SocketType::Dealer, SocketType::Req],
            ),
            (
                SocketOption::RoutingId(Bytes::from_static(b"id")),
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
        let c = o.session_config(t);
        assert_eq!(&c.identity[..], b"me");
        assert_eq!(c.heartbeat_interval, Some(Duration::from_millis(50)));
        assert_eq!(c.heartbeat_timeout, None);
        assert_eq!(c.handshake_timeout, None);
        assert_eq!(c.max_message_size, Some(10));
    }
}
