//! CURVE MESSAGE: every frame after the handshake, boxed between the two
//! transient keys.
//!
//! ```text
//! message = %d7 "MESSAGE" short-nonce message-box             ; 33+ octets
//! message-box = Box[flags + body](sender' -> receiver'),
//!               nonce "CurveZMQMESSAGEC" (from the client) or "CurveZMQMESSAGES"
//!               (from the server) + short-nonce
//! flags = %b000000 command more
//! ```
//! As libzmq 4.3 sends them: each frame of a message is its own MESSAGE, and
//! the wire frame is a plain data frame (neither MORE nor COMMAND set on it):
//! MORE, and COMMAND for SUBSCRIBE, CANCEL, PING and PONG, travel inside the
//! box. The short nonce is a big-endian counter, and a peer's must rise with
//! every MESSAGE (libzmq accepts gaps, and so do we; never a repeat).

use bytes::{BufMut, BytesMut};

use super::cryptobox::{nonce, BoxKey, TAG_LEN};
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::mechanism::MessageCodec;
use crate::transmit_queue::TransmitQueue;

const NAME: &[u8] = b"\x07MESSAGE";
const MORE: u8 = 0x01;
const COMMAND: u8 = 0x02;
/// Name, nonce and tag: what a MESSAGE adds to the flags and body.
const OVERHEAD: usize = NAME.len() + 8 + TAG_LEN;

/// Which end of the connection we are: it picks the nonce prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Client,
    Server,
}

impl Side {
    fn sends_with(self) -> &'static [u8; 16] {
        match self {
            Side::Client => b"CurveZMQMESSAGEC",
            Side::Server => b"CurveZMQMESSAGES",
        }
    }

    fn receives_with(self) -> &'static [u8; 16] {
        match self {
            Side::Client => b"CurveZMQMESSAGES",
            Side::Server => b"CurveZMQMESSAGEC",
        }
    }
}

/// Boxes and unboxes message frames for one connection.
#[derive(Debug)]
pub(crate) struct CurveCodec {
    /// Between the peer's transient public key and our transient secret key.
    key: BoxKey,
    side: Side,
    /// The short nonce our next MESSAGE uses.
    next_nonce: u64,
    /// The last short nonce the peer used (its READY's or INITIATE's at first).
    peer_nonce: u64,
}

impl CurveCodec {
    pub(crate) fn new(key: BoxKey, side: Side, next_nonce: u64, peer_nonce: u64) -> Self {
        CurveCodec {
            key,
            side,
            next_nonce,
            peer_nonce,
        }
    }
}

impl MessageCodec for CurveCodec {
    fn encode(
        &mut self,
        more: bool,
        command: bool,
        body: &[u8],
        out: &mut TransmitQueue,
    ) -> Result<()> {
        let n = self.next_nonce;
        // 2^64 - 1 MESSAGEs is more than any connection lives to send; the
        // RFC forbids reusing a nonce, so refuse rather than wrap.
        self.next_nonce = n.checked_add(1).ok_or(Error::CurveNonceExhausted)?;
        let mut wire = BytesMut::with_capacity(OVERHEAD + 1 + body.len());
        wire.put_slice(NAME);
        wire.put_u64(n);
        wire.put_bytes(0, TAG_LEN);
        wire.put_u8(if more { MORE } else { 0 } | if command { COMMAND } else { 0 });
        wire.put_slice(body);
        let full_nonce = nonce(self.side.sends_with(), &n.to_be_bytes());
        self.key
            .seal_in_place(&full_nonce, &mut wire[NAME.len() + 8..]);
        out.push_frame(false, false, &wire.freeze());
        Ok(())
    }

    fn decode(&mut self, frame: Frame) -> Result<Frame> {
        let wire = frame.body;
        if frame.command || frame.more {
            return Err(Error::MalformedCommand {
                command: "MESSAGE",
                reason: "a CURVE MESSAGE is a single data frame",
            });
        }
        if !wire.starts_with(NAME) {
            return Err(match crate::command::split_name(&wire) {
                Ok((name, _)) => Error::UnexpectedCommand {
                    command: crate::mechanism::printable_name(&name),
                    expected: "MESSAGE",
                },
                Err(_) => Error::MalformedCommand {
                    command: "MESSAGE",
                    reason: "a frame after the CURVE handshake must be a MESSAGE command",
                },
            });
        }
        if wire.len() < OVERHEAD + 1 {
            return Err(Error::MalformedCommand {
                command: "MESSAGE",
                reason: "it is shorter than 33 bytes",
            });
        }
        let carried: [u8; 8] = wire[NAME.len()..NAME.len() + 8]
            .try_into()
            .expect("8 bytes checked above");
        let n = u64::from_be_bytes(carried);
        if n <= self.peer_nonce {
            return Err(Error::CurveNonceReused {
                nonce: n,
                last: self.peer_nonce,
            });
        }
        let full_nonce = nonce(self.side.receives_with(), &carried);
        let mut plain = self
            .key
            .open(&full_nonce, &wire[NAME.len() + 8..])
            .ok_or(Error::CurveBoxRejected { command: "MESSAGE" })?;
        self.peer_nonce = n;
        let flags = plain[0];
        if flags & COMMAND != 0 && flags & MORE != 0 {
            return Err(Error::CommandWithMore);
        }
        Ok(Frame {
            more: flags & MORE != 0,
            command: flags & COMMAND != 0,
            body: plain.split_off(1).freeze(),
        })
    }
}

