//! Socket options as a config file spells them: libzmq's names in lower case
//! (`sndhwm`, `linger`, `xpub_verbose`), libzmq's units (milliseconds for
//! times, seconds for the TCP keepalive ones) and libzmq's -1 for "forever"
//! or "the system's default".
//!
//! Each name maps to exactly one [`SocketOption`] that is applied to the
//! socket; a name the appliance cannot honour is refused with the reason,
//! never accepted and ignored.

use std::time::Duration;

use bytes::Bytes;
use monocoque_patterns::SocketOption;
use toml::Value;

/// What a service applies for one `options` entry.
#[derive(Debug, Clone)]
pub enum Applied {
    /// One socket option.
    Option(SocketOption),
    /// `subscribe`: topics for a SUB or XSUB (one `Subscribe` each).
    Subscribe(Vec<Bytes>),
    /// `plain_username` or `plain_password`: joined into one
    /// `PlainClient` option once both are known.
    PlainUsername(Bytes),
    /// See `PlainUsername`.
    PlainPassword(Bytes),
}

/// The names the appliance accepts, for error messages.
pub const NAMES: &[&str] = &[
    "sndhwm",
    "rcvhwm",
    "linger",
    "sndtimeo",
    "immediate",
    "reconnect_ivl",
    "reconnect_ivl_max",
    "heartbeat_ivl",
    "heartbeat_ttl",
    "heartbeat_timeout",
    "handshake_ivl",
    "maxmsgsize",
    "maxmsgframes",
    "max_subscriptions",
    "max_subscription_bytes",
    "routing_id",
    "router_mandatory",
    "router_handover",
    "probe_router",
    "tcp_keepalive",
    "tcp_keepalive_idle",
    "tcp_keepalive_intvl",
    "tcp_keepalive_cnt",
    "plain_username",
    "plain_password",
    "subscribe",
    "xpub_verbose",
    "xpub_verboser",
    "xpub_nodrop",
    "xpub_welcome_msg",
    "invert_matching",
    "conflate",
    "backlog",
    "reconnect_stop",
    "sndbuf",
    "rcvbuf",
    "ipv6",
    "tos",
    "bindtodevice",
    "connect_timeout",
    "tcp_maxrt",
    "busy_poll",
    "only_first_subscribe",
];

