//! ZMQ_SOCKS_PROXY, ZMQ_SOCKS_USERNAME and ZMQ_SOCKS_PASSWORD: a socket's
//! tcp connects go through a SOCKS5 proxy (RFC 1928), with a username and
//! password (RFC 1929) when a username is set. Binds are not affected.
//!
//! The proxy is written as libzmq writes it, `host:port`, optionally after
//! a source address and `;` (`127.0.0.1:0;proxy.example:1080`: the
//! connection to the proxy starts from that address).

use bytes::Bytes;

use crate::endpoint::tcp_host_port;
use crate::{Error, Result};

/// Where a socket's tcp connects go through, parsed from its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SocksProxy {
    /// As the option was given (read back as it was given).
    pub(crate) text: String,
    /// The proxy's host (a name, or an address without IPv6 brackets).
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The source address and port of the connection to the proxy.
    pub(crate) source: Option<(String, u16)>,
}

impl SocksProxy {
    /// Parses `[source;]host:port`; an empty text is refused, as libzmq
    /// refuses it (clearing the option is `None`, not `""`).
    pub(crate) fn parse(text: &str) -> Result<SocksProxy> {
        let refuse = |why: String| Error::InvalidOption {
            option: "SOCKS_PROXY",
            reason: format!("{text:?}: {why}"),
        };
        if text.is_empty() {
            return Err(refuse(
                "empty (to go without a proxy, clear the option)".into(),
            ));
        }
        let (source, proxy) = match text.rsplit_once(';') {
            Some((source, proxy)) => (Some(source), proxy),
            None => (None, text),
        };
        let (host, port) = tcp_host_port(proxy).map_err(refuse)?;
        let source = source
            .map(|s| tcp_host_port(s).map_err(|why| refuse(format!("source: {why}"))))
            .transpose()?;
        Ok(SocksProxy {
            text: text.to_string(),
            host,
            port,
            source,
        })
    }
}

/// What a connect through a proxy needs: the proxy, the credentials, and
/// how long the exchange with the proxy may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SocksRoute {
    pub(crate) proxy: SocksProxy,
    /// Empty: no authentication offered.
    pub(crate) username: Bytes,
    pub(crate) password: Bytes,
    /// HANDSHAKE_IVL, which the exchange counts in (`None`: no limit).
    pub(crate) exchange_limit: Option<std::time::Duration>,
}

/// The longest username or password RFC 1929 carries (one length byte).
pub(crate) const SOCKS_CREDENTIAL_MAX: usize = 255;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libzmq_s_forms_parse() {
        let p = SocksProxy::parse("somehost:1080").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.source),
            ("somehost", 1080, None)
        );
        let p = SocksProxy::parse("127.0.0.1:0;127.0.0.1:5555").unwrap();
        assert_eq!(p.source, Some(("127.0.0.1".to_string(), 0)));
        assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 5555));
        assert_eq!(p.text, "127.0.0.1:0;127.0.0.1:5555");
        let p = SocksProxy::parse("[::1]:1080").unwrap();
        assert_eq!(p.host, "::1");
    }

    #[test]
    fn malformed_proxies_are_refused_by_name() {
        for bad in [
            "",
            "nohost",
            "host:port",
            "host:65536",
            ":1080",
            "bad;host:1",
        ] {
            match SocksProxy::parse(bad) {
                Err(Error::InvalidOption { option, .. }) => assert_eq!(option, "SOCKS_PROXY"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
