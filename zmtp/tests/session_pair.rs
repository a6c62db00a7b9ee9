//! Two sessions wired together in memory: handshakes, messages, heartbeats,
//! timeouts, subscriptions, and the ZMTP 3.0 downgrade.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use monocoque_zmtp::frame::Frame;
use monocoque_zmtp::mechanism::{HandshakeStatus, LocalProperties, Mechanism, MessageCodec};
use monocoque_zmtp::{
    AuthDecision, Authenticator, Credentials, Error, Event, MechanismConfig, Msg, ProtocolVersion,
    Session, SessionConfig, SessionState, SocketType, TransmitQueue,
};

const MS: Duration = Duration::from_millis(1);

#[test]
fn null_handshake_then_messages_both_ways() {
    let now = Instant::now();
    let mut ca = config(SocketType::Dealer);
    ca.identity = Bytes::from_static(b"dealer-7");
    ca.properties
        .push(("X-Region".into(), Bytes::from_static(b"eu")));
    let mut a = Session::new(ca, now).unwrap();
    let mut b = Session::new(config(SocketType::Router), now).unwrap();
    assert_eq!(a.state(), SessionState::Greeting);
    assert_eq!(a.send(&Msg::from("early")), Err(Error::HandshakeIncomplete));
    let (ea, eb) = exchange(&mut a, &mut b, now);
    let [Event::HandshakeSucceeded(pa)] = ea.as_slice() else {
        panic!("{ea:?}")
    };
    let [Event::HandshakeSucceeded(pb)] = eb.as_slice() else {
        panic!("{eb:?}")
    };
    assert_eq!(pa.socket_type, Some(SocketType::Router));
    assert_eq!(pa.version, ProtocolVersion::V3_1);
    assert_eq!(pb.socket_type, Some(SocketType::Dealer));
    assert_eq!(&pb.identity[..], b"dealer-7");
    assert_eq!(pb.metadata.get("x-region").unwrap(), "eu");
    assert_eq!(a.state(), SessionState::Active);

    let m = Msg::from(vec![
        Bytes::new(),
        Bytes::from_static(b"x"),
        Bytes::from(vec![9u8; 70_000]),
    ]);
    a.send(&m).unwrap();
    b.send(&Msg::from("back")).unwrap();
    let (ea, eb) = exchange(&mut a, &mut b, now);
    assert_eq!(eb, vec![Event::Message(m)]);
    assert_eq!(ea, vec![Event::Message(Msg::from("back"))]);
    assert_eq!(a.send(&Msg::new()), Err(Error::EmptyMessage));
}

#[test]
fn incompatible_socket_types_close_both() {
    let now = Instant::now();
    let mut a = Session::new(config(SocketType::Push), now).unwrap();
    let mut b = Session::new(config(SocketType::Push), now).unwrap();
    let (ea, eb) = exchange(&mut a, &mut b, now);
    let expected = Error::IncompatibleSocketType {
        ours: SocketType::Push,
        theirs: SocketType::Push,
    };
    assert_eq!(ea, vec![Event::Closed(expected.clone())]);
    assert_eq!(eb, vec![Event::Closed(expected)]);
    assert!(a.is_closed() && b.is_closed());
    assert_eq!(a.send(&Msg::from("x")), Err(Error::SessionClosed));
}

#[test]
fn every_valid_pair_handshakes() {
    let now = Instant::now();
    for x in SocketType::ALL {
        for y in SocketType::ALL {
            let mut a = Session::new(config(x), now).unwrap();
            let mut b = Session::new(config(y), now).unwrap();
            let (ea, _) = exchange(&mut a, &mut b, now);
            let ok = matches!(ea.as_slice(), [Event::HandshakeSucceeded(_)]);
            assert_eq!(ok, x.is_compatible_with(y), "{x}-{y}: {ea:?}");
        }
    }
}

struct Users;
impl Authenticator for Users {
    fn authenticate(&self, c: &Credentials<'_>) -> AuthDecision {
        match c {
            Credentials::Plain {
                username: b"admin",
                password: b"password",
            } => AuthDecision::accept(Some(Bytes::from_static(b"admin-id"))),
            _ => AuthDecision::Deny {
                reason: "400 bad credentials".into(),
            },
        }
    }
}