/// Parses one `name = value` entry.
pub fn parse(name: &str, value: &Value) -> Result<Applied, String> {
    use SocketOption as O;
    let option = match name {
        "sndhwm" => O::SndHwm(count(value)?),
        "rcvhwm" => O::RcvHwm(count(value)?),
        "linger" => O::Linger(millis_or_forever(value)?),
        "sndtimeo" => O::SndTimeo(millis_or_forever(value)?),
        "immediate" => O::Immediate(flag(value)?),
        "reconnect_ivl" => O::ReconnectIvl(millis_or_forever(value)?),
        "reconnect_ivl_max" => O::ReconnectIvlMax(millis(value)?),
        "heartbeat_ivl" => O::HeartbeatIvl(millis(value)?),
        "heartbeat_ttl" => O::HeartbeatTtl(millis(value)?),
        "heartbeat_timeout" => O::HeartbeatTimeout(millis(value)?),
        "handshake_ivl" => O::HandshakeIvl(millis(value)?),
        "maxmsgsize" => O::MaxMsgSize(minus_one_or(value)?.map(|n| n as u64)),
        "maxmsgframes" => O::MaxMsgFrames(minus_one_or(value)?.map(|n| n as usize)),
        "max_subscriptions" => O::MaxSubscriptions(minus_one_or(value)?.map(|n| n as usize)),
        "max_subscription_bytes" => {
            O::MaxSubscriptionBytes(minus_one_or(value)?.map(|n| n as usize))
        }
        "routing_id" => O::RoutingId(text(value)?),
        "router_mandatory" => O::RouterMandatory(flag(value)?),
        "router_handover" => O::RouterHandover(flag(value)?),
        "probe_router" => O::ProbeRouter(flag(value)?),
        "tcp_keepalive" => O::TcpKeepalive(minus_one_or(value)?.map(|n| n != 0)),
        "tcp_keepalive_idle" => O::TcpKeepaliveIdle(seconds_or_system(value)?),
        "tcp_keepalive_intvl" => O::TcpKeepaliveIntvl(seconds_or_system(value)?),
        "tcp_keepalive_cnt" => O::TcpKeepaliveCnt(
            minus_one_or(value)?
                .map(|n| u32::try_from(n).map_err(|_| "must fit in 32 bits".to_string()))
                .transpose()?,
        ),
        "plain_username" => return Ok(Applied::PlainUsername(text(value)?)),
        "plain_password" => return Ok(Applied::PlainPassword(text(value)?)),
        "subscribe" => return Ok(Applied::Subscribe(topics(value)?)),
        "xpub_verbose" => O::XpubVerbose(flag(value)?),
        "xpub_verboser" => O::XpubVerboser(flag(value)?),
        "xpub_nodrop" => O::XpubNodrop(flag(value)?),
        "xpub_welcome_msg" => O::XpubWelcomeMsg(text(value)?),
        "invert_matching" => O::InvertMatching(flag(value)?),
        "conflate" => O::Conflate(flag(value)?),
        "sndbuf" => O::SndBuf(bytes_or_system(value)?),
        "ipv6" => O::Ipv6(flag(value)?),
        "rcvbuf" => O::RcvBuf(bytes_or_system(value)?),
        "tos" => O::Tos(u8::try_from(count(value)?).map_err(|_| "0 to 255".to_string())?),
        "bindtodevice" => O::BindToDevice(
            value
                .as_str()
                .ok_or_else(|| format!("must be a string, not {}", value.type_str()))?
                .to_string(),
        ),
        // 0 is libzmq's "the system's" for these three.
        "connect_timeout" => O::ConnectTimeout(Some(millis(value)?)),
        "tcp_maxrt" => O::TcpMaxrt(Some(millis(value)?)),
        "busy_poll" => O::BusyPoll(Some(Duration::from_micros(
            u64::try_from(integer(value)?).map_err(|_| "must be 0 or more microseconds")?,
        ))),
        "only_first_subscribe" => O::OnlyFirstSubscribe(flag(value)?),
        "reconnect_stop" => O::ReconnectStop(
            u8::try_from(count(value)?).map_err(|_| "a sum of 1, 2 and 4".to_string())?,
        ),
        "backlog" => {
            O::Backlog(u32::try_from(count(value)?).map_err(|_| "must fit in 32 bits".to_string())?)
        }
        "rcvtimeo" => {
            return Err("not for a service: its loop waits for messages itself".into());
        }
        "xpub_manual" | "xpub_manual_last_value" => {
            return Err(
                "not for a service: nobody would apply the subscriptions it holds back".into(),
            );
        }
        "plain_server" | "curve_server" | "curve_publickey" | "curve_secretkey"
        | "curve_serverkey" => {
            return Err("security goes in the socket's `curve` or `plain` table \
                 (curve = { secret_key_file = ..., allow = [...] }), not in its options, \
                 so that keys come from files and never sit in the config"
                .into());
        }
        "zap_domain" => {
            return Err("no ZAP handler runs inside the appliance: admit CURVE clients with the `curve` table's allow or allow_dir, PLAIN clients with `plain`'s users_file".into());
        }
        _ => {
            return Err(format!(
                "no such option (the appliance knows: {})",
                NAMES.join(", ")
            ));
        }
    };
    Ok(Applied::Option(option))
}

fn integer(value: &Value) -> Result<i64, String> {
    value
        .as_integer()
        .ok_or_else(|| format!("must be an integer, not {}", value.type_str()))
}

/// A size in bytes, or -1 (libzmq's) for the system's.
fn bytes_or_system(value: &Value) -> Result<Option<u32>, String> {
    minus_one_or(value)?
        .map(|n| u32::try_from(n).map_err(|_| "must fit in 32 bits".to_string()))
        .transpose()
}

fn count(value: &Value) -> Result<usize, String> {
    usize::try_from(integer(value)?).map_err(|_| "must be 0 or more".to_string())
}

fn millis(value: &Value) -> Result<Duration, String> {
    let n = integer(value)?;
    u64::try_from(n)
        .map(Duration::from_millis)
        .map_err(|_| "must be 0 or more milliseconds".to_string())
}

/// -1 is libzmq's "no limit" (or "never" for reconnect_ivl).
fn minus_one_or(value: &Value) -> Result<Option<i64>, String> {
    match integer(value)? {
        -1 => Ok(None),
        n if n >= 0 => Ok(Some(n)),
        _ => Err("must be -1 or 0 or more".into()),
    }
}

fn millis_or_forever(value: &Value) -> Result<Option<Duration>, String> {
    Ok(minus_one_or(value)?.map(|n| Duration::from_millis(n as u64)))
}

fn seconds_or_system(value: &Value) -> Result<Option<Duration>, String> {
    Ok(minus_one_or(value)?.map(|n| Duration::from_secs(n as u64)))
}

/// `true`/`false`, or libzmq's 1/0.
fn flag(value: &Value) -> Result<bool, String> {
    match value {
        Value::Boolean(b) => Ok(*b),
        Value::Integer(0) => Ok(false),
        Value::Integer(1) => Ok(true),
        other => Err(format!("must be true or false, not {other}")),
    }
}

fn text(value: &Value) -> Result<Bytes, String> {
    value
        .as_str()
        .map(|s| Bytes::copy_from_slice(s.as_bytes()))
        .ok_or_else(|| format!("must be a string, not {}", value.type_str()))
}

