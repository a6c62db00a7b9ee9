//! Against JeroMQ 0.3.6 (Debian's libjeromq-java), a ZMTP 2.0 peer: every
//! socket type, both directions, either side binding. JeroMQ reads a 12-byte
//! greeting, so these pass only if ours goes out in libzmq's stages and we
//! speak 2.0's framing and identity exchange after it. The JeroMQ side is
//! `tests/peers/JeromqPeer.java`, compiled on first use; `.ci/run` installs
//! JeroMQ and the JDK.

mod common;

use bytes::Bytes;
use common::peer_process::PeerProcess;
use common::*;
use monocoque_patterns::{Socket, SocketOption};
use monocoque_zmtp::{Msg, SocketType};

const SIZES: [usize; 5] = [0, 1, 255, 256, 70_000];

fn sizes_arg() -> String {
    SIZES.map(|s| s.to_string()).join(",")
}

fn payload(size: usize) -> Bytes {
    Bytes::from((0..size).map(|i| (i % 251) as u8).collect::<Vec<_>>())
}

/// What our side does in an exchange.
#[derive(Clone, Copy, Debug)]
enum Role {
    /// REQ, DEALER (with an envelope) or PAIR: each size, expect it back, END.
    Request { envelope: bool },
    /// REP, ROUTER, DEALER or PAIR: echo until END.
    Echo,
    /// PUSH: each size, then END.
    Push,
    /// PULL: until END, sizes in order.
    Pull,
    /// XPUB: wait for the subscription to "t", then "t"+each size, "tEND".
    Publish,
    /// SUB or XSUB: subscribe to "t", receive until "tEND".
    Subscribe,
}

async fn play(s: &Socket, role: Role) -> Vec<Msg> {
    let mut received = Vec::new();
    match role {
        Role::Request { envelope } => {
            for size in SIZES.into_iter().map(Some).chain([None]) {
                let body = size.map_or(Bytes::from_static(b"END"), payload);
                let m = if envelope {
                    Msg::from(vec![Bytes::new(), body])
                } else {
                    Msg::from(body)
                };
                s.send(m.clone()).await.unwrap();
                assert_eq!(s.recv().await.unwrap(), m, "reply to {size:?}");
            }
        }
        Role::Echo => loop {
            let m = s.recv().await.unwrap();
            let end = m.frames().last().is_some_and(|f| &f[..] == b"END");
            received.push(m.clone());
            s.send(m).await.unwrap();
            if end {
                break;
            }
        },
        Role::Push => {
            for size in SIZES {
                s.send(Msg::from(payload(size))).await.unwrap();
            }
            s.send(Msg::from("END")).await.unwrap();
        }
        Role::Pull => {
            for size in SIZES {
                assert_eq!(s.recv().await.unwrap(), Msg::from(payload(size)));
            }
            assert_eq!(s.recv().await.unwrap(), Msg::from("END"));
        }
        Role::Publish => {
            assert_eq!(
                s.recv().await.unwrap(),
                Msg::from(Bytes::from_static(b"\x01t"))
            );
            for size in SIZES {
                let mut m = vec![b't'];
                m.extend_from_slice(&payload(size));
                s.send(Msg::from(m)).await.unwrap();
            }
            s.send(Msg::from("tEND")).await.unwrap();
        }
        Role::Subscribe => {
            for size in SIZES {
                let mut m = vec![b't'];
                m.extend_from_slice(&payload(size));
                assert_eq!(s.recv().await.unwrap(), Msg::from(m));
            }
            assert_eq!(s.recv().await.unwrap(), Msg::from("tEND"));
        }
    }
    received
}

fn options_for(ours: SocketType, role: Role) -> Vec<SocketOption> {
    match (ours, role) {
        (SocketType::Sub, _) => vec![sub("t")],
        (SocketType::Dealer | SocketType::Req, _) => {
            vec![SocketOption::RoutingId(Bytes::from_static(b"mono"))]
        }
        _ => Vec::new(),
    }
}

