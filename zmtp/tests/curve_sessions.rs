//! CURVE between two sessions in memory: accepted, refused, wrong keys,
//! replayed, reordered, altered and truncated input. Every failure is a
//! clean close with a reason, never a panic.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::*;
use monocoque_zmtp::mechanism::{CurveKeyPair, CurvePublicKey};
use monocoque_zmtp::{
    Admission, AuthDecision, Authenticator, Credentials, Error, Event, MechanismConfig, Msg,
    Session, SessionConfig, SocketType,
};

fn curve(
    client_type: SocketType,
    server_type: SocketType,
    authenticator: Option<Arc<dyn Authenticator>>,
) -> (SessionConfig, SessionConfig, CurveKeyPair, CurveKeyPair) {
    let server_keys = CurveKeyPair::generate();
    let client_keys = CurveKeyPair::generate();
    let mut client = config(client_type);
    client.mechanism = MechanismConfig::CurveClient {
        server_key: server_keys.public,
        keys: client_keys.clone(),
    };
    let mut server = config(server_type);
    server.mechanism = MechanismConfig::CurveServer {
        keys: server_keys.clone(),
        admission: match authenticator {
            Some(a) => Admission::Authenticator(a),
            None => Admission::Everyone,
        },
    };
    (client, server, client_keys, server_keys)
}

/// Admits one client key and remembers every key it was asked about.
struct OnlyKey {
    allowed: CurvePublicKey,
    asked: Mutex<Vec<CurvePublicKey>>,
}

impl Authenticator for OnlyKey {
    fn authenticate(&self, c: &Credentials<'_>) -> AuthDecision {
        let Credentials::Curve { public_key } = c else {
            return AuthDecision::Deny {
                reason: "not CURVE".into(),
            };
        };
        self.asked.lock().unwrap().push(*public_key);
        if *public_key == self.allowed {
            AuthDecision::accept(Some(Bytes::from(public_key.to_z85())))
        } else {
            AuthDecision::Deny {
                reason: "400 key not allowed".into(),
            }
        }
    }
}

#[test]
fn handshake_then_messages_of_every_size_both_ways() {
    let now = Instant::now();
    let (mut cc, cs, _, _) = curve(SocketType::Dealer, SocketType::Router, None);
    cc.identity = Bytes::from_static(b"dealer-1");
    cc.properties
        .push(("X-Desk".into(), Bytes::from_static(b"fx")));
    let (mut c, mut s) = connected(cc, cs, now);
    let seen = s.peer().unwrap();
    assert_eq!(seen.socket_type, Some(SocketType::Dealer));
    assert_eq!(&seen.identity[..], b"dealer-1");
    assert_eq!(seen.metadata.get("X-Desk").unwrap(), "fx");
    assert_eq!(c.peer().unwrap().socket_type, Some(SocketType::Router));

    for size in [0usize, 1, 29, 255, 256, 4096, 1 << 20] {
        let body = Bytes::from((0..size).map(|i| i as u8).collect::<Vec<_>>());
        let m = Msg::from(vec![Bytes::from_static(b"head"), Bytes::new(), body]);
        c.send(&m).unwrap();
        s.send(&m).unwrap();
        let (ec, es) = exchange(&mut c, &mut s, now);
        assert_eq!(
            es,
            vec![Event::Message(m.clone())],
            "{size} bytes to the server"
        );
        assert_eq!(ec, vec![Event::Message(m)], "{size} bytes to the client");
    }
}

