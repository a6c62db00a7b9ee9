//! `zmq_setsockopt` and `zmq_getsockopt`: libzmq's option numbers and value
//! layouts (an `int`, an `int64_t` for MAXMSGSIZE, bytes for ids and
//! topics), mapped onto [`SocketOption`] and [`Options`].
//!
//! Times are milliseconds with -1 for "for ever" (LINGER, SNDTIMEO,
//! RCVTIMEO) or "never" (RECONNECT_IVL), as in libzmq. An option this layer
//! does not know, or a value of the wrong size, is EINVAL.

use std::ffi::{c_int, c_void};
use std::time::Duration;

use bytes::Bytes;
use monocoque_patterns::{Events, Options, SocketOption};
use monocoque_zmtp::mechanism::{CurvePublicKey, CurveSecretKey};
use monocoque_zmtp::MechanismConfig;

use crate::boundary::{guarded, Errno};
use crate::errno::errno_of;
use crate::socket::{socket, socket_type_number, SocketHandle};

mod number {
    use std::ffi::c_int;
    pub const AFFINITY: c_int = 4;
    pub const RATE: c_int = 8;
    pub const RECOVERY_IVL: c_int = 9;
    pub const MULTICAST_HOPS: c_int = 25;
    pub const IPV4ONLY: c_int = 31;
    pub const MULTICAST_MAXTPDU: c_int = 84;
    pub const USE_FD: c_int = 89;
    pub const ZAP_ENFORCE_DOMAIN: c_int = 93;
    pub const LOOPBACK_FASTPATH: c_int = 94;
    pub const MULTICAST_LOOP: c_int = 96;
    pub const ROUTING_ID: c_int = 5;
    pub const SUBSCRIBE: c_int = 6;
    pub const UNSUBSCRIBE: c_int = 7;
    pub const SNDBUF: c_int = 11;
    pub const RCVBUF: c_int = 12;
    pub const RCVMORE: c_int = 13;
    pub const FD: c_int = 14;
    pub const EVENTS: c_int = 15;
    pub const TYPE: c_int = 16;
    pub const LINGER: c_int = 17;
    pub const RECONNECT_IVL: c_int = 18;
    pub const BACKLOG: c_int = 19;
    pub const RECONNECT_IVL_MAX: c_int = 21;
    pub const MAXMSGSIZE: c_int = 22;
    pub const SNDHWM: c_int = 23;
    pub const RCVHWM: c_int = 24;
    pub const RCVTIMEO: c_int = 27;
    pub const SNDTIMEO: c_int = 28;
    pub const LAST_ENDPOINT: c_int = 32;
    pub const ROUTER_MANDATORY: c_int = 33;
    pub const TCP_KEEPALIVE: c_int = 34;
    pub const TCP_KEEPALIVE_CNT: c_int = 35;
    pub const TCP_KEEPALIVE_IDLE: c_int = 36;
    pub const TCP_KEEPALIVE_INTVL: c_int = 37;
    pub const IMMEDIATE: c_int = 39;
    pub const XPUB_VERBOSE: c_int = 40;
    pub const IPV6: c_int = 42;
    pub const MECHANISM: c_int = 43;
    pub const PLAIN_SERVER: c_int = 44;
    pub const PLAIN_USERNAME: c_int = 45;
    pub const PLAIN_PASSWORD: c_int = 46;
    pub const CURVE_SERVER: c_int = 47;
    pub const CURVE_PUBLICKEY: c_int = 48;
    pub const CURVE_SECRETKEY: c_int = 49;
    pub const CURVE_SERVERKEY: c_int = 50;
    pub const PROBE_ROUTER: c_int = 51;
    pub const REQ_CORRELATE: c_int = 52;
    pub const REQ_RELAXED: c_int = 53;
    pub const CONFLATE: c_int = 54;
    pub const ZAP_DOMAIN: c_int = 55;
    pub const ROUTER_HANDOVER: c_int = 56;
    pub const TOS: c_int = 57;
    pub const CONNECT_ROUTING_ID: c_int = 61;
    pub const HANDSHAKE_IVL: c_int = 66;
    pub const XPUB_NODROP: c_int = 69;
    pub const XPUB_MANUAL: c_int = 71;
    pub const XPUB_WELCOME_MSG: c_int = 72;
    pub const STREAM_NOTIFY: c_int = 73;
    pub const INVERT_MATCHING: c_int = 74;
    pub const HEARTBEAT_IVL: c_int = 75;
    pub const HEARTBEAT_TTL: c_int = 76;
    pub const HEARTBEAT_TIMEOUT: c_int = 77;
    pub const XPUB_VERBOSER: c_int = 78;
    pub const CONNECT_TIMEOUT: c_int = 79;
    pub const TCP_MAXRT: c_int = 80;
    pub const TCP_ACCEPT_FILTER: c_int = 38;
    pub const SOCKS_PROXY: c_int = 68;
    pub const SOCKS_USERNAME: c_int = 99;
    pub const SOCKS_PASSWORD: c_int = 100;
    pub const IPC_FILTER_PID: c_int = 58;
    pub const IPC_FILTER_UID: c_int = 59;
    pub const IPC_FILTER_GID: c_int = 60;
    pub const THREAD_SAFE: c_int = 81;
    pub const BINDTODEVICE: c_int = 92;
    pub const ROUTER_NOTIFY: c_int = 97;
    pub const XPUB_MANUAL_LAST_VALUE: c_int = 98;
    pub const ONLY_FIRST_SUBSCRIBE: c_int = 108;
    pub const RECONNECT_STOP: c_int = 109;
    pub const BUSY_POLL: c_int = 113;
    pub const TOPICS_COUNT: c_int = 116;
}

