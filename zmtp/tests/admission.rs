//! Deferred admission (how ZAP is served): the session reports the
//! credentials, waits, and goes on or refuses with ERROR on the decision.
//! NULL with an admission (libzmq's NULL with a ZAP domain) holds its READY.

mod common;

use std::time::Instant;

use bytes::Bytes;
use common::*;
use monocoque_zmtp::mechanism::CurveKeyPair;
use monocoque_zmtp::{
    Admission, AuthDecision, Error, Event, MechanismConfig, PresentedCredentials, Session,
    SessionConfig, SocketType,
};

fn accept(user: &'static str) -> AuthDecision {
    AuthDecision::accept(Some(Bytes::from_static(user.as_bytes())))
}

fn deny() -> AuthDecision {
    AuthDecision::Deny {
        reason: "400".into(),
    }
}

/// Runs the exchange until the server asks; returns both sessions and what
/// it was asked about.
fn until_asked(
    client: SessionConfig,
    server: SessionConfig,
) -> (Session, Session, PresentedCredentials) {
    let now = Instant::now();
    let mut c = Session::new(client, now).unwrap();
    let mut s = Session::new(server, now).unwrap();
    let (ec, es) = exchange(&mut c, &mut s, now);
    assert!(ec.is_empty(), "{ec:?}");
    let [Event::AuthenticationRequested(asked)] = es.as_slice() else {
        panic!("{es:?}")
    };
    (c, s, asked.clone())
}

fn plain() -> (SessionConfig, SessionConfig) {
    let mut client = config(SocketType::Req);
    client.mechanism = MechanismConfig::PlainClient {
        username: "admin".into(),
        password: "pw".into(),
    };
    let mut server = config(SocketType::Rep);
    server.mechanism = MechanismConfig::PlainServer {
        admission: Admission::Deferred,
    };
    (client, server)
}

fn curve() -> (SessionConfig, SessionConfig, CurveKeyPair) {
    let server_keys = CurveKeyPair::generate();
    let client_keys = CurveKeyPair::generate();
    let mut client = config(SocketType::Dealer);
    client.mechanism = MechanismConfig::CurveClient {
        server_key: server_keys.public,
        keys: client_keys.clone(),
    };
    let mut server = config(SocketType::Router);
    server.mechanism = MechanismConfig::CurveServer {
        keys: server_keys,
        admission: Admission::Deferred,
    };
    (client, server, client_keys)
}

#[test]
fn plain_waits_for_the_decision_then_welcomes() {
    let now = Instant::now();
    let (cc, cs) = plain();
    let (mut c, mut s, asked) = until_asked(cc, cs);
    assert_eq!(
        asked,
        PresentedCredentials::Plain {
            username: "admin".into(),
            password: "pw".into()
        }
    );
    assert!(
        !format!("{asked:?}").contains("pw"),
        "passwords do not print"
    );
    assert!(!s.wants_write(), "nothing goes out before the decision");
    s.admit(accept("admin-user"));
    let (ec, es) = exchange(&mut c, &mut s, now);
    assert!(
        matches!(ec.as_slice(), [Event::HandshakeSucceeded(_)]),
        "{ec:?}"
    );
    let [Event::HandshakeSucceeded(peer)] = es.as_slice() else {
        panic!("{es:?}")
    };
    assert_eq!(peer.user_id.as_deref(), Some(&b"admin-user"[..]));
    // A second answer is ignored.
    s.admit(deny());
    assert!(!s.is_closed());
}

#[test]
fn plain_refused_later_sends_error() {
    let now = Instant::now();
    let (cc, cs) = plain();
    let (mut c, mut s, _) = until_asked(cc, cs);
    s.admit(deny());
    let (ec, es) = exchange(&mut c, &mut s, now);
    assert_eq!(
        ec,
        vec![Event::Closed(Error::PeerError {
            reason: "400".into()
        })]
    );
    assert_eq!(
        es,
        vec![Event::Closed(Error::AuthenticationDenied {
            reason: "400".into()
        })]
    );
}

#[test]
fn a_temporary_refusal_sends_nothing_and_leaves_the_handshake_to_time_out() {
    // ZAP's 300, as libzmq's server takes it: no ERROR (which would end
    // a libzmq client's reconnecting), no progress; the handshake timer
    // ends the connection and the client retries.
    let now = Instant::now();
    let temporary = || AuthDecision::Deny {
        reason: "300".into(),
    };
    let (pc, ps) = plain();
    let (cc, cs, _) = curve();
    for (client, server) in [(pc, ps), (cc, cs)] {
        let (mut c, mut s, _) = until_asked(client, server);
        s.admit(temporary());
        let (ec, es) = exchange(&mut c, &mut s, now);
        assert!(ec.is_empty() && es.is_empty(), "{ec:?} {es:?}");
        assert!(!s.is_closed() && !c.is_closed());
        s.handle_timeout(now + std::time::Duration::from_secs(3600));
        assert!(s.is_closed(), "the handshake timeout ends it");
    }
}

#[test]
fn curve_reports_the_client_key_and_waits() {
    let now = Instant::now();
    let (cc, cs, client_keys) = curve();
    let (mut c, mut s, asked) = until_asked(cc, cs);
    assert_eq!(asked, PresentedCredentials::Curve(client_keys.public));
    s.admit(accept("k"));
    let (ec, es) = exchange(&mut c, &mut s, now);
    assert!(
        matches!(ec.as_slice(), [Event::HandshakeSucceeded(_)]),
        "{ec:?}"
    );
    assert!(
        matches!(es.as_slice(), [Event::HandshakeSucceeded(p)] if p.user_id.as_deref() == Some(&b"k"[..]))
    );

    let (cc, cs, _) = curve();
    let (mut c, mut s, _) = until_asked(cc, cs);
    s.admit(deny());
    let (ec, _) = exchange(&mut c, &mut s, now);
    assert_eq!(
        ec,
        vec![Event::Closed(Error::PeerError {
            reason: "400".into()
        })]
    );
}

#[test]
fn null_with_an_admission_holds_its_ready() {
    let now = Instant::now();
    let mut server = config(SocketType::Rep);
    server.mechanism = MechanismConfig::NullWithAdmission {
        admission: Admission::Deferred,
    };
    // The client's READY arrives before the decision and is kept.
    let (mut c, mut s, asked) = until_asked(config(SocketType::Req), server.clone());
    assert_eq!(asked, PresentedCredentials::Null);
    s.admit(accept("nobody"));
    let (ec, es) = exchange(&mut c, &mut s, now);
    assert!(
        matches!(ec.as_slice(), [Event::HandshakeSucceeded(_)]),
        "{ec:?}"
    );
    assert!(
        matches!(es.as_slice(), [Event::HandshakeSucceeded(p)] if p.user_id.as_deref() == Some(&b"nobody"[..]))
    );

    let (mut c, mut s, _) = until_asked(config(SocketType::Req), server);
    s.admit(deny());
    let (ec, _) = exchange(&mut c, &mut s, now);
    assert_eq!(
        ec,
        vec![Event::Closed(Error::PeerError {
            reason: "400".into()
        })]
    );

    // Everyone: plain NULL.
    let mut server = config(SocketType::Rep);
    server.mechanism = MechanismConfig::NullWithAdmission {
        admission: Admission::Everyone,
    };
    connected(config(SocketType::Req), server, now);
}
