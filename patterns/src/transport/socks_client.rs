//! The client's side of a SOCKS5 exchange (RFC 1928, with RFC 1929's
//! username and password), before ZMTP starts on the same connection.
//!
//! ```text
//!  client                                   proxy
//!  greeting  05 01 <method>            ──▶
//!                                      ◀──  05 <method chosen, or FF>
//!  (method 02 only)
//!  01 <ulen> user <plen> password      ──▶
//!                                      ◀──  01 <status, 00 = accepted>
//!  request 05 01 00 <atyp> addr port   ──▶
//!                                      ◀──  05 <reply, 00 = connected> 00 <atyp> addr port
//!  ZMTP greeting ...                   ◀─▶  relayed to and from the target
//! ```
//!
//! [`SocksClient`] holds no I/O: it says what to send and exactly how many
//! bytes it needs next, because the first bytes after the proxy's reply are
//! the target's ZMTP greeting and must be left to the engine. `negotiate`
//! drives it over a connection.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{Bytes, BytesMut};
use monocoque_runtime::net::TcpStream;

const VERSION: u8 = 0x05;
const NO_AUTHENTICATION: u8 = 0x00;
const USERNAME_PASSWORD: u8 = 0x02;
const NO_ACCEPTABLE_METHOD: u8 = 0xff;
const USERNAME_PASSWORD_VERSION: u8 = 0x01;
const CONNECT: u8 = 0x01;
const ATYP_IPV4: u8 = 0x01;
const ATYP_DOMAIN: u8 = 0x03;
const ATYP_IPV6: u8 = 0x04;

/// Why an exchange with the proxy failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SocksError {
    #[error("the target host name is {0} bytes; SOCKS5 carries at most 255")]
    HostTooLong(usize),
    #[error("the SOCKS username or password is over 255 bytes")]
    CredentialTooLong,
    #[error("the proxy answered with SOCKS version {0}, not 5")]
    NotSocks5(u8),
    #[error("the proxy accepts none of the methods offered (offered {offered:#04x})")]
    NoAcceptableMethod { offered: u8 },
    #[error("the proxy chose method {chosen:#04x}, which was not offered ({offered:#04x})")]
    MethodNotOffered { chosen: u8, offered: u8 },
    #[error("the proxy answered the username and password with version {0}, not 1")]
    BadAuthVersion(u8),
    #[error("the proxy refused the username and password (status {0:#04x})")]
    AuthRefused(u8),
    #[error("the proxy could not connect to the target: {}", reply_meaning(*.0))]
    ConnectFailed(u8),
    #[error("the proxy's reply has a reserved byte of {0:#04x}, not 0")]
    BadReserved(u8),
    #[error("the proxy's reply has address type {0:#04x} (1, 3 and 4 are defined)")]
    BadAddressType(u8),
    #[error("the proxy closed the connection during the SOCKS exchange")]
    Closed,
}

/// RFC 1928's meaning of a reply code.
fn reply_meaning(code: u8) -> &'static str {
    match code {
        0x01 => "general SOCKS server failure",
        0x02 => "connection not allowed by ruleset",
        0x03 => "network unreachable",
        0x04 => "host unreachable",
        0x05 => "connection refused",
        0x06 => "TTL expired",
        0x07 => "command not supported",
        0x08 => "address type not supported",
        _ => "unassigned reply code",
    }
}