/// An option's value as C passed it.
struct Value<'a>(&'a [u8]);

impl Value<'_> {
    fn int(&self) -> Result<c_int, Errno> {
        let bytes: [u8; 4] = self.0.try_into().map_err(|_| libc::EINVAL)?;
        Ok(c_int::from_ne_bytes(bytes))
    }

    fn int64(&self) -> Result<i64, Errno> {
        let bytes: [u8; 8] = self.0.try_into().map_err(|_| libc::EINVAL)?;
        Ok(i64::from_ne_bytes(bytes))
    }

    fn uint64(&self) -> Result<u64, Errno> {
        let bytes: [u8; 8] = self.0.try_into().map_err(|_| libc::EINVAL)?;
        Ok(u64::from_ne_bytes(bytes))
    }

    /// An IPC filter's id (a pid_t, uid_t or gid_t: 4 bytes), or nothing
    /// (NULL), which clears that filter's list.
    fn id_or_clear(&self) -> Result<Option<u32>, Errno> {
        if self.0.is_empty() {
            return Ok(None);
        }
        // A negative pid is taken as libzmq takes it: one no peer has.
        Ok(Some(self.int()? as u32))
    }

    /// A flag libzmq takes as 0 or 1 only (IMMEDIATE, IPV6, CONFLATE, ...).
    fn flag(&self) -> Result<bool, Errno> {
        match self.int()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(libc::EINVAL),
        }
    }

    /// A flag libzmq takes as any non-negative int, non-zero meaning on
    /// (the ROUTER, REQ and XPUB switches).
    fn switch(&self) -> Result<bool, Errno> {
        match self.int()? {
            v if v < 0 => Err(libc::EINVAL),
            v => Ok(v != 0),
        }
    }

    /// A flag libzmq takes as any int, non-zero meaning on (INVERT_MATCHING).
    fn relaxed(&self) -> Result<bool, Errno> {
        Ok(self.int()? != 0)
    }

    fn non_negative(&self) -> Result<u32, Errno> {
        u32::try_from(self.int()?).map_err(|_| libc::EINVAL)
    }

    /// HEARTBEAT_TTL: milliseconds, kept in whole deciseconds as a PING
    /// carries them (libzmq rounds down and refuses more than 65,535 ds).
    fn deciseconds(&self) -> Result<Duration, Errno> {
        let ds = self.non_negative()? / 100;
        if ds > u32::from(u16::MAX) {
            return Err(libc::EINVAL);
        }
        Ok(Duration::from_millis(u64::from(ds) * 100))
    }

    fn millis(&self) -> Result<Duration, Errno> {
        Ok(Duration::from_millis(self.non_negative()? as u64))
    }

    /// Milliseconds, -1 meaning none.
    fn millis_or_none(&self) -> Result<Option<Duration>, Errno> {
        match self.int()? {
            -1 => Ok(None),
            v if v >= 0 => Ok(Some(Duration::from_millis(v as u64))),
            _ => Err(libc::EINVAL),
        }
    }

    /// Milliseconds, 0 meaning none.
    fn millis_or_zero(&self) -> Result<Option<Duration>, Errno> {
        Ok(Some(self.millis()?).filter(|d| !d.is_zero()))
    }

    /// A count, -1 (or 0 for buffers) meaning the system's.
    fn system_or(&self) -> Result<Option<u32>, Errno> {
        match self.int()? {
            -1 | 0 => Ok(None),
            v if v > 0 => Ok(Some(v as u32)),
            _ => Err(libc::EINVAL),
        }
    }

    fn bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self.0)
    }

    /// A CURVE key: 32 bytes, or 40 Z85 characters (41 with the NUL
    /// libzmq's examples pass).
    fn key(&self) -> &[u8] {
        match self.0 {
            [text @ .., 0] if text.len() == 40 => text,
            whole => whole,
        }
    }

    fn text(&self) -> Result<String, Errno> {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(self.0.len());
        String::from_utf8(self.0[..end].to_vec()).map_err(|_| libc::EINVAL)
    }
}

