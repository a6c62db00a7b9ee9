//! IO cores for every socket type but the publishers: a ROUTER, REP, PULL,
//! PUSH or SUB whose accepted connections run on two other reactor threads,
//! each peer an ordinary pipe of the socket whose messages cross to its
//! core within windows (`fanout/window.rs`).
//!
//! Every case runs over tcp and ipc (inproc peers never move); peers are
//! ours and, where said, libzmq's (the `zmq` crate, on their own threads).

mod common;

use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use monocoque_patterns::SocketOption;
use monocoque_runtime::{spawn, timeout};
use monocoque_zmtp::{Msg, SocketType};

const NETWORK: [Transport; 2] = [Transport::Tcp, Transport::Ipc];

/// A libzmq DEALER named `name`: sends `count` requests, then expects each
/// one's reply, in order.
fn libzmq_dealer(name: String, ep: String, count: usize) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let d = ctx.socket(zmq::DEALER).unwrap();
        d.set_rcvtimeo(10_000).unwrap();
        d.set_linger(0).unwrap();
        d.set_identity(name.as_bytes()).unwrap();
        d.connect(&ep).unwrap();
        for k in 0..count {
            d.send(format!("{name} {k}").as_bytes(), 0).unwrap();
        }
        for k in 0..count {
            let reply = d.recv_bytes(0).expect("a reply within 10 s");
            assert_eq!(reply, format!("re {name} {k}").into_bytes());
        }
    })
}

/// A ROUTER spread over two IO cores: eight DEALERs (four ours, four
/// libzmq's) land four per core; every request arrives under its sender's
/// routing id, in order per sender, and every reply routed by that id
/// reaches its DEALER in order.
#[test]
fn a_router_routes_by_identity_across_two_io_cores() {
    const COUNT: usize = 200;
    for t in NETWORK {
        eprintln!("-- over {t:?}");
        let cores = two_io_cores();
        run(|| async move {
            let router = socket(SocketType::Router, vec![]);
            router.spread_connections(&cores).unwrap();
            let ep = bind(&router, t);
            let mut ours = Vec::new();
            for i in 0..4 {
                let name = format!("D{i}");
                let d = socket(
                    SocketType::Dealer,
                    vec![SocketOption::RoutingId(Bytes::from(name.clone()))],
                );
                d.connect(&ep).unwrap();
                ours.push((name, d));
            }
            let theirs: Vec<_> = (4..8)
                .map(|i| libzmq_dealer(format!("D{i}"), ep.clone(), COUNT))
                .collect();
            peers(&router, 8).await;
            assert_eq!(
                connections(&router),
                [4, 4],
                "round-robin over the two cores"
            );
            for (name, d) in &ours {
                for k in 0..COUNT {
                    d.send(Bytes::from(format!("{name} {k}"))).await.unwrap();
                }
            }
            let mut next = [0usize; 8];
            for _ in 0..8 * COUNT {
                let m = frames(&router.recv().await.unwrap());
                assert_eq!(m.len(), 2, "routing id and body: {m:?}");
                let (id, body) = (&m[0], &m[1]);
                let i: usize = id[1..].parse().unwrap();
                assert_eq!(*body, format!("{id} {}", next[i]), "in order per DEALER");
                next[i] += 1;
                router
                    .send(msg(&[id, &format!("re {body}")]))
                    .await
                    .unwrap();
            }
            for (name, d) in &ours {
                for k in 0..COUNT {
                    let reply = frames(&d.recv().await.unwrap()).concat();
                    assert_eq!(reply, format!("re {name} {k}"));
                }
            }
            for h in theirs {
                join_thread(h).await;
            }
            let handed: u64 = router
                .io_core_statistics()
                .unwrap()
                .iter()
                .map(|c| c.handed)
                .sum();
            assert_eq!(
                handed,
                8 * COUNT as u64,
                "every reply crossed to a core once"
            );
            // Peers that leave are gone from the socket and from the figures.
            drop(ours);
            until("the DEALERs gone", || router.peer_count() == 0).await;
            assert_eq!(connections(&router), [0, 0]);
        });
    }
}