#[test]
fn nothing_crosses_in_clear() {
    let now = Instant::now();
    let (cc, cs, _, _) = curve(SocketType::Push, SocketType::Pull, None);
    let (mut c, mut s) = connected(cc, cs, now);
    c.send(&Msg::from("TOP-SECRET-PAYLOAD")).unwrap();
    let wire = c.transmit().take_all();
    assert!(!wire
        .windows(b"TOP-SECRET".len())
        .any(|w| w == b"TOP-SECRET"));
    // One data frame (flags 0x00: neither MORE nor COMMAND on the wire), a
    // MESSAGE holding a nonce of 3 (HELLO took 1, INITIATE 2).
    assert_eq!(wire[0], 0x00);
    assert_eq!(&wire[2..10], b"\x07MESSAGE");
    assert_eq!(&wire[10..18], &3u64.to_be_bytes());
    assert_eq!(wire.len(), 2 + 8 + 8 + 16 + 1 + 18);
    s.handle_input(wire, now);
    assert_eq!(
        drain(&mut s),
        vec![Event::Message(Msg::from("TOP-SECRET-PAYLOAD"))]
    );
}

#[test]
fn the_authenticator_sees_the_client_key_and_names_the_user() {
    let now = Instant::now();
    let client_keys = CurveKeyPair::generate();
    let auth = Arc::new(OnlyKey {
        allowed: client_keys.public,
        asked: Mutex::new(Vec::new()),
    });
    let (mut cc, cs, _, server_keys) = curve(SocketType::Req, SocketType::Rep, Some(auth.clone()));
    cc.mechanism = MechanismConfig::CurveClient {
        server_key: server_keys.public,
        keys: client_keys.clone(),
    };
    let (_c, s) = connected(cc, cs, now);
    assert_eq!(*auth.asked.lock().unwrap(), vec![client_keys.public]);
    let peer = s.peer().unwrap();
    assert_eq!(
        peer.user_id.as_deref(),
        Some(client_keys.public.to_z85().as_bytes())
    );
    assert_eq!(
        peer.metadata.get("User-Id").unwrap(),
        client_keys.public.to_z85().as_str()
    );
}

#[test]
fn a_refused_client_gets_error_and_both_close() {
    let now = Instant::now();
    let auth = Arc::new(OnlyKey {
        allowed: CurveKeyPair::generate().public,
        asked: Mutex::new(Vec::new()),
    });
    let (cc, cs, _, _) = curve(SocketType::Req, SocketType::Rep, Some(auth));
    let mut c = Session::new(cc, now).unwrap();
    let mut s = Session::new(cs, now).unwrap();
    let (ec, es) = exchange(&mut c, &mut s, now);
    assert_eq!(
        es,
        vec![Event::Closed(Error::AuthenticationDenied {
            reason: "400 key not allowed".into()
        })]
    );
    assert_eq!(
        ec,
        // libzmq's ERROR: the status code alone; the text stays in the
        // server's log.
        vec![Event::Closed(Error::PeerError {
            reason: "400".into()
        })]
    );
}

#[test]
fn a_client_with_the_wrong_server_key_is_dropped_at_hello() {
    let now = Instant::now();
    let (mut cc, cs, client_keys, _) = curve(SocketType::Req, SocketType::Rep, None);
    cc.mechanism = MechanismConfig::CurveClient {
        server_key: CurveKeyPair::generate().public,
        keys: client_keys,
    };
    let mut c = Session::new(cc, now).unwrap();
    let mut s = Session::new(cs, now).unwrap();
    let (ec, es) = exchange(&mut c, &mut s, now);
    assert_eq!(
        es,
        vec![Event::Closed(Error::CurveBoxRejected { command: "HELLO" })]
    );
    assert!(ec.is_empty(), "the server says nothing: {ec:?}");
}

#[test]
fn a_server_with_other_keys_is_refused_by_the_client() {
    let now = Instant::now();
    let (cc, _, _, _) = curve(SocketType::Req, SocketType::Rep, None);
    // A server that does not hold the secret key for the public key the
    // client was given cannot even open HELLO; one that holds its own pair
    // and answers anyway (an impostor replaying another server's WELCOME)
    // is refused by the client when the WELCOME box does not open.
    let (_, impostor, _, _) = curve(SocketType::Req, SocketType::Rep, None);
    let mut c = Session::new(cc, now).unwrap();
    let mut s = Session::new(impostor, now).unwrap();
    let (_, es) = exchange(&mut c, &mut s, now);
    assert_eq!(
        es,
        vec![Event::Closed(Error::CurveBoxRejected { command: "HELLO" })]
    );
}

