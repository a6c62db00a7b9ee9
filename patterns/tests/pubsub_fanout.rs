//! Fan-out across IO cores: a PUB or XPUB whose subscriber connections run on
//! two other reactor threads, while matching stays on the socket's core.
//!
//! Every case runs over tcp and ipc (inproc peers never move). Subscribers are
//! a mix of ours and libzmq's (the `zmq` crate, on their own threads).

mod common;

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use monocoque_patterns::{IoCores, MonitorEvent, Socket, SocketOption};
use monocoque_runtime::{spawn, RuntimeBuilder};
use monocoque_zmtp::SocketType;

const NETWORK: [Transport; 2] = [Transport::Tcp, Transport::Ipc];

async fn recv_str(s: &Socket) -> String {
    frames(&s.recv().await.unwrap()).concat()
}

/// What subscriber `i` must receive of a batch: every "ALL" message and the
/// "S{i}" ones, in order, up to the batch's end marker.
fn expected(i: usize, batch: &str, count: usize) -> Vec<String> {
    let mut out = Vec::new();
    for k in 0..count {
        out.push(format!("ALL {batch} {k}"));
        if k % 8 == i {
            out.push(format!("S{i} {batch} {k}"));
        }
    }
    out.push(format!("ALL {batch} end"));
    out
}

async fn publish_batch(p: &Socket, batch: &str, count: usize) {
    for k in 0..count {
        p.send(Bytes::from(format!("ALL {batch} {k}")))
            .await
            .unwrap();
        p.send(Bytes::from(format!("S{} {batch} {k}", k % 8)))
            .await
            .unwrap();
    }
    p.send(Bytes::from(format!("ALL {batch} end")))
        .await
        .unwrap();
}

/// A libzmq SUB on its own thread: subscribes to ALL and S{i}, and returns
/// the messages of each batch (up to its end marker) through `got`; after
/// `batches` it closes.
fn libzmq_sub(
    i: usize,
    ep: String,
    batches: &'static [&'static str],
    got: mpsc::Sender<(usize, Vec<String>)>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let s = ctx.socket(zmq::SUB).unwrap();
        s.set_rcvtimeo(10_000).unwrap();
        s.set_linger(0).unwrap();
        s.set_subscribe(b"ALL").unwrap();
        s.set_subscribe(format!("S{i}").as_bytes()).unwrap();
        s.connect(&ep).unwrap();
        for batch in batches {
            let end = format!("ALL {batch} end");
            let mut seen = Vec::new();
            loop {
                let m = String::from_utf8(s.recv_bytes(0).unwrap()).unwrap();
                let last = m == end;
                seen.push(m);
                if last {
                    break;
                }
            }
            got.send((i, seen)).unwrap();
        }
    })
}

/// One PUB, eight subscribers (four ours, four libzmq's) spread over two IO
/// cores. Each gets exactly its topics, in order. Each IO core is handed each
/// message once, not once per subscriber: the count of handoffs is the
/// messages times the cores with a subscriber for them. Two subscribers
/// leave (one of ours, one libzmq's) and the other six carry on.
#[test]
fn one_pub_to_eight_subscribers_over_two_io_cores() {
    const FIRST: usize = 300;
    const SECOND: usize = 200;
    for t in NETWORK {
        eprintln!("-- over {t:?}");
        let cores = two_io_cores();
        run(|| async move {
            let p = socket(SocketType::Pub, vec![SocketOption::SndHwm(100_000)]);
            p.spread_connections(&cores).unwrap();
            let ep = bind(&p, t);
            let mut ours = Vec::new();
            for i in 0..4 {
                let s = socket(SocketType::Sub, vec![sub("ALL"), sub(&format!("S{i}"))]);
                s.connect(&ep).unwrap();
                ours.push(s);
            }
            let (got_tx, got_rx) = mpsc::channel();
            let mut theirs = Vec::new();
            for i in 4..8 {
                // Subscriber 4 leaves after the first batch.
                let batches: &'static [&'static str] =
                    if i == 4 { &["one"] } else { &["one", "two"] };
                theirs.push(libzmq_sub(i, ep.clone(), batches, got_tx.clone()));
            }
            // Each subscriber sends ALL, then its own topic: with all eight
            // own topics known, every subscription has arrived.
            until("all subscriptions", || p.topics_count() == 9).await;
            assert_eq!(p.peer_count(), 8);
            let stats = p.io_core_statistics().unwrap();
            assert_eq!(
                stats.iter().map(|s| s.connections).collect::<Vec<_>>(),
                [4, 4],
                "round-robin over the two IO cores"
            );

            publish_batch(&p, "one", FIRST).await;
            for (i, s) in ours.iter().enumerate() {
                for want in expected(i, "one", FIRST) {
                    assert_eq!(recv_str(s).await, want, "our subscriber {i}");
                }
            }
            for _ in 4..8 {
                let (i, seen) = got_rx.recv_timeout(Duration::from_secs(10)).unwrap();
                assert_eq!(seen, expected(i, "one", FIRST), "libzmq subscriber {i}");
            }
            let stats = p.io_core_statistics().unwrap();
            // ALL messages (and the end marker) go to both cores; each S{k%8}
            // message to the one core of its subscriber.
            let handed: u64 = stats.iter().map(|s| s.handed).sum();
            assert_eq!(handed, 2 * (FIRST as u64 + 1) + FIRST as u64);
            assert!(stats.iter().all(|s| s.dropped == 0), "{stats:?}");

            // One of ours and one of libzmq's leave.
            drop(ours.remove(0));
            join_thread(theirs.remove(0)).await;
            until("six subscribers", || p.peer_count() == 6).await;
            assert_eq!(
                p.io_core_statistics()
                    .unwrap()
                    .iter()
                    .map(|s| s.connections)
                    .sum::<usize>(),
                6
            );
            publish_batch(&p, "two", SECOND).await;
            for (j, s) in ours.iter().enumerate() {
                let i = j + 1;
                for want in expected(i, "two", SECOND) {
                    assert_eq!(recv_str(s).await, want, "our subscriber {i}");
                }
            }
            for _ in 5..8 {
                let (i, seen) = got_rx.recv_timeout(Duration::from_secs(10)).unwrap();
                assert_eq!(seen, expected(i, "two", SECOND), "libzmq subscriber {i}");
            }
            for h in theirs {
                join_thread(h).await;
            }
        });
    }
}