/// A REP spread over two IO cores serves four REQ clients at once: each
/// reply finds its request's envelope.
#[test]
fn a_rep_answers_each_req_across_io_cores() {
    const ROUNDS: usize = 100;
    for t in NETWORK {
        eprintln!("-- over {t:?}");
        let cores = two_io_cores();
        run(|| async move {
            let rep = socket(SocketType::Rep, vec![]);
            rep.spread_connections(&cores).unwrap();
            let ep = bind(&rep, t);
            let mut reqs = Vec::new();
            for _ in 0..4 {
                let req = socket(SocketType::Req, vec![]);
                req.connect(&ep).unwrap();
                reqs.push(req);
            }
            peers(&rep, 4).await;
            assert_eq!(connections(&rep), [2, 2]);
            let server = spawn(async move {
                for _ in 0..4 * ROUNDS {
                    let m = frames(&rep.recv().await.unwrap()).concat();
                    rep.send(Bytes::from(format!("re {m}"))).await.unwrap();
                }
                rep
            });
            let mut clients = Vec::new();
            for (i, req) in reqs.into_iter().enumerate() {
                clients.push(spawn(async move {
                    for k in 0..ROUNDS {
                        req.send(Bytes::from(format!("{i}.{k}"))).await.unwrap();
                        let reply = frames(&req.recv().await.unwrap()).concat();
                        assert_eq!(reply, format!("re {i}.{k}"));
                    }
                }));
            }
            for c in clients {
                c.await;
            }
            let rep = server.await;
            until("the REQs gone", || rep.peer_count() == 0).await;
        });
    }
}

/// A PULL that does not read pushes back through the windows on its PUSH:
/// the PUSH's sends stop (its pipe at SNDHWM, the windows full, the
/// engine's reads stopped and the kernel's buffers full), and once the
/// PULL reads, every message arrives, in order, none lost.
#[test]
fn a_pull_that_does_not_read_holds_its_push_back() {
    const BODY: usize = 1024;
    const CAP: usize = 200_000;
    for t in NETWORK {
        eprintln!("-- over {t:?}");
        let cores = two_io_cores();
        run(|| async move {
            let pull = socket(SocketType::Pull, vec![SocketOption::RcvHwm(10)]);
            pull.spread_connections(&cores).unwrap();
            let ep = bind(&pull, t);
            let push = socket(SocketType::Push, vec![SocketOption::SndHwm(10)]);
            push.connect(&ep).unwrap();
            let body = |k: usize| {
                let mut b = format!("{k:08}").into_bytes();
                b.resize(BODY, b'.');
                Msg::from(Bytes::from(b))
            };
            // Send until a send has waited half a second: held back.
            let mut sent = 0;
            while sent < CAP {
                match timeout(Duration::from_millis(500), push.send(body(sent))).await {
                    Ok(r) => r.unwrap(),
                    Err(_) => break,
                }
                sent += 1;
            }
            assert!(sent < CAP, "the PUSH was never held back");
            assert!(
                pull.queued().0 <= 10,
                "the PULL's own pipe stays within its window: {:?}",
                pull.queued()
            );
            // The send that waited is gone with the timeout: `sent` went.
            // The first comes with its sender's properties, from its core.
            until("a message", || pull.queued().0 > 0).await;
            let (first, properties) = pull.try_recv_with_properties().unwrap();
            assert_eq!(&first.frames()[0][..8], b"00000000");
            let properties = properties.expect("the properties of a peer on an IO core");
            assert_eq!(properties.socket_type(), Some(SocketType::Push));
            if t == Transport::Tcp {
                let address = properties.peer_address().unwrap_or_default();
                assert!(address.starts_with("127.0.0.1"), "{address}");
            }
            for k in 1..sent {
                let m = pull.recv().await.unwrap();
                assert_eq!(&m.frames()[0][..8], format!("{k:08}").as_bytes());
            }
            // And the flow resumes.
            push.send(body(sent)).await.unwrap();
            let m = pull.recv().await.unwrap();
            assert_eq!(&m.frames()[0][..8], format!("{sent:08}").as_bytes());
        });
    }
}

/// A PUSH spread over IO cores that closes at once after its sends still
/// delivers all of them within its linger: its owner task passes the queued
/// messages on before it releases each peer.
#[test]
fn a_closing_push_delivers_what_it_queued_within_linger() {
    const COUNT: usize = 5_000;
    for t in NETWORK {
        eprintln!("-- over {t:?}");
        let cores = two_io_cores();
        run(|| async move {
            let push = socket(
                SocketType::Push,
                vec![SocketOption::Linger(Some(Duration::from_secs(10)))],
            );
            push.spread_connections(&cores).unwrap();
            let ep = bind(&push, t);
            let pull = socket(SocketType::Pull, vec![]);
            pull.connect(&ep).unwrap();
            peers(&push, 1).await;
            for k in 0..COUNT {
                push.send(Bytes::from(format!("{k}"))).await.unwrap();
            }
            push.close();
            drop(push);
            for k in 0..COUNT {
                let m = frames(&pull.recv().await.unwrap()).concat();
                assert_eq!(m, format!("{k}"));
            }
        });
    }
}

