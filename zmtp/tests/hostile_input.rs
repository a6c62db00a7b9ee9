//! A hostile or broken peer gets an error and a closed session, never a panic.

mod common;

use std::time::Instant;

use bytes::Bytes;
use common::*;
use monocoque_zmtp::{
    Error, Event, Session, SessionConfig, SocketType, HANDSHAKE_FRAME_LIMIT, MAX_OWED_PONGS,
};
use proptest::prelude::*;

/// Feeds `wire` to a fresh session of type `ours` and returns its events.
fn feed(ours: SessionConfig, wire: &[u8]) -> Vec<Event> {
    let now = Instant::now();
    let mut s = Session::new(ours, now).unwrap();
    s.handle_input(bytes(wire), now);
    drain(&mut s)
}

/// Greeting and READY from a NULL DEALER, then `rest`.
fn after_handshake(rest: &[u8]) -> Vec<u8> {
    let mut w = greeting(3, 1, "NULL");
    w.extend(ready_frame(SocketType::Dealer));
    w.extend_from_slice(rest);
    w
}

fn closed_with(events: &[Event]) -> &Error {
    match events.last() {
        Some(Event::Closed(e)) => e,
        other => panic!("expected the session to close, last event {other:?}"),
    }
}

#[test]
fn garbage_greeting() {
    let events = feed(config(SocketType::Router), b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(closed_with(&events), &Error::NotZmtp { byte: b'G' });
}

#[test]
fn a_binary_command_name_is_escaped_for_the_log() {
    // A command frame whose name is raw bytes, during the handshake.
    let mut wire = greeting(3, 1, "NULL");
    wire.extend_from_slice(&[0x04, 4, 3, 0x00, 0xff, b'\n']);
    let events = feed(config(SocketType::Router), &wire);
    let e = closed_with(&events);
    assert_eq!(
        e,
        &Error::UnexpectedCommand {
            command: "\\x00\\xff\\n".into(),
            expected: "READY"
        }
    );
    assert!(
        e.to_string()
            .chars()
            .all(|c| c.is_ascii_graphic() || c == ' '),
        "{e}"
    );
}

#[test]
fn wrong_mechanism() {
    let events = feed(config(SocketType::Router), &greeting(3, 1, "CURVE"));
    assert_eq!(
        closed_with(&events),
        &Error::MechanismMismatch {
            ours: "NULL",
            theirs: "CURVE".into()
        }
    );
}

#[test]
fn legacy_greetings_that_cannot_be_served() {
    // Revision 1 (ZMTP 2.0) with socket type 42, and with PUSH to a ROUTER.
    let mut g = greeting(1, 42, "NULL");
    g.truncate(12);
    let events = feed(config(SocketType::Router), &g);
    assert_eq!(closed_with(&events), &Error::UnknownSocketTypeNumber(42));
    g[11] = SocketType::Push.zmq_number();
    let events = feed(config(SocketType::Router), &g);
    assert_eq!(
        closed_with(&events),
        &Error::IncompatibleSocketType {
            ours: SocketType::Router,
            theirs: SocketType::Push
        }
    );
}

#[test]
fn huge_length_refused() {
    let events = feed(
        config(SocketType::Router),
        &after_handshake(&[0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
    );
    assert_eq!(
        closed_with(&events),
        &Error::InvalidFrameLength { size: u64::MAX }
    );

    let mut c = config(SocketType::Router);
    c.max_message_size = Some(1 << 20);
    let events = feed(c, &after_handshake(&[0x02, 0, 0, 1, 0, 0, 0, 0, 0]));
    assert_eq!(
        closed_with(&events),
        &Error::FrameTooLarge {
            size: 1 << 40,
            limit: 1 << 20
        }
    );
}

#[test]
fn huge_handshake_frame_refused_before_buffering() {
    let mut w = greeting(3, 1, "NULL");
    w.extend([0x06, 0, 0, 0, 0, 0x10, 0, 0, 0]);
    let events = feed(config(SocketType::Router), &w);
    assert_eq!(
        closed_with(&events),
        &Error::HandshakeFrameTooLarge {
            size: 1 << 28,
            limit: HANDSHAKE_FRAME_LIMIT
        }
    );
}

#[test]
fn truncated_frames_wait_without_error() {
    let now = Instant::now();
    let mut s = Session::new(config(SocketType::Router), now).unwrap();
    s.handle_input(bytes(&after_handshake(&[0x02, 0, 0, 0, 0, 0, 0, 1])), now);
    let events = drain(&mut s);
    assert!(matches!(events.as_slice(), [Event::HandshakeSucceeded(_)]));
    s.handle_input(bytes(&[0x00, 0, 0, 0]), now); // header done, 256-byte body pending
    assert!(drain(&mut s).is_empty());
    assert!(!s.is_closed());
}

#[test]
fn over_long_metadata() {
    let mut w = greeting(3, 1, "NULL");
    let mut md = prop("Socket-Type", b"DEALER");
    md.extend([
        8, b'I', b'd', b'e', b'n', b't', b'i', b't', b'y', 0, 0, 1, 0, b'x',
    ]);
    w.extend(command_frame("READY", &md));
    let events = feed(config(SocketType::Router), &w);
    assert_eq!(
        closed_with(&events),
        &Error::MalformedMetadata("a property value runs past the end")
    );

    let mut w = greeting(3, 1, "NULL");
    let mut md = prop("Socket-Type", b"DEALER");
    md.extend(prop("Identity", &[b'i'; 300]));
    w.extend(command_frame("READY", &md));
    let events = feed(config(SocketType::Router), &w);
    assert_eq!(closed_with(&events), &Error::IdentityTooLong(300));
}

#[test]
fn command_with_more() {
    let events = feed(
        config(SocketType::Router),
        &after_handshake(&[0x05, 5, 4, b'P', b'I', b'N', b'G']),
    );
    assert_eq!(closed_with(&events), &Error::CommandWithMore);
}

#[test]
fn message_before_handshake() {
    let mut w = greeting(3, 1, "NULL");
    w.extend([0x00, 1, b'x']);
    let events = feed(config(SocketType::Router), &w);
    assert_eq!(
        closed_with(&events),
        &Error::MessageDuringHandshake { expected: "READY" }
    );
}

#[test]
fn short_ping_and_empty_command() {
    let events = feed(
        config(SocketType::Router),
        &after_handshake(&command_frame("PING", b"\x01")),
    );
    assert!(matches!(
        closed_with(&events),
        Error::MalformedCommand {
            command: "PING",
            ..
        }
    ));
    let events = feed(config(SocketType::Router), &after_handshake(&[0x04, 0]));
    assert!(matches!(
        closed_with(&events),
        Error::MalformedCommandFrame(_)
    ));
}

#[test]
fn missing_socket_type() {
    let mut w = greeting(3, 1, "NULL");
    w.extend(command_frame("READY", &prop("Identity", b"")));
    let events = feed(config(SocketType::Router), &w);
    assert_eq!(closed_with(&events), &Error::MissingSocketType);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Arbitrary bytes from the first byte on: never a panic.
    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = feed(config(SocketType::Router), &data);
    }

    /// Arbitrary bytes after a valid handshake, in arbitrary chunks: never a panic,
    /// and every message delivered is complete.
    #[test]
    fn random_frames_never_panic(
        data in proptest::collection::vec(any::<u8>(), 0..1024),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let now = Instant::now();
        let mut s = Session::new(config(SocketType::XPub), now).unwrap();
        s.handle_input(bytes(&greeting(3, 1, "NULL")), now);
        s.handle_input(bytes(&ready_frame(SocketType::Sub)), now);
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        points.sort_unstable();
        let mut last = 0;
        for p in points.into_iter().chain([data.len()]) {
            s.handle_input(Bytes::copy_from_slice(&data[last..p]), now);
            last = p;
            for e in drain(&mut s) {
                if let Event::Message(m) = e { prop_assert!(!m.is_empty()) }
            }
        }
        s.handle_timeout(now + std::time::Duration::from_secs(60));
    }
}

#[test]
fn a_ping_flood_from_a_peer_that_never_reads_owes_a_bounded_number_of_pongs() {
    let now = Instant::now();
    let mut s = Session::new(config(SocketType::Router), now).unwrap();
    s.handle_input(bytes(&after_handshake(&[])), now);
    drain(&mut s);
    // What the handshake queued is taken, as an engine would write it.
    let _ = s.transmit().take_chunks();
    let mut flood = Vec::new();
    for i in 0..10_000u16 {
        let mut ping = vec![0, 0];
        ping.extend_from_slice(&i.to_be_bytes());
        flood.extend(command_frame("PING", &ping));
    }
    s.handle_input(bytes(&flood), now);
    drain(&mut s);
    assert!(s.wants_write());
    assert_eq!(s.stats().pings_received, 10_000);
    // A PONG for each of the latest MAX_OWED_PONGS PINGs, echoing their
    // contexts in order; the older ones are not answered.
    let mut pongs = Vec::new();
    for chunk in s.transmit().take_chunks() {
        pongs.extend_from_slice(&chunk);
    }
    let first = 10_000 - MAX_OWED_PONGS as u16;
    let expected: Vec<u8> = (first..10_000)
        .flat_map(|i| command_frame("PONG", &i.to_be_bytes()))
        .collect();
    assert_eq!(pongs, expected);
    assert!(!s.wants_write());
}

#[test]
fn a_declared_frame_larger_than_the_ceiling_closes_at_the_header() {
    let mut c = config(SocketType::Router);
    c.memory_ceiling = Some(1 << 30);
    // A data frame announcing 2^40 bytes, and none of its body.
    let events = feed(c, &after_handshake(&[0x02, 0, 0, 0x01, 0, 0, 0, 0, 0]));
    assert_eq!(
        closed_with(&events),
        &Error::FrameBeyondMemory {
            size: 1 << 40,
            ceiling: 1 << 30
        }
    );
}