/// One exchange: our `ours` socket playing `role` against a JeroMQ socket
/// of type `theirs` in `mode`, with `we_bind` saying who binds. Returns
/// the JeroMQ peer's lines that start with "PEER " (its ROUTER's view of
/// our identity) and what our side received.
async fn exchange(
    ours: SocketType,
    role: Role,
    theirs: &str,
    mode: &str,
    extra: &[&str],
    we_bind: bool,
) -> (Option<String>, Vec<Msg>) {
    let s = socket(ours, options_for(ours, role));
    if ours == SocketType::XSub {
        s.send(Msg::from(Bytes::from_static(b"\x01t")))
            .await
            .unwrap();
    }
    let sizes = sizes_arg();
    let mut args = vec!["--type", theirs, "--mode", mode, "--sizes", &sizes];
    args.extend_from_slice(extra);
    let mut peer;
    if we_bind {
        let ep = bind(&s, Transport::Tcp);
        args.extend_from_slice(&["--connect", &ep]);
        peer = PeerProcess::jeromq(&args);
    } else {
        args.extend_from_slice(&["--bind", "tcp://127.0.0.1"]);
        peer = PeerProcess::jeromq(&args);
        let ep = peer.endpoint().await;
        s.connect(&ep).unwrap();
    }
    let received = play(&s, role).await;
    let peer_line = if theirs == "ROUTER" {
        Some(peer.expect("PEER ").await)
    } else {
        None
    };
    peer.finish().await;
    (peer_line, received)
}

fn both_binding_sides(
    ours: SocketType,
    role: Role,
    theirs: &'static str,
    mode: &'static str,
    extra: &'static [&'static str],
) -> Vec<(Option<String>, Vec<Msg>)> {
    let mut results = Vec::new();
    for we_bind in [true, false] {
        eprintln!("-- {ours} ({role:?}) with JeroMQ {theirs} ({mode}), we bind: {we_bind}");
        let mut out = None;
        run(|| async {
            out = Some(exchange(ours, role, theirs, mode, extra, we_bind).await);
        });
        results.push(out.unwrap());
    }
    results
}

#[test]
fn req_to_jeromq_rep_and_rep_to_jeromq_req() {
    both_binding_sides(
        SocketType::Req,
        Role::Request { envelope: false },
        "REP",
        "echo",
        &[],
    );
    both_binding_sides(SocketType::Rep, Role::Echo, "REQ", "request", &[]);
}

#[test]
fn identities_cross_both_ways_between_dealer_and_router() {
    // Our DEALER's routing id reaches JeroMQ's ROUTER in the identity message.
    for (peer_line, _) in both_binding_sides(
        SocketType::Dealer,
        Role::Request { envelope: false },
        "ROUTER",
        "echo",
        &[],
    ) {
        assert_eq!(peer_line.as_deref(), Some("mono"));
    }
    // JeroMQ's DEALER identity is the routing frame our ROUTER sees.
    for (_, received) in both_binding_sides(
        SocketType::Router,
        Role::Echo,
        "DEALER",
        "request",
        &["--identity", "jq"],
    ) {
        assert!(!received.is_empty());
        for m in received {
            assert_eq!(&m.frames()[0][..], b"jq");
        }
    }
    // Our ROUTER with JeroMQ's REQ; our REQ with JeroMQ's ROUTER.
    both_binding_sides(
        SocketType::Router,
        Role::Echo,
        "REQ",
        "request",
        &["--identity", "rq"],
    );
    for (peer_line, _) in both_binding_sides(
        SocketType::Req,
        Role::Request { envelope: false },
        "ROUTER",
        "echo",
        &[],
    ) {
        assert_eq!(peer_line.as_deref(), Some("mono"));
    }
}