/// A SUB that binds and spreads its connections: a PUB that connects later
/// hears the SUB's subscriptions (the greeting its owner task queues first)
/// and sends only what matches.
#[test]
fn a_spread_sub_tells_a_connecting_pub_its_subscriptions() {
    for t in NETWORK {
        eprintln!("-- over {t:?}");
        let cores = two_io_cores();
        run(|| async move {
            let s = socket(SocketType::Sub, vec![sub("A")]);
            s.spread_connections(&cores).unwrap();
            let ep = bind(&s, t);
            let p = socket(SocketType::Pub, vec![]);
            p.connect(&ep).unwrap();
            // Until the subscription reaches the PUB, it drops everything.
            let got = loop {
                p.send(Bytes::from_static(b"B no")).await.unwrap();
                p.send(Bytes::from_static(b"A yes")).await.unwrap();
                if let Ok(r) = timeout(Duration::from_millis(20), s.recv()).await {
                    break frames(&r.unwrap()).concat();
                }
            };
            assert_eq!(got, "A yes", "only the subscribed topic arrives");
            assert_eq!(
                connections(&s).iter().sum::<usize>(),
                1,
                "one connection, on one core"
            );
        });
    }
}

/// A socket spreads once.
#[test]
fn no_socket_spreads_twice() {
    let cores = two_io_cores();
    run(|| async move {
        let pull = socket(SocketType::Pull, vec![]);
        assert!(pull.io_core_statistics().is_none());
        pull.spread_connections(&cores).unwrap();
        assert!(pull.spread_connections(&cores).is_err());
        assert_eq!(connections(&pull), [0, 0]);
    });
}

/// A peer on an IO core that sends garbage is closed there; the socket's
/// good peer on the other core is served before and after.
#[test]
fn garbage_on_an_io_core_closes_that_connection_only() {
    let cores = two_io_cores();
    run(|| async move {
        let router = socket(SocketType::Router, vec![]);
        router.spread_connections(&cores).unwrap();
        let ep = bind(&router, Transport::Tcp);
        let good = socket(
            SocketType::Dealer,
            vec![SocketOption::RoutingId(Bytes::from_static(b"good"))],
        );
        good.connect(&ep).unwrap();
        let round_trip = || async {
            good.send(Bytes::from_static(b"ping")).await.unwrap();
            let m = frames(&router.recv().await.unwrap());
            assert_eq!(m, ["good", "ping"]);
            router.send(msg(&["good", "pong"])).await.unwrap();
            assert_eq!(frames(&good.recv().await.unwrap()), ["pong"]);
        };
        round_trip().await;
        let addr = ep.trim_start_matches("tcp://").to_string();
        let hostile = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            // Not a ZMTP greeting: the signature's first byte must be 0xFF
            // and its tenth 0x7F.
            s.write_all(&[0x42; 64]).unwrap();
            let mut rest = Vec::new();
            // Whatever greeting was sent first, then the close (or a reset);
            // a read that times out means the connection was kept.
            match s.read_to_end(&mut rest) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                Err(e) => panic!("the garbage's connection was not closed: {e}"),
            }
            rest.len()
        });
        let heard = join_thread(hostile).await;
        assert!(
            heard <= 64,
            "at most our greeting before the close: {heard} bytes"
        );
        round_trip().await;
        assert_eq!(router.peer_count(), 1);
        assert_eq!(connections(&router).iter().sum::<usize>(), 1);
    });
}

/// A peer on an IO core that leaves is gone for the socket at once (a
/// ROUTER_MANDATORY send to it fails), while what it sent, held back by its
/// window because the ROUTER does not read, is still read afterwards.
#[test]
fn a_peer_that_leaves_is_unroutable_at_once_though_its_messages_wait() {
    let cores = two_io_cores();
    run(|| async move {
        let router = socket(
            SocketType::Router,
            vec![SocketOption::RouterMandatory(true), SocketOption::RcvHwm(4)],
        );
        router.spread_connections(&cores).unwrap();
        let ep = bind(&router, Transport::Tcp);
        let d = socket(
            SocketType::Dealer,
            vec![SocketOption::RoutingId(Bytes::from_static(b"X"))],
        );
        d.connect(&ep).unwrap();
        for k in 0..50 {
            d.send(Bytes::from(format!("{k}"))).await.unwrap();
        }
        queued_in(&router, 4).await;
        drop(d);
        until("X unroutable", || {
            matches!(
                router.try_send(msg(&["X", "hi"])),
                Err(monocoque_patterns::Error::HostUnreachable)
            )
        })
        .await;
        assert_eq!(frames(&router.recv().await.unwrap()), ["X", "0"]);
    });
}

