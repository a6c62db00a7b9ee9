//! The greeting: ours sent in libzmq's stages, the peer's parsed incrementally,
//! and the revision the two settle on.
//!
//! ```text
//! greeting   = signature revision rest
//! signature  = %xFF length %x7F      ; length: 8 octets, our identity's length + 1
//! revision   = %x03                  ; ZMTP 3 (a 2.0 peer sends %x01, a 1.0 peer %x00)
//! rest       = minor mechanism as-server filler      ; to a ZMTP 3 peer
//!            | socket-type                           ; to a ZMTP 1.0 or 2.0 peer
//! minor      = %x01
//! mechanism  = 20OCTET               ; "NULL", "PLAIN", ... NUL padded
//! as-server  = %x00 | %x01
//! filler     = 31%x00
//! ```
//!
//! The stages, as libzmq sends them (RFC 23 "backwards interoperability"):
//!
//! ```text
//!  us                                  peer
//!  ── signature (10 bytes) ──────────▶
//!                      ◀────────────── its first 10 bytes
//!     low bit of its 10th byte clear, or its first byte not 0xFF:
//!       an unversioned ZMTP 1.0 peer; our signature was the header of
//!       our identity frame, and its bytes are the header of its own
//!  ── revision (1 byte) ─────────────▶
//!                      ◀────────────── its revision
//!  ── rest: 1 byte (socket type) to a 1.0/2.0 peer, 53 bytes to ZMTP 3 ──▶
//! ```
//!
//! A peer of an old revision reads only 12 bytes of greeting, so sending all
//! 64 at once would feed it 52 bytes of garbage as frames; sending in stages
//! costs two extra half round trips, and a peer that waits for our whole
//! greeting before sending its own would wait for ever with libzmq too.

use crate::input_buffer::InputBuffer;

/// Length of a ZMTP 3 greeting.
pub const GREETING_LEN: usize = 64;
/// Length of the signature that opens every versioned greeting.
pub const SIGNATURE_LEN: usize = 10;
/// Length of a ZMTP 1.0 or 2.0 greeting: signature, revision, socket type.
pub const LEGACY_GREETING_LEN: usize = 12;
/// Length of the mechanism field.
pub const MECHANISM_LEN: usize = 20;
/// The revision byte we send: ZMTP 3.
pub const OUR_REVISION: u8 = 3;

/// The ZMTP revision spoken on a connection after version negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    /// ZMTP 1.0 (RFC 13): frames of `length flags body`, an identity message
    /// first, no security, no commands.
    V1_0,
    /// ZMTP 2.0 (RFC 15): 3.0's framing without commands, an identity message
    /// first, subscriptions as `0x01 topic` messages.
    V2_0,
    /// ZMTP 3.0 (RFC 23): subscriptions travel as 0x01/0x00 messages.
    V3_0,
    /// ZMTP 3.1 (RFC 37): SUBSCRIBE/CANCEL commands, PING/PONG.
    V3_1,
}

impl ProtocolVersion {
    /// Whether this is ZMTP 1.0 or 2.0: no security handshake, no commands,
    /// the identity sent as the first message.
    pub fn is_legacy(self) -> bool {
        self < ProtocolVersion::V3_0
    }

    /// "ZMTP 2.0" and so on, for logs.
    pub fn name(self) -> &'static str {
        match self {
            ProtocolVersion::V1_0 => "ZMTP 1.0",
            ProtocolVersion::V2_0 => "ZMTP 2.0",
            ProtocolVersion::V3_0 => "ZMTP 3.0",
            ProtocolVersion::V3_1 => "ZMTP 3.1",
        }
    }
}

impl std::fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed ZMTP 3 peer greeting.
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
    /// The revision to speak with this peer: 3.0 for major 3 minor 0, else
    /// 3.1 (as libzmq: a revision above 3, or 2, is answered as 3.1).
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