#[test]
fn replayed_altered_and_reordered_messages_close_the_connection() {
    let now = Instant::now();
    for case in ["replay", "alter", "reorder"] {
        let (cc, cs, _, _) = curve(SocketType::Push, SocketType::Pull, None);
        let (mut c, mut s) = connected(cc, cs, now);
        c.send(&Msg::from("one")).unwrap();
        let first = c.transmit().take_all();
        c.send(&Msg::from("two")).unwrap();
        let second = c.transmit().take_all();
        let expected = match case {
            "replay" => {
                s.handle_input(first.clone(), now);
                assert_eq!(drain(&mut s), vec![Event::Message(Msg::from("one"))]);
                s.handle_input(first, now);
                Error::CurveNonceReused { nonce: 3, last: 3 }
            }
            "alter" => {
                let mut bad = BytesMut::from(&first[..]);
                let last = bad.len() - 1;
                bad[last] ^= 0x01;
                s.handle_input(bad.freeze(), now);
                Error::CurveBoxRejected { command: "MESSAGE" }
            }
            _ => {
                s.handle_input(second, now);
                assert_eq!(drain(&mut s), vec![Event::Message(Msg::from("two"))]);
                s.handle_input(first, now);
                Error::CurveNonceReused { nonce: 3, last: 4 }
            }
        };
        assert_eq!(drain(&mut s), vec![Event::Closed(expected)], "{case}");
        assert!(s.is_closed());
    }
}

#[test]
fn a_clear_frame_after_the_handshake_is_refused() {
    let now = Instant::now();
    let (cc, cs, _, _) = curve(SocketType::Push, SocketType::Pull, None);
    let (_c, mut s) = connected(cc, cs, now);
    s.handle_input(Bytes::from_static(b"\x00\x05hello"), now);
    let events = drain(&mut s);
    assert!(
        matches!(
            events.as_slice(),
            [Event::Closed(Error::MalformedCommand {
                command: "MESSAGE",
                ..
            })]
        ),
        "{events:?}"
    );
    // A clear PING command frame is refused the same way, not obeyed.
    let (cc, cs, _, _) = curve(SocketType::Push, SocketType::Pull, None);
    let (_c, mut s) = connected(cc, cs, now);
    s.handle_input(Bytes::from(command_frame("PING", b"\x00\x00")), now);
    assert!(matches!(
        drain(&mut s).as_slice(),
        [Event::Closed(Error::MalformedCommand { .. })]
    ));
}

#[test]
fn subscriptions_and_heartbeats_travel_inside_the_box() {
    let now = Instant::now();
    let (mut cc, mut cs, _, _) = curve(SocketType::Sub, SocketType::Pub, None);
    cc.heartbeat_interval = Some(Duration::from_millis(100));
    cs.heartbeat_interval = Some(Duration::from_millis(100));
    let (mut c, mut s) = connected(cc, cs, now);
    c.subscribe(b"md.").unwrap();
    let wire = c.transmit().take_all();
    assert_eq!(wire[0], 0x00, "a boxed data frame, not a SUBSCRIBE command");
    assert!(!wire.windows(3).any(|w| w == b"md."));
    s.handle_input(wire, now);
    assert_eq!(
        drain(&mut s),
        vec![Event::Subscribe(Bytes::from_static(b"md."))]
    );
    c.cancel(b"md.").unwrap();
    let (_, es) = exchange(&mut c, &mut s, now);
    assert_eq!(es, vec![Event::Cancel(Bytes::from_static(b"md."))]);

    let later = now + Duration::from_millis(150);
    c.handle_timeout(later);
    let (ec, es) = exchange(&mut c, &mut s, later);
    assert!(ec.is_empty() && es.is_empty(), "{ec:?} {es:?}");
    assert_eq!(c.stats().pings_sent, 1);
    assert_eq!(s.stats().pings_received, 1);
    assert_eq!(c.stats().pongs_received, 1);
    assert!(!c.is_closed() && !s.is_closed());
}