/// Unbinding ends a connection on an IO core at once, even one whose peer
/// reads nothing (a write stuck on it, the window used up), as a local
/// connection ends: the core's engine wakes to the release.
#[test]
fn unbind_ends_a_connection_whose_peer_does_not_read() {
    let cores = two_io_cores();
    run(|| async move {
        let push = socket(SocketType::Push, vec![SocketOption::SndHwm(4)]);
        push.spread_connections(&cores).unwrap();
        let ep = bind(&push, Transport::Tcp);
        let pull = socket(SocketType::Pull, vec![SocketOption::RcvHwm(4)]);
        pull.connect(&ep).unwrap();
        peers(&push, 1).await;
        let body = Bytes::from(vec![b'.'; 64 * 1024]);
        while timeout(Duration::from_millis(500), push.send(body.clone()))
            .await
            .is_ok()
        {}
        push.unbind(&ep).unwrap();
        until("the core's connection gone", || {
            push.peer_count() == 0 && connections(&push).iter().sum::<usize>() == 0
        })
        .await;
        drop(pull);
    });
}

/// RCVHWM set after a peer joined leaves the windows as they were: the
/// peer's stream keeps flowing whole (the old and new limits differ both
/// ways: up, and to unbounded).
#[test]
fn rcvhwm_set_after_a_peer_joined_keeps_its_stream_flowing() {
    const COUNT: usize = 5_000;
    for rcvhwm in [10_000, 0] {
        let cores = two_io_cores();
        run(|| async move {
            let pull = socket(SocketType::Pull, vec![SocketOption::RcvHwm(100)]);
            pull.spread_connections(&cores).unwrap();
            let ep = bind(&pull, Transport::Tcp);
            let push = socket(SocketType::Push, vec![]);
            push.connect(&ep).unwrap();
            peers(&pull, 1).await;
            pull.set_option(SocketOption::RcvHwm(rcvhwm)).unwrap();
            let sender = spawn(async move {
                for k in 0..COUNT {
                    push.send(Bytes::from(format!("{k}"))).await.unwrap();
                }
                push
            });
            for k in 0..COUNT {
                assert_eq!(frames(&pull.recv().await.unwrap()), [format!("{k}")]);
            }
            drop(sender.await);
        });
    }
}

/// The same on the socket's own core, which the IO cores must match: the
/// peer that reads nothing finds the end once it reads again.
#[test]
fn unbind_ends_a_local_connection_whose_peer_does_not_read() {
    run(|| async move {
        let push = socket(SocketType::Push, vec![SocketOption::SndHwm(4)]);
        let ep = bind(&push, Transport::Tcp);
        let (go, read_now) = std::sync::mpsc::channel::<()>();
        let peer_ep = ep.clone();
        let peer = std::thread::spawn(move || {
            use std::io::Read;
            let mut s = raw_connect(&peer_ep, "PULL", "PUSH");
            read_now.recv().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut sink = Vec::new();
            // Everything the PUSH wrote, then the end (or a reset); a read
            // that times out means the connection was kept.
            match s.read_to_end(&mut sink) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                Err(e) => panic!("the connection was kept: {e}"),
            }
        });
        peers(&push, 1).await;
        let body = Bytes::from(vec![b'.'; 64 * 1024]);
        while timeout(Duration::from_millis(500), push.send(body.clone()))
            .await
            .is_ok()
        {}
        push.unbind(&ep).unwrap();
        go.send(()).unwrap();
        join_thread(peer).await;
    });
}

/// A closing socket's peer that reads nothing and whose messages wait on
/// its window still ends within the linger, and the IO cores with it: the
/// core's connection ends at the deadline, the owner task releases the
/// pipe it let go of, and the core drains and drops it.
#[test]
fn a_closing_socket_with_a_stuck_peer_ends_within_linger() {
    let cores = two_io_cores();
    run(|| async move {
        let router = socket(
            SocketType::Router,
            vec![
                SocketOption::RcvHwm(4),
                SocketOption::SndHwm(4),
                SocketOption::RouterMandatory(true),
                SocketOption::Linger(Some(Duration::from_millis(200))),
            ],
        );
        router.spread_connections(&cores).unwrap();
        let ep = bind(&router, Transport::Tcp);
        let d = socket(
            SocketType::Dealer,
            vec![
                SocketOption::RoutingId(Bytes::from_static(b"P")),
                SocketOption::RcvHwm(4),
            ],
        );
        d.connect(&ep).unwrap();
        for k in 0..50 {
            d.send(Bytes::from(format!("{k}"))).await.unwrap();
        }
        queued_in(&router, 4).await;
        // Until P's kernel buffers, its window and the pipe are full (under
        // ROUTER_MANDATORY a send to a full peer waits).
        let big = Bytes::from(vec![b'.'; 64 * 1024]);
        let to_p = || Msg::from(vec![Bytes::from_static(b"P"), big.clone()]);
        while timeout(Duration::from_millis(500), router.send(to_p()))
            .await
            .is_ok()
        {}
        router.close();
        drop(router);
        let joined = std::thread::spawn(move || cores.join());
        until("the IO cores ended", || joined.is_finished()).await;
        drop(d);
    });
}
