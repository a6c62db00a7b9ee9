//! From a tcp endpoint's host to socket addresses: the address a bind takes,
//! the source a connect starts from, and the addresses a connect tries.
//!
//! Local addresses (a bind, a source) are found as libzmq finds them: `*`,
//! then an interface name (`eth0`: its first address of the family), then an
//! address literal. A bind also takes a host name, looked up in the call as
//! `zmq_bind` returns only once bound (libzmq refuses names at bind; we take
//! them). A connect's host name is looked up on a thread of its own, so that a
//! slow resolver never stalls the reactor and every connection on it, and
//! every address it gives is tried in turn (libzmq tries only the first).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use monocoque_runtime::net::interface_addresses;

use crate::{Error, Result};

/// The address a tcp bind to `host:port` takes, as `Socket::bind` finds it:
/// `*` is every IPv4 address (a socket binds dual-stack under IPV6), then an
/// interface name (its IPv6 address under IPV6, else its IPv4 one), an
/// address, or a host name (its first address).
///
/// ```
/// let a = monocoque_patterns::tcp_bind_address("lo", 5555, false).unwrap();
/// assert_eq!(a, "127.0.0.1:5555".parse().unwrap());
/// ```
pub fn bind_address(host: &str, port: u16, ipv6: bool) -> Result<SocketAddr> {
    if host == "*" {
        return Ok(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port));
    }
    if let Some(addr) = interface_or_literal(host, port, ipv6)? {
        return Ok(addr);
    }
    let unresolved = |reason: String| Error::InvalidEndpoint {
        endpoint: format!("tcp://{host}:{port}"),
        reason,
    };
    let mut addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| unresolved(format!("no interface, address or host of that name: {e}")))?;
    addrs
        .next()
        .ok_or_else(|| unresolved("the host name has no address".into()))
}

/// The address a connect to `destination` starts from (`source;` in the
/// endpoint): `*` is any address of the destination's family, an interface
/// its first address of that family, or an address literal. No host names,
/// as in libzmq.
pub(crate) fn source_address(
    host: &str,
    port: u16,
    destination: SocketAddr,
) -> io::Result<SocketAddr> {
    if host == "*" {
        let any = match destination {
            SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        return Ok(SocketAddr::new(any, port));
    }
    interface_or_literal(host, port, destination.is_ipv6())
        .map_err(|e| io::Error::other(e.to_string()))?
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("source {host:?} is no interface or address"),
            )
        })
}

/// `host` as an interface name (its address, see `interface_address`) or
/// an address literal, at `port`; `None` if it is neither.
fn interface_or_literal(host: &str, port: u16, ipv6: bool) -> Result<Option<SocketAddr>> {
    if let Some(mut addr) = interface_address(host, ipv6)? {
        addr.set_port(port);
        return Ok(Some(addr));
    }
    Ok(host
        .parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, port)))
}

/// The first address of interface `name` (port 0), of the IPv6 family if
/// `ipv6` and it has one (a global one before a link-local one, which
/// carries its scope id), else IPv4; `None` if no interface has that name.
fn interface_address(name: &str, ipv6: bool) -> Result<Option<SocketAddr>> {
    // Literals are never interface names; skip the system call.
    if name.parse::<IpAddr>().is_ok() {
        return Ok(None);
    }
    let addresses = interface_addresses(name)
        .map_err(|e| Error::io(format!("listing the addresses of {name}"), &e))?;
    let link_local = |a: &&SocketAddr| matches!(a, SocketAddr::V6(v6) if v6.scope_id() != 0);
    let v6 = addresses
        .iter()
        .filter(|a| a.is_ipv6())
        .find(|a| !link_local(a))
        .or_else(|| addresses.iter().find(|a| a.is_ipv6()));
    let v4 = addresses.iter().find(|a| a.is_ipv4());
    Ok(if ipv6 { v6.or(v4) } else { v4 }.copied())
}

/// Every address of `host:port`: a literal at once, a name through the
/// system resolver on a thread of its own (getaddrinfo blocks, for as long
/// as the resolver takes).
pub(crate) async fn lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    // One answer, from a plain thread to this reactor. If the connecter is
    // dropped first, the thread's send finds the channel closed and ends.
    let (mut answer, mut answered) = monocoque_runtime::spsc::channel(1);
    let name = host.to_string();
    std::thread::Builder::new()
        .name("monocoque-resolve".into())
        .spawn(move || {
            let found = (name.as_str(), port)
                .to_socket_addrs()
                .map(|addrs| addrs.collect::<Vec<_>>());
            let _ = answer.try_send(found);
        })?;
    let addrs = answered.recv().await.unwrap_or_else(|| {
        Err(io::Error::other(
            "the resolver thread ended without an answer",
        ))
    })?;
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the host name has no address",
        ));
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_to_star_interfaces_literals_and_names() {
        let v4 = |s: &str| SocketAddr::from((s.parse::<Ipv4Addr>().unwrap(), 7));
        assert_eq!(bind_address("*", 7, false).unwrap(), v4("0.0.0.0"));
        assert_eq!(bind_address("lo", 7, false).unwrap(), v4("127.0.0.1"));
        assert_eq!(
            bind_address("127.0.0.3", 7, false).unwrap(),
            v4("127.0.0.3")
        );
        assert!(bind_address("localhost", 7, false)
            .unwrap()
            .ip()
            .is_loopback());
        assert!(matches!(
            bind_address("no-such-nic0.invalid", 7, false),
            Err(Error::InvalidEndpoint { .. })
        ));
    }

    #[test]
    fn a_source_is_an_interface_an_address_or_star_never_a_name() {
        let dest: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(
            source_address("lo", 0, dest).unwrap(),
            "127.0.0.1:0".parse().unwrap()
        );
        assert_eq!(
            source_address("*", 5, dest).unwrap(),
            "0.0.0.0:5".parse().unwrap()
        );
        let dest6: SocketAddr = "[::1]:9".parse().unwrap();
        assert_eq!(
            source_address("*", 0, dest6).unwrap(),
            "[::]:0".parse().unwrap()
        );
        assert!(source_address("localhost", 0, dest).is_err());
    }

    #[test]
    fn lookups_answer_for_literals_and_names_and_say_when_nothing_resolves() {
        let rt = monocoque_runtime::Runtime::builder().build().unwrap();
        rt.block_on(async {
            assert_eq!(
                lookup("127.0.0.1", 5).await.unwrap(),
                ["127.0.0.1:5".parse().unwrap()]
            );
            let local = lookup("localhost", 5).await.unwrap();
            assert!(local.iter().all(|a| a.ip().is_loopback() && a.port() == 5));
            assert!(lookup("no-such-host.invalid", 5).await.is_err());
        });
    }
}