/// A client session up to the point where it has sent HELLO, and that HELLO.
fn hello_from_a_client() -> (Session, Bytes, SessionConfig) {
    let now = Instant::now();
    let (cc, cs, _, _) = curve(SocketType::Req, SocketType::Rep, None);
    let mut c = Session::new(cc, now).unwrap();
    let mut s = Session::new(cs, now).unwrap();
    // Greetings both ways; then the client's HELLO is waiting.
    let (ec, es) = swap_greetings(&mut c, &mut s, now, |_, _| {});
    assert!(ec.is_empty() && es.is_empty());
    let hello = c.transmit().take_all();
    (s, hello, config(SocketType::Rep))
}

#[test]
fn truncated_and_padded_handshake_commands_are_refused() {
    let now = Instant::now();
    let (s, hello, _) = hello_from_a_client();
    assert_eq!(
        hello.len(),
        2 + 200,
        "HELLO is 200 bytes in a short command frame"
    );
    assert_eq!(hello[0], 0x04);
    assert_eq!(&hello[2..8], b"\x05HELLO");
    assert_eq!(&hello[8..10], &[1, 0], "CurveZMQ 1.0");
    assert!(hello[10..82].iter().all(|&b| b == 0), "72 bytes of padding");
    assert_eq!(&hello[114..122], &1u64.to_be_bytes(), "HELLO's nonce is 1");
    drop(s);

    for cut in [3usize, 50, 150, 199] {
        let (mut s, hello, _) = hello_from_a_client();
        let body = &hello[2..2 + cut];
        s.handle_input(Bytes::from(command_frame_raw(body)), now);
        let events = drain(&mut s);
        assert!(
            matches!(
                events.as_slice(),
                [Event::Closed(Error::MalformedCommand {
                    command: "HELLO",
                    ..
                })] | [Event::Closed(Error::MalformedCommandFrame(_))]
            ),
            "{cut}: {events:?}"
        );
    }
    let (mut s, hello, _) = hello_from_a_client();
    let mut long = hello[2..].to_vec();
    long.push(0);
    s.handle_input(Bytes::from(command_frame_raw(&long)), now);
    assert!(matches!(
        drain(&mut s).as_slice(),
        [Event::Closed(Error::MalformedCommand {
            command: "HELLO",
            ..
        })]
    ));
    // A flipped bit in the signature box.
    let (mut s, hello, _) = hello_from_a_client();
    let mut bad = hello.to_vec();
    bad[150] ^= 0x10;
    s.handle_input(Bytes::from(bad), now);
    assert_eq!(
        drain(&mut s),
        vec![Event::Closed(Error::CurveBoxRejected { command: "HELLO" })]
    );
}

/// A command frame around an already-encoded command body.
fn command_frame_raw(body: &[u8]) -> Vec<u8> {
    let mut v = if body.len() > 255 {
        let mut v = vec![0x06];
        v.extend_from_slice(&(body.len() as u64).to_be_bytes());
        v
    } else {
        vec![0x04, body.len() as u8]
    };
    v.extend_from_slice(body);
    v
}