/// What the peer's greeting turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerGreeting {
    /// An unversioned ZMTP 1.0 peer. Nothing was consumed: the bytes are the
    /// header of its identity frame, for the 1.0 frame decoder.
    Unversioned,
    /// A ZMTP 1.0 (revision 0) or 2.0 (revision 1) peer.
    Legacy {
        /// [`ProtocolVersion::V1_0`] or [`ProtocolVersion::V2_0`].
        version: ProtocolVersion,
        /// Its socket type, as libzmq's `ZMQ_*` number.
        socket_type: u8,
    },
    /// A ZMTP 3 peer.
    V3(Greeting),
}

/// One step of reading the peer's greeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GreetingStep {
    /// More input is needed.
    NeedMore,
    /// The peer's signature is versioned: send our revision byte now.
    SendRevision,
    /// The peer's revision is known: send the rest of our greeting in the form
    /// it reads (`legacy`: the socket-type byte; else the 53 bytes of ZMTP 3).
    SendRest {
        /// The peer is ZMTP 1.0 or 2.0.
        legacy: bool,
    },
    /// The greeting is complete.
    Done(PeerGreeting),
}

/// `name` NUL-padded to the 20-byte mechanism field.
pub fn mechanism_field(name: &str) -> [u8; MECHANISM_LEN] {
    let mut field = [0u8; MECHANISM_LEN];
    let n = name.len().min(MECHANISM_LEN);
    field[..n].copy_from_slice(&name.as_bytes()[..n]);
    field
}

/// Our signature. Its length field is our identity's length + 1, so that to a
/// ZMTP 1.0 peer it reads as the header of our identity frame (libzmq does
/// the same; no one else reads it).
///
/// ```
/// let s = monocoque_zmtp::greeting::encode_signature(3);
/// assert_eq!(s, [0xFF, 0, 0, 0, 0, 0, 0, 0, 4, 0x7F]);
/// ```
pub fn encode_signature(identity_len: usize) -> [u8; SIGNATURE_LEN] {
    let mut s = [0u8; SIGNATURE_LEN];
    s[0] = 0xFF;
    s[1..9].copy_from_slice(&(identity_len as u64 + 1).to_be_bytes());
    s[9] = 0x7F;
    s
}

/// What follows our revision byte to a ZMTP 3 peer: minor version,
/// mechanism, as-server, filler (53 bytes).
pub fn encode_greeting_rest(mechanism: &str, as_server: bool) -> [u8; GREETING_LEN - 11] {
    let mut g = [0u8; GREETING_LEN - 11];
    g[0] = 1;
    g[1..21].copy_from_slice(&mechanism_field(mechanism));
    g[21] = as_server as u8;
    g
}

/// Our whole greeting as a ZMTP 3 peer receives it, for an empty identity.
///
/// ```
/// let g = monocoque_zmtp::greeting::encode_greeting("NULL", false);
/// assert_eq!(&g[..12], &[0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1]);
/// assert_eq!(&g[12..16], b"NULL");
/// ```
pub fn encode_greeting(mechanism: &str, as_server: bool) -> [u8; GREETING_LEN] {
    let mut g = [0u8; GREETING_LEN];
    g[..SIGNATURE_LEN].copy_from_slice(&encode_signature(0));
    g[SIGNATURE_LEN] = OUR_REVISION;
    g[SIGNATURE_LEN + 1..].copy_from_slice(&encode_greeting_rest(mechanism, as_server));
    g
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    Signature,
    Revision,
    Rest,
    Done(PeerGreeting),
}