/// Bytes a frame of `body_len` bytes takes inside a MESSAGE.
#[cfg(test)]
pub(crate) fn wire_len(body_len: usize) -> usize {
    OVERHEAD + 1 + body_len
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanism::curve::keys::CurveSecretKey;
    use bytes::{Buf, Bytes};

    fn pair() -> (CurveCodec, CurveCodec) {
        let client = CurveSecretKey::generate();
        let server = CurveSecretKey::generate();
        (
            CurveCodec::new(
                BoxKey::between(&server.public_key(), &client),
                Side::Client,
                3,
                1,
            ),
            CurveCodec::new(
                BoxKey::between(&client.public_key(), &server),
                Side::Server,
                2,
                2,
            ),
        )
    }

    /// Takes one frame back off a transmit queue (2-byte short headers only).
    fn take_frame(q: &mut TransmitQueue) -> Frame {
        let all = q.take_all();
        assert_eq!(all[0], 0x00, "a plain data frame, no MORE, no COMMAND");
        let len = all[1] as usize;
        assert_eq!(all.len(), 2 + len);
        Frame {
            more: false,
            command: false,
            body: all.slice(2..),
        }
    }

    #[test]
    fn frames_cross_with_their_flags_inside_the_box() {
        let (mut client, mut server) = pair();
        let mut q = TransmitQueue::new();
        client.encode(true, false, b"part one", &mut q).unwrap();
        let wire = take_frame(&mut q);
        assert_eq!(&wire.body[..8], NAME);
        assert_eq!(&wire.body[8..16], &3u64.to_be_bytes());
        assert_eq!(wire.body.len(), wire_len(8));
        let got = server.decode(wire).unwrap();
        assert!(got.more && !got.command);
        assert_eq!(&got.body[..], b"part one");

        server
            .encode(false, true, b"\x04PING\x00\x00", &mut q)
            .unwrap();
        let got = client.decode(take_frame(&mut q)).unwrap();
        assert!(!got.more && got.command);
        assert_eq!(got.body.chunk(), b"\x04PING\x00\x00");
    }

    #[test]
    fn a_replayed_or_reordered_message_is_refused() {
        let (mut client, mut server) = pair();
        let mut q = TransmitQueue::new();
        client.encode(false, false, b"a", &mut q).unwrap();
        let first = take_frame(&mut q);
        client.encode(false, false, b"b", &mut q).unwrap();
        let second = take_frame(&mut q);
        server.decode(second).unwrap();
        assert_eq!(
            server.decode(first),
            Err(Error::CurveNonceReused { nonce: 3, last: 4 })
        );
    }

    #[test]
    fn an_altered_or_foreign_box_is_refused() {
        let (mut client, mut server) = pair();
        let mut q = TransmitQueue::new();
        client.encode(false, false, b"hello", &mut q).unwrap();
        let wire = take_frame(&mut q);
        let mut altered = BytesMut::from(&wire.body[..]);
        let last = altered.len() - 1;
        altered[last] ^= 0x80;
        let altered = Frame {
            body: altered.freeze(),
            ..wire.clone()
        };
        assert_eq!(
            server.decode(altered),
            Err(Error::CurveBoxRejected { command: "MESSAGE" })
        );
        // The refused frame did not move the nonce: the genuine one still opens.
        assert!(server.decode(wire).is_ok());
        // A frame we boxed ourselves uses the other prefix and never opens here.
        server.encode(false, false, b"x", &mut q).unwrap();
        let own = take_frame(&mut q);
        assert!(server.decode(own).is_err());
    }

    #[test]
    fn malformed_messages_are_refused_not_panicked_on() {
        let (_, mut server) = pair();
        for body in [
            &b""[..],
            b"\x07MESSAG",
            b"\x07MESSAGE",
            b"\x07MESSAGE\x00\x00\x00\x00\x00\x00\x00\x09short",
            b"\x05HELLO",
            b"\xff",
        ] {
            let frame = Frame {
                more: false,
                command: false,
                body: Bytes::copy_from_slice(body),
            };
            assert!(server.decode(frame).is_err(), "{body:?}");
        }
        let command = Frame {
            more: false,
            command: true,
            body: Bytes::from_static(b"\x04PING\x00\x00"),
        };
        assert!(server.decode(command).is_err());
    }
}
