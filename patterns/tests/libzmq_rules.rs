//! Rules libzmq's own test suite holds us to (scripts/libzmq-tests), each
//! kept here as a Rust test of the blocking API so that `cargo test` guards
//! it too: a ROUTER answers for a routing id before the message is whole;
//! inproc joins sockets whatever their types; a connect waiting for its
//! inproc bind outlives its socket while it holds messages; a connecter that
//! stops reconnecting frees its socket's pipe.
//!
//! Every test body runs under `bounded`, which fails it after 30 s instead of
//! letting a lost wake-up hang CI.

mod common;

use std::time::Duration;

use common::Transport;
use monocoque_patterns::{BlockingSocket, Context, Error, SocketOption};
use monocoque_zmtp::SocketType;

fn bounded(body: impl FnOnce() + Send + 'static) {
    common::bounded_for(Duration::from_secs(30), body);
}

/// A socket that gives up a receive after 10 s.
fn socket(ctx: &Context, kind: SocketType) -> BlockingSocket {
    let s = ctx.socket(kind).unwrap();
    s.set_option(SocketOption::RcvTimeo(Some(Duration::from_secs(10))))
        .unwrap();
    s
}

fn text(s: &BlockingSocket) -> Vec<String> {
    s.recv()
        .unwrap()
        .frames()
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

#[test]
fn a_router_answers_for_a_routing_id_before_the_message_is_whole() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let router = socket(&ctx, SocketType::Router);
        let endpoint = Transport::Inproc.endpoint();
        router.bind(&endpoint).unwrap();
        assert!(
            router.check_route(b"X").is_ok(),
            "without ROUTER_MANDATORY any id is taken (and dropped)"
        );
        router
            .set_option(SocketOption::RouterMandatory(true))
            .unwrap();
        router.set_option(SocketOption::SndHwm(1)).unwrap();
        assert!(matches!(
            router.check_route(b"X"),
            Err(Error::HostUnreachable)
        ));

        let dealer = socket(&ctx, SocketType::Dealer);
        dealer
            .set_option(SocketOption::RoutingId("X".into()))
            .unwrap();
        dealer.set_option(SocketOption::RcvHwm(1)).unwrap();
        dealer.connect(&endpoint).unwrap();
        dealer.send("hello").unwrap();
        assert_eq!(text(&router), ["X", "hello"]);
        router.check_route(b"X").unwrap();

        // Fill X's pipe (SNDHWM 1 + RCVHWM 1 over inproc): then X is full.
        let mut sent = 0;
        while router.check_route(b"X").is_ok() {
            router.try_send(["X", "m"]).unwrap();
            sent += 1;
            assert!(sent <= 2, "a full pipe must be reported");
        }
        assert!(matches!(
            router.check_route(b"X"),
            Err(Error::WouldBlock(_))
        ));
        assert_eq!(text(&dealer), ["m"]);
        // Right after, the router's view of X's room may still be the one
        // its last sends left (as libzmq's application thread's, for up to
        // a millisecond in a run of sends: context/send_credit.rs); any
        // other call looks afresh.
        router.events().unwrap();
        router.check_route(b"X").unwrap();
        assert!(matches!(
            socket(&ctx, SocketType::Dealer).check_route(b"X"),
            Err(Error::NotSupported { .. })
        ));
    });
}

#[test]
fn inproc_joins_sockets_whatever_their_types() {
    bounded(|| {
        // libzmq checks socket types in the ZMTP handshake only; over
        // inproc a PAIR may feed a PULL (libzmq's test_inproc_connect).
        let ctx = Context::new().unwrap();
        let endpoint = Transport::Inproc.endpoint();
        let pull = socket(&ctx, SocketType::Pull);
        pull.bind(&endpoint).unwrap();
        let pair = socket(&ctx, SocketType::Pair);
        pair.connect(&endpoint).unwrap();
        pair.send("foobar").unwrap();
        assert_eq!(text(&pull), ["foobar"]);
    });
}

#[test]
fn a_connect_waiting_for_its_bind_outlives_its_socket_while_it_holds_messages() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let endpoint = Transport::Inproc.endpoint();
        let pair = socket(&ctx, SocketType::Pair);
        pair.connect(&endpoint).unwrap();
        pair.send("queued before the bind").unwrap();
        pair.close();
        // A closed connect with nothing queued is forgotten.
        let idle = socket(&ctx, SocketType::Push);
        idle.connect(&endpoint).unwrap();
        idle.close();

        let pull = socket(&ctx, SocketType::Pull);
        pull.bind(&endpoint).unwrap();
        assert_eq!(text(&pull), ["queued before the bind"]);
        assert!(matches!(pull.try_recv(), Err(Error::WouldBlock(_))));
    });
}

#[test]
fn a_closed_connect_with_linger_zero_leaves_nothing_for_the_bind() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let endpoint = Transport::Inproc.endpoint();
        let push = socket(&ctx, SocketType::Push);
        push.set_option(SocketOption::Linger(Some(Duration::ZERO)))
            .unwrap();
        push.connect(&endpoint).unwrap();
        push.send("dropped with the socket").unwrap();
        push.close();
        let pull = socket(&ctx, SocketType::Pull);
        pull.bind(&endpoint).unwrap();
        // A message from a live peer shows the bind is complete.
        let live = socket(&ctx, SocketType::Push);
        live.connect(&endpoint).unwrap();
        live.send("live").unwrap();
        assert_eq!(text(&pull), ["live"]);
        assert!(matches!(pull.try_recv(), Err(Error::WouldBlock(_))));
    });
}

#[test]
fn a_pair_that_stops_reconnecting_can_connect_again() {
    bounded(|| {
        // libzmq's test_reconnect_ivl: RECONNECT_IVL -1, the peer unbinds and
        // binds again; the old connecter has given up and its pipe is gone,
        // so a new connect is the PAIR's one peer.
        for t in [Transport::Tcp, Transport::Ipc] {
            let ctx = Context::new().unwrap();
            let bound = socket(&ctx, SocketType::Pair);
            bound.bind(&t.endpoint()).unwrap();
            let endpoint = bound.last_endpoint().unwrap().expect("bound");
            let connecting = socket(&ctx, SocketType::Pair);
            connecting
                .set_option(SocketOption::ReconnectIvl(None))
                .unwrap();
            connecting.connect(&endpoint).unwrap();
            connecting.send("one").unwrap();
            assert_eq!(text(&bound), ["one"]);

            bound.unbind(&endpoint).unwrap();
            while connecting.peer_count().unwrap() > 0 {
                std::thread::yield_now();
            }
            bound.bind(&endpoint).unwrap();
            connecting.connect(&endpoint).unwrap();
            connecting.send("two").unwrap();
            assert_eq!(text(&bound), ["two"], "{t:?}");
        }
    });
}

#[test]
fn what_went_to_an_inproc_peer_survives_a_linger_zero_close() {
    bounded(|| {
        // libzmq's test_proxy sends TERMINATE and closes its REQ with
        // LINGER 0 at once: the proxy still gets the command, since over
        // inproc a sent message is in the peer's queue already.
        let ctx = Context::new().unwrap();
        let endpoint = Transport::Inproc.endpoint();
        let rep = socket(&ctx, SocketType::Rep);
        rep.bind(&endpoint).unwrap();
        let req = socket(&ctx, SocketType::Req);
        req.set_option(SocketOption::Linger(Some(Duration::ZERO)))
            .unwrap();
        req.connect(&endpoint).unwrap();
        req.send("TERMINATE").unwrap();
        req.close();
        assert_eq!(text(&rep), ["TERMINATE"]);
    });
}