#[test]
fn dealer_to_jeromq_rep_and_dealers_both_ways() {
    both_binding_sides(
        SocketType::Dealer,
        Role::Request { envelope: true },
        "REP",
        "echo",
        &[],
    );
    both_binding_sides(SocketType::Dealer, Role::Echo, "DEALER", "request", &[]);
}

#[test]
fn push_and_pull_both_ways() {
    both_binding_sides(SocketType::Push, Role::Push, "PULL", "pull", &[]);
    both_binding_sides(SocketType::Pull, Role::Pull, "PUSH", "push", &[]);
}

#[test]
fn publish_and_subscribe_both_ways() {
    // JeroMQ's SUB sends its subscription as a 0x01 message (ZMTP 2.0).
    both_binding_sides(SocketType::XPub, Role::Publish, "SUB", "subscribe", &[]);
    both_binding_sides(SocketType::XPub, Role::Publish, "XSUB", "subscribe", &[]);
    // Ours reach JeroMQ's XPUB the same way, from SUB and from XSUB.
    both_binding_sides(SocketType::Sub, Role::Subscribe, "XPUB", "publish", &[]);
    both_binding_sides(SocketType::XSub, Role::Subscribe, "XPUB", "publish", &[]);
}

/// A plain PUB to JeroMQ's SUB, both binding sides: the PUB publishes once
/// the subscription has arrived (ZMQ_TOPICS_COUNT says so).
#[test]
fn pub_to_jeromq_sub_both_ways() {
    for we_bind in [true, false] {
        run(|| async move {
            let publisher = socket(SocketType::Pub, vec![]);
            let sizes = sizes_arg();
            let mut args = vec!["--type", "SUB", "--mode", "subscribe", "--sizes", &sizes];
            let peer = if we_bind {
                let ep = bind(&publisher, Transport::Tcp);
                args.extend_from_slice(&["--connect", &ep]);
                PeerProcess::jeromq(&args)
            } else {
                args.extend_from_slice(&["--bind", "tcp://127.0.0.1"]);
                let mut peer = PeerProcess::jeromq(&args);
                publisher.connect(&peer.endpoint().await).unwrap();
                peer
            };
            until("JeroMQ's subscription", || publisher.topics_count() == 1).await;
            for size in SIZES {
                let mut m = vec![b't'];
                m.extend_from_slice(&payload(size));
                publisher.send(Msg::from(m)).await.unwrap();
            }
            publisher.send(Msg::from("tEND")).await.unwrap();
            assert_eq!(peer.finish().await, format!("OK {}", SIZES.len()));
        });
    }
}

#[test]
fn pair_both_ways() {
    both_binding_sides(
        SocketType::Pair,
        Role::Request { envelope: false },
        "PAIR",
        "echo",
        &[],
    );
    both_binding_sides(SocketType::Pair, Role::Echo, "PAIR", "request", &[]);
}

/// Accepts no one (the refusal must come before anyone is asked).
struct Nobody;

impl monocoque_zmtp::Authenticator for Nobody {
    fn authenticate(&self, _: &monocoque_zmtp::Credentials<'_>) -> monocoque_zmtp::AuthDecision {
        monocoque_zmtp::AuthDecision::Deny {
            reason: "400 no one".into(),
        }
    }
}

#[test]
fn sockets_that_authenticate_refuse_zmtp2_peers_as_libzmq_does() {
    let cases: [(&str, SocketOption); 2] = [
        (
            "PLAIN",
            SocketOption::PlainServer(std::sync::Arc::new(Nobody)),
        ),
        (
            "ZAP",
            SocketOption::ZapDomain(Bytes::from_static(b"global")),
        ),
    ];
    for (mechanism, option) in cases {
        run(|| async move {
            let s = socket(SocketType::Router, vec![option]);
            let monitor = s.monitor();
            let ep = bind(&s, Transport::Tcp);
            let peer = PeerProcess::jeromq(&[
                "--type",
                "DEALER",
                "--mode",
                "request",
                "--connect",
                &ep,
                "--timeout-ms",
                "5000",
            ]);
            loop {
                if let monocoque_patterns::MonitorEvent::HandshakeFailed { reason, .. } =
                    monitor.recv().await
                {
                    let text = reason.to_string();
                    assert!(
                        text.contains("ZMTP 2.0") && text.contains(mechanism),
                        "{text}"
                    );
                    break;
                }
            }
            drop(peer);
        });
    }
}