fn plain(password: &'static str) -> (SessionConfig, SessionConfig) {
    let mut client = config(SocketType::Req);
    client.mechanism = MechanismConfig::PlainClient {
        username: Bytes::from_static(b"admin"),
        password: Bytes::from_static(password.as_bytes()),
    };
    let mut server = config(SocketType::Rep);
    server.mechanism = MechanismConfig::PlainServer {
        admission: monocoque_zmtp::Admission::Authenticator(Arc::new(Users)),
    };
    (client, server)
}

#[test]
fn plain_accepted() {
    let now = Instant::now();
    let (cc, cs) = plain("password");
    let (mut c, mut s) = connected(cc, cs, now);
    let peer = s.peer().unwrap();
    assert_eq!(peer.user_id.as_deref(), Some(&b"admin-id"[..]));
    assert_eq!(peer.metadata.get("User-Id").unwrap(), "admin-id");
    assert_eq!(c.peer().unwrap().socket_type, Some(SocketType::Rep));
    c.send(&Msg::from(["", "hello"])).unwrap();
    let (_, es) = exchange(&mut c, &mut s, now);
    assert_eq!(es, vec![Event::Message(Msg::from(["", "hello"]))]);
}

#[test]
fn plain_denied_sends_error_and_closes_both() {
    let now = Instant::now();
    let (cc, cs) = plain("wrong");
    let mut c = Session::new(cc, now).unwrap();
    let mut s = Session::new(cs, now).unwrap();
    let (ec, es) = exchange(&mut c, &mut s, now);
    assert_eq!(
        es,
        vec![Event::Closed(Error::AuthenticationDenied {
            reason: "400 bad credentials".into()
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
fn mechanism_mismatch() {
    let now = Instant::now();
    let (cc, _) = plain("password");
    let mut a = Session::new(cc, now).unwrap();
    let mut b = Session::new(config(SocketType::Rep), now).unwrap();
    let (ea, eb) = exchange(&mut a, &mut b, now);
    assert_eq!(
        ea,
        vec![Event::Closed(Error::MechanismMismatch {
            ours: "PLAIN",
            theirs: "NULL".into()
        })]
    );
    assert_eq!(
        eb,
        vec![Event::Closed(Error::MechanismMismatch {
            ours: "NULL",
            theirs: "PLAIN".into()
        })]
    );
}

#[test]
fn heartbeat_ping_pong_keeps_the_connection() {
    let t0 = Instant::now();
    let mut ca = config(SocketType::Dealer);
    ca.heartbeat_interval = Some(100 * MS);
    ca.heartbeat_timeout = Some(250 * MS);
    ca.heartbeat_ttl = Some(Duration::from_secs(1));
    let (mut a, mut b) = connected(ca, config(SocketType::Dealer), t0);
    assert_eq!(b.poll_timeout(), None, "heartbeats are off by default");
    let mut t = t0;
    for round in 1..=10 {
        t += 100 * MS;
        assert_eq!(a.poll_timeout(), Some(t));
        a.handle_timeout(t);
        assert_eq!(a.stats().pings_sent, round);
        exchange(&mut a, &mut b, t);
        assert_eq!(b.stats().pings_received, round);
        assert_eq!(a.stats().pongs_received, round);
    }
    assert_eq!(a.state(), SessionState::Active);
    // b armed the 1 s TTL from a's PING; the next PING (traffic) re-arms it.
    assert_eq!(b.poll_timeout(), Some(t + Duration::from_secs(1)));
}

#[test]
fn heartbeat_timeout_when_peer_goes_silent() {
    let t0 = Instant::now();
    let mut ca = config(SocketType::Dealer);
    ca.heartbeat_interval = Some(100 * MS);
    ca.heartbeat_timeout = Some(300 * MS);
    let (mut a, _b) = connected(ca, config(SocketType::Dealer), t0);
    a.handle_timeout(t0 + 100 * MS); // PING sent, timeout armed for 400 ms
    a.handle_timeout(t0 + 399 * MS);
    assert!(!a.is_closed());
    a.handle_timeout(t0 + 400 * MS);
    assert_eq!(
        drain(&mut a),
        vec![Event::Closed(Error::HeartbeatTimeout(300 * MS))]
    );
    assert_eq!(a.poll_timeout(), None);
}

#[test]
fn ttl_from_the_peers_ping() {
    let t0 = Instant::now();
    let mut ca = config(SocketType::Dealer);
    ca.heartbeat_interval = Some(100 * MS);
    ca.heartbeat_ttl = Some(500 * MS);
    let (mut a, mut b) = connected(ca, config(SocketType::Dealer), t0);
    a.handle_timeout(t0 + 100 * MS);
    pump(&mut a, &mut b, t0 + 100 * MS);
    assert_eq!(b.poll_timeout(), Some(t0 + 600 * MS));
    b.handle_timeout(t0 + 600 * MS);
    assert_eq!(
        drain(&mut b),
        vec![Event::Closed(Error::HeartbeatTtlExpired(500 * MS))]
    );
}

#[test]
fn handshake_timeout() {
    let t0 = Instant::now();
    let mut s = Session::new(config(SocketType::Rep), t0).unwrap();
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(30)));
    // A peer that sends half a greeting and stops.
    s.handle_input(bytes(&greeting(3, 1, "NULL")[..20]), t0);
    assert!(drain(&mut s).is_empty());
    s.handle_timeout(t0 + Duration::from_secs(30));
    assert_eq!(
        drain(&mut s),
        vec![Event::Closed(Error::HandshakeTimeout(Duration::from_secs(
            30
        )))]
    );

    let mut c = config(SocketType::Rep);
    c.handshake_timeout = None;
    let s = Session::new(c, t0).unwrap();
    assert_eq!(s.poll_timeout(), None);
}

/// A hand-written peer speaking ZMTP 3.0 (minor version 0).
fn v3_0_peer(ours: SocketType, theirs: SocketType) -> (Session, Instant) {
    let now = Instant::now();
    let mut s = Session::new(config(ours), now).unwrap();
    let mut wire = greeting(3, 0, "NULL");
    wire.extend(ready_frame(theirs));
    s.handle_input(bytes(&wire), now);
    let events = drain(&mut s);
    let [Event::HandshakeSucceeded(peer)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(peer.version, ProtocolVersion::V3_0);
    s.transmit().take_all();
    (s, now)
}

#[test]
fn zmtp_3_0_subscriptions_travel_as_messages() {
    let (mut sub, _) = v3_0_peer(SocketType::Sub, SocketType::Pub);
    sub.subscribe(b"A").unwrap();
    sub.cancel(b"A").unwrap();
    assert_eq!(
        sub.transmit().take_all().to_vec(),
        vec![0, 2, 1, b'A', 0, 2, 0, b'A']
    );

    let (mut publ, now) = v3_0_peer(SocketType::Pub, SocketType::Sub);
    publ.handle_input(bytes(&[0, 3, 1, b'A', b'B', 0, 2, 0, b'A']), now);
    assert_eq!(
        drain(&mut publ),
        vec![
            Event::Subscribe(Bytes::from_static(b"AB")),
            Event::Cancel(Bytes::from_static(b"A"))
        ]
    );
}

#[test]
fn zmtp_3_1_subscriptions_are_commands() {
    let now = Instant::now();
    let (mut sub, mut publ) = connected(config(SocketType::XSub), config(SocketType::XPub), now);
    sub.subscribe(b"A").unwrap();
    sub.subscribe(b"").unwrap();
    sub.cancel(b"A").unwrap();
    let mut expected = command_frame("SUBSCRIBE", b"A");
    expected.extend(command_frame("SUBSCRIBE", b""));
    expected.extend(command_frame("CANCEL", b"A"));
    let wire = sub.transmit().take_all();
    assert_eq!(wire.to_vec(), expected);
    publ.handle_input(wire, now);
    // Messages with a 0x01 prefix are subscriptions too (XSUB users send those).
    publ.handle_input(bytes(&[0, 2, 1, b'Z']), now);
    assert_eq!(
        drain(&mut publ),
        vec![
            Event::Subscribe(Bytes::from_static(b"A")),
            Event::Subscribe(Bytes::new()),
            Event::Cancel(Bytes::from_static(b"A")),
            Event::Subscribe(Bytes::from_static(b"Z")),
        ]
    );
    let (mut dealer, _) = connected(config(SocketType::Dealer), config(SocketType::Dealer), now);
    assert!(matches!(
        dealer.subscribe(b"A"),
        Err(Error::NotSupportedBySocketType { .. })
    ));
}

#[test]
fn unknown_commands_ignored_after_handshake_refused_during() {
    let now = Instant::now();
    let (_, mut b) = connected(config(SocketType::Pair), config(SocketType::Pair), now);
    b.handle_input(bytes(&command_frame("JOIN", b"group")), now);
    b.handle_input(bytes(&[0, 1, b'x']), now);
    assert_eq!(drain(&mut b), vec![Event::Message(Msg::from("x"))]);

    let mut s = Session::new(config(SocketType::Pair), now).unwrap();
    let mut wire = greeting(3, 1, "NULL");
    wire.extend(command_frame("JOIN", b"group"));
    s.handle_input(bytes(&wire), now);
    assert_eq!(
        drain(&mut s),
        vec![Event::Closed(Error::UnexpectedCommand {
            command: "JOIN".into(),
            expected: "READY"
        })]
    );
}

#[test]
fn error_from_peer_closes_during_and_after_handshake() {
    let now = Instant::now();
    let mut s = Session::new(config(SocketType::Pair), now).unwrap();
    let mut wire = greeting(3, 1, "NULL");
    wire.extend(command_frame("ERROR", b"\x04nope"));
    s.handle_input(bytes(&wire), now);
    assert_eq!(
        drain(&mut s),
        vec![Event::Closed(Error::PeerError {
            reason: "nope".into()
        })]
    );
}

/// A toy mechanism whose codec XORs every message byte, proving the session
/// routes every frame after the handshake through a mechanism's codec.
#[derive(Debug)]
struct XorMechanism;
#[derive(Debug)]
struct XorCodec;

impl MessageCodec for XorCodec {
    fn encode(
        &mut self,
        more: bool,
        command: bool,
        body: &[u8],
        out: &mut TransmitQueue,
    ) -> monocoque_zmtp::Result<()> {
        let x: Vec<u8> = body.iter().map(|b| b ^ 0x55).collect();
        out.push_frame(more, command, &Bytes::from(x));
        Ok(())
    }
    fn decode(&mut self, mut frame: Frame) -> monocoque_zmtp::Result<Frame> {
        frame.body = frame
            .body
            .iter()
            .map(|b| b ^ 0x55)
            .collect::<Vec<u8>>()
            .into();
        Ok(frame)
    }
}

impl Mechanism for XorMechanism {
    fn name(&self) -> &'static str {
        "X-XOR"
    }
    fn as_server(&self) -> bool {
        false
    }
    fn start(
        &mut self,
        local: &LocalProperties,
        out: &mut TransmitQueue,
    ) -> monocoque_zmtp::Result<HandshakeStatus> {
        monocoque_zmtp::command::Ready {
            metadata: local.metadata.clone(),
        }
        .encode(out);
        Ok(HandshakeStatus::InProgress)
    }
    fn on_command(
        &mut self,
        local: &LocalProperties,
        _name: Bytes,
        data: Bytes,
        _out: &mut TransmitQueue,
    ) -> monocoque_zmtp::Result<HandshakeStatus> {
        let md = monocoque_zmtp::Metadata::parse(&data)?;
        Ok(HandshakeStatus::Complete {
            peer: monocoque_zmtp::check_peer_metadata(local.socket_type, md)?,
            codec: Some(Box::new(XorCodec)),
        })
    }
    fn expecting(&self) -> &'static str {
        "READY"
    }
}

#[test]
fn mechanism_codec_transforms_message_frames() {
    let now = Instant::now();
    let mut a =
        Session::with_mechanism(config(SocketType::Pair), Box::new(XorMechanism), now).unwrap();
    let mut b =
        Session::with_mechanism(config(SocketType::Pair), Box::new(XorMechanism), now).unwrap();
    exchange(&mut a, &mut b, now);
    a.send(&Msg::from("abc")).unwrap();
    let wire = a.transmit().take_all();
    assert_eq!(
        wire.to_vec(),
        vec![0, 3, b'a' ^ 0x55, b'b' ^ 0x55, b'c' ^ 0x55]
    );
    b.handle_input(wire, now);
    assert_eq!(drain(&mut b), vec![Event::Message(Msg::from("abc"))]);
}

#[test]
fn a_plain_refusal_is_written_as_libzmq_4_3_writes_it() {
    // libzmq's PLAIN names ERROR with the C literal "\x05ERROR", read by C
    // as 0x5E "RROR"; its PLAIN client looks for exactly that. Our PLAIN
    // server writes it so, and every session reads both forms.
    let now = Instant::now();
    let (cc, cs) = plain("wrong");
    let mut c = Session::new(cc, now).unwrap();
    let mut s = Session::new(cs, now).unwrap();
    swap_greetings(&mut c, &mut s, now, |_, _| {});
    s.handle_input(c.transmit().take_all(), now);
    drain(&mut s);
    let refusal = s.transmit().take_all();
    assert_eq!(&refusal[..], b"\x04\x09\x5eRROR\x03400");
    c.handle_input(refusal, now);
    assert_eq!(
        drain(&mut c),
        vec![Event::Closed(Error::PeerError {
            reason: "400".into()
        })]
    );
    // The RFC's form is read too.
    let (cc, _) = plain("x");
    let mut c = Session::new(cc, now).unwrap();
    let mut wire = greeting(3, 1, "PLAIN");
    wire.extend(command_frame("ERROR", b"\x03400"));
    c.handle_input(bytes(&wire), now);
    assert_eq!(
        drain(&mut c),
        vec![Event::Closed(Error::PeerError {
            reason: "400".into()
        })]
    );
}

/// What a receiver gets when it asks `poll_message` first and `poll_event`
/// when that says no (the engine's way), as against `poll_event` alone.
fn drain_messages_first(s: &mut Session) -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        if let Some(msg) = s.poll_message() {
            events.push(Event::Message(msg));
        } else if let Some(event) = s.poll_event() {
            events.push(event);
        } else {
            return events;
        }
    }
}