impl From<SocksError> for std::io::Error {
    fn from(e: SocksError) -> std::io::Error {
        let kind = match e {
            SocksError::Closed => std::io::ErrorKind::UnexpectedEof,
            SocksError::HostTooLong(_) | SocksError::CredentialTooLong => {
                std::io::ErrorKind::InvalidInput
            }
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}

/// Where the exchange stands: what the client waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The method the proxy chose: 2 bytes.
    Choice,
    /// The answer to the username and password: 2 bytes.
    AuthStatus,
    /// The reply's version, code, reserved byte, address type and the
    /// address's first byte (a domain name's length): 5 bytes.
    ReplyHead,
    /// The rest of the reply's address, and its port.
    ReplyRest(usize),
    /// Connected: what follows is the target's.
    Done,
}

/// One SOCKS5 CONNECT exchange, without I/O.
#[derive(Debug)]
pub(crate) struct SocksClient {
    step: Step,
    method: u8,
    /// The username and password message, for method 2.
    credentials: Option<Vec<u8>>,
    request: Vec<u8>,
}

impl SocksClient {
    /// An exchange asking the proxy to connect to `host:port` (an IPv4 or
    /// IPv6 address is sent as one, anything else as a name the proxy
    /// resolves), authenticating with `username` and `password` when the
    /// username is not empty. Returns the client and the greeting to send.
    pub(crate) fn new(
        host: &str,
        port: u16,
        username: &[u8],
        password: &[u8],
    ) -> Result<(SocksClient, Vec<u8>), SocksError> {
        let mut request = vec![VERSION, CONNECT, 0x00];
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(v4) = host.parse::<Ipv4Addr>() {
            request.push(ATYP_IPV4);
            request.extend_from_slice(&v4.octets());
        } else if let Ok(v6) = host.parse::<Ipv6Addr>() {
            request.push(ATYP_IPV6);
            request.extend_from_slice(&v6.octets());
        } else {
            let name = host.as_bytes();
            let len = u8::try_from(name.len()).map_err(|_| SocksError::HostTooLong(name.len()))?;
            request.extend_from_slice(&[ATYP_DOMAIN, len]);
            request.extend_from_slice(name);
        }
        request.extend_from_slice(&port.to_be_bytes());
        let credentials = if username.is_empty() {
            None
        } else {
            let too_long =
                |b: &[u8]| u8::try_from(b.len()).map_err(|_| SocksError::CredentialTooLong);
            let (ulen, plen) = (too_long(username)?, too_long(password)?);
            let mut m = vec![USERNAME_PASSWORD_VERSION, ulen];
            m.extend_from_slice(username);
            m.push(plen);
            m.extend_from_slice(password);
            Some(m)
        };
        let method = if credentials.is_some() {
            USERNAME_PASSWORD
        } else {
            NO_AUTHENTICATION
        };
        let client = SocksClient {
            step: Step::Choice,
            method,
            credentials,
            request,
        };
        Ok((client, vec![VERSION, 1, method]))
    }

    /// How many bytes the next [`input`](Self::input) must be: exactly
    /// these, never more (0 once done).
    pub(crate) fn wants(&self) -> usize {
        match self.step {
            Step::Choice | Step::AuthStatus => 2,
            Step::ReplyHead => 5,
            Step::ReplyRest(n) => n,
            Step::Done => 0,
        }
    }

