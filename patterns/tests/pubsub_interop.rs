//! PUB/SUB against real libzmq 4.3 (the `zmq` crate), over tcp and ipc:
//! overlapping subscriptions ("A", "AB", "ABC") and unsubscribes both ways,
//! one of our PUBs feeding 8 SUBs (4 ours, 4 libzmq's), and our XSUB/XPUB
//! proxy between libzmq publishers and libzmq subscribers.
//!
//! libzmq runs in its own threads with receive timeouts; ours on the test
//! thread's runtime. Where a libzmq PUB must learn of a subscription (which
//! it cannot report), it publishes a marker topic until the subscriber says
//! it arrived: subscriptions on one connection are applied in order, so the
//! marker's arrival proves the ones before it were applied too.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use monocoque_patterns::{proxy, Socket, SocketOption};
use monocoque_runtime::spawn;
use monocoque_zmtp::SocketType;

const NETWORK: [Transport; 2] = [Transport::Tcp, Transport::Ipc];

fn zsock(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(kind).unwrap();
    s.set_rcvtimeo(10_000).unwrap();
    s.set_sndtimeo(10_000).unwrap();
    s.set_linger(2_000).unwrap();
    s
}

fn zbind(s: &zmq::Socket, t: Transport) -> String {
    match t {
        Transport::Tcp => s.bind("tcp://127.0.0.1:*").unwrap(),
        _ => s.bind(&t.endpoint()).unwrap(),
    }
    s.get_last_endpoint().unwrap().unwrap()
}

async fn join<T>(h: JoinHandle<T>) -> T {
    until("the libzmq thread", || h.is_finished()).await;
    h.join().expect("the libzmq thread panicked")
}

async fn recv_str(s: &Socket) -> String {
    frames(&s.recv().await.unwrap()).concat()
}

/// A libzmq XPUB shows exactly what our SUB sends (each subscribe, a cancel
/// only for the last count), and what it publishes arrives once per message
/// however many of our subscriptions match it.
#[test]
fn libzmq_xpub_to_our_sub_overlapping_subscriptions() {
    for t in NETWORK {
        run(|| async move {
            let (ep_tx, ep_rx) = mpsc::channel();
            let libzmq = std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let xpub = zsock(&ctx, zmq::XPUB);
                let ep = zbind(&xpub, t);
                let _file = IpcFile::of(&ep);
                ep_tx.send(ep).unwrap();
                let mut heard = Vec::new();
                for _ in 0..3 {
                    heard.push(xpub.recv_bytes(0).unwrap());
                }
                for m in ["ABCD", "AX", "B", "A-end"] {
                    xpub.send(m, 0).unwrap();
                }
                heard.push(xpub.recv_bytes(0).unwrap());
                for m in ["AX", "ABX", "ABC-end"] {
                    xpub.send(m, 0).unwrap();
                }
                heard
            });
            let ep = ep_rx.recv_timeout(Duration::from_secs(10)).unwrap();
            let s = socket(SocketType::Sub, vec![]);
            s.connect(&ep).unwrap();
            for topic in ["A", "AB", "ABC", "AB"] {
                s.set_option(sub(topic)).unwrap();
            }
            for expect in ["ABCD", "AX", "A-end"] {
                assert_eq!(recv_str(&s).await, expect);
            }
            s.set_option(SocketOption::Unsubscribe(Bytes::from_static(b"A")))
                .unwrap();
            for expect in ["ABX", "ABC-end"] {
                assert_eq!(recv_str(&s).await, expect);
            }
            let heard = join(libzmq).await;
            // A libzmq XPUB reports each topic once (the repeated "AB" is a
            // duplicate for it), then the cancel of "A".
            assert_eq!(
                heard,
                [&b"\x01A"[..], b"\x01AB", b"\x01ABC", b"\x00A"].map(<[u8]>::to_vec)
            );
        });
    }
}