/// The [`SocketOption`] for libzmq's `option` and `value`.
fn option_of(option: c_int, v: &Value<'_>) -> Result<SocketOption, Errno> {
    use number::*;
    use SocketOption as O;
    Ok(match option {
        SNDHWM => O::SndHwm(v.non_negative()? as usize),
        RCVHWM => O::RcvHwm(v.non_negative()? as usize),
        LINGER => O::Linger(v.millis_or_none()?),
        SNDTIMEO => O::SndTimeo(v.millis_or_none()?),
        RCVTIMEO => O::RcvTimeo(v.millis_or_none()?),
        IMMEDIATE => O::Immediate(v.flag()?),
        RECONNECT_IVL => O::ReconnectIvl(v.millis_or_none()?),
        RECONNECT_IVL_MAX => O::ReconnectIvlMax(v.millis()?),
        RECONNECT_STOP => O::ReconnectStop(u8::try_from(v.int()?).map_err(|_| libc::EINVAL)?),
        HEARTBEAT_IVL => O::HeartbeatIvl(v.millis()?),
        HEARTBEAT_TTL => O::HeartbeatTtl(v.deciseconds()?),
        HEARTBEAT_TIMEOUT => O::HeartbeatTimeout(v.millis()?),
        HANDSHAKE_IVL => O::HandshakeIvl(v.millis()?),
        MAXMSGSIZE => O::MaxMsgSize(match v.int64()? {
            -1 => None,
            n if n >= 0 => Some(n as u64),
            _ => return Err(libc::EINVAL),
        }),
        ROUTING_ID => O::RoutingId(v.bytes()),
        SUBSCRIBE => O::Subscribe(v.bytes()),
        UNSUBSCRIBE => O::Unsubscribe(v.bytes()),
        ROUTER_MANDATORY => O::RouterMandatory(v.switch()?),
        ROUTER_HANDOVER => O::RouterHandover(v.switch()?),
        ROUTER_NOTIFY => O::RouterNotify(u8::try_from(v.int()?).map_err(|_| libc::EINVAL)?),
        CONNECT_ROUTING_ID => O::ConnectRoutingId(v.bytes()),
        SNDBUF => O::SndBuf(v.system_or()?),
        RCVBUF => O::RcvBuf(v.system_or()?),
        BACKLOG => O::Backlog(v.non_negative()?),
        IPV6 => O::Ipv6(v.flag()?),
        IPV4ONLY => O::Ipv6(!v.flag()?),
        STREAM_NOTIFY => O::StreamNotify(v.flag()?),
        PROBE_ROUTER => O::ProbeRouter(v.switch()?),
        REQ_CORRELATE => O::ReqCorrelate(v.switch()?),
        REQ_RELAXED => O::ReqRelaxed(v.switch()?),
        CONFLATE => O::Conflate(v.flag()?),
        TCP_KEEPALIVE => O::TcpKeepalive(match v.int()? {
            -1 => None,
            0 => Some(false),
            1 => Some(true),
            _ => return Err(libc::EINVAL),
        }),
        TCP_KEEPALIVE_IDLE => O::TcpKeepaliveIdle(secs_or_system(v)?),
        TCP_KEEPALIVE_INTVL => O::TcpKeepaliveIntvl(secs_or_system(v)?),
        TCP_KEEPALIVE_CNT => O::TcpKeepaliveCnt(v.system_or()?),
        TOS => O::Tos(u8::try_from(v.int()?).map_err(|_| libc::EINVAL)?),
        BINDTODEVICE => O::BindToDevice(v.text()?),
        // NULL clears the filters; each other value adds one.
        TCP_ACCEPT_FILTER => O::TcpAcceptFilter(match v.text()? {
            text if text.is_empty() => None,
            text => Some(text),
        }),
        // NULL clears the proxy (an empty string never gets here: EINVAL).
        SOCKS_PROXY => O::SocksProxy(match v.text()? {
            text if text.is_empty() => None,
            text => Some(text),
        }),
        // NULL or "": none (no authentication); over 255 bytes: EINVAL.
        SOCKS_USERNAME => O::SocksUsername(v.bytes()),
        SOCKS_PASSWORD => O::SocksPassword(v.bytes()),
        IPC_FILTER_PID => O::IpcFilterPid(v.id_or_clear()?),
        IPC_FILTER_UID => O::IpcFilterUid(v.id_or_clear()?),
        IPC_FILTER_GID => O::IpcFilterGid(v.id_or_clear()?),
        CONNECT_TIMEOUT => O::ConnectTimeout(v.millis_or_zero()?),
        TCP_MAXRT => O::TcpMaxrt(v.millis_or_zero()?),
        BUSY_POLL => O::BusyPoll(match v.int()? {
            0 => None,
            us if us > 0 => Some(Duration::from_micros(us as u64)),
            _ => return Err(libc::EINVAL),
        }),
        XPUB_VERBOSE => O::XpubVerbose(v.switch()?),
        XPUB_VERBOSER => O::XpubVerboser(v.switch()?),
        XPUB_MANUAL => O::XpubManual(v.switch()?),
        XPUB_MANUAL_LAST_VALUE => O::XpubManualLastValue(v.switch()?),
        ONLY_FIRST_SUBSCRIBE => O::OnlyFirstSubscribe(v.switch()?),
        XPUB_NODROP => O::XpubNodrop(v.switch()?),
        XPUB_WELCOME_MSG => O::XpubWelcomeMsg(v.bytes()),
        INVERT_MATCHING => O::InvertMatching(v.relaxed()?),
        ZAP_DOMAIN => O::ZapDomain(v.bytes()),
        CURVE_SERVER => O::CurveServer(v.flag()?),
        CURVE_PUBLICKEY => {
            O::CurvePublicKey(CurvePublicKey::parse(v.key()).map_err(|_| libc::EINVAL)?)
        }
        CURVE_SECRETKEY => {
            O::CurveSecretKey(CurveSecretKey::parse(v.key()).map_err(|_| libc::EINVAL)?)
        }
        CURVE_SERVERKEY => {
            O::CurveServerKey(CurvePublicKey::parse(v.key()).map_err(|_| libc::EINVAL)?)
        }
        // As libzmq: a PLAIN server asks the ZAP handler about each client;
        // 0 goes back to NULL.
        PLAIN_SERVER if v.flag()? => O::PlainServerViaZap,
        // Off: NULL again, which is what CURVE_SERVER 0 makes (libzmq keeps
        // one as_server flag for both mechanisms, too).
        PLAIN_SERVER => O::CurveServer(false),
        _ => return Err(libc::EINVAL),
    })
}

