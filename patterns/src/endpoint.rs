//! ZeroMQ endpoint strings: `tcp://host:port`, `ipc:///path`, `inproc://name`.
//!
//! For `bind`, a tcp host may be `*` (all IPv4 interfaces, or all IPv6 ones with
//! `[::]`), an address, or a name; the port may be `0` or `*` (the kernel picks
//! one, read it back with `last_endpoint`). For `connect`, the host is an
//! address or a name resolved when connecting (and again at each reconnect).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
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
    },
    /// A Unix domain socket at this path.
    Ipc(PathBuf),
    /// A name within the same context (the same reactor thread).
    Inproc(String),
}

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
                let (host, port) = rest
                    .rsplit_once(':')
                    .ok_or_else(|| bad("tcp needs host:port"))?;
                let port = match port {
                    "*" => 0,
                    p => p
                        .parse::<u16>()
                        .map_err(|_| bad("the port must be a number from 0 to 65535, or *"))?,
                };
                let host = host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(host);
                if host.is_empty() {
                    return Err(bad("the host is empty (use * to bind every interface)"));
                }
                // libzmq's sanity check: what no host name, IPv4 or IPv6
                // address (with a zone) has is refused here, not retried
                // for ever at connect.
                let allowed = |c: char| c.is_ascii_alphanumeric() || ".-:%_*".contains(c);
                if let Some(c) = host.chars().find(|&c| !allowed(c)) {
                    return Err(bad(&format!(
                        "{c:?} is in no host name or address (letters, digits, '.', '-', ':', '%' and '_' are)"
                    )));
                }
                Ok(Endpoint::Tcp {
                    host: host.to_string(),
                    port,
                })
            }
            "ipc" => {
                if rest.is_empty() {
                    return Err(bad("ipc needs a path"));
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

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp { host, port } if host.contains(':') => {
                write!(f, "tcp://[{host}]:{port}")
            }
            Endpoint::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Endpoint::Ipc(p) => write!(f, "ipc://{}", p.display()),
            Endpoint::Inproc(n) => write!(f, "inproc://{n}"),
        }
    }
}

impl Endpoint {
    /// The address to bind a tcp endpoint to: `*` is every IPv4 interface.
    pub(crate) fn bind_addr(host: &str, port: u16) -> Result<SocketAddr> {
        if host == "*" {
            return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
        }
        resolve(host, port)
    }

    /// The endpoint string for a bound tcp listener (what `last_endpoint` reports).
    pub(crate) fn tcp_from_addr(addr: SocketAddr) -> Endpoint {
        Endpoint::Tcp {
            host: addr.ip().to_string(),
            port: addr.port(),
        }
    }
}

/// Resolves a host (an address literal, or a name through the system resolver)
/// to its first address.
pub(crate) fn resolve(host: &str, port: u16) -> Result<SocketAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let mut addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| Error::InvalidEndpoint {
            endpoint: format!("tcp://{host}:{port}"),
            reason: format!("cannot resolve host: {e}"),
        })?;
    addrs.next().ok_or_else(|| Error::InvalidEndpoint {
        endpoint: format!("tcp://{host}:{port}"),
        reason: "the host name has no address".into(),
    })
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
    fn parses_each_transport() {
        assert_eq!(
            p("tcp://*:0").unwrap(),
            Endpoint::Tcp {
                host: "*".into(),
                port: 0
            }
        );
        assert_eq!(
            p("tcp://[::1]:5555").unwrap(),
            Endpoint::Tcp {
                host: "::1".into(),
                port: 5555
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
    fn resolves_literals_and_names() {
        assert_eq!(resolve("127.0.0.1", 1).unwrap().to_string(), "127.0.0.1:1");
        assert!(resolve("localhost", 1).unwrap().ip().is_loopback());
        assert_eq!(
            Endpoint::bind_addr("*", 7).unwrap().to_string(),
            "0.0.0.0:7"
        );
    }
}