/// A plain libzmq PUB feeding our SUB, with a subscription withdrawn midway.
#[test]
fn libzmq_pub_to_our_sub() {
    for t in NETWORK {
        run(|| async move {
            let (ep_tx, ep_rx) = mpsc::channel();
            let (go_tx, go_rx) = mpsc::channel::<()>();
            let libzmq = std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let publisher = zsock(&ctx, zmq::PUB);
                let ep = zbind(&publisher, t);
                let _file = IpcFile::of(&ep);
                ep_tx.send(ep).unwrap();
                for (marker, phase) in [
                    ("m1", ["ABCD", "AX", "B", "A-end"]),
                    ("m2", ["AX", "ABX", "B", "ABC-end"]),
                ] {
                    // The marker until the subscriber has it (see the file's doc).
                    while go_rx.try_recv().is_err() {
                        publisher.send(marker, 0).unwrap();
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    for m in phase {
                        publisher.send(m, 0).unwrap();
                    }
                }
            });
            let ep = ep_rx.recv_timeout(Duration::from_secs(10)).unwrap();
            let s = socket(SocketType::Sub, vec![]);
            s.connect(&ep).unwrap();
            for topic in ["A", "AB", "ABC", "m1"] {
                s.set_option(sub(topic)).unwrap();
            }
            for (marker, expect) in [
                ("m1", vec!["ABCD", "AX", "A-end"]),
                ("m2", vec!["ABX", "ABC-end"]),
            ] {
                while recv_str(&s).await != marker {}
                go_tx.send(()).unwrap();
                // Markers still in flight come first; then exactly the phase.
                let mut got = Vec::new();
                while got.len() < expect.len() {
                    let m = recv_str(&s).await;
                    if m != marker {
                        got.push(m);
                    }
                }
                assert_eq!(got, expect);
                if marker == "m1" {
                    // The cancel, then the next marker: its arrival proves the
                    // cancel before it was applied.
                    s.set_option(SocketOption::Unsubscribe(Bytes::from_static(b"A")))
                        .unwrap();
                    s.set_option(sub("m2")).unwrap();
                }
            }
            join(libzmq).await;
        });
    }
}

/// Our PUB feeding a libzmq SUB, which subscribes to overlapping topics and
/// later withdraws one; our PUB reports each change (ZMQ_TOPICS_COUNT).
#[test]
fn our_pub_to_libzmq_sub() {
    for t in NETWORK {
        run(|| async move {
            let publisher = socket(SocketType::Pub, vec![]);
            let ep = bind(&publisher, t);
            let libzmq = std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let s = zsock(&ctx, zmq::SUB);
                s.connect(&ep).unwrap();
                for topic in ["A", "AB", "ABC"] {
                    s.set_subscribe(topic.as_bytes()).unwrap();
                }
                let mut got = Vec::new();
                let recv_until = |end: &str, got: &mut Vec<String>| loop {
                    let m = s.recv_string(0).unwrap().unwrap();
                    got.push(m.clone());
                    if m == end {
                        break;
                    }
                };
                recv_until("A-end", &mut got);
                s.set_unsubscribe(b"A").unwrap();
                recv_until("ABC-end", &mut got);
                got
            });
            until("3 topics", || publisher.topics_count() == 3).await;
            for m in ["ABCD", "AX", "B", "A-end"] {
                publisher.send(m).await.unwrap();
            }
            until("the cancel", || publisher.topics_count() == 2).await;
            for m in ["AX", "ABX", "B", "ABC-end"] {
                publisher.send(m).await.unwrap();
            }
            assert_eq!(
                join(libzmq).await,
                ["ABCD", "AX", "A-end", "ABX", "ABC-end"]
            );
        });
    }
}

/// One PUB of ours, eight SUBs: four ours, four libzmq's, each on its own
/// topic; every subscriber gets exactly its messages, in order.
#[test]
fn one_pub_to_eight_mixed_subscribers() {
    const ROUNDS: usize = 50;
    for t in NETWORK {
        run(|| async move {
            let publisher = socket(SocketType::Pub, vec![]);
            let ep = bind(&publisher, t);
            let ours: Vec<Socket> = (0..4)
                .map(|i| {
                    let s = socket(SocketType::Sub, vec![sub(&format!("{i}:"))]);
                    s.connect(&ep).unwrap();
                    s
                })
                .collect();
            let ep2 = ep.clone();
            let libzmq = std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let subs: Vec<zmq::Socket> = (4..8)
                    .map(|i| {
                        let s = zsock(&ctx, zmq::SUB);
                        s.connect(&ep2).unwrap();
                        s.set_subscribe(format!("{i}:").as_bytes()).unwrap();
                        s
                    })
                    .collect();
                subs.iter()
                    .map(|s| {
                        (0..ROUNDS)
                            .map(|_| s.recv_string(0).unwrap().unwrap())
                            .collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>()
            });
            until("8 topics", || publisher.topics_count() == 8).await;
            for n in 0..ROUNDS {
                for i in 0..8 {
                    publisher
                        .send(format!("{i}:{n}").into_bytes())
                        .await
                        .unwrap();
                }
            }
            let expect = |i: usize| (0..ROUNDS).map(|n| format!("{i}:{n}")).collect::<Vec<_>>();
            for (i, s) in ours.iter().enumerate() {
                let mut got = Vec::new();
                for _ in 0..ROUNDS {
                    got.push(recv_str(s).await);
                }
                assert_eq!(got, expect(i));
                assert!(s.try_recv().is_err());
            }
            for (k, got) in join(libzmq).await.into_iter().enumerate() {
                assert_eq!(got, expect(k + 4));
            }
        });
    }
}

