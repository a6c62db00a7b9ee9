//! PUB, SUB, XPUB and XSUB (RFC 29) as libzmq's tests check them:
//! test_pubsub, test_xpub_verbose, test_xpub_manual, test_xpub_nodrop,
//! test_xpub_topic, test_xpub_welcome_msg, test_sub_forward,
//! test_pub_invert_matching, test_hwm_pubsub and test_conflate, each over
//! tcp, ipc and inproc.
//!
//! Nothing here sleeps to let a subscription travel: a test waits until the
//! publisher reports it (`topics_count`, libzmq's ZMQ_TOPICS_COUNT) or until
//! an XPUB has received it.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use monocoque_patterns::{Error, Socket, SocketOption};
use monocoque_zmtp::SocketType;

/// Waits until the publisher knows `n` topics.
async fn topics(publisher: &Socket, n: usize) {
    until(&format!("{n} topics at the publisher"), || {
        publisher.topics_count() == n
    })
    .await;
}

/// Receives with a deadline; panics if nothing arrives.
async fn recv(s: &Socket) -> Vec<String> {
    let m = monocoque_runtime::timeout(Duration::from_secs(5), s.recv())
        .await
        .expect("a message within 5 s")
        .expect("recv");
    frames(&m)
}

/// Asserts nothing more is queued for `s` once `marker` (published after
/// everything else, matching `s`) arrived: what came before it is all there is.
async fn nothing_before(s: &Socket, marker: &str) {
    assert_eq!(recv(s).await, [marker]);
    assert!(matches!(s.try_recv(), Err(Error::WouldBlock(_))));
}

// ------------------------------------------------------------- test_pubsub

/// A SUB with no subscription receives nothing; with one, the matching messages
/// (multipart intact, matched on the first frame).
#[test]
fn sub_receives_only_what_it_subscribed_to() {
    each_transport(|t| async move {
        let publisher = socket(SocketType::Pub, vec![]);
        let ep = bind(&publisher, t);
        let none = socket(SocketType::Sub, vec![]);
        none.connect(&ep).unwrap();
        let subscriber = socket(SocketType::Sub, vec![sub("A")]);
        subscriber.connect(&ep).unwrap();
        peers(&publisher, 2).await;
        topics(&publisher, 1).await;

        publisher.send(msg(&["B", "x"])).await.unwrap();
        publisher.send(msg(&["AB", "y"])).await.unwrap();
        publisher.send(msg(&["A"])).await.unwrap();
        assert_eq!(recv(&subscriber).await, ["AB", "y"]);
        nothing_before(&subscriber, "A").await;

        // The subscriber-less SUB got nothing; give it "" (everything) now and
        // publish one more: it is the first and only message it sees.
        none.set_option(sub("")).unwrap();
        topics(&publisher, 2).await;
        publisher.send("Z").await.unwrap();
        nothing_before(&none, "Z").await;
    });
}

/// Overlapping subscriptions deliver each message once; subscriptions are
/// counted, and a cancel leaves the publisher only with the last count.
#[test]
fn overlapping_and_counted_subscriptions() {
    each_transport(|t| async move {
        let publisher = socket(SocketType::Pub, vec![]);
        let ep = bind(&publisher, t);
        let s = socket(
            SocketType::Sub,
            vec![sub("A"), sub("AB"), sub("ABC"), sub("AB")],
        );
        s.connect(&ep).unwrap();
        topics(&publisher, 3).await;
        publisher.send("ABCD").await.unwrap();
        publisher.send("AX").await.unwrap();
        assert_eq!(recv(&s).await, ["ABCD"]);
        assert_eq!(recv(&s).await, ["AX"]);

        s.set_option(unsub("A")).unwrap();
        topics(&publisher, 2).await;
        s.set_option(unsub("AB")).unwrap(); // one count of "AB" left
        s.set_option(unsub("ABC")).unwrap();
        topics(&publisher, 1).await;
        publisher.send("AX").await.unwrap(); // nobody wants it now
        publisher.send("ABX").await.unwrap();
        nothing_before(&s, "ABX").await;
        assert_eq!(s.topics_count(), 1);
    });
}

/// Subscriptions set before the connection, and on a SUB that binds (the
/// PUB connects), reach the publisher.
#[test]
fn subscriptions_reach_a_connecting_publisher() {
    each_transport(|t| async move {
        let s = socket(SocketType::Sub, vec![sub("T")]);
        let ep = bind(&s, t);
        let publisher = socket(SocketType::Pub, vec![]);
        publisher.connect(&ep).unwrap();
        topics(&publisher, 1).await;
        publisher.send("nope").await.unwrap();
        publisher.send("T1").await.unwrap();
        nothing_before(&s, "T1").await;
    });
}