#[test]
fn poll_message_first_gives_what_poll_event_alone_gives() {
    let now = Instant::now();
    // The same bytes to two receivers in the same state: single-frame and
    // multipart messages, a PING between them, one frame split across two
    // inputs, then a command whose name runs past its end (a protocol
    // error).
    for (sender, receiver) in [
        (SocketType::Dealer, SocketType::Dealer),
        // A publisher reads subscriptions from messages: never this way.
        (SocketType::XSub, SocketType::XPub),
    ] {
        let (mut a, mut b1) = connected(config(sender), config(receiver), now);
        let (_, mut b2) = connected(config(sender), config(receiver), now);
        for m in [
            Msg::from("one"),
            Msg::from(vec![
                Bytes::from_static(b"two"),
                Bytes::from_static(b"parts"),
            ]),
            Msg::from(Bytes::from_static(b"\x01topic")),
        ] {
            a.send(&m).unwrap();
        }
        let mut wire = a.transmit().take_all().to_vec();
        wire.extend_from_slice(&command_frame("PING", &[0, 10, b'c']));
        a.send(&Msg::from(vec![7u8; 300])).unwrap();
        a.send(&Msg::from("last")).unwrap();
        wire.extend_from_slice(&a.transmit().take_all());
        wire.extend_from_slice(&[0x04, 2, 9, b'P']);
        let cut = wire.len() - 12;
        let (mut one, mut other) = (Vec::new(), Vec::new());
        for (i, input) in [&wire[..cut], &wire[cut..]].into_iter().enumerate() {
            b1.handle_input(Bytes::copy_from_slice(input), now);
            b2.handle_input(Bytes::copy_from_slice(input), now);
            one.extend(drain(&mut b1));
            other.extend(drain_messages_first(&mut b2));
            assert_eq!(one, other, "{receiver:?}, after input {i}");
        }
        assert_eq!(one.len(), 6, "{one:?}");
        assert!(matches!(one.last(), Some(Event::Closed(_))), "{one:?}");
        assert!(b2.poll_message().is_none() && b2.is_closed());
        assert_eq!(b1.stats(), b2.stats(), "{receiver:?}: the same counts");
    }
}
