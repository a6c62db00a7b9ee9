//! ZMQ_TCP_ACCEPT_FILTER (deprecated in libzmq, still honoured): the
//! networks a bound tcp endpoint takes connections from. With none set
//! every peer is taken; with some, a connection from an address outside
//! all of them is closed as it is accepted, before any byte is read.

use std::net::IpAddr;

use crate::{Error, Result};

/// One network, `address/prefix` as libzmq writes it (`127.0.0.1/32`,
/// `10.0.0.0/8`, `::1/128`; without `/prefix`, the address alone).
///
/// ```
/// use monocoque_patterns::AcceptFilter;
/// let lan = AcceptFilter::parse("192.168.1.0/24", false).unwrap();
/// assert!(lan.matches("192.168.1.77".parse().unwrap()));
/// assert!(!lan.matches("192.168.2.1".parse().unwrap()));
/// assert!(AcceptFilter::parse("0.0.0.0/33", false).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptFilter {
    network: IpAddr,
    prefix: u8,
}

impl AcceptFilter {
    /// Parses `text` as libzmq does: a numeric address (IPv6 only with
    /// `ipv6`, the socket's ZMQ_IPV6), then optionally `/` and a prefix
    /// length from 0 to 32 (128 for IPv6); `a/` is refused.
    pub fn parse(text: &str, ipv6: bool) -> Result<AcceptFilter> {
        let refuse = |why: &str| Error::InvalidOption {
            option: "TCP_ACCEPT_FILTER",
            reason: format!("{text:?}: {why}"),
        };
        let (address, prefix) = match text.rsplit_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| refuse("not a numeric IP address"))?;
        if network.is_ipv6() && !ipv6 {
            return Err(refuse("an IPv6 network needs ZMQ_IPV6"));
        }
        let full = if network.is_ipv6() { 128 } else { 32 };
        let prefix = match prefix {
            None => full,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= full => p,
                _ => {
                    return Err(refuse(
                        "the prefix length is not from 0 to the address's bits",
                    ))
                }
            },
        };
        Ok(AcceptFilter { network, prefix })
    }

    /// Whether `peer` is in the network (an IPv4 peer seen as an
    /// IPv4-mapped IPv6 address, on a dual-stack listener, is compared as
    /// IPv4).
    pub fn matches(&self, peer: IpAddr) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, peer) {
            (IpAddr::V4(net), IpAddr::V4(peer)) => {
                same_prefix(&net.octets(), &peer.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(peer)) => {
                same_prefix(&net.octets(), &peer.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the first `bits` bits of `a` and `b` are the same.
fn same_prefix(a: &[u8], b: &[u8], bits: u8) -> bool {
    let bits = usize::from(bits);
    let (whole, rest) = (bits / 8, bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        a[whole] & mask == b[whole] & mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn libzmqs_bad_filters_are_refused() {
        for bad in [
            "foo",
            "0.0.0.0foo",
            "0.0.0.0/foo",
            "0.0.0.0/",
            "0.0.0.0/-1",
            "0.0.0.0/33",
        ] {
            assert!(AcceptFilter::parse(bad, false).is_err(), "{bad}");
        }
        assert!(
            AcceptFilter::parse("::1/128", false).is_err(),
            "IPv6 without IPV6"
        );
        assert!(AcceptFilter::parse("::1/129", true).is_err());
    }

    #[test]
    fn networks_match_by_prefix() {
        let any = AcceptFilter::parse("0.0.0.0/0", false).unwrap();
        assert!(any.matches(ip("8.8.8.8")));
        let one = AcceptFilter::parse("127.0.0.1/32", false).unwrap();
        assert!(one.matches(ip("127.0.0.1")));
        assert!(!one.matches(ip("127.0.0.2")));
        let bare = AcceptFilter::parse("127.0.0.255", false).unwrap();
        assert!(!bare.matches(ip("127.0.0.1")));
        let odd = AcceptFilter::parse("10.0.0.0/9", false).unwrap();
        assert!(odd.matches(ip("10.127.255.255")));
        assert!(!odd.matches(ip("10.128.0.0")));
        let v6 = AcceptFilter::parse("fe80::/10", true).unwrap();
        assert!(v6.matches(ip("fe80::1")));
        assert!(!v6.matches(ip("fec0::1")));
        assert!(one.matches(ip("::ffff:127.0.0.1")), "IPv4-mapped");
        assert!(!one.matches(ip("::1")));
    }
}
