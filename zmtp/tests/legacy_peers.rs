//! ZMTP 1.0 and 2.0 peers, byte for byte: the staged greeting, the identity
//! exchange, both framings, subscriptions and libzmq's refusals.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use monocoque_zmtp::mechanism::{Admission, MechanismConfig};
use monocoque_zmtp::{
    Error, Event, Msg, PeerInfo, ProtocolVersion, Session, SessionConfig, SocketType,
};

const SIGNATURE_EMPTY_ID: [u8; 10] = [0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F];

fn session(c: SessionConfig) -> Session {
    Session::new(c, Instant::now()).unwrap()
}

fn feed(s: &mut Session, wire: &[u8]) -> Vec<Event> {
    s.handle_input(Bytes::copy_from_slice(wire), Instant::now());
    drain(s)
}

fn sent(s: &mut Session) -> Vec<u8> {
    s.transmit().take_all().to_vec()
}

fn handshake(events: &[Event]) -> &PeerInfo {
    match events.first() {
        Some(Event::HandshakeSucceeded(p)) => p,
        other => panic!("expected the handshake to succeed, got {other:?} in {events:?}"),
    }
}

/// A ZMTP 2.0 (revision 1) or versioned 1.0 (revision 0) greeting.
fn legacy_greeting(revision: u8, t: SocketType) -> Vec<u8> {
    let mut g = SIGNATURE_EMPTY_ID.to_vec();
    g.extend_from_slice(&[revision, t.zmq_number()]);
    g
}

#[test]
fn our_greeting_goes_out_in_libzmqs_stages() {
    let mut c = config(SocketType::Dealer);
    c.identity = Bytes::from_static(b"abc");
    let mut s = session(c);
    // The signature only, its length field our identity's length + 1.
    assert_eq!(sent(&mut s), [0xFF, 0, 0, 0, 0, 0, 0, 0, 4, 0x7F]);
    // The peer's signature releases our revision byte, its revision the rest.
    let peer = greeting(3, 1, "NULL");
    feed(&mut s, &peer[..10]);
    assert_eq!(sent(&mut s), [3]);
    feed(&mut s, &peer[10..11]);
    let rest = sent(&mut s);
    assert_eq!(rest.len(), 53);
    assert_eq!(&rest[..5], &[1, b'N', b'U', b'L', b'L']);
    // Nothing more until the peer's greeting is whole; then READY.
    feed(&mut s, &peer[11..63]);
    assert!(sent(&mut s).is_empty());
    feed(&mut s, &peer[63..]);
    let ready = sent(&mut s);
    assert_eq!((ready[0], &ready[2..8]), (0x04, &b"\x05READY"[..]));
}

#[test]
fn zmtp2_peer_identity_exchange_and_framing() {
    let mut c = config(SocketType::Router);
    c.identity = Bytes::from_static(b"rt");
    let mut s = session(c);
    sent(&mut s);
    let mut wire = legacy_greeting(1, SocketType::Req);
    wire.extend_from_slice(&[0x00, 2, b'j', b'q']); // its identity
    wire.extend_from_slice(&[0x01, 0, 0x00, 5, b'h', b'e', b'l', b'l', b'o']);
    let events = feed(&mut s, &wire);
    let peer = handshake(&events);
    assert_eq!(peer.version, ProtocolVersion::V2_0);
    assert_eq!(peer.socket_type, Some(SocketType::Req));
    assert_eq!(&peer.identity[..], b"jq");
    assert!(peer.metadata.is_empty());
    assert_eq!(
        events[1],
        Event::Message(Msg::from(vec![Bytes::new(), Bytes::from("hello")]))
    );
    // Revision, our type (ROUTER is 6), then our identity as a 2.0 frame.
    assert_eq!(sent(&mut s), [3, 6, 0x00, 2, b'r', b't']);
    s.send(&Msg::from(vec![Bytes::new(), Bytes::from("ok")]))
        .unwrap();
    assert_eq!(sent(&mut s), [0x01, 0, 0x00, 2, b'o', b'k']);
    // A frame with the command bit is not a command to a 2.0 peer: ignored.
    let events = feed(&mut s, &[0x04, 5, 4, b'P', b'I', b'N', b'G']);
    assert!(events.is_empty(), "{events:?}");
    assert!(sent(&mut s).is_empty());
}

#[test]
fn zmtp2_subscriptions_are_messages_both_ways() {
    let mut sub = session(config(SocketType::Sub));
    sent(&mut sub);
    let mut wire = legacy_greeting(1, SocketType::Pub);
    wire.extend_from_slice(&[0x00, 0]);
    handshake(&feed(&mut sub, &wire));
    sent(&mut sub);
    sub.subscribe(b"t").unwrap();
    assert_eq!(sent(&mut sub), [0x00, 2, 1, b't']);

    let mut publisher = session(config(SocketType::XPub));
    sent(&mut publisher);
    let mut wire = legacy_greeting(1, SocketType::Sub);
    wire.extend_from_slice(&[0x00, 0, 0x00, 2, 1, b'a', 0x00, 2, 0, b'a']);
    let events = feed(&mut publisher, &wire);
    handshake(&events);
    assert_eq!(events[1], Event::Subscribe(Bytes::from("a")));
    assert_eq!(events[2], Event::Cancel(Bytes::from("a")));
}