/// A SUB cannot send, a PUB cannot receive; SUBSCRIBE is refused where it
/// means nothing.
#[test]
fn the_one_way_rules_hold() {
    run(|| async {
        let s = socket(SocketType::Sub, vec![]);
        assert!(matches!(s.try_send("x"), Err(Error::NotSupported { .. })));
        let p = socket(SocketType::Pub, vec![]);
        assert!(matches!(p.try_recv(), Err(Error::NotSupported { .. })));
        assert!(p.set_option(sub("x")).is_err());
        let x = socket(SocketType::XPub, vec![]);
        let e = x.set_option(sub("x")).unwrap_err();
        assert!(e.to_string().contains("XPUB_MANUAL"), "{e}");
        let d = socket(SocketType::Dealer, vec![]);
        assert!(d.set_option(sub("x")).is_err());
        // PUB with nobody subscribed: the send succeeds and goes nowhere.
        p.send("lost").await.unwrap();
    });
}

// ------------------------------------------------------- test_xpub_verbose

/// An XPUB hears a topic once however many subscribe, and its cancel when the
/// last one leaves; XPUB_VERBOSE hears every subscribe; XPUB_VERBOSER every
/// cancel too.
#[test]
fn xpub_hears_new_topics_and_verbose_hears_all() {
    each_transport(|t| async move {
        for (option, subs_heard, unsubs_heard) in [
            (None, 1, 1),
            (Some(SocketOption::XpubVerbose(true)), 3, 1),
            (Some(SocketOption::XpubVerboser(true)), 3, 3),
        ] {
            let xpub = socket(SocketType::XPub, option.into_iter().collect());
            let ep = bind(&xpub, t);
            let subs: Vec<Socket> = (0..3)
                .map(|_| {
                    let s = socket(SocketType::Sub, vec![]);
                    s.connect(&ep).unwrap();
                    s
                })
                .collect();
            peers(&xpub, 3).await;
            for s in &subs {
                s.set_option(sub("A")).unwrap();
            }
            for _ in 0..subs_heard {
                assert_eq!(recv(&xpub).await, ["\u{1}A"]);
            }
            for s in &subs {
                s.set_option(unsub("A")).unwrap();
            }
            for _ in 0..unsubs_heard {
                assert_eq!(recv(&xpub).await, ["\u{0}A"]);
            }
            // Nothing else: a fresh topic's request is the next thing heard.
            subs[0].set_option(sub("Z")).unwrap();
            assert_eq!(recv(&xpub).await, ["\u{1}Z"]);
        }
    });
}

/// When a subscriber leaves, the XPUB hears the cancels of the topics nobody
/// else has.
#[test]
fn xpub_hears_the_cancels_of_a_departed_subscriber() {
    each_transport(|t| async move {
        let xpub = socket(SocketType::XPub, vec![]);
        let ep = bind(&xpub, t);
        let a = socket(SocketType::Sub, vec![sub("shared"), sub("mine")]);
        a.connect(&ep).unwrap();
        let b = socket(SocketType::Sub, vec![sub("shared")]);
        b.connect(&ep).unwrap();
        let mut heard = vec![recv(&xpub).await, recv(&xpub).await];
        heard.sort();
        assert_eq!(heard, [["\u{1}mine"], ["\u{1}shared"]]);
        drop(a);
        assert_eq!(recv(&xpub).await, ["\u{0}mine"]);
        drop(b);
        assert_eq!(recv(&xpub).await, ["\u{0}shared"]);
    });
}

// -------------------------------------------------------- test_sub_forward