/// libzmq sets the PLAIN client's username and password one at a time; an
/// empty username goes back to NULL, as in libzmq.
fn plain_client(h: &mut SocketHandle, option: c_int, value: &[u8]) -> SocketOption {
    let slot = if option == number::PLAIN_USERNAME {
        &mut h.plain.0
    } else {
        &mut h.plain.1
    };
    *slot = Bytes::copy_from_slice(value);
    if value.is_empty() {
        return SocketOption::CurveServer(false);
    }
    SocketOption::PlainClient {
        username: h.plain.0.clone(),
        password: h.plain.1.clone(),
    }
}

/// Which of [`SocketHandle::curve_keys`] a CURVE key option sets, and to
/// what.
fn curve_key_record(option: &SocketOption) -> Option<(usize, [u8; 32])> {
    match option {
        SocketOption::CurvePublicKey(k) => Some((CURVE_PUBLIC, *k.as_bytes())),
        SocketOption::CurveSecretKey(k) => Some((CURVE_SECRET, *k.to_bytes())),
        SocketOption::CurveServerKey(k) => Some((CURVE_SERVER_KEY, *k.as_bytes())),
        _ => None,
    }
}

/// Slots of [`SocketHandle::curve_keys`].
const CURVE_PUBLIC: usize = 0;
const CURVE_SECRET: usize = 1;
const CURVE_SERVER_KEY: usize = 2;