/// An XPUB spread over IO cores hears its remote subscribers as it hears
/// local ones (XPUB_VERBOSE, cancels when one leaves), each gets the welcome
/// message from its IO core, and unbind ends the remote connections.
#[test]
fn xpub_spread_hears_subscriptions_and_welcomes() {
    for t in NETWORK {
        eprintln!("-- over {t:?}");
        let cores = two_io_cores();
        run(|| async move {
            let x = socket(
                SocketType::XPub,
                vec![
                    SocketOption::XpubVerbose(true),
                    SocketOption::XpubWelcomeMsg(Bytes::from_static(b"W")),
                ],
            );
            x.spread_connections(&cores).unwrap();
            let monitor = x.monitor();
            let ep = bind(&x, t);
            let a = socket(SocketType::Sub, vec![sub("W"), sub("A")]);
            let b = socket(SocketType::Sub, vec![sub("W"), sub("B")]);
            a.connect(&ep).unwrap();
            b.connect(&ep).unwrap();
            assert_eq!(recv_str(&a).await, "W");
            assert_eq!(recv_str(&b).await, "W");
            let mut heard = Vec::new();
            for _ in 0..4 {
                heard.push(frames(&x.recv().await.unwrap()).concat());
            }
            heard.sort();
            assert_eq!(heard, ["\u{1}A", "\u{1}B", "\u{1}W", "\u{1}W"]);
            assert_eq!(x.topics_count(), 3);
            x.send("A1").await.unwrap();
            x.send("B1").await.unwrap();
            assert_eq!(recv_str(&a).await, "A1");
            assert_eq!(recv_str(&b).await, "B1");

            drop(a);
            assert_eq!(recv_str(&x).await, "\u{0}A");
            assert_eq!(x.peer_count(), 1);
            // The IO cores' connection events reach the socket's monitor.
            let mut events = Vec::new();
            until("the disconnect event", || {
                events.extend(std::iter::from_fn(|| monitor.try_recv()));
                events
                    .iter()
                    .any(|e| matches!(e, MonitorEvent::Disconnected { .. }))
            })
            .await;
            let count = |f: fn(&MonitorEvent) -> bool| events.iter().filter(|e| f(e)).count();
            assert_eq!(count(|e| matches!(e, MonitorEvent::Accepted { .. })), 2);
            assert_eq!(
                count(
                    |e| matches!(e, MonitorEvent::HandshakeSucceeded { endpoint, .. } if !endpoint.is_empty())
                ),
                2
            );

            x.unbind(&ep).unwrap();
            let mut heard = vec![recv_str(&x).await, recv_str(&x).await];
            heard.sort();
            assert_eq!(heard, ["\u{0}B", "\u{0}W"]);
            until("no peers", || x.peer_count() == 0).await;
            let stats = x.io_core_statistics().unwrap();
            assert_eq!(stats.iter().map(|s| s.connections).sum::<usize>(), 0);
        });
    }
}

