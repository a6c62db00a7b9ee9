//! Subscribers that try to hurt a publisher, over real TCP connections from raw
//! ZMTP 3.1 peers:
//!
//! - nested subscriptions "a", "aa", "aaa"... 20,000 deep, then leaving: the
//!   publisher (PUB and XPUB) removes them without recursing (this aborted the
//!   whole process with a stack overflow once), and a well-behaved subscriber
//!   is served before and after;
//! - a forwarder (XSUB) holding such subscriptions meets a new publisher and
//!   sends them all, again without recursing;
//! - MAX_SUBSCRIPTIONS and MAX_SUBSCRIPTION_BYTES: a peer going over a cap is
//!   disconnected, with the reason in a monitor event, while a peer under it
//!   (repeats of a topic it holds do not count) and the other subscribers
//!   are served.
//!
//! The deep cases run the socket on a thread with a small stack, so a
//! recursion as deep as the tree would crash the test instead of passing by
//! luck on a big main-thread stack.

mod common;

use std::io::{BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use common::*;
use monocoque_patterns::{CloseReason, Monitor, MonitorEvent, Socket, SocketOption};
use monocoque_zmtp::SocketType;

/// How deep the hostile peers nest their topics.
const DEPTH: usize = 20_000;

/// Time allowed for cases that move DEPTH nested topics (about 200 MB).
const LONG: Duration = Duration::from_secs(120);

/// Runs `f` on a thread with a stack a DEPTH-deep recursion would overflow
/// (at least 13 bytes a level for 256 KiB; a real frame is far bigger) but
/// roomy enough for the socket's own work in an unoptimised build.
fn on_a_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(f)
        .expect("thread")
        .join()
        .expect("no stack overflow, no panic");
}

/// Receives with a deadline; panics if nothing arrives.
async fn recv(s: &Socket) -> Vec<u8> {
    let m = monocoque_runtime::timeout(Duration::from_secs(30), s.recv())
        .await
        .expect("a message within 30 s")
        .expect("recv");
    assert_eq!(m.frames().len(), 1, "one frame");
    m[0].to_vec()
}

/// A subscription (`0x01`) or cancel (`0x00`) as an XSUB sends and an XPUB
/// user reads it.
fn request(subscribe: bool, topic: &[u8]) -> Vec<u8> {
    let mut v = vec![subscribe as u8];
    v.extend_from_slice(topic);
    v
}

/// A publisher of `kind` on tcp with a well-behaved SUB (topic "z") connected
/// and its subscription applied.
async fn publisher_with_a_good_subscriber(
    kind: SocketType,
    options: Vec<SocketOption>,
) -> (Socket, Monitor, String, Socket) {
    let publisher = socket(kind, options);
    let monitor = publisher.monitor();
    let ep = bind(&publisher, Transport::Tcp);
    let good = socket(SocketType::Sub, vec![sub("z")]);
    good.connect(&ep).unwrap();
    if kind == SocketType::XPub {
        assert_eq!(recv(&publisher).await, b"\x01z");
    }
    until("the good subscription", || publisher.topics_count() == 1).await;
    (publisher, monitor, ep, good)
}

/// The good subscriber still receives what is published to it.
async fn still_served(publisher: &Socket, good: &Socket, what: &str) {
    publisher
        .send(format!("z {what}").into_bytes())
        .await
        .unwrap();
    let m = monocoque_runtime::timeout(Duration::from_secs(10), good.recv())
        .await
        .expect("the good subscriber is served")
        .unwrap();
    assert_eq!(frames(&m), [format!("z {what}")]);
}