/// An XSUB/XPUB forwarder: subscriptions travel upstream through it, messages
/// downstream.
#[test]
fn xsub_xpub_forwarder() {
    each_transport(|t| async move {
        let publisher = socket(SocketType::Pub, vec![]);
        let upstream = bind(&publisher, t);
        let xsub = socket(SocketType::XSub, vec![]);
        xsub.connect(&upstream).unwrap();
        let xpub = socket(SocketType::XPub, vec![]);
        let downstream = bind(&xpub, t);
        let s = socket(SocketType::Sub, vec![sub("")]);
        s.connect(&downstream).unwrap();

        // The subscription, by hand through the forwarder.
        let request = monocoque_runtime::timeout(Duration::from_secs(5), xpub.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(frames(&request), ["\u{1}"]);
        xsub.send(request).await.unwrap();
        topics(&publisher, 1).await;
        publisher.send("hello").await.unwrap();
        let m = monocoque_runtime::timeout(Duration::from_secs(5), xsub.recv())
            .await
            .unwrap()
            .unwrap();
        xpub.send(m).await.unwrap();
        assert_eq!(recv(&s).await, ["hello"]);
    });
}

// -------------------------------------------------------- test_hwm_pubsub

/// A subscriber at its SNDHWM loses its own messages; the others get all.
#[test]
fn a_full_subscriber_loses_only_its_own_messages() {
    run(|| async {
        let publisher = socket(SocketType::Pub, vec![SocketOption::SndHwm(10)]);
        let ep = bind(&publisher, Transport::Inproc);
        let slow = socket(SocketType::Sub, vec![sub(""), SocketOption::RcvHwm(10)]);
        slow.connect(&ep).unwrap();
        let fast = socket(SocketType::Sub, vec![sub("m")]);
        fast.connect(&ep).unwrap();
        topics(&publisher, 2).await;
        for i in 0..100 {
            publisher.send(format!("m{i}").into_bytes()).await.unwrap();
            assert_eq!(recv(&fast).await, [format!("m{i}")]);
        }
        // inproc pipes hold SNDHWM + RCVHWM.
        assert_eq!(slow.queued().0, 20);
        for i in 0..20 {
            assert_eq!(recv(&slow).await, [format!("m{i}")]);
        }
        assert!(slow.try_recv().is_err());
    });
}

/// XPUB_NODROP: a full subscriber makes the send wait instead of dropping.
#[test]
fn xpub_nodrop_blocks_at_the_hwm() {
    each_transport(|t| async move {
        let xpub = socket(
            SocketType::XPub,
            vec![SocketOption::XpubNodrop(true), SocketOption::SndHwm(5)],
        );
        let ep = bind(&xpub, t);
        let s = socket(SocketType::Sub, vec![sub(""), SocketOption::RcvHwm(5)]);
        s.connect(&ep).unwrap();
        assert_eq!(recv(&xpub).await, ["\u{1}"]);
        let mut sent = 0;
        loop {
            match xpub.try_send("m") {
                Ok(()) => sent += 1,
                Err(Error::WouldBlock(_)) => break,
                Err(e) => panic!("{e}"),
            }
            assert!(sent < 1_000_000, "never blocked");
        }
        for _ in 0..sent {
            assert_eq!(recv(&s).await, ["m"]);
        }
        // The subscriber read everything: sending works again.
        xpub.send("again").await.unwrap();
        assert_eq!(recv(&s).await, ["again"]);
    });
}

// ------------------------------------------------- test_xpub_welcome_msg

#[test]
fn xpub_welcome_message() {
    each_transport(|t| async move {
        let xpub = socket(
            SocketType::XPub,
            vec![SocketOption::XpubWelcomeMsg(Bytes::from_static(b"W"))],
        );
        let ep = bind(&xpub, t);
        let s = socket(SocketType::Sub, vec![sub("W")]);
        s.connect(&ep).unwrap();
        assert_eq!(recv(&xpub).await, ["\u{1}W"]);
        assert_eq!(recv(&s).await, ["W"]);
    });
}

// ---------------------------------------------------- test_xpub_manual

/// XPUB_MANUAL: requests are only heard; the user's Subscribe applies to the
/// peer of the request read last.
#[test]
fn xpub_manual_applies_what_the_user_says() {
    each_transport(|t| async move {
        let xpub = socket(SocketType::XPub, vec![SocketOption::XpubManual(true)]);
        let ep = bind(&xpub, t);
        let s = socket(SocketType::XSub, vec![]);
        s.connect(&ep).unwrap();
        s.send("\u{1}A").await.unwrap();
        assert_eq!(recv(&xpub).await, ["\u{1}A"]);
        xpub.set_option(sub("B")).unwrap();
        assert_eq!(xpub.topics_count(), 1);
        xpub.send("A").await.unwrap();
        xpub.send("B").await.unwrap();
        nothing_before(&s, "B").await;
    });
}

// ---------------------------------------------- test_pub_invert_matching

#[test]
fn invert_matching() {
    each_transport(|t| async move {
        let publisher = socket(SocketType::Pub, vec![SocketOption::InvertMatching(true)]);
        let ep = bind(&publisher, t);
        let s1 = socket(
            SocketType::Sub,
            vec![SocketOption::InvertMatching(true), sub("prefix1")],
        );
        s1.connect(&ep).unwrap();
        let s2 = socket(
            SocketType::Sub,
            vec![SocketOption::InvertMatching(true), sub("p")],
        );
        s2.connect(&ep).unwrap();
        topics(&publisher, 2).await;
        publisher.send("prefix1").await.unwrap();
        publisher.send("prefix2").await.unwrap();
        publisher.send("p").await.unwrap();
        publisher.send("x").await.unwrap();
        // s1 gets what does not start with "prefix1"; s2 what does not start with "p".
        assert_eq!(recv(&s1).await, ["prefix2"]);
        assert_eq!(recv(&s1).await, ["p"]);
        nothing_before(&s1, "x").await;
        nothing_before(&s2, "x").await;
    });
}

// -------------------------------------------------------- test_conflate

#[test]
fn conflate_keeps_the_newest_message() {
    each_transport(|t| async move {
        let s = socket(SocketType::Sub, vec![SocketOption::Conflate(true), sub("")]);
        let ep = bind(&s, t);
        let publisher = socket(SocketType::Pub, vec![]);
        publisher.connect(&ep).unwrap();
        topics(&publisher, 1).await;
        for i in 0..20 {
            publisher.send(format!("{i}").into_bytes()).await.unwrap();
        }
        // Read until the last: values only go forward, the pipe never holds
        // more than one, and over inproc (where a send is a push into the
        // receiver's queue) only the last is left.
        let mut got = Vec::new();
        loop {
            assert!(s.queued().0 <= 1);
            let m = recv(&s).await;
            got.push(m[0].parse::<u32>().unwrap());
            if m == ["19"] {
                break;
            }
        }
        assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
        if t == Transport::Inproc {
            assert_eq!(got, [19]);
        }
        assert!(s.try_recv().is_err());
    });
}
