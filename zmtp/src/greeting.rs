//! The 64-byte ZMTP greeting: ours built whole, the peer's parsed incrementally.
//!
//! ```text
//! greeting  = signature version mechanism as-server filler
//! signature = %xFF padding %x7F        ; padding: 8 octets, not significant
//! version   = %x03 %x01                ; major, minor
//! mechanism = 20OCTET                  ; "NULL", "PLAIN", ... NUL padded
//! as-server = %x00 | %x01
//! filler    = 31%x00
//! ```
//!
//! libzmq sends its greeting in stages (10 bytes, then the major version once it
//! has read ours, then the rest) and a peer that waits for 64 bytes before sending
//! deadlocks it. We therefore send all 64 bytes at once and accept the peer's
//! greeting split at any byte, checking each part as soon as it is complete, so a
//! non-ZMTP peer is refused after its first byte.

use crate::error::{Error, Result};
use crate::input_buffer::InputBuffer;

/// Length of a ZMTP 3 greeting.
pub const GREETING_LEN: usize = 64;
/// Length of the mechanism field.
pub const MECHANISM_LEN: usize = 20;

/// The ZMTP revision spoken on a connection after version negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    /// ZMTP 3.0 (RFC 23): subscriptions travel as 0x01/0x00 messages.
    V3_0,
    /// ZMTP 3.1 (RFC 37): SUBSCRIBE/CANCEL commands, PING/PONG.
    V3_1,
}

/// A parsed peer greeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// Major version byte as sent.
    pub major: u8,
    /// Minor version byte as sent.
    pub minor: u8,
    /// The 20-byte mechanism field as sent.
    pub mechanism: [u8; MECHANISM_LEN],
    /// The as-server byte. Informational only: libzmq always sends 0 and never reads
    /// it, so roles come from local configuration.
    pub as_server: bool,
}

impl Greeting {
    /// The revision to speak with this peer: 3.0 for major 3 minor 0, else 3.1.
    pub fn protocol_version(&self) -> ProtocolVersion {
        if self.major == 3 && self.minor == 0 {
            ProtocolVersion::V3_0
        } else {
            ProtocolVersion::V3_1
        }
    }

    /// Whether the peer's mechanism field equals `name` NUL-padded to 20 bytes,
    /// the exact comparison libzmq makes.
    pub fn mechanism_is(&self, name: &str) -> bool {
        self.mechanism == mechanism_field(name)
    }

    /// The mechanism name with trailing NULs removed, for error messages.
    pub fn mechanism_lossy(&self) -> String {
        let end = self
            .mechanism
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |i| i + 1);
        String::from_utf8_lossy(&self.mechanism[..end]).into_owned()
    }
}

/// `name` NUL-padded to the 20-byte mechanism field.
pub fn mechanism_field(name: &str) -> [u8; MECHANISM_LEN] {
    let mut field = [0u8; MECHANISM_LEN];
    let n = name.len().min(MECHANISM_LEN);
    field[..n].copy_from_slice(&name.as_bytes()[..n]);
    field
}

/// Our whole greeting: ZMTP 3.1 with the given mechanism.
///
/// The padding holds a big-endian 1, as libzmq's does (identity length + 1 for
/// ZMTP 1.0 peers; not significant to anyone else).
///
/// ```
/// let g = monocoque_zmtp::greeting::encode_greeting("NULL", false);
/// assert_eq!(&g[..12], &[0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1]);
/// assert_eq!(&g[12..16], b"NULL");
/// ```
pub fn encode_greeting(mechanism: &str, as_server: bool) -> [u8; GREETING_LEN] {
    let mut g = [0u8; GREETING_LEN];
    g[0] = 0xFF;
    g[8] = 1;
    g[9] = 0x7F;
    g[10] = 3;
    g[11] = 1;
    g[12..32].copy_from_slice(&mechanism_field(mechanism));
    g[32] = as_server as u8;
    g
}

/// Reads a peer greeting from input that may arrive one byte at a time.
#[derive(Debug)]
pub struct GreetingParser {
    buf: [u8; GREETING_LEN],
    filled: usize,
}

impl Default for GreetingParser {
    fn default() -> Self {
        Self::new()
    }
}

impl GreetingParser {
    /// A parser that has seen nothing.
    pub fn new() -> Self {
        GreetingParser {
            buf: [0; GREETING_LEN],
            filled: 0,
        }
    }

