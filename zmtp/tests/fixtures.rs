//! Byte-exact fixtures for everything the crate writes, each also decoded from
//! input split at every byte position.

mod common;

use std::time::Instant;

use bytes::Bytes;
use common::*;
use monocoque_zmtp::command::*;
use monocoque_zmtp::frame_decoder::{FrameDecoder, FrameLimit};
use monocoque_zmtp::{
    Event, InputBuffer, Metadata, Msg, Session, SessionConfig, SocketType, TransmitQueue,
};

fn encoded(c: &Command) -> Vec<u8> {
    let mut q = TransmitQueue::new();
    c.encode(&mut q);
    q.take_all().to_vec()
}

/// Decodes `wire` split in two at every position and checks each result.
fn decode_at_every_split(wire: &[u8], check: impl Fn(&Command)) {
    for split in 0..=wire.len() {
        let mut input = InputBuffer::new();
        let mut dec = FrameDecoder::new(FrameLimit::Message(None));
        input.push(bytes(&wire[..split]));
        let early = dec.decode(&mut input).unwrap();
        assert_eq!(early.is_some(), split == wire.len(), "split {split}");
        input.push(bytes(&wire[split..]));
        let frame = early.unwrap_or_else(|| dec.decode(&mut input).unwrap().unwrap());
        assert!(frame.command && !frame.more);
        assert!(input.is_empty());
        check(&Command::parse(&frame.body).unwrap());
    }
}

fn fixture(c: Command, expected: Vec<u8>) {
    assert_eq!(encoded(&c), expected, "encoding of {}", c.name_lossy());
    decode_at_every_split(&expected, |d| assert_eq!(d, &c));
}

#[test]
fn ready_for_every_socket_type() {
    for t in SocketType::ALL {
        let mut md = Metadata::new();
        md.push("Socket-Type", t.as_str());
        if t.sends_identity() {
            md.push("Identity", "");
        }
        fixture(Command::Ready(Ready { metadata: md }), ready_frame(t));
    }
}

#[test]
fn every_command() {
    fixture(
        Command::Error(ErrorCommand {
            reason: Bytes::from_static(b"400"),
        }),
        command_frame("ERROR", b"\x03400"),
    );
    fixture(
        Command::Subscribe(Subscribe {
            topic: Bytes::from_static(b"AB"),
        }),
        vec![
            0x04, 12, 9, b'S', b'U', b'B', b'S', b'C', b'R', b'I', b'B', b'E', b'A', b'B',
        ],
    );
    fixture(
        Command::Cancel(Cancel {
            topic: Bytes::new(),
        }),
        vec![0x04, 7, 6, b'C', b'A', b'N', b'C', b'E', b'L'],
    );
    fixture(
        Command::Ping(Ping {
            ttl_deciseconds: 0x0102,
            context: Bytes::from_static(b"ctx"),
        }),
        vec![0x04, 10, 4, b'P', b'I', b'N', b'G', 1, 2, b'c', b't', b'x'],
    );
    fixture(
        Command::Pong(Pong {
            context: Bytes::from_static(b"ctx"),
        }),
        vec![0x04, 8, 4, b'P', b'O', b'N', b'G', b'c', b't', b'x'],
    );
    fixture(
        Command::Hello(Hello {
            username: Bytes::from_static(b"admin"),
            password: Bytes::from_static(b"pw"),
        }),
        command_frame("HELLO", b"\x05admin\x02pw"),
    );
    fixture(Command::Welcome(Welcome), command_frame("WELCOME", b""));
    let mut md = Metadata::new();
    md.push("Socket-Type", "DEALER");
    md.push("Identity", "me");
    md.push("X-Custom", "v");
    let mut wire_md = prop("Socket-Type", b"DEALER");
    wire_md.extend(prop("Identity", b"me"));
    wire_md.extend(prop("X-Custom", b"v"));
    fixture(
        Command::Initiate(Initiate { metadata: md }),
        command_frame("INITIATE", &wire_md),
    );
}

#[test]
fn long_command_uses_long_form() {
    let topic = Bytes::from(vec![b't'; 300]);
    let mut expected = vec![0x06, 0, 0, 0, 0, 0, 0, 0x01, 0x36, 9];
    expected.extend_from_slice(b"SUBSCRIBE");
    expected.extend_from_slice(&topic);
    fixture(Command::Subscribe(Subscribe { topic }), expected);
}

#[test]
fn pong_echoes_at_most_sixteen_bytes() {
    let ctx = Bytes::from_static(b"0123456789abcdefXYZ");
    assert_eq!(&Pong::echoing(&ctx).context[..], b"0123456789abcdef");
}

#[test]
fn message_frames_byte_exact() {
    let now = Instant::now();
    let (mut a, _b) = connected(config(SocketType::Dealer), config(SocketType::Dealer), now);
    let big = Bytes::from(vec![0xAB; 256]);
    a.send(&Msg::from(vec![
        Bytes::new(),
        Bytes::from_static(b"hi"),
        big.clone(),
    ]))
    .unwrap();
    let mut expected = vec![0x01, 0, 0x01, 2, b'h', b'i', 0x02, 0, 0, 0, 0, 0, 0, 1, 0];
    expected.extend_from_slice(&big);
    assert_eq!(a.transmit().take_all().to_vec(), expected);
}

/// A whole NULL DEALER transcript from a peer: greeting, READY, a multipart
/// message, a PING; fed to a ROUTER session split at every byte position.
#[test]
fn session_transcript_at_every_split() {
    let mut wire = greeting(3, 1, "NULL");
    let mut md = prop("Socket-Type", b"DEALER");
    md.extend(prop("Identity", b"peer-1"));
    wire.extend(command_frame("READY", &md));
    wire.extend([0x01, 1, b'a', 0x00, 3, b'b', b'c', b'd']);
    wire.extend(command_frame("PING", b"\x00\x0aq"));
    for split in 0..=wire.len() {
        let now = Instant::now();
        let mut s = Session::new(SessionConfig::new(SocketType::Router), now).unwrap();
        s.handle_input(bytes(&wire[..split]), now);
        let mut events = drain(&mut s);
        s.handle_input(bytes(&wire[split..]), now);
        events.extend(drain(&mut s));
        assert_eq!(events.len(), 2, "split {split}: {events:?}");
        let Event::HandshakeSucceeded(peer) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(&peer.identity[..], b"peer-1");
        assert_eq!(events[1], Event::Message(Msg::from(["a", "bcd"])));
        assert_eq!(s.stats().pings_received, 1);
        let mut out = greeting(3, 1, "NULL");
        out.extend(ready_frame(SocketType::Router));
        out.extend(command_frame("PONG", b"q"));
        assert_eq!(s.transmit().take_all().to_vec(), out);
    }
}