/// Keepalive times are whole seconds in libzmq, -1 for the system's.
fn secs_or_system(v: &Value<'_>) -> Result<Option<Duration>, Errno> {
    match v.int()? {
        -1 => Ok(None),
        s if s > 0 => Ok(Some(Duration::from_secs(s as u64))),
        _ => Err(libc::EINVAL),
    }
}

/// Options libzmq clears with a NULL value of length 0 and refuses an empty
/// non-NULL one for.
fn cleared_by_null_only(option: c_int) -> bool {
    use number::*;
    matches!(
        option,
        SOCKS_PROXY | TCP_ACCEPT_FILTER | IPC_FILTER_UID | IPC_FILTER_GID | IPC_FILTER_PID
    )
}

/// `zmq_setsockopt`.
#[no_mangle]
pub unsafe extern "C" fn zmq_setsockopt(
    s: *mut c_void,
    option: c_int,
    optval: *const c_void,
    optvallen: usize,
) -> c_int {
    guarded(-1, || {
        // SAFETY: the caller passes a socket from zmq_socket.
        let h = unsafe { socket(s) }?;
        if optvallen == 0 && !optval.is_null() && cleared_by_null_only(option) {
            // libzmq: NULL clears these, an empty value is refused.
            return Err(libc::EINVAL);
        }
        if option == number::TCP_ACCEPT_FILTER && optvallen >= u8::MAX as usize {
            // libzmq takes a network of at most 254 bytes.
            return Err(libc::EINVAL);
        }
        let value = if optvallen == 0 {
            &[][..]
        } else if optval.is_null() {
            return Err(libc::EINVAL);
        } else {
            // SAFETY: the caller gives `optvallen` readable bytes at `optval`.
            unsafe { std::slice::from_raw_parts(optval.cast::<u8>(), optvallen) }
        };
        if option == number::AFFINITY {
            h.affinity = Value(value).uint64()?;
            return Ok(0);
        }
        if option == number::USE_FD {
            // Kept here until a bind takes the descriptor over (zmq_bind):
            // until then it is only a number, as in libzmq.
            let fd = Value(value).int()?;
            if fd < -1 {
                return Err(libc::EINVAL);
            }
            h.use_fd = (fd, false);
            return Ok(0);
        }
        let option = match option {
            number::PLAIN_USERNAME | number::PLAIN_PASSWORD => plain_client(h, option, value),
            _ => option_of(option, &Value(value))?,
        };
        let key = curve_key_record(&option);
        let mandatory = match option {
            SocketOption::RouterMandatory(on) => Some(on),
            _ => None,
        };
        h.socket.set_option(option).map_err(|e| errno_of(&e))?;
        if let Some(on) = mandatory {
            h.router_mandatory = on;
        }
        if let Some((slot, bytes)) = key {
            h.curve_keys[slot] = bytes;
        }
        Ok(0)
    })
}