fn nested_subscriptions_then_leaving(kind: SocketType, ours: &'static str) {
    on_a_small_stack(move || {
        run_within(LONG, || async move {
            let (publisher, _monitor, ep, good) =
                publisher_with_a_good_subscriber(kind, vec![]).await;
            let hostile = std::thread::spawn(move || {
                let mut s = raw_connect(&ep, "SUB", ours);
                let deep = vec![b'a'; DEPTH];
                // Longest first: the same one-node-per-level tree as "a",
                // "aa"... in that order, without the publisher walking down
                // the whole chain for each topic (slow in a debug build; the
                // depth, not the order, is what a recursion trips on).
                for d in (1..=DEPTH).rev() {
                    s.write_all(&raw_subscribe(&deep[..d])).unwrap();
                }
                s
            });
            if kind == SocketType::XPub {
                // Each topic is new: the XPUB user hears every one.
                for d in (1..=DEPTH).rev() {
                    let heard = recv(&publisher).await;
                    assert_eq!(heard.len(), 1 + d);
                }
            }
            until_within("the nested subscriptions", LONG, || {
                publisher.topics_count() == DEPTH + 1
            })
            .await;
            still_served(&publisher, &good, "during").await;

            let s = hostile.join().expect("the hostile peer");
            drop(s);
            if kind == SocketType::XPub {
                // The cancels of every topic nobody else has, in topic order.
                for d in 1..=DEPTH {
                    let heard = recv(&publisher).await;
                    assert_eq!(heard, request(false, &vec![b'a'; d]));
                }
            }
            until_within("the hostile peer's subscriptions gone", LONG, || {
                publisher.topics_count() == 1
            })
            .await;
            assert_eq!(publisher.peer_count(), 1);
            still_served(&publisher, &good, "after").await;
        });
    });
}

#[test]
fn pub_survives_nested_subscriptions_20000_deep() {
    nested_subscriptions_then_leaving(SocketType::Pub, "PUB");
}

#[test]
fn xpub_survives_nested_subscriptions_20000_deep() {
    nested_subscriptions_then_leaving(SocketType::XPub, "XPUB");
}

/// An XSUB (a forwarder's upstream side) holding DEPTH nested subscriptions
/// connects to a publisher: it sends them all on the new connection, walking
/// its subscriptions without recursing. The publisher here is a raw peer that
/// counts what arrives.
#[test]
fn a_forwarder_sends_nested_subscriptions_20000_deep_to_a_new_publisher() {
    on_a_small_stack(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let raw_publisher = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            let mut w = s.try_clone().unwrap();
            w.write_all(&raw_greeting(1)).unwrap();
            w.write_all(&raw_ready("PUB")).unwrap();
            let mut r = BufReader::new(s);
            let mut greeting = [0u8; 64];
            r.read_exact(&mut greeting).unwrap();
            let (flags, ready) = raw_read_frame(&mut r);
            assert!(flags & 0x04 != 0 && ready.starts_with(b"\x05READY"));
            // The subscriptions, in topic order: "a", "aa", ...
            for d in 1..=DEPTH {
                let (flags, body) = raw_read_frame(&mut r);
                assert!(flags & 0x04 != 0, "a command");
                assert_eq!(&body[..10], b"\x09SUBSCRIBE");
                assert_eq!(body.len(), 10 + d);
            }
        });
        run_within(LONG, || async move {
            let xsub = socket(SocketType::XSub, vec![]);
            let deep = vec![b'a'; DEPTH];
            for d in (1..=DEPTH).rev() {
                xsub.send(request(true, &deep[..d])).await.unwrap();
            }
            assert_eq!(xsub.topics_count(), DEPTH);
            xsub.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
            until_within("the raw publisher", LONG, || raw_publisher.is_finished()).await;
            raw_publisher.join().expect("every subscription arrived");
        });
    });
}

