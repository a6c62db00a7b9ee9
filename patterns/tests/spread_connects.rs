//! IO cores for the connections a socket makes: a spread DEALER, PUSH, SUB
//! or REQ whose `connect`s run on two other reactor threads (connecting,
//! reconnecting, the handshake and the traffic there), each connect's pipe
//! an ordinary pipe of the socket whose messages cross to its core within
//! windows, as for accepted connections (`spread_pipes.rs`).

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use monocoque_patterns::{MonitorEvent, Socket, SocketOption};
use monocoque_runtime::timeout;
use monocoque_zmtp::SocketType;

fn ipc_endpoint() -> String {
    Transport::Ipc.endpoint()
}

/// A spread DEALER's four connects land two per core; what it sends before
/// any peer exists waits in the connects' pipes and is dealt round-robin
/// once the ROUTERs bind; their replies come back through the cores.
#[test]
fn a_dealer_queues_before_connecting_and_deals_over_its_connects() {
    const COUNT: usize = 100;
    for tcp in [true, false] {
        eprintln!("-- over {}", if tcp { "tcp" } else { "ipc" });
        let cores = two_io_cores();
        run(|| async move {
            let dealer = socket(
                SocketType::Dealer,
                vec![
                    SocketOption::ReconnectIvl(Some(Duration::from_millis(10))),
                    SocketOption::RoutingId(Bytes::from_static(b"D")),
                ],
            );
            dealer.spread_connections(&cores).unwrap();
            let endpoints: Vec<String> = (0..4)
                .map(|_| {
                    if tcp {
                        unused_tcp_endpoint()
                    } else {
                        ipc_endpoint()
                    }
                })
                .collect();
            for ep in &endpoints {
                dealer.connect(ep).unwrap();
            }
            // Nothing is listening: each pipe takes its share now.
            for k in 0..4 * COUNT {
                dealer.send(Bytes::from(format!("m{k}"))).await.unwrap();
            }
            let routers: Vec<Socket> = endpoints
                .iter()
                .map(|ep| {
                    let r = socket(SocketType::Router, vec![]);
                    r.bind(ep).unwrap();
                    r
                })
                .collect();
            let mut seen = vec![false; 4 * COUNT];
            for r in &routers {
                let mut last = None;
                for _ in 0..COUNT {
                    let m = frames(&r.recv().await.unwrap());
                    let k: usize = m[1][1..].parse().unwrap();
                    assert!(last.is_none_or(|l| k > l), "in order per connect");
                    last = Some(k);
                    assert!(!std::mem::replace(&mut seen[k], true), "m{k} twice");
                    r.send(msg(&[&m[0], &format!("re {k}")])).await.unwrap();
                }
            }
            assert!(seen.iter().all(|s| *s), "every message arrived once");
            for _ in 0..4 * COUNT {
                let reply = frames(&dealer.recv().await.unwrap()).concat();
                assert!(reply.starts_with("re "), "{reply}");
            }
            until("four connections", || connections(&dealer) == [2, 2]).await;
            assert_eq!(dealer.peer_count(), 4);
        });
    }
}

/// A connect on an IO core reconnects when its peer goes away and comes
/// back on the same endpoint; the socket hears of both as of a local
/// connect's, and what it sends after goes to the new peer.
#[test]
fn a_push_reconnects_from_its_io_core_when_its_pull_comes_back() {
    let cores = two_io_cores();
    run(|| async move {
        let push = socket(
            SocketType::Push,
            vec![SocketOption::ReconnectIvl(Some(Duration::from_millis(10)))],
        );
        push.spread_connections(&cores).unwrap();
        let monitor = push.monitor();
        let ep = unused_tcp_endpoint();
        push.connect(&ep).unwrap();
        for round in 0..3 {
            let pull = socket(SocketType::Pull, vec![]);
            pull.bind(&ep).unwrap();
            peers(&push, 1).await;
            assert_eq!(
                connections(&push).iter().sum::<usize>(),
                1,
                "one connection, on one core"
            );
            for k in 0..50 {
                push.send(Bytes::from(format!("{round} {k}")))
                    .await
                    .unwrap();
            }
            for k in 0..50 {
                let m = frames(&pull.recv().await.unwrap()).concat();
                assert_eq!(m, format!("{round} {k}"));
            }
            drop(pull);
            until("the PULL gone", || push.peer_count() == 0).await;
            until("no connection", || connections(&push) == [0, 0]).await;
        }
        // The connect's monitor events come from its core, as a local
        // connect's would: each connection made, greeted and lost.
        let mut seen = Vec::new();
        until("each connection's monitor events", || {
            while let Some(e) = monitor.try_recv() {
                seen.push(e);
            }
            let count = |f: fn(&MonitorEvent) -> bool| seen.iter().filter(|e| f(e)).count();
            count(|e| matches!(e, MonitorEvent::Connected { .. })) == 3
                && count(|e| matches!(e, MonitorEvent::HandshakeSucceeded { .. })) == 3
                && count(|e| matches!(e, MonitorEvent::Disconnected { .. })) == 3
                && count(|e| matches!(e, MonitorEvent::ConnectRetried { .. })) >= 3
        })
        .await;
    });
}