#[test]
fn versioned_zmtp1_peer_uses_zmtp1_framing() {
    let mut s = session(config(SocketType::Pull));
    sent(&mut s);
    let mut wire = legacy_greeting(0, SocketType::Push);
    wire.extend_from_slice(&[1, 0x00]); // empty identity: length 1 (the flags)
    wire.extend_from_slice(&[3, 0x01, b'a', b'b', 2, 0x00, b'c']);
    let events = feed(&mut s, &wire);
    let peer = handshake(&events);
    assert_eq!(peer.version, ProtocolVersion::V1_0);
    assert_eq!(peer.socket_type, Some(SocketType::Push));
    assert_eq!(
        events[1],
        Event::Message(Msg::from(vec![Bytes::from("ab"), Bytes::from("c")]))
    );
    // Revision, PULL (7), our empty identity as a 1.0 frame.
    assert_eq!(sent(&mut s), [3, 7, 1, 0x00]);
}

#[test]
fn zmtp1_long_frames_out() {
    let mut s = session(config(SocketType::Push));
    sent(&mut s);
    let mut wire = legacy_greeting(0, SocketType::Pull);
    wire.extend_from_slice(&[1, 0x00]);
    handshake(&feed(&mut s, &wire));
    sent(&mut s);
    s.send(&Msg::from(vec![9u8; 300])).unwrap();
    let out = sent(&mut s);
    assert_eq!(&out[..10], &[0xFF, 0, 0, 0, 0, 0, 0, 1, 0x2D, 0x00]);
    assert_eq!(out.len(), 310);
}

#[test]
fn unversioned_subscriber_gets_everything() {
    // A libzmq 2.x SUB: no greeting, its identity frame first.
    let mut s = session(config(SocketType::Pub));
    let events = feed(&mut s, &[1, 0x00]);
    let peer = handshake(&events);
    assert_eq!(peer.version, ProtocolVersion::V1_0);
    assert_eq!(peer.socket_type, None, "an unversioned peer names no type");
    assert_eq!(events[1], Event::Subscribe(Bytes::new()));
    // Our signature was our identity frame's header: nothing else went out.
    assert_eq!(sent(&mut s), SIGNATURE_EMPTY_ID);
    s.send(&Msg::from("hi")).unwrap();
    assert_eq!(sent(&mut s), [3, 0x00, b'h', b'i']);
}

#[test]
fn unversioned_peer_with_a_long_identity_header() {
    let mut c = config(SocketType::Router);
    c.identity = Bytes::from_static(b"me");
    let mut s = session(c);
    let mut wire = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 3, 0x00, b'i', b'd'];
    wire.extend_from_slice(&[2, 0x00, b'x']);
    let events = feed(&mut s, &wire);
    let peer = handshake(&events);
    assert_eq!(&peer.identity[..], b"id");
    assert_eq!(events[1], Event::Message(Msg::from("x")));
    let mut expected = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 3, 0x7F];
    expected.extend_from_slice(b"me");
    assert_eq!(sent(&mut s), expected);
}

#[test]
fn text_is_not_a_zmtp1_peer() {
    let mut s = session(config(SocketType::Router));
    let events = feed(&mut s, b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(
        events.last(),
        Some(&Event::Closed(Error::NotZmtp { byte: b'G' }))
    );
}

#[test]
fn authenticating_sockets_refuse_legacy_peers() {
    let cases = [
        (
            MechanismConfig::PlainServer {
                admission: Admission::Everyone,
            },
            "PLAIN",
        ),
        (
            MechanismConfig::NullWithAdmission {
                admission: Admission::Deferred,
            },
            "ZAP",
        ),
    ];
    for (mechanism, name) in cases {
        for (wire, version) in [
            (
                legacy_greeting(1, SocketType::Dealer),
                ProtocolVersion::V2_0,
            ),
            (vec![1, 0x00], ProtocolVersion::V1_0),
        ] {
            let mut c = config(SocketType::Router);
            c.mechanism = mechanism.clone();
            let mut s = session(c);
            let events = feed(&mut s, &wire);
            assert_eq!(
                events,
                [Event::Closed(Error::LegacyPeerRefused {
                    version,
                    mechanism: name
                })]
            );
        }
    }
}

#[test]
fn legacy_peers_get_no_heartbeats_and_must_send_their_identity_in_time() {
    let now = Instant::now();
    let mut c = config(SocketType::Dealer);
    c.heartbeat_interval = Some(Duration::from_millis(10));
    c.handshake_timeout = Some(Duration::from_secs(1));
    let mut s = Session::new(c.clone(), now).unwrap();
    s.handle_input(Bytes::from(legacy_greeting(1, SocketType::Dealer)), now);
    assert!(drain(&mut s).is_empty());
    // Still waiting for the identity: the handshake deadline runs.
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(1)));
    s.handle_input(Bytes::from_static(&[0x00, 0]), now);
    handshake(&drain(&mut s));
    assert_eq!(
        s.poll_timeout(),
        None,
        "no PING for a peer without commands"
    );

    let mut s = Session::new(c, now).unwrap();
    s.handle_input(Bytes::from(legacy_greeting(1, SocketType::Dealer)), now);
    drain(&mut s);
    s.handle_timeout(now + Duration::from_secs(1));
    assert!(matches!(
        drain(&mut s).last(),
        Some(Event::Closed(Error::HandshakeTimeout(_)))
    ));
}

#[test]
fn legacy_identity_longer_than_255_refused() {
    let mut s = session(config(SocketType::Router));
    let mut wire = legacy_greeting(1, SocketType::Dealer);
    wire.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 0, 1, 0]);
    wire.extend_from_slice(&[b'x'; 256]);
    let events = feed(&mut s, &wire);
    assert_eq!(events, [Event::Closed(Error::IdentityTooLong(256))]);
}