/// Reads a peer greeting from input that may arrive one byte at a time.
#[derive(Debug)]
pub struct GreetingParser {
    buf: [u8; GREETING_LEN],
    filled: usize,
    stage: Stage,
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
            stage: Stage::Signature,
        }
    }

    /// Bytes of the greeting consumed so far.
    pub fn received(&self) -> usize {
        self.filled
    }

    /// The next step: call again after acting on a `Send*` step, until
    /// `NeedMore` or `Done`. Never consumes more than the greeting; an
    /// unversioned peer's bytes are left in `input` for the frame decoder.
    /// Nothing is refused here: every byte sequence is some revision's
    /// greeting (or a ZMTP 1.0 frame header, which the decoder checks).
    pub fn parse(&mut self, input: &mut InputBuffer) -> GreetingStep {
        match self.stage {
            Stage::Signature => {
                let n = input.len().min(SIGNATURE_LEN);
                input.peek(&mut self.buf[..n]);
                let unversioned = (n >= 1 && self.buf[0] != 0xFF)
                    || (n == SIGNATURE_LEN && self.buf[9] & 0x01 == 0);
                if unversioned {
                    self.stage = Stage::Done(PeerGreeting::Unversioned);
                    return GreetingStep::Done(PeerGreeting::Unversioned);
                }
                if n < SIGNATURE_LEN {
                    return GreetingStep::NeedMore;
                }
                input.skip(SIGNATURE_LEN);
                self.filled = SIGNATURE_LEN;
                self.stage = Stage::Revision;
                GreetingStep::SendRevision
            }
            Stage::Revision => {
                let Some(revision) = input.byte_at(0) else {
                    return GreetingStep::NeedMore;
                };
                input.skip(1);
                self.buf[SIGNATURE_LEN] = revision;
                self.filled += 1;
                self.stage = Stage::Rest;
                GreetingStep::SendRest {
                    legacy: revision < 2,
                }
            }
            Stage::Rest => {
                let total = if self.buf[SIGNATURE_LEN] < 2 {
                    LEGACY_GREETING_LEN
                } else {
                    GREETING_LEN
                };
                let want = (total - self.filled).min(input.len());
                input.peek(&mut self.buf[self.filled..self.filled + want]);
                input.skip(want);
                self.filled += want;
                if self.filled < total {
                    return GreetingStep::NeedMore;
                }
                let greeting = self.finish();
                self.stage = Stage::Done(greeting.clone());
                GreetingStep::Done(greeting)
            }
            Stage::Done(ref greeting) => GreetingStep::Done(greeting.clone()),
        }
    }

    fn finish(&self) -> PeerGreeting {
        match self.buf[SIGNATURE_LEN] {
            0 => PeerGreeting::Legacy {
                version: ProtocolVersion::V1_0,
                socket_type: self.buf[11],
            },
            1 => PeerGreeting::Legacy {
                version: ProtocolVersion::V2_0,
                socket_type: self.buf[11],
            },
            major => {
                let mut mechanism = [0u8; MECHANISM_LEN];
                mechanism.copy_from_slice(&self.buf[12..32]);
                PeerGreeting::V3(Greeting {
                    major,
                    minor: self.buf[11],
                    mechanism,
                    as_server: self.buf[32] != 0,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// Runs the parser over `input` until it needs more or is done; the
    /// steps taken, `Send*` included.
    fn drive(p: &mut GreetingParser, input: &mut InputBuffer) -> Vec<GreetingStep> {
        let mut steps = Vec::new();
        loop {
            let step = p.parse(input);
            let stop = matches!(step, GreetingStep::NeedMore | GreetingStep::Done(_));
            steps.push(step);
            if stop {
                return steps;
            }
        }
    }

    fn parse_all(bytes: &[u8]) -> (Vec<GreetingStep>, usize) {
        let mut input = InputBuffer::new();
        input.push(Bytes::copy_from_slice(bytes));
        let steps = drive(&mut GreetingParser::new(), &mut input);
        (steps, input.len())
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
    fn signature_length_is_the_identity_frame_length() {
        assert_eq!(encode_signature(0)[1..9], 1u64.to_be_bytes());
        assert_eq!(encode_signature(255)[1..9], 256u64.to_be_bytes());
    }

    #[test]
    fn steps_of_a_whole_zmtp3_greeting() {
        let (steps, left) = parse_all(&encode_greeting("NULL", false));
        assert_eq!(steps[0], GreetingStep::SendRevision);
        assert_eq!(steps[1], GreetingStep::SendRest { legacy: false });
        let GreetingStep::Done(PeerGreeting::V3(g)) = &steps[2] else {
            panic!("{steps:?}")
        };
        assert!(g.mechanism_is("NULL"));
        assert_eq!(g.protocol_version(), ProtocolVersion::V3_1);
        assert_eq!(left, 0);
    }

    #[test]
    fn parses_at_every_split() {
        let g = encode_greeting("NULL", false);
        for split in 0..=GREETING_LEN {
            let mut input = InputBuffer::new();
            let mut p = GreetingParser::new();
            input.push(Bytes::copy_from_slice(&g[..split]));
            let mut steps = drive(&mut p, &mut input);
            input.push(Bytes::copy_from_slice(&g[split..]));
            input.push(Bytes::from_static(b"tail"));
            steps.extend(drive(&mut p, &mut input));
            let sends = steps
                .iter()
                .filter(|s| {
                    matches!(
                        s,
                        GreetingStep::SendRevision | GreetingStep::SendRest { .. }
                    )
                })
                .count();
            assert_eq!(sends, 2, "split {split}: {steps:?}");
            assert!(matches!(
                steps.last(),
                Some(GreetingStep::Done(PeerGreeting::V3(_)))
            ));
            assert_eq!(input.len(), 4, "the parser took bytes past the greeting");
        }
    }

    #[test]
    fn legacy_revisions_read_twelve_bytes() {
        for (revision, version) in [(0u8, ProtocolVersion::V1_0), (1, ProtocolVersion::V2_0)] {
            let mut g = encode_signature(0).to_vec();
            g.extend_from_slice(&[revision, 5, 0x00, 0x00]);
            let (steps, left) = parse_all(&g);
            assert_eq!(steps[1], GreetingStep::SendRest { legacy: true });
            assert_eq!(
                steps[2],
                GreetingStep::Done(PeerGreeting::Legacy {
                    version,
                    socket_type: 5
                })
            );
            assert_eq!(left, 2, "the identity frame stays for the decoder");
        }
    }

    #[test]
    fn unversioned_peers_are_left_unconsumed() {
        // A ZMTP 1.0 identity frame with a short length: known at the first byte.
        let (steps, left) = parse_all(&[0x01, 0x00]);
        assert_eq!(steps, [GreetingStep::Done(PeerGreeting::Unversioned)]);
        assert_eq!(left, 2);
        // With a long length: known at the tenth byte (its flags, MORE clear).
        let mut long = [0u8; 12];
        long[0] = 0xFF;
        long[8] = 3;
        let (steps, _) = parse_all(&long[..9]);
        assert_eq!(steps, [GreetingStep::NeedMore]);
        let (steps, left) = parse_all(&long);
        assert_eq!(steps, [GreetingStep::Done(PeerGreeting::Unversioned)]);
        assert_eq!(left, 12);
    }

    #[test]
    fn other_revisions_are_answered_as_zmtp3() {
        let mut g = encode_greeting("NULL", false);
        g[11] = 0;
        let (steps, _) = parse_all(&g);
        let GreetingStep::Done(PeerGreeting::V3(v)) = &steps[2] else {
            panic!()
        };
        assert_eq!(v.protocol_version(), ProtocolVersion::V3_0);
        for major in [2u8, 4] {
            g[10] = major;
            let (steps, _) = parse_all(&g);
            let GreetingStep::Done(PeerGreeting::V3(v)) = &steps[2] else {
                panic!()
            };
            assert_eq!(v.protocol_version(), ProtocolVersion::V3_1);
        }
    }

    #[test]
    fn mechanism_compared_as_twenty_bytes() {
        let mut g = encode_greeting("NULL", false);
        g[20] = b'X';
        let (steps, _) = parse_all(&g);
        let GreetingStep::Done(PeerGreeting::V3(v)) = &steps[2] else {
            panic!()
        };
        assert!(!v.mechanism_is("NULL"));
        assert_eq!(v.mechanism_lossy(), "NULL\0\0\0\0X");
    }
}