/// A spread SUB's connect tells each PUB it reaches the subscriptions in
/// force then, on its first connection and after a reconnect, and a
/// subscription made while connected reaches the PUB too.
#[test]
fn a_spread_sub_subscribes_on_each_connection() {
    let cores = two_io_cores();
    run(|| async move {
        let s = socket(
            SocketType::Sub,
            vec![
                sub("A"),
                SocketOption::ReconnectIvl(Some(Duration::from_millis(10))),
            ],
        );
        s.spread_connections(&cores).unwrap();
        let ep = unused_tcp_endpoint();
        s.connect(&ep).unwrap();
        for round in 0..2 {
            let p = socket(SocketType::Pub, vec![]);
            p.bind(&ep).unwrap();
            let topic = if round == 0 { "A" } else { "B" };
            let got = loop {
                p.send(Bytes::from_static(b"C no")).await.unwrap();
                p.send(Bytes::from(format!("{topic} yes"))).await.unwrap();
                if let Ok(r) = timeout(Duration::from_millis(20), s.recv()).await {
                    break frames(&r.unwrap()).concat();
                }
            };
            assert_eq!(got, format!("{topic} yes"), "only subscribed topics arrive");
            if round == 0 {
                // Made while connected: reaches this PUB now, and the next
                // PUB with the rest at its connection.
                s.set_option(sub("B")).unwrap();
            }
            drop(p);
            until("the PUB gone", || s.peer_count() == 0).await;
        }
    });
}

/// A closing DEALER whose connect never reached its peer still delivers,
/// within the linger, what it queued, once the peer appears.
#[test]
fn a_closing_dealer_delivers_from_its_io_core_within_linger() {
    const COUNT: usize = 500;
    let cores = two_io_cores();
    run(|| async move {
        let dealer = socket(
            SocketType::Dealer,
            vec![
                SocketOption::ReconnectIvl(Some(Duration::from_millis(10))),
                SocketOption::Linger(Some(Duration::from_secs(10))),
            ],
        );
        dealer.spread_connections(&cores).unwrap();
        let ep = unused_tcp_endpoint();
        dealer.connect(&ep).unwrap();
        for k in 0..COUNT {
            dealer.send(Bytes::from(format!("m{k}"))).await.unwrap();
        }
        dealer.close();
        let router = socket(SocketType::Router, vec![]);
        router.bind(&ep).unwrap();
        for k in 0..COUNT {
            let m = frames(&router.recv().await.unwrap());
            assert_eq!(m[1], format!("m{k}"));
        }
        // Everything delivered: the connection ends.
        until("the DEALER gone", || router.peer_count() == 0).await;
    });
}

/// `disconnect` ends a connect on an IO core: its peer sees it leave, and
/// the socket has no peer left.
#[test]
fn disconnect_ends_a_connect_on_an_io_core() {
    let cores = two_io_cores();
    run(|| async move {
        let router = socket(SocketType::Router, vec![]);
        let ep = bind(&router, Transport::Tcp);
        let dealer = socket(SocketType::Dealer, vec![]);
        dealer.spread_connections(&cores).unwrap();
        dealer.connect(&ep).unwrap();
        dealer.send(Bytes::from_static(b"hello")).await.unwrap();
        assert_eq!(frames(&router.recv().await.unwrap())[1], "hello");
        assert_eq!(
            connections(&dealer).iter().sum::<usize>(),
            1,
            "one connection, on one core"
        );
        dealer.disconnect(&ep).unwrap();
        until("the ROUTER's peer gone", || router.peer_count() == 0).await;
        until("the DEALER's peer gone", || dealer.peer_count() == 0).await;
        until("no connection", || connections(&dealer) == [0, 0]).await;
        // A connect to nowhere stops too (nothing to end but the loop).
        let nowhere = unused_tcp_endpoint();
        dealer.connect(&nowhere).unwrap();
        dealer.disconnect(&nowhere).unwrap();
        assert!(dealer.disconnect(&nowhere).is_err(), "gone from the list");
    });
}