/// A raw SUB sends `under` (all of which its caps allow), is served, then
/// sends `over` and is disconnected; the publisher's monitor names `reason`
/// and the good subscriber is served throughout.
fn over_a_cap(
    kind: SocketType,
    ours: &'static str,
    cap: SocketOption,
    under: Vec<Vec<u8>>,
    over: Vec<u8>,
    reason: &'static str,
) {
    run(|| async move {
        let (publisher, monitor, ep, good) =
            publisher_with_a_good_subscriber(kind, vec![cap]).await;
        let distinct: std::collections::BTreeSet<_> = under.iter().cloned().collect();
        let (served_tx, served_rx) = std::sync::mpsc::channel::<()>();
        let mut news = under.last().cloned().expect("something under the cap");
        news.extend_from_slice(b" news");
        let expect = news.clone();
        let peer = std::thread::spawn(move || {
            let mut s = raw_connect(&ep, "SUB", ours);
            for topic in &under {
                s.write_all(&raw_subscribe(topic)).unwrap();
            }
            // Served while under the cap.
            assert_eq!(raw_read_message(&mut s), expect);
            served_tx.send(()).unwrap();
            s.write_all(&raw_subscribe(&over)).unwrap();
            raw_read_until_closed(&mut s)
        });
        if kind == SocketType::XPub {
            for _ in 0..distinct.len() {
                assert_eq!(recv(&publisher).await[0], 1, "a subscribe");
            }
        }
        // Everything under the cap is applied, in order: had a repeat counted,
        // the peer would have been dropped before its last topic.
        until("the subscriptions under the cap", || {
            publisher.topics_count() == 1 + distinct.len()
        })
        .await;
        assert_eq!(publisher.peer_count(), 2);
        publisher.send(news).await.unwrap();
        until("the raw peer served", || served_rx.try_recv().is_ok()).await;

        until("the peer over the cap dropped", || {
            publisher.peer_count() == 1
        })
        .await;
        assert_eq!(
            publisher.topics_count(),
            1,
            "its subscriptions went with it"
        );
        until("the raw peer sees the close", || peer.is_finished()).await;
        assert!(
            peer.join().expect("the raw peer").is_empty(),
            "nothing after"
        );
        let reasons: Vec<CloseReason> = std::iter::from_fn(|| monitor.try_recv())
            .filter_map(|e| match e {
                MonitorEvent::Disconnected { reason, .. } => Some(reason),
                _ => None,
            })
            .collect();
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert!(
            matches!(reasons[0], CloseReason::SubscriptionLimit(_))
                && reasons[0].to_string().contains(reason),
            "{reasons:?}"
        );
        if kind == SocketType::XPub {
            // The XPUB user hears the cancels of the dropped peer's topics.
            for _ in 0..distinct.len() {
                assert_eq!(recv(&publisher).await[0], 0, "a cancel");
            }
        }
        still_served(&publisher, &good, "after").await;
    });
}

/// 100 distinct topics, after 50 repeats of the first (which do not count).
fn hundred_topics() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = (0..50).map(|_| b"t000".to_vec()).collect();
    v.extend((0..100).map(|i| format!("t{i:03}").into_bytes()));
    v
}

#[test]
fn max_subscriptions_drops_the_peer_that_goes_over() {
    for (kind, ours) in [(SocketType::Pub, "PUB"), (SocketType::XPub, "XPUB")] {
        over_a_cap(
            kind,
            ours,
            SocketOption::MaxSubscriptions(Some(100)),
            hundred_topics(),
            b"t100".to_vec(),
            "MAX_SUBSCRIPTIONS (100)",
        );
    }
}

#[test]
fn max_subscription_bytes_drops_the_peer_that_goes_over() {
    for (kind, ours) in [(SocketType::Pub, "PUB"), (SocketType::XPub, "XPUB")] {
        // 100 topics of 4 bytes: exactly 400 bytes, then one byte more.
        over_a_cap(
            kind,
            ours,
            SocketOption::MaxSubscriptionBytes(Some(400)),
            hundred_topics(),
            b"u".to_vec(),
            "MAX_SUBSCRIPTION_BYTES (400)",
        );
    }
}

/// Nested topics from a peer against a capped publisher: it is dropped at the
/// cap, long before the depth could cost anything.
#[test]
fn a_capped_publisher_drops_a_nesting_peer_at_the_cap() {
    run(|| async {
        let (publisher, monitor, ep, good) = publisher_with_a_good_subscriber(
            SocketType::Pub,
            vec![SocketOption::MaxSubscriptionBytes(Some(64 * 1024))],
        )
        .await;
        let peer = std::thread::spawn(move || {
            let mut s = raw_connect(&ep, "SUB", "PUB");
            let deep = vec![b'a'; DEPTH];
            for d in 1..=DEPTH {
                // The publisher closes the connection once over the cap;
                // writes after that fail, which ends the flood.
                if s.write_all(&raw_subscribe(&deep[..d])).is_err() {
                    return d;
                }
            }
            DEPTH
        });
        // peer_count first: it is what applies the subscriptions queued so
        // far (the flood ends when the close reaches the peer).
        until("the nesting peer dropped", || {
            publisher.peer_count() == 1 && peer.is_finished()
        })
        .await;
        assert!(peer.join().unwrap() < DEPTH, "cut off before the end");
        assert_eq!(publisher.topics_count(), 1);
        let dropped = std::iter::from_fn(|| monitor.try_recv()).any(|e| {
            matches!(e, MonitorEvent::Disconnected { reason, .. }
                if reason.to_string().contains("MAX_SUBSCRIPTION_BYTES (65536)"))
        });
        assert!(dropped);
        still_served(&publisher, &good, "after").await;
    });
}