/// XPUB_NODROP across IO cores: a subscriber that does not read fills its
/// pipe on its IO core, then that core's ring, and then the publisher's send
/// waits (try_send says WouldBlock). Once the subscriber reads, every message
/// arrives: none was dropped anywhere on the way.
#[test]
fn nodrop_waits_for_a_full_io_core_and_loses_nothing() {
    for t in NETWORK {
        eprintln!("-- over {t:?}");
        let cores = two_io_cores();
        run(|| async move {
            let p = socket(
                SocketType::Pub,
                vec![SocketOption::XpubNodrop(true), SocketOption::SndHwm(64)],
            );
            p.spread_connections(&cores).unwrap();
            let ep = bind(&p, t);
            let s = socket(SocketType::Sub, vec![sub("")]);
            s.connect(&ep).unwrap();
            until("the subscription", || p.topics_count() == 1).await;
            let payload = Bytes::from(vec![7u8; 16 * 1024]);
            let mut sent = 0usize;
            loop {
                assert!(sent < 100_000, "the publisher never had to wait");
                match p.try_send(payload.clone()) {
                    Ok(()) => sent += 1,
                    Err(monocoque_patterns::Error::WouldBlock(_)) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            // One more, sent as soon as there is room.
            let p = std::rc::Rc::new(p);
            let waiting = {
                let p = p.clone();
                spawn(async move { p.send("last").await.unwrap() })
            };
            for i in 0..sent {
                let m = s.recv().await.unwrap();
                assert_eq!(m[0].len(), payload.len(), "message {i}");
            }
            assert_eq!(recv_str(&s).await, "last");
            waiting.await;
            let stats = p.io_core_statistics().unwrap();
            assert!(stats.iter().all(|s| s.dropped == 0), "{stats:?}");
        });
    }
}

/// A publisher with CONFLATE spreads as any other (only the other types
/// keep a conflating socket's connections on its core).
#[test]
fn a_conflating_publisher_spreads() {
    let cores = two_io_cores();
    run(|| async move {
        let p = socket(SocketType::Pub, vec![SocketOption::Conflate(true)]);
        p.spread_connections(&cores).unwrap();
        let ep = bind(&p, Transport::Tcp);
        let s = socket(SocketType::Sub, vec![sub("")]);
        s.connect(&ep).unwrap();
        until("the subscriber", || p.peer_count() == 1).await;
        let stats = p.io_core_statistics().unwrap();
        assert_eq!(stats.iter().map(|c| c.connections).sum::<usize>(), 1);
    });
}

/// A publisher spreads only once.
#[test]
fn a_publisher_spreads_only_once() {
    let cores = two_io_cores();
    run(|| async move {
        let p = socket(SocketType::Pub, vec![]);
        assert!(p.io_core_statistics().is_none());
        p.spread_connections(&cores).unwrap();
        assert!(p.spread_connections(&cores).is_err());
        assert_eq!(p.io_core_statistics().unwrap().len(), 2);
    });
}

/// A set `IoCores::select` made serves the connections alone, and holds
/// its cores: they run on after the full set is dropped.
#[test]
fn a_selected_set_of_cores_serves_alone() {
    let cores = IoCores::start(vec![RuntimeBuilder::default(); 3]).unwrap();
    let last_two = cores.select(|i| i >= 1).unwrap();
    drop(cores);
    run(|| async move {
        let p = socket(SocketType::Pub, vec![]);
        p.spread_connections(&last_two).unwrap();
        let ep = bind(&p, Transport::Tcp);
        let mut subs = Vec::new();
        for _ in 0..4 {
            let s = socket(SocketType::Sub, vec![sub("")]);
            s.connect(&ep).unwrap();
            subs.push(s);
        }
        until("four subscribers", || p.peer_count() == 4).await;
        let stats = p.io_core_statistics().unwrap();
        assert_eq!(
            stats.iter().map(|s| s.connections).collect::<Vec<_>>(),
            [2, 2],
            "round-robin over the two cores picked"
        );
        // Each subscriber joins its core when its subscription arrives:
        // publish until every one has heard something.
        let mut heard = [false; 4];
        while heard.iter().any(|h| !h) {
            p.send(Bytes::from_static(b"hello")).await.unwrap();
            for (i, s) in subs.iter().enumerate() {
                while s.try_recv().is_ok() {
                    heard[i] = true;
                }
            }
            monocoque_runtime::sleep(Duration::from_millis(1)).await;
        }
    });
}