/// Our XSUB/XPUB proxy between two libzmq publishers and two libzmq
/// subscribers: the subscriptions travel upstream through it (a libzmq PUB
/// sends nothing unsubscribed), each subscriber gets its publishers' streams
/// in order and nothing else.
#[test]
fn our_forwarder_between_libzmq_publishers_and_subscribers() {
    for t in NETWORK {
        run(|| async move {
            let xsub = socket(SocketType::XSub, vec![]);
            let upstream = bind(&xsub, t);
            let xpub = socket(SocketType::XPub, vec![]);
            let downstream = bind(&xpub, t);
            let forwarder = spawn(async move { proxy(&xsub, &xpub, None).await });

            let stop = Arc::new(AtomicBool::new(false));
            let publishers: Vec<_> = ["p1", "p2"]
                .into_iter()
                .map(|name| {
                    let (ep, stop) = (upstream.clone(), stop.clone());
                    std::thread::spawn(move || {
                        let ctx = zmq::Context::new();
                        let p = zsock(&ctx, zmq::PUB);
                        p.connect(&ep).unwrap();
                        let mut n = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            p.send(format!("{name} {n}").as_str(), 0).unwrap();
                            n += 1;
                            // Paced, so the two cores are not flooded.
                            std::thread::sleep(Duration::from_micros(200));
                        }
                    })
                })
                .collect();
            let subscribers: Vec<_> = [vec!["p1"], vec!["p1", "p2"]]
                .into_iter()
                .map(|topics| {
                    let ep = downstream.clone();
                    std::thread::spawn(move || {
                        let ctx = zmq::Context::new();
                        let s = zsock(&ctx, zmq::SUB);
                        s.connect(&ep).unwrap();
                        for t in &topics {
                            s.set_subscribe(t.as_bytes()).unwrap();
                        }
                        // 20 from each wanted publisher, sequence numbers rising.
                        let mut last: std::collections::HashMap<String, u64> = Default::default();
                        let mut counts: std::collections::HashMap<String, usize> =
                            Default::default();
                        while topics
                            .iter()
                            .any(|t| counts.get(*t).copied().unwrap_or(0) < 20)
                        {
                            let m = s.recv_string(0).unwrap().unwrap();
                            let (name, n) = m.split_once(' ').unwrap();
                            assert!(topics.contains(&name), "unwanted {m}");
                            let n: u64 = n.parse().unwrap();
                            if let Some(prev) = last.insert(name.to_string(), n) {
                                assert!(n > prev, "{name}: {n} after {prev}");
                            }
                            *counts.entry(name.to_string()).or_default() += 1;
                        }
                    })
                })
                .collect();
            for s in subscribers {
                join(s).await;
            }
            stop.store(true, Ordering::Relaxed);
            for p in publishers {
                join(p).await;
            }
            drop(forwarder);
        });
    }
}

/// The other way round: libzmq's SUB binds, our XPUB connects. The
/// subscriptions it holds reach us once the connection is up.
#[test]
fn our_xpub_connecting_to_a_bound_libzmq_sub() {
    for t in NETWORK {
        run(|| async move {
            let (ep_tx, ep_rx) = std::sync::mpsc::channel();
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            let libzmq = std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let s = zsock(&ctx, zmq::SUB);
                let ep = zbind(&s, t);
                let _file = IpcFile::of(&ep);
                s.set_subscribe(b"T").unwrap();
                ep_tx.send(ep).unwrap();
                let got = s.recv_string(0).unwrap().unwrap();
                let _ = done_rx.recv();
                got
            });
            let ep = ep_rx.recv().unwrap();
            let xpub = socket(SocketType::XPub, vec![]);
            xpub.connect(&ep).unwrap();
            assert_eq!(frames(&xpub.recv().await.unwrap()), ["\u{1}T"]);
            xpub.send("T1").await.unwrap();
            drop(done_tx);
            assert_eq!(join(libzmq).await, "T1");
        });
    }
}