#[test]
fn every_prefix_of_a_handshake_is_handled_byte_by_byte() {
    // The sans-IO session must accept the whole CURVE exchange one byte at a
    // time, in both directions.
    let now = Instant::now();
    let (cc, cs, _, _) = curve(SocketType::Dealer, SocketType::Router, None);
    let mut c = Session::new(cc, now).unwrap();
    let mut s = Session::new(cs, now).unwrap();
    let (mut ec, mut es) = (Vec::new(), Vec::new());
    for _ in 0..8 {
        let out = c.transmit().take_all();
        for i in 0..out.len() {
            s.handle_input(out.slice(i..i + 1), now);
            es.extend(drain(&mut s));
        }
        let out = s.transmit().take_all();
        for i in 0..out.len() {
            c.handle_input(out.slice(i..i + 1), now);
            ec.extend(drain(&mut c));
        }
    }
    assert!(
        matches!(ec.as_slice(), [Event::HandshakeSucceeded(_)]),
        "{ec:?}"
    );
    assert!(
        matches!(es.as_slice(), [Event::HandshakeSucceeded(_)]),
        "{es:?}"
    );
}

#[test]
fn a_zmtp_3_0_peer_gets_subscriptions_as_messages_inside_the_box() {
    // The publisher's greeting is rewritten to say ZMTP 3.0 (minor 0): the
    // subscriber must then box `0x01 topic` as a message (flags 0), as
    // libzmq does for a 3.0 peer under CURVE, and the publisher read it as a
    // subscription.
    let now = Instant::now();
    let (cc, cs, _, _) = curve(SocketType::Sub, SocketType::Pub, None);
    let mut sub = Session::new(cc, now).unwrap();
    let mut publisher = Session::new(cs, now).unwrap();
    let (mut es, mut ep) = swap_greetings(&mut sub, &mut publisher, now, |at, byte| {
        if at == 11 {
            assert_eq!(*byte, 1);
            *byte = 0;
        }
    });
    let (more_es, more_ep) = exchange(&mut sub, &mut publisher, now);
    es.extend(more_es);
    ep.extend(more_ep);
    let [Event::HandshakeSucceeded(peer)] = es.as_slice() else {
        panic!("{es:?}")
    };
    assert_eq!(peer.version, monocoque_zmtp::ProtocolVersion::V3_0);
    assert!(
        matches!(ep.as_slice(), [Event::HandshakeSucceeded(_)]),
        "{ep:?}"
    );
    sub.subscribe(b"md.").unwrap();
    let (_, ep) = exchange(&mut sub, &mut publisher, now);
    assert_eq!(ep, vec![Event::Subscribe(Bytes::from_static(b"md."))]);
}

#[test]
fn message_limits_hold_for_the_parts_inside_the_boxes() {
    // Each part travels as its own single-frame MESSAGE: MAXMSGSIZE and
    // MAXMSGFRAMES must count the unboxed parts, or a peer could pass them
    // by encrypting.
    let now = Instant::now();
    for (size_limit, frames_limit, parts, expected) in [
        (
            Some(1000),
            None,
            vec![400usize, 400, 400],
            Error::MessageTooLarge {
                size: 1200,
                limit: 1000,
            },
        ),
        (
            None,
            Some(2),
            vec![1, 1, 1],
            Error::TooManyFrames { limit: 2 },
        ),
    ] {
        let (cc, mut cs, _, _) = curve(SocketType::Push, SocketType::Pull, None);
        cs.max_message_size = size_limit;
        cs.max_message_frames = frames_limit;
        let (mut c, mut s) = connected(cc, cs, now);
        let m = Msg::from(
            parts
                .iter()
                .map(|&n| Bytes::from(vec![7u8; n]))
                .collect::<Vec<_>>(),
        );
        c.send(&m).unwrap();
        let (_, es) = exchange(&mut c, &mut s, now);
        assert_eq!(es, vec![Event::Closed(expected)]);
    }
    // Within the limits, the same message passes.
    let (cc, mut cs, _, _) = curve(SocketType::Push, SocketType::Pull, None);
    cs.max_message_size = Some(1200);
    cs.max_message_frames = Some(3);
    let (mut c, mut s) = connected(cc, cs, now);
    let m = Msg::from(vec![Bytes::from(vec![7u8; 400]); 3]);
    c.send(&m).unwrap();
    let (_, es) = exchange(&mut c, &mut s, now);
    assert_eq!(es, vec![Event::Message(m)]);
}