/// IMMEDIATE: no pipe before the connection; each connection joins the
/// socket as an accepted one does, from its IO core.
#[test]
fn an_immediate_connect_joins_from_its_io_core() {
    let cores = two_io_cores();
    run(|| async move {
        let pull = socket(SocketType::Pull, vec![]);
        let ep = bind(&pull, Transport::Ipc);
        let push = socket(SocketType::Push, vec![SocketOption::Immediate(true)]);
        push.spread_connections(&cores).unwrap();
        push.connect(&ep).unwrap();
        peers(&push, 1).await;
        assert_eq!(
            connections(&push).iter().sum::<usize>(),
            1,
            "one connection, on one core"
        );
        for k in 0..100 {
            push.send(Bytes::from(format!("{k}"))).await.unwrap();
        }
        for k in 0..100 {
            assert_eq!(frames(&pull.recv().await.unwrap()).concat(), format!("{k}"));
        }
    });
}

/// A REQ connecting from an IO core to libzmq's REP (the `zmq` crate, on
/// its own thread): each reply finds its request.
#[test]
fn a_req_on_an_io_core_talks_to_libzmq() {
    let cores = two_io_cores();
    let ctx = zmq::Context::new();
    let rep = ctx.socket(zmq::REP).unwrap();
    rep.set_rcvtimeo(10_000).unwrap();
    rep.bind("tcp://127.0.0.1:*").unwrap();
    let ep = rep.get_last_endpoint().unwrap().unwrap();
    let server = std::thread::spawn(move || {
        for _ in 0..20 {
            let req = rep.recv_bytes(0).expect("a request within 10 s");
            let mut reply = b"re ".to_vec();
            reply.extend(req);
            rep.send(reply, 0).unwrap();
        }
    });
    run(|| async move {
        let req = socket(SocketType::Req, vec![]);
        req.spread_connections(&cores).unwrap();
        req.connect(&ep).unwrap();
        for k in 0..20 {
            req.send(Bytes::from(format!("q{k}"))).await.unwrap();
            let reply = frames(&req.recv().await.unwrap()).concat();
            assert_eq!(reply, format!("re q{k}"));
            if k == 0 {
                // (The REP's thread ends after the last reply.)
                assert_eq!(
                    connections(&req).iter().sum::<usize>(),
                    1,
                    "one connection, on one core"
                );
            }
        }
    });
    server.join().unwrap();
}

/// What must stay on the socket's core does: inproc connects, and the
/// connects of a socket that conflates.
#[test]
fn inproc_and_conflating_connects_stay_on_the_socket_core() {
    let cores = two_io_cores();
    run(|| async move {
        let push = socket(SocketType::Push, vec![]);
        let ep = bind(&push, Transport::Tcp);
        let pull = socket(SocketType::Pull, vec![SocketOption::Conflate(true)]);
        pull.spread_connections(&cores).unwrap();
        pull.connect(&ep).unwrap();
        let inproc = socket(SocketType::Push, vec![]);
        let inproc_ep = bind(&inproc, Transport::Inproc);
        pull.connect(&inproc_ep).unwrap();
        peers(&pull, 2).await;
        push.send(Bytes::from_static(b"x")).await.unwrap();
        assert_eq!(frames(&pull.recv().await.unwrap()).concat(), "x");
        assert_eq!(connections(&pull), [0, 0]);
    });
}