/// What `zmq_getsockopt` writes.
enum Reply {
    Int(c_int),
    Int64(i64),
    Bytes(Vec<u8>),
}

fn millis(d: Option<Duration>) -> Reply {
    Reply::Int(d.map_or(-1, |d| d.as_millis().min(c_int::MAX as u128) as c_int))
}

fn flag(b: bool) -> Reply {
    Reply::Int(b as c_int)
}

/// A string option as libzmq returns it: its bytes and a NUL.
fn text(s: &[u8]) -> Reply {
    let mut v = s.to_vec();
    v.push(0);
    Reply::Bytes(v)
}

/// The value of `option` for libzmq's getsockopt; `room` is the caller's
/// buffer size, which picks the form of a CURVE key (32 bytes, or 40 Z85
/// characters and a NUL).
fn reply_of(h: &mut SocketHandle, option: c_int, room: usize) -> Result<Reply, Errno> {
    use number::*;
    let fail = |e: monocoque_patterns::Error| errno_of(&e);
    // Read-only values first: they need no copy of the options.
    match option {
        CURVE_PUBLICKEY | CURVE_SECRETKEY | CURVE_SERVERKEY => {
            let slot = match option {
                CURVE_PUBLICKEY => CURVE_PUBLIC,
                CURVE_SECRETKEY => CURVE_SECRET,
                _ => CURVE_SERVER_KEY,
            };
            let key = &h.curve_keys[slot];
            return match room {
                32 => Ok(Reply::Bytes(key.to_vec())),
                41 => {
                    let z85 = monocoque_zmtp::z85::encode(key).map_err(|_| libc::EINVAL)?;
                    Ok(text(z85.as_bytes()))
                }
                _ => Err(libc::EINVAL),
            };
        }
        AFFINITY => return Ok(Reply::Int64(h.affinity as i64)),
        USE_FD => return Ok(Reply::Int(h.use_fd.0)),
        // Options of transports and platforms not offered (pgm, epgm, norm,
        // udp; Windows' loopback fast path) and the draft ZAP_ENFORCE_DOMAIN:
        // setting one is EINVAL, so each holds libzmq's default.
        RATE => return Ok(Reply::Int(100)),
        RECOVERY_IVL => return Ok(Reply::Int(10_000)),
        MULTICAST_HOPS => return Ok(Reply::Int(1)),
        MULTICAST_MAXTPDU => return Ok(Reply::Int(1500)),
        MULTICAST_LOOP => return Ok(Reply::Int(1)),
        LOOPBACK_FASTPATH | ZAP_ENFORCE_DOMAIN => return Ok(Reply::Int(0)),
        TYPE => return Ok(Reply::Int(socket_type_number(h.socket.socket_type()))),
        RCVMORE => return Ok(flag(!h.incoming.is_empty())),
        EVENTS => {
            let e = h.socket.events().map_err(fail)?;
            // A message partly received is still readable.
            let readable = e.contains(Events::POLLIN) || !h.incoming.is_empty();
            let writable = e.contains(Events::POLLOUT);
            return Ok(Reply::Int(readable as c_int | (writable as c_int) << 1));
        }
        FD => return Ok(Reply::Int(h.socket.readiness_fd().map_err(fail)?)),
        LAST_ENDPOINT => {
            let endpoint = h.socket.last_endpoint().map_err(fail)?;
            return Ok(text(endpoint.unwrap_or_default().as_bytes()));
        }
        THREAD_SAFE => return Ok(Reply::Int(0)),
        TOPICS_COUNT => {
            let n = h.socket.topics_count().map_err(fail)?;
            return Ok(Reply::Int(n.min(c_int::MAX as usize) as c_int));
        }
        _ => {}
    }
    let o: Options = h.socket.options().map_err(fail)?;
    Ok(match option {
        SNDHWM => Reply::Int(o.sndhwm().min(c_int::MAX as usize) as c_int),
        RCVHWM => Reply::Int(o.rcvhwm().min(c_int::MAX as usize) as c_int),
        LINGER => millis(o.linger()),
        SNDTIMEO => millis(o.sndtimeo()),
        RCVTIMEO => millis(o.rcvtimeo()),
        IMMEDIATE => flag(o.immediate()),
        RECONNECT_IVL => millis(o.reconnect_ivl()),
        RECONNECT_IVL_MAX => millis(Some(o.reconnect_ivl_max())),
        RECONNECT_STOP => Reply::Int(o.reconnect_stop() as c_int),
        HEARTBEAT_IVL => millis(Some(o.heartbeat_ivl())),
        HEARTBEAT_TTL => millis(Some(o.heartbeat_ttl())),
        HEARTBEAT_TIMEOUT => millis(Some(o.heartbeat_timeout())),
        HANDSHAKE_IVL => millis(Some(o.handshake_ivl())),
        MAXMSGSIZE => Reply::Int64(o.maxmsgsize().map_or(-1, |n| n.min(i64::MAX as u64) as i64)),
        ROUTING_ID => Reply::Bytes(o.routing_id().to_vec()),
        ROUTER_MANDATORY => flag(o.router_mandatory()),
        ROUTER_HANDOVER => flag(o.router_handover()),
        ROUTER_NOTIFY => Reply::Int(o.router_notify() as c_int),
        CONNECT_ROUTING_ID => Reply::Bytes(o.connect_routing_id().to_vec()),
        SNDBUF => Reply::Int(o.buffer_sizes().0.map_or(-1, |n| n as c_int)),
        RCVBUF => Reply::Int(o.buffer_sizes().1.map_or(-1, |n| n as c_int)),
        BACKLOG => Reply::Int(o.backlog() as c_int),
        IPV6 => flag(o.ipv6()),
        IPV4ONLY => flag(!o.ipv6()),
        TOS => Reply::Int(o.tcp_tuning().tos.map_or(0, c_int::from)),
        BINDTODEVICE => text(o.tcp_tuning().device.as_deref().unwrap_or("").as_bytes()),
        TCP_MAXRT => Reply::Int(
            o.tcp_tuning()
                .user_timeout
                .map_or(0, |d| d.as_millis() as c_int),
        ),
        BUSY_POLL => Reply::Int(
            o.tcp_tuning()
                .busy_poll
                .map_or(0, |d| d.as_micros() as c_int),
        ),
        TCP_KEEPALIVE => Reply::Int(o.tcp_keepalive().enabled.map_or(-1, c_int::from)),
        TCP_KEEPALIVE_IDLE => {
            Reply::Int(o.tcp_keepalive().idle.map_or(-1, |d| d.as_secs() as c_int))
        }
        TCP_KEEPALIVE_INTVL => Reply::Int(
            o.tcp_keepalive()
                .interval
                .map_or(-1, |d| d.as_secs() as c_int),
        ),
        TCP_KEEPALIVE_CNT => Reply::Int(o.tcp_keepalive().count.map_or(-1, |n| n as c_int)),
        ZAP_DOMAIN => text(o.zap_domain()),
        SOCKS_PROXY => text(o.socks_proxy().unwrap_or("").as_bytes()),
        SOCKS_USERNAME => text(o.socks_credentials().0),
        SOCKS_PASSWORD => text(o.socks_credentials().1),
        STREAM_NOTIFY => flag(o.stream_notify()),
        PROBE_ROUTER => flag(o.probe_router()),
        REQ_CORRELATE => flag(o.req_correlate()),
        REQ_RELAXED => flag(o.req_relaxed()),
        CONFLATE => flag(o.conflate()),
        CONNECT_TIMEOUT => Reply::Int(o.connect_timeout().map_or(0, |d| d.as_millis() as c_int)),
        XPUB_VERBOSE => flag(o.xpub_verbose_subs()),
        XPUB_NODROP => flag(o.xpub_nodrop()),
        XPUB_MANUAL => flag(o.xpub_manual()),
        XPUB_MANUAL_LAST_VALUE => flag(o.xpub_manual_last_value()),
        ONLY_FIRST_SUBSCRIBE => flag(o.only_first_subscribe()),
        XPUB_WELCOME_MSG => Reply::Bytes(o.xpub_welcome_msg().to_vec()),
        INVERT_MATCHING => flag(o.invert_matching()),
        MECHANISM => Reply::Int(match o.mechanism() {
            MechanismConfig::PlainClient { .. } | MechanismConfig::PlainServer { .. } => 1,
            MechanismConfig::CurveClient { .. } | MechanismConfig::CurveServer { .. } => 2,
            _ if o.curve_selected() => 2,
            _ => 0,
        }),
        PLAIN_SERVER => flag(
            !o.curve_selected() && matches!(o.mechanism(), MechanismConfig::PlainServer { .. }),
        ),
        CURVE_SERVER => flag(o.curve_server()),
        PLAIN_USERNAME => text(&h.plain.0),
        PLAIN_PASSWORD => text(&h.plain.1),
        _ => return Err(libc::EINVAL),
    })
}