/// libzmq's test_spec_pushpull and test_spec_router cases with ZMTP 2.0
/// peers: a PUSH load-balances over two JeroMQ PULLs, a PULL fair-queues
/// from two JeroMQ PUSHes, a ROUTER routes to two JeroMQ DEALERs by the
/// identities their identity messages carried.
#[test]
fn load_balancing_fair_queuing_and_routing_across_zmtp2_peers() {
    run(|| async {
        let push = socket(SocketType::Push, vec![]);
        let ep = bind(&push, Transport::Tcp);
        let mut pulls: Vec<PeerProcess> = (0..2)
            .map(|_| {
                PeerProcess::jeromq(&["--type", "PULL", "--mode", "collect", "--connect", &ep])
            })
            .collect();
        for p in &mut pulls {
            p.expect("STARTED").await;
        }
        peers(&push, 2).await;
        for i in 0..10 {
            push.send(Bytes::from(format!("m{i}"))).await.unwrap();
        }
        push.send("END").await.unwrap();
        push.send("END").await.unwrap();
        let mut seen = Vec::new();
        for p in &mut pulls {
            let mut mine = Vec::new();
            for _ in 0..5 {
                mine.push(p.expect("MSG ").await);
            }
            seen.push(mine);
        }
        for p in pulls {
            assert_eq!(p.finish().await, "OK 5", "round robin: five each");
        }
        seen.sort();
        assert_eq!(seen[0], ["m0", "m2", "m4", "m6", "m8"]);
        assert_eq!(seen[1], ["m1", "m3", "m5", "m7", "m9"]);

        let pull = socket(SocketType::Pull, vec![]);
        let ep = bind(&pull, Transport::Tcp);
        let pushes: Vec<PeerProcess> = (0..2)
            .map(|_| {
                PeerProcess::jeromq(&[
                    "--type",
                    "PUSH",
                    "--mode",
                    "push",
                    "--connect",
                    &ep,
                    "--sizes",
                    "1,2,3",
                ])
            })
            .collect();
        let mut ends = 0;
        let mut sizes = Vec::new();
        while ends < 2 {
            let m = pull.recv().await.unwrap();
            if m == Msg::from("END") {
                ends += 1;
            } else {
                sizes.push(m[0].len());
            }
        }
        sizes.sort();
        assert_eq!(sizes, [1, 1, 2, 2, 3, 3]);
        for p in pushes {
            p.finish().await;
        }

        let router = socket(SocketType::Router, vec![]);
        let ep = bind(&router, Transport::Tcp);
        let dealers: Vec<PeerProcess> = ["alpha", "beta"]
            .iter()
            .map(|id| {
                PeerProcess::jeromq(&[
                    "--type",
                    "DEALER",
                    "--mode",
                    "collect",
                    "--identity",
                    id,
                    "--connect",
                    &ep,
                ])
            })
            .collect();
        peers(&router, 2).await;
        for (id, body) in [
            ("beta", "for beta"),
            ("alpha", "for alpha"),
            ("alpha", "END"),
            ("beta", "END"),
        ] {
            router
                .send(Msg::from(vec![Bytes::from(id), Bytes::from(body)]))
                .await
                .unwrap();
        }
        let mut dealers = dealers;
        assert_eq!(dealers[0].expect("MSG ").await, "for alpha");
        assert_eq!(dealers[1].expect("MSG ").await, "for beta");
        for d in dealers {
            assert_eq!(d.finish().await, "OK 1");
        }
    });
}