/// A RCVHWM set right after the connect, before the socket's core has
/// served the connect's pipe, leaves the window the core keeps to alone:
/// the stream does not stall at the old window.
#[test]
fn rcvhwm_set_right_after_a_connect_keeps_its_stream_flowing() {
    const COUNT: usize = 5_000;
    let cores = two_io_cores();
    run(|| async move {
        let push = socket(SocketType::Push, vec![]);
        let ep = bind(&push, Transport::Tcp);
        let pull = socket(SocketType::Pull, vec![SocketOption::RcvHwm(100)]);
        pull.spread_connections(&cores).unwrap();
        pull.connect(&ep).unwrap();
        pull.set_option(SocketOption::RcvHwm(100_000)).unwrap();
        let sender = monocoque_runtime::spawn(async move {
            for k in 0..COUNT {
                push.send(Bytes::from(format!("{k}"))).await.unwrap();
            }
            push
        });
        for k in 0..COUNT {
            assert_eq!(frames(&pull.recv().await.unwrap()).concat(), format!("{k}"));
        }
        drop(sender.await);
    });
}

/// Sends right after the connect, many windows' worth (SNDHWM 10): every
/// message arrives, in order, through the connect's small window.
#[test]
fn sends_right_after_a_connect_cross_a_small_window_whole() {
    const COUNT: usize = 2_000;
    let cores = two_io_cores();
    run(|| async move {
        let pull = socket(SocketType::Pull, vec![]);
        let ep = bind(&pull, Transport::Ipc);
        let push = socket(SocketType::Push, vec![SocketOption::SndHwm(10)]);
        push.spread_connections(&cores).unwrap();
        push.connect(&ep).unwrap();
        let sender = monocoque_runtime::spawn(async move {
            for k in 0..COUNT {
                push.send(Bytes::from(format!("{k}"))).await.unwrap();
            }
            push
        });
        for k in 0..COUNT {
            assert_eq!(frames(&pull.recv().await.unwrap()).concat(), format!("{k}"));
        }
        let push = sender.await;
        let handed: u64 = push
            .io_core_statistics()
            .unwrap()
            .iter()
            .map(|c| c.handed)
            .sum();
        assert_eq!(
            handed, COUNT as u64,
            "every message crossed to the connect's core once"
        );
    });
}

/// A closing PUSH whose connection drops during its linger reconnects and
/// delivers the rest to the next peer, as a local connecter does: the
/// stream goes on in order up to its last message.
#[test]
fn a_connection_lost_during_linger_is_made_again_and_the_rest_delivered() {
    const COUNT: usize = 400;
    const SIZE: usize = 32 * 1024;
    let cores = two_io_cores();
    run(|| async move {
        let ep = unused_tcp_endpoint();
        // Small kernel buffers both ways (no autotuning), so that most of
        // the stream is still queued when the first peer goes: whatever the
        // kernel took for the lost connection is lost with it, here as for
        // a local connecter.
        let first = socket(
            SocketType::Pull,
            vec![
                SocketOption::RcvHwm(1),
                SocketOption::RcvBuf(Some(64 * 1024)),
            ],
        );
        first.bind(&ep).unwrap();
        let push = socket(
            SocketType::Push,
            vec![
                SocketOption::ReconnectIvl(Some(Duration::from_millis(10))),
                SocketOption::Linger(Some(Duration::from_secs(15))),
                SocketOption::SndBuf(Some(64 * 1024)),
            ],
        );
        push.spread_connections(&cores).unwrap();
        push.connect(&ep).unwrap();
        for k in 0..COUNT {
            let mut body = vec![b'.'; SIZE];
            body[..8].copy_from_slice(&(k as u64).to_be_bytes());
            push.send(Bytes::from(body)).await.unwrap();
        }
        push.close();
        // One read, then the peer goes: most of the stream is still queued.
        first.recv().await.unwrap();
        drop(first);
        let second = socket(SocketType::Pull, vec![]);
        // The first one's listener closes at its reactor's next turn.
        until("the port free again", || second.bind(&ep).is_ok()).await;
        let mut last = 0;
        while last + 1 < COUNT as u64 {
            let m = second.recv().await.unwrap();
            let k = u64::from_be_bytes(m[0][..8].try_into().unwrap());
            assert!(k > last || last == 0, "in order: {k} after {last}");
            last = k;
        }
    });
}