/// `zmq_getsockopt`: writes the value to `optval` and its size to
/// `*optvallen`; EINVAL if the buffer is too small for it.
#[no_mangle]
pub unsafe extern "C" fn zmq_getsockopt(
    s: *mut c_void,
    option: c_int,
    optval: *mut c_void,
    optvallen: *mut usize,
) -> c_int {
    guarded(-1, || {
        if optvallen.is_null() {
            return Err(libc::EFAULT);
        }
        // SAFETY: the caller passes a socket from zmq_socket.
        let h = unsafe { socket(s) }?;
        // SAFETY: the caller passes a valid size_t pointer (checked non-NULL).
        let room = unsafe { *optvallen };
        let reply = reply_of(h, option, room)?;
        let int_bytes;
        let int64_bytes;
        let bytes: &[u8] = match &reply {
            Reply::Int(v) => {
                int_bytes = v.to_ne_bytes();
                &int_bytes
            }
            Reply::Int64(v) => {
                int64_bytes = v.to_ne_bytes();
                &int64_bytes
            }
            Reply::Bytes(b) => b,
        };
        if room < bytes.len() || (optval.is_null() && !bytes.is_empty()) {
            return Err(libc::EINVAL);
        }
        if matches!(reply, Reply::Int(_) | Reply::Int64(_)) {
            // libzmq clears the whole buffer before writing a number, so an
            // int read into an int64_t reads back as the int.
            // SAFETY: the caller gives `room` writable bytes at `optval`
            // (non-NULL: the value is not empty).
            unsafe { std::ptr::write_bytes(optval.cast::<u8>(), 0, room) };
        }
        if !bytes.is_empty() {
            // SAFETY: `room` writable bytes at `optval`, at least the length.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), optval.cast::<u8>(), bytes.len())
            };
        }
        // SAFETY: as above.
        unsafe { *optvallen = bytes.len() };
        Ok(0)
    })
}