    /// Whether the proxy has connected to the target.
    pub(crate) fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    /// Takes the [`wants`](Self::wants) bytes read from the proxy; returns
    /// what to send next, if anything.
    pub(crate) fn input(&mut self, bytes: &[u8]) -> Result<Option<Vec<u8>>, SocksError> {
        debug_assert_eq!(bytes.len(), self.wants());
        match self.step {
            Step::Choice => {
                if bytes[0] != VERSION {
                    return Err(SocksError::NotSocks5(bytes[0]));
                }
                let offered = self.method;
                match bytes[1] {
                    NO_ACCEPTABLE_METHOD => Err(SocksError::NoAcceptableMethod { offered }),
                    chosen if chosen != offered => {
                        Err(SocksError::MethodNotOffered { chosen, offered })
                    }
                    _ => Ok(Some(match self.credentials.take() {
                        Some(credentials) => {
                            self.step = Step::AuthStatus;
                            credentials
                        }
                        None => {
                            self.step = Step::ReplyHead;
                            std::mem::take(&mut self.request)
                        }
                    })),
                }
            }
            Step::AuthStatus => {
                if bytes[0] != USERNAME_PASSWORD_VERSION {
                    return Err(SocksError::BadAuthVersion(bytes[0]));
                }
                if bytes[1] != 0 {
                    return Err(SocksError::AuthRefused(bytes[1]));
                }
                self.step = Step::ReplyHead;
                Ok(Some(std::mem::take(&mut self.request)))
            }
            Step::ReplyHead => {
                let [version, reply, reserved, atyp, first] = bytes[..] else {
                    unreachable!("wants() is 5 here")
                };
                if version != VERSION {
                    return Err(SocksError::NotSocks5(version));
                }
                if reply != 0 {
                    return Err(SocksError::ConnectFailed(reply));
                }
                if reserved != 0 {
                    return Err(SocksError::BadReserved(reserved));
                }
                // The bound address (its first byte already read) and the port.
                let rest = match atyp {
                    ATYP_IPV4 => 3 + 2,
                    ATYP_DOMAIN => usize::from(first) + 2,
                    ATYP_IPV6 => 15 + 2,
                    other => return Err(SocksError::BadAddressType(other)),
                };
                self.step = Step::ReplyRest(rest);
                Ok(None)
            }
            Step::ReplyRest(_) => {
                self.step = Step::Done;
                Ok(None)
            }
            Step::Done => Ok(None),
        }
    }
}

/// Runs the exchange over `stream`, a fresh connection to the proxy,
/// reading no byte past the proxy's reply.
pub(crate) async fn negotiate(
    stream: &TcpStream,
    mut client: SocksClient,
    greeting: Vec<u8>,
) -> std::io::Result<()> {
    stream.write_all(Bytes::from(greeting)).await?;
    while !client.is_done() {
        let bytes = read_exactly(stream, client.wants()).await?;
        if let Some(next) = client.input(&bytes)? {
            stream.write_all(Bytes::from(next)).await?;
        }
    }
    Ok(())
}

/// Reads exactly `n` bytes: a buffer of exactly `n` bytes' capacity (as
/// `Vec::with_capacity` guarantees) never takes more.
async fn read_exactly(stream: &TcpStream, n: usize) -> std::io::Result<BytesMut> {
    let mut buf = BytesMut::with_capacity(n);
    while buf.len() < n {
        let (read, back) = stream.read(buf).await;
        buf = back;
        if read? == 0 {
            return Err(SocksError::Closed.into());
        }
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `reply` to `client` in the sizes it asks for; returns what it
    /// sent back in between.
    fn run(client: &mut SocksClient, mut reply: &[u8]) -> Result<Vec<Vec<u8>>, SocksError> {
        let mut sent = Vec::new();
        while !client.is_done() {
            let n = client.wants();
            let (now, later) = reply.split_at(n);
            reply = later;
            if let Some(next) = client.input(now)? {
                sent.push(next);
            }
        }
        assert!(reply.is_empty(), "the client left {} bytes", reply.len());
        Ok(sent)
    }

    #[test]
    fn an_ipv4_target_without_authentication_byte_for_byte() {
        let (mut c, greeting) = SocksClient::new("127.0.0.1", 5555, b"", b"").unwrap();
        assert_eq!(greeting, [5, 1, 0]);
        let reply = [5, 0, /* */ 5, 0, 0, 1, 127, 0, 0, 1, 0x9c, 0x40];
        let sent = run(&mut c, &reply).unwrap();
        assert_eq!(sent, [vec![5, 1, 0, 1, 127, 0, 0, 1, 0x15, 0xb3]]);
    }

    #[test]
    fn a_name_is_sent_for_the_proxy_to_resolve() {
        let (mut c, _) = SocksClient::new("somedomainname.org", 80, b"", b"").unwrap();
        // The proxy replies with a name too (libzmq's test proxy does).
        let mut reply = vec![5, 0, 5, 0, 0, 3, 9];
        reply.extend_from_slice(b"localhost");
        reply.extend_from_slice(&[0, 80]);
        let sent = run(&mut c, &reply).unwrap();
        let mut request = vec![5, 1, 0, 3, 18];
        request.extend_from_slice(b"somedomainname.org");
        request.extend_from_slice(&[0, 80]);
        assert_eq!(sent, [request]);
    }

    #[test]
    fn an_ipv6_target_with_or_without_brackets() {
        for host in ["::1", "[::1]"] {
            let (mut c, _) = SocksClient::new(host, 1, b"", b"").unwrap();
            let mut reply = vec![5, 0, 5, 0, 0, 4];
            reply.extend_from_slice(&[0; 15]);
            reply.extend_from_slice(&[1, 0, 1]);
            let sent = run(&mut c, &reply).unwrap();
            let mut request = vec![5, 1, 0, 4];
            request.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
            request.extend_from_slice(&[0, 1]);
            assert_eq!(sent, [request], "{host}");
        }
    }

    #[test]
    fn a_username_and_password_go_before_the_request() {
        let (mut c, greeting) = SocksClient::new("10.0.0.1", 1, b"someuser", b"pw").unwrap();
        assert_eq!(greeting, [5, 1, 2]);
        let reply = [5, 2, 1, 0, 5, 0, 0, 1, 10, 0, 0, 1, 0, 1];
        let sent = run(&mut c, &reply).unwrap();
        let mut auth = vec![1, 8];
        auth.extend_from_slice(b"someuser");
        auth.extend_from_slice(&[2, b'p', b'w']);
        assert_eq!(sent, [auth, vec![5, 1, 0, 1, 10, 0, 0, 1, 0, 1]]);
        // An empty password is sent as such.
        let (mut c, _) = SocksClient::new("10.0.0.1", 1, b"u", b"").unwrap();
        let sent = run(&mut c, &reply).unwrap();
        assert_eq!(sent[0], [1, 1, b'u', 0]);
    }

    #[test]
    fn refusals_and_malformed_replies_are_named() {
        let cases: [(&[u8], &[u8], SocksError); 8] = [
            (b"", &[4, 0], SocksError::NotSocks5(4)),
            (
                b"",
                &[5, 0xff],
                SocksError::NoAcceptableMethod { offered: 0 },
            ),
            (
                b"",
                &[5, 2],
                SocksError::MethodNotOffered {
                    chosen: 2,
                    offered: 0,
                },
            ),
            (b"u", &[5, 2, 1, 1], SocksError::AuthRefused(1)),
            (b"u", &[5, 2, 0, 0], SocksError::BadAuthVersion(0)),
            (b"", &[5, 0, 5, 5, 0, 1, 0], SocksError::ConnectFailed(5)),
            (b"", &[5, 0, 5, 0, 1, 1, 0], SocksError::BadReserved(1)),
            (b"", &[5, 0, 5, 0, 0, 9, 0], SocksError::BadAddressType(9)),
        ];
        for (user, reply, expected) in cases {
            let (mut c, _) = SocksClient::new("127.0.0.1", 1, user, b"").unwrap();
            assert_eq!(run(&mut c, reply).unwrap_err(), expected);
        }
        assert!(SocksError::ConnectFailed(5)
            .to_string()
            .contains("connection refused"));
    }

    #[test]
    fn what_does_not_fit_a_length_byte_is_refused() {
        let long = "a".repeat(256);
        assert_eq!(
            SocksClient::new(&long, 1, b"", b"").unwrap_err(),
            SocksError::HostTooLong(256)
        );
        assert!(SocksClient::new(&long[..255], 1, b"", b"").is_ok());
        assert_eq!(
            SocksClient::new("h", 1, long.as_bytes(), b"").unwrap_err(),
            SocksError::CredentialTooLong
        );
    }

    #[test]
    fn a_read_buffer_has_exactly_the_capacity_asked_for() {
        for n in [2, 5, 17, 257] {
            assert_eq!(BytesMut::with_capacity(n).capacity(), n);
        }
    }
}
