//! The whole ZMTP 3.1 handshake between two in-memory sessions: greeting,
//! mechanism (NULL, or PLAIN with an authenticator) and READY both ways, until
//! each side reports `HandshakeSucceeded`. This is the per-connection cost a
//! reconnect storm pays before the first message, without the sockets.
//!
//! `cargo bench -p monocoque-zmtp --bench session_handshake`

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use monocoque_zmtp::{
    AuthDecision, Authenticator, Credentials, Event, MechanismConfig, Session, SessionConfig,
    SocketType,
};

struct OneUser;

impl Authenticator for OneUser {
    fn authenticate(&self, c: &Credentials<'_>) -> AuthDecision {
        match c {
            Credentials::Plain {
                username: b"bench",
                password: b"secret",
            } => AuthDecision::accept(None),
            _ => AuthDecision::Deny {
                reason: "400 unknown user".into(),
            },
        }
    }
}

/// Runs the two sessions against each other until both have succeeded;
/// returns the number of exchanges it took (so the work cannot be skipped).
fn handshake(client: SessionConfig, server: SessionConfig, now: Instant) -> usize {
    let mut a = Session::new(client, now).expect("valid client config");
    let mut b = Session::new(server, now).expect("valid server config");
    let (mut a_ok, mut b_ok) = (false, false);
    let mut rounds = 0;
    while !(a_ok && b_ok) {
        rounds += 1;
        assert!(rounds < 16, "handshake did not finish");
        let (x, y) = (a.transmit().take_all(), b.transmit().take_all());
        b.handle_input(x, now);
        a.handle_input(y, now);
        while let Some(e) = a.poll_event() {
            a_ok |= matches!(e, Event::HandshakeSucceeded(_));
            black_box(e);
        }
        while let Some(e) = b.poll_event() {
            b_ok |= matches!(e, Event::HandshakeSucceeded(_));
            black_box(e);
        }
    }
    rounds
}

fn null_and_plain(c: &mut Criterion) {
    let now = Instant::now();
    let mut g = c.benchmark_group("handshake");
    g.bench_function("NULL DEALER-ROUTER", |bench| {
        bench.iter(|| {
            handshake(
                SessionConfig::new(SocketType::Dealer),
                SessionConfig::new(SocketType::Router),
                now,
            )
        })
    });
    let authenticator: Arc<dyn Authenticator> = Arc::new(OneUser);
    g.bench_function("PLAIN REQ-REP", |bench| {
        bench.iter(|| {
            let mut client = SessionConfig::new(SocketType::Req);
            client.mechanism = MechanismConfig::PlainClient {
                username: Bytes::from_static(b"bench"),
                password: Bytes::from_static(b"secret"),
            };
            let mut server = SessionConfig::new(SocketType::Rep);
            server.mechanism = MechanismConfig::PlainServer {
                admission: monocoque_zmtp::Admission::Authenticator(authenticator.clone()),
            };
            handshake(client, server, now)
        })
    });
    g.finish();
}

criterion_group!(benches, null_and_plain);
criterion_main!(benches);