/// A connect on an IO core whose server answers with garbage fails its
/// handshake there; the socket's other connect, on the other core, carries
/// on.
#[test]
fn a_hostile_server_ends_only_its_own_connect() {
    let cores = two_io_cores();
    let hostile = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hostile_ep = format!("tcp://{}", hostile.local_addr().unwrap());
    let garbage = std::thread::spawn(move || {
        use std::io::Write;
        let (mut c, _) = hostile.accept().unwrap();
        // Not a ZMTP greeting: a signature byte that is wrong.
        let _ = c.write_all(b"GET / HTTP/1.1\r\n\r\n");
        let mut rest = Vec::new();
        let _ = std::io::Read::read_to_end(&mut c, &mut rest);
    });
    run(|| async move {
        let router = socket(
            SocketType::Router,
            vec![SocketOption::RoutingId(Bytes::from_static(b"R"))],
        );
        let good_ep = bind(&router, Transport::Tcp);
        // IMMEDIATE: no pipe waits for the hostile server, so the load
        // balancer has the good peer only.
        let dealer = socket(SocketType::Dealer, vec![SocketOption::Immediate(true)]);
        let monitor = dealer.monitor();
        dealer.spread_connections(&cores).unwrap();
        dealer.connect(&hostile_ep).unwrap();
        dealer.connect(&good_ep).unwrap();
        let mut failed = false;
        until(
            "the hostile handshake failed and the good peer joined",
            || {
                while let Some(e) = monitor.try_recv() {
                    failed |= matches!(e, MonitorEvent::HandshakeFailed { .. });
                }
                failed && dealer.peer_count() == 1
            },
        )
        .await;
        assert_eq!(
            connections(&dealer).iter().sum::<usize>(),
            1,
            "one connection, on one core"
        );
        for k in 0..10 {
            dealer.send(Bytes::from(format!("{k}"))).await.unwrap();
        }
        for k in 0..10 {
            assert_eq!(frames(&router.recv().await.unwrap())[1], format!("{k}"));
        }
        garbage.join().unwrap();
    });
}

/// A spread PUB's connects run on its IO cores too: four bound SUBs, two
/// per core, each gets what it subscribed to; a message crosses to each
/// core once for all its subscribers there.
#[test]
fn a_spread_pub_connects_to_its_subscribers_from_io_cores() {
    let cores = two_io_cores();
    run(|| async move {
        let subs: Vec<Socket> = (0..4)
            .map(|_| socket(SocketType::Sub, vec![sub("A")]))
            .collect();
        let endpoints: Vec<String> = subs.iter().map(|s| bind(s, Transport::Tcp)).collect();
        let publisher = socket(SocketType::Pub, vec![]);
        publisher.spread_connections(&cores).unwrap();
        for ep in &endpoints {
            publisher.connect(ep).unwrap();
        }
        until("four subscribers", || publisher.peer_count() == 4).await;
        assert_eq!(connections(&publisher), [2, 2]);
        for s in &subs {
            let got = loop {
                publisher.send(Bytes::from_static(b"B no")).await.unwrap();
                publisher.send(Bytes::from_static(b"A yes")).await.unwrap();
                if let Ok(r) = timeout(Duration::from_millis(20), s.recv()).await {
                    break frames(&r.unwrap()).concat();
                }
            };
            assert_eq!(got, "A yes", "only the subscribed topic arrives");
        }
        // disconnect stops a publisher's connect on its core.
        publisher.disconnect(&endpoints[0]).unwrap();
        until("three subscribers", || publisher.peer_count() == 3).await;
    });
}

/// A spread XPUB's connect hears its SUB's subscriptions, reconnects when
/// the SUB comes back on the same endpoint, and hears the new one's.
#[test]
fn a_spread_xpub_connect_hears_each_subscriber_it_reaches() {
    let cores = two_io_cores();
    run(|| async move {
        let xpub = socket(
            SocketType::XPub,
            vec![SocketOption::ReconnectIvl(Some(Duration::from_millis(10)))],
        );
        xpub.spread_connections(&cores).unwrap();
        let ep = unused_tcp_endpoint();
        xpub.connect(&ep).unwrap();
        for topic in ["A", "B"] {
            let s = socket(SocketType::Sub, vec![sub(topic)]);
            until("the port free", || s.bind(&ep).is_ok()).await;
            // (The last SUB's leaving may come first: "\x00A".)
            loop {
                let notice = xpub.recv().await.unwrap();
                if notice[0][0] == 1 {
                    assert_eq!(&notice[0][..], format!("\x01{topic}").as_bytes());
                    break;
                }
            }
            drop(s);
            until("the SUB gone", || xpub.peer_count() == 0).await;
        }
    });
}