/// One topic or a list of them.
fn topics(value: &Value) -> Result<Vec<Bytes>, String> {
    match value {
        Value::Array(items) => items.iter().map(text).collect(),
        one => Ok(vec![text(one)?]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(name: &str, v: Value) -> String {
        format!("{:?}", parse(name, &v).unwrap())
    }

    #[test]
    fn backlog_is_a_count() {
        let Applied::Option(SocketOption::Backlog(b)) =
            parse("backlog", &Value::Integer(37)).unwrap()
        else {
            panic!()
        };
        assert_eq!(b, 37);
        assert!(parse("backlog", &Value::Integer(-1)).is_err());
        let Applied::Option(SocketOption::SndBuf(s)) =
            parse("sndbuf", &Value::Integer(-1)).unwrap()
        else {
            panic!()
        };
        assert_eq!(s, None, "-1: the system's");
        let Applied::Option(SocketOption::RcvBuf(r)) =
            parse("rcvbuf", &Value::Integer(4096)).unwrap()
        else {
            panic!()
        };
        assert_eq!(r, Some(4096));
    }

    #[test]
    fn names_map_to_options_in_libzmq_units() {
        assert_eq!(
            ok("sndhwm", Value::Integer(5)),
            "Option(SocketOption::SNDHWM)"
        );
        let Applied::Option(SocketOption::Linger(l)) =
            parse("linger", &Value::Integer(250)).unwrap()
        else {
            panic!()
        };
        assert_eq!(l, Some(Duration::from_millis(250)));
        let Applied::Option(SocketOption::Linger(l)) =
            parse("linger", &Value::Integer(-1)).unwrap()
        else {
            panic!()
        };
        assert_eq!(l, None);
        let Applied::Option(SocketOption::TcpKeepaliveIdle(i)) =
            parse("tcp_keepalive_idle", &Value::Integer(30)).unwrap()
        else {
            panic!()
        };
        assert_eq!(i, Some(Duration::from_secs(30)));
        let Applied::Option(SocketOption::XpubVerbose(v)) =
            parse("xpub_verbose", &Value::Integer(1)).unwrap()
        else {
            panic!()
        };
        assert!(v);
    }

    #[test]
    fn tcp_tuning_names_take_libzmq_units() {
        let Applied::Option(SocketOption::Tos(t)) = parse("tos", &Value::Integer(40)).unwrap()
        else {
            panic!()
        };
        assert_eq!(t, 40);
        assert!(parse("tos", &Value::Integer(256)).is_err());
        let Applied::Option(SocketOption::ConnectTimeout(c)) =
            parse("connect_timeout", &Value::Integer(250)).unwrap()
        else {
            panic!()
        };
        assert_eq!(c, Some(Duration::from_millis(250)));
        let Applied::Option(SocketOption::TcpMaxrt(m)) =
            parse("tcp_maxrt", &Value::Integer(1500)).unwrap()
        else {
            panic!()
        };
        assert_eq!(m, Some(Duration::from_millis(1500)));
        let Applied::Option(SocketOption::BusyPoll(b)) =
            parse("busy_poll", &Value::Integer(50)).unwrap()
        else {
            panic!()
        };
        assert_eq!(b, Some(Duration::from_micros(50)));
        let Applied::Option(SocketOption::BindToDevice(d)) =
            parse("bindtodevice", &Value::String("lo".into())).unwrap()
        else {
            panic!()
        };
        assert_eq!(d, "lo");
        assert!(parse("bindtodevice", &Value::Integer(1)).is_err());
    }

    #[test]
    fn subscribe_takes_one_topic_or_a_list() {
        let Applied::Subscribe(t) = parse("subscribe", &Value::String("a".into())).unwrap() else {
            panic!()
        };
        assert_eq!(t, vec![Bytes::from_static(b"a")]);
        let list = Value::Array(vec![Value::String("a".into()), Value::String("".into())]);
        let Applied::Subscribe(t) = parse("subscribe", &list).unwrap() else {
            panic!()
        };
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn bad_values_and_names_say_why() {
        assert_eq!(
            parse("sndhwm", &Value::Integer(-2)).unwrap_err(),
            "must be 0 or more"
        );
        assert_eq!(
            parse("linger", &Value::String("x".into())).unwrap_err(),
            "must be an integer, not string"
        );
        assert!(parse("sndhmw", &Value::Integer(1))
            .unwrap_err()
            .starts_with("no such option"));
        assert!(parse("xpub_manual", &Value::Boolean(true))
            .unwrap_err()
            .contains("nobody would apply"));
        assert!(parse("conflate", &Value::Integer(2))
            .unwrap_err()
            .contains("true or false"));
    }
}
