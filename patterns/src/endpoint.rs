//! ZeroMQ endpoint strings: `tcp://host:port`, `tcp://source;host:port`,
//! `ipc:///path`, `ipc://@name`, `inproc://name`.
//!
//! For `bind`, a tcp host may be `*` (all IPv4 interfaces, or all IPv6 ones with
//! `[::]`), an interface name (`eth0`: its first address), an address, or a
//! name; the port may be `0` or `*` (the kernel picks one, read it back with
//! `last_endpoint`). For `connect`, the host is an address or a name resolved
//! off the reactor thread when connecting, and again at each reconnect; each of
//! its addresses is tried in turn. A connect may name its source before a `;`:
//! an interface name, an address or `*`, and a port (`0` or `*` for any), as
//! libzmq's `tcp://eth0:0;server:5555`. `ipc://@name` is a name in Linux's
//! abstract namespace (no file), as in libzmq.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::{Error, Result};

/// A parsed endpoint.
///
/// ```
/// use monocoque_patterns::Endpoint;
/// let e: Endpoint = "tcp://127.0.0.1:5555".parse().unwrap();
/// assert_eq!(e.to_string(), "tcp://127.0.0.1:5555");
/// assert!("udp://x:1".parse::<Endpoint>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// TCP: a host (address, name, or `*`) and a port (0 = any).
    Tcp {
        /// As written, without IPv6 brackets.
        host: String,
        /// 0 lets the kernel choose (bind only).
        port: u16,
        /// Where a connection starts from (`source;` in the endpoint): an
        /// interface, an address or `*`, and a port (0 = any).
        source: Option<(String, u16)>,
    },
    /// A Unix domain socket at this path; a path starting with `@` is a name
    /// in Linux's abstract namespace.
    Ipc(PathBuf),
    /// A name within the same context (the same reactor thread).
    Inproc(String),
}

/// The bytes of `sockaddr_un.sun_path`: an ipc path (or `@` and an abstract
/// name) must leave room in it for the terminating NUL.
const IPC_PATH_ROOM: usize = 108;

/// Why an ipc path is refused when it does not fit `sun_path` (libzmq's
/// ENAMETOOLONG).
pub const IPC_PATH_TOO_LONG: &str = "the ipc path is too long: at most 107 bytes fit sun_path";

impl std::str::FromStr for Endpoint {
    type Err = Error;

    fn from_str(s: &str) -> Result<Endpoint> {
        let bad = |reason: &str| Error::InvalidEndpoint {
            endpoint: s.to_string(),
            reason: reason.to_string(),
        };
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| bad("expected transport://address"))?;
        match scheme {
            "tcp" => {
                let (source, destination) = match rest.rsplit_once(';') {
                    Some((source, destination)) => (Some(source), destination),
                    None => (None, rest),
                };
                let (host, port) = tcp_host_port(destination).map_err(|r| bad(&r))?;
                let source = source
                    .map(|source| tcp_host_port(source).map_err(|r| bad(&format!("source: {r}"))))
                    .transpose()?;
                Ok(Endpoint::Tcp { host, port, source })
            }
            "ipc" => {
                if rest.is_empty() {
                    return Err(bad("ipc needs a path"));
                }
                if rest == "@" {
                    return Err(bad(
                        "an abstract ipc name needs at least one character after @",
                    ));
                }
                if rest.len() >= IPC_PATH_ROOM {
                    return Err(bad(IPC_PATH_TOO_LONG));
                }
                Ok(Endpoint::Ipc(PathBuf::from(rest)))
            }
            "inproc" => {
                if rest.is_empty() {
                    return Err(bad("inproc needs a name"));
                }
                Ok(Endpoint::Inproc(rest.to_string()))
            }
            _ => Err(bad("unknown transport (tcp, ipc and inproc are supported)")),
        }
    }
}

/// `host:port` of a tcp endpoint (the host without IPv6 brackets), or why not.
pub(crate) fn tcp_host_port(text: &str) -> std::result::Result<(String, u16), String> {
    let (host, port) = text.rsplit_once(':').ok_or("tcp needs host:port")?;
    let port = match port {
        "*" => 0,
        p => p
            .parse::<u16>()
            .map_err(|_| "the port must be a number from 0 to 65535, or *")?,
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err("the host is empty (use * to bind every interface)".into());
    }
    // libzmq's sanity check: what no host name, interface, IPv4 or IPv6
    // address (with a zone) has is refused here, not retried for ever at
    // connect.
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-:%_*".contains(c);
    if let Some(c) = host.chars().find(|&c| !allowed(c)) {
        return Err(format!(
            "{c:?} is in no host name or address (letters, digits, '.', '-', ':', '%' and '_' are)"
        ));
    }
    Ok((host.to_string(), port))
}