    /// Bytes of the greeting received so far.
    pub fn received(&self) -> usize {
        self.filled
    }

    /// Consumes greeting bytes from `input` (never more than the greeting).
    ///
    /// Returns the greeting once all 64 bytes are in, `None` while more are needed,
    /// or an error as soon as the bytes so far rule out a ZMTP 3 peer.
    pub fn parse(&mut self, input: &mut InputBuffer) -> Result<Option<Greeting>> {
        let want = (GREETING_LEN - self.filled).min(input.len());
        if want > 0 {
            let dst = &mut self.buf[self.filled..self.filled + want];
            input.peek(dst);
            input.skip(want);
            self.filled += want;
        }
        if self.filled >= 1 && self.buf[0] != 0xFF {
            return Err(Error::NotZmtp { byte: self.buf[0] });
        }
        if self.filled >= 10 && self.buf[9] & 0x01 == 0 {
            return Err(Error::UnversionedPeer { byte: self.buf[9] });
        }
        if self.filled >= 11 && self.buf[10] < 3 {
            return Err(Error::LegacyVersion {
                major: self.buf[10],
            });
        }
        if self.filled < GREETING_LEN {
            return Ok(None);
        }
        let mut mechanism = [0u8; MECHANISM_LEN];
        mechanism.copy_from_slice(&self.buf[12..32]);
        Ok(Some(Greeting {
            major: self.buf[10],
            minor: self.buf[11],
            mechanism,
            as_server: self.buf[32] != 0,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn parse_all(bytes: &[u8]) -> Result<Option<Greeting>> {
        let mut input = InputBuffer::new();
        input.push(Bytes::copy_from_slice(bytes));
        GreetingParser::new().parse(&mut input)
    }

    #[test]
    fn our_greeting_is_byte_exact() {
        let g = encode_greeting("PLAIN", true);
        let mut expected = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1];
        expected.extend_from_slice(b"PLAIN");
        expected.extend_from_slice(&[0; 15]);
        expected.push(1);
        expected.extend_from_slice(&[0; 31]);
        assert_eq!(&g[..], &expected[..]);
    }

    #[test]
    fn parses_at_every_split() {
        let g = encode_greeting("NULL", false);
        for split in 0..=GREETING_LEN {
            let mut input = InputBuffer::new();
            let mut p = GreetingParser::new();
            input.push(Bytes::copy_from_slice(&g[..split]));
            let first = p.parse(&mut input).unwrap();
            assert_eq!(first.is_some(), split == GREETING_LEN);
            input.push(Bytes::copy_from_slice(&g[split..]));
            input.push(Bytes::from_static(b"tail"));
            let got = if split == GREETING_LEN {
                first.unwrap()
            } else {
                p.parse(&mut input).unwrap().unwrap()
            };
            assert!(got.mechanism_is("NULL"));
            assert_eq!(got.protocol_version(), ProtocolVersion::V3_1);
            assert_eq!(
                input.len(),
                4,
                "the greeting parser took bytes past the greeting"
            );
        }
    }

    #[test]
    fn refuses_early() {
        assert_eq!(parse_all(b"G"), Err(Error::NotZmtp { byte: b'G' }));
        let mut v1 = [0u8; 10];
        v1[0] = 0xFF;
        v1[9] = 0x7E;
        assert_eq!(parse_all(&v1), Err(Error::UnversionedPeer { byte: 0x7E }));
        for major in [0u8, 1, 2] {
            let mut g = encode_greeting("NULL", false);
            g[10] = major;
            assert_eq!(parse_all(&g[..11]), Err(Error::LegacyVersion { major }));
        }
    }

    #[test]
    fn version_dispatch() {
        let mut g = encode_greeting("NULL", false);
        g[11] = 0;
        let v = parse_all(&g).unwrap().unwrap();
        assert_eq!(v.protocol_version(), ProtocolVersion::V3_0);
        g[10] = 4;
        let v = parse_all(&g).unwrap().unwrap();
        assert_eq!(v.protocol_version(), ProtocolVersion::V3_1);
    }

    #[test]
    fn mechanism_compared_as_twenty_bytes() {
        let mut g = encode_greeting("NULL", false);
        g[20] = b'X';
        let v = parse_all(&g).unwrap().unwrap();
        assert!(!v.mechanism_is("NULL"));
        assert_eq!(v.mechanism_lossy(), "NULL\0\0\0\0X");
    }
}