/// `host:port`, with brackets around an IPv6 host.
fn fmt_host_port(f: &mut std::fmt::Formatter<'_>, host: &str, port: u16) -> std::fmt::Result {
    if host.contains(':') {
        write!(f, "[{host}]:{port}")
    } else {
        write!(f, "{host}:{port}")
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp { host, port, source } => {
                f.write_str("tcp://")?;
                if let Some((source_host, source_port)) = source {
                    fmt_host_port(f, source_host, *source_port)?;
                    f.write_str(";")?;
                }
                fmt_host_port(f, host, *port)
            }
            Endpoint::Ipc(p) => write!(f, "ipc://{}", p.display()),
            Endpoint::Inproc(n) => write!(f, "inproc://{n}"),
        }
    }
}

impl Endpoint {
    /// The endpoint string for a bound tcp listener (what `last_endpoint` reports).
    pub(crate) fn tcp_from_addr(addr: SocketAddr) -> Endpoint {
        Endpoint::Tcp {
            host: addr.ip().to_string(),
            port: addr.port(),
            source: None,
        }
    }

    /// The name in Linux's abstract namespace an `ipc://@name` endpoint's
    /// path stands for.
    pub(crate) fn abstract_name(path: &std::path::Path) -> Option<&[u8]> {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().strip_prefix(b"@")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Endpoint> {
        s.parse()
    }

    #[test]
    fn malformed_hosts_are_refused_as_libzmq_refuses_them() {
        for bad in [
            "tcp://ho st:5",
            "tcp://host/path:5",
            "tcp://a,b:5",
            "tcp://h\u{e9}:5",
        ] {
            assert!(
                matches!(p(bad), Err(Error::InvalidEndpoint { .. })),
                "{bad} was accepted"
            );
        }
        for good in [
            "tcp://my-host.example_1:5",
            "tcp://[fe80::1%eth0]:5",
            "tcp://*:5",
        ] {
            assert!(p(good).is_ok(), "{good} was refused");
        }
    }

    #[test]
    fn an_ipc_path_must_fit_sun_path() {
        let fits = format!("ipc://{}", "a".repeat(107));
        assert!(p(&fits).is_ok());
        assert!(p(&format!("ipc://@{}", "a".repeat(106))).is_ok());
        for long in [
            format!("ipc://{}", "a".repeat(108)),
            format!("ipc://@{}", "a".repeat(107)),
        ] {
            match p(&long) {
                Err(Error::InvalidEndpoint { reason, .. }) => assert_eq!(reason, IPC_PATH_TOO_LONG),
                other => panic!("{long}: {other:?}"),
            }
        }
    }

    #[test]
    fn parses_each_transport() {
        assert_eq!(
            p("tcp://*:0").unwrap(),
            Endpoint::Tcp {
                host: "*".into(),
                port: 0,
                source: None
            }
        );
        assert_eq!(
            p("tcp://[::1]:5555").unwrap(),
            Endpoint::Tcp {
                host: "::1".into(),
                port: 5555,
                source: None
            }
        );
        assert_eq!(
            p("tcp://[::1]:5555").unwrap().to_string(),
            "tcp://[::1]:5555"
        );
        assert_eq!(p("tcp://h:*").unwrap().to_string(), "tcp://h:0");
        assert_eq!(
            p("ipc:///tmp/x.sock").unwrap(),
            Endpoint::Ipc("/tmp/x.sock".into())
        );
        assert_eq!(p("inproc://a").unwrap(), Endpoint::Inproc("a".into()));
    }

    #[test]
    fn refuses_bad_endpoints_with_a_reason() {
        for bad in [
            "tcp://nohost",
            "tcp://:1",
            "tcp://a:99999",
            "ipc://",
            "inproc://",
            "x",
            "pgm://a:1",
        ] {
            let e = p(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidEndpoint { .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn a_source_comes_before_the_last_semicolon_with_its_port() {
        assert_eq!(
            p("tcp://127.0.0.2:0;127.0.0.1:5555").unwrap(),
            Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 5555,
                source: Some(("127.0.0.2".into(), 0)),
            }
        );
        let e = p("tcp://[::1]:*;[::1]:7").unwrap();
        assert_eq!(e.to_string(), "tcp://[::1]:0;[::1]:7");
        assert_eq!(
            p("tcp://lo:4000;host:7").unwrap().to_string(),
            "tcp://lo:4000;host:7"
        );
        for bad in ["tcp://127.0.0.2;h:7", "tcp://;h:7", "tcp://a b:1;h:7"] {
            let e = p(bad).unwrap_err().to_string();
            assert!(e.contains("source"), "{bad}: {e}");
        }
    }

    #[test]
    fn an_at_sign_names_an_abstract_ipc_socket() {
        let e = p("ipc://@monocoque-x").unwrap();
        assert_eq!(e.to_string(), "ipc://@monocoque-x");
        let Endpoint::Ipc(path) = e else {
            panic!("not ipc")
        };
        assert_eq!(Endpoint::abstract_name(&path), Some(&b"monocoque-x"[..]));
        assert_eq!(Endpoint::abstract_name("/tmp/x".as_ref()), None);
        assert!(p("ipc://@").is_err());
    }
}
