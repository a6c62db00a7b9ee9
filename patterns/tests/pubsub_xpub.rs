//! XPUB's cases from libzmq's test_xpub_verbose, test_xpub_manual,
//! test_xpub_nodrop and test_hwm_pubsub, each over tcp, ipc and inproc.
//!
//! Where libzmq checks that nothing was heard with a DONTWAIT receive after a
//! settle time, these send a marker subscription afterwards and check that it
//! is the next thing heard: requests from one peer arrive in order.

mod common;

use bytes::Bytes;
use common::*;
use monocoque_patterns::{Error, Socket, SocketOption};
use monocoque_zmtp::SocketType;

async fn heard(xpub: &Socket) -> String {
    frames(&xpub.recv().await.unwrap()).concat()
}

/// Asserts the next request `xpub` hears is the marker `s` now subscribes to
/// (so nothing was heard before it), then withdraws the marker.
async fn nothing_heard(xpub: &Socket, s: &Socket, marker: &str) {
    s.set_option(sub(marker)).unwrap();
    assert_eq!(heard(xpub).await, format!("\u{1}{marker}"));
    s.set_option(unsub(marker)).unwrap();
    assert_eq!(heard(xpub).await, format!("\u{0}{marker}"));
}

fn subs(ep: &str, n: usize) -> Vec<Socket> {
    (0..n)
        .map(|_| {
            let s = socket(SocketType::Sub, vec![]);
            s.connect(ep).unwrap();
            s
        })
        .collect()
}

#[test]
fn xpub_verbose_one_sub() {
    each_transport(|t| async move {
        let xpub = socket(SocketType::XPub, vec![]);
        let ep = bind(&xpub, t);
        let s = &subs(&ep, 1)[0];
        s.set_option(sub("A")).unwrap();
        assert_eq!(heard(&xpub).await, "\u{1}A");
        s.set_option(sub("B")).unwrap();
        assert_eq!(heard(&xpub).await, "\u{1}B");
        s.set_option(sub("A")).unwrap(); // a duplicate: filtered
        nothing_heard(&xpub, s, "m1").await;
        xpub.set_option(SocketOption::XpubVerbose(true)).unwrap();
        s.set_option(sub("A")).unwrap();
        assert_eq!(heard(&xpub).await, "\u{1}A");
        xpub.send("A").await.unwrap();
        xpub.send("B").await.unwrap();
        assert_eq!(frames(&s.recv().await.unwrap()), ["A"]);
        assert_eq!(frames(&s.recv().await.unwrap()), ["B"]);
    });
}

#[test]
fn xpub_verbose_two_subs() {
    each_transport(|t| async move {
        let xpub = socket(SocketType::XPub, vec![]);
        let ep = bind(&xpub, t);
        let s = subs(&ep, 2);
        s[0].set_option(sub("A")).unwrap();
        assert_eq!(heard(&xpub).await, "\u{1}A");
        s[1].set_option(sub("A")).unwrap();
        nothing_heard(&xpub, &s[1], "m1").await;
        s[0].set_option(sub("B")).unwrap();
        assert_eq!(heard(&xpub).await, "\u{1}B");
        xpub.set_option(SocketOption::XpubVerbose(true)).unwrap();
        s[1].set_option(sub("A")).unwrap();
        assert_eq!(heard(&xpub).await, "\u{1}A");
        xpub.send("A").await.unwrap();
        xpub.send("B").await.unwrap();
        assert_eq!(frames(&s[0].recv().await.unwrap()), ["A"]);
        assert_eq!(frames(&s[1].recv().await.unwrap()), ["A"]);
        assert_eq!(frames(&s[0].recv().await.unwrap()), ["B"]);
    });
}

#[test]
fn xpub_verboser_one_sub() {
    each_transport(|t| async move {
        let xpub = socket(SocketType::XPub, vec![]);
        let ep = bind(&xpub, t);
        let s = &subs(&ep, 1)[0];
        s.set_option(unsub("A")).unwrap(); // never subscribed: the SUB sends nothing
        nothing_heard(&xpub, s, "m1").await;
        s.set_option(sub("A")).unwrap();
        assert_eq!(heard(&xpub).await, "\u{1}A");
        s.set_option(sub("A")).unwrap();
        nothing_heard(&xpub, s, "m2").await;
        s.set_option(unsub("A")).unwrap(); // one count left: nothing sent
        nothing_heard(&xpub, s, "m3").await;
        s.set_option(unsub("A")).unwrap();
        assert_eq!(heard(&xpub).await, "\u{0}A");
        s.set_option(unsub("A")).unwrap();
        nothing_heard(&xpub, s, "m4").await;

        xpub.set_option(SocketOption::XpubVerboser(true)).unwrap();
        s.set_option(sub("A")).unwrap();
        assert_eq!(heard(&xpub).await, "\u{1}A");
        xpub.send("A").await.unwrap();
        assert_eq!(frames(&s.recv().await.unwrap()), ["A"]);
        s.set_option(unsub("A")).unwrap();
        assert_eq!(heard(&xpub).await, "\u{0}A");
        s.set_option(unsub("A")).unwrap();
        nothing_heard(&xpub, s, "m5").await;
    });
}

#[test]
fn xpub_verboser_two_subs() {
    each_transport(|t| async move {
        let xpub = socket(SocketType::XPub, vec![]);
        let ep = bind(&xpub, t);
        let s = subs(&ep, 2);
        s[0].set_option(sub("A")).unwrap();
        assert_eq!(heard(&xpub).await, "\u{1}A");
        s[1].set_option(sub("A")).unwrap();
        nothing_heard(&xpub, &s[1], "m1").await;
        s[0].set_option(unsub("A")).unwrap(); // s[1] still has it
        nothing_heard(&xpub, &s[0], "m2").await;
        s[1].set_option(unsub("A")).unwrap();
        assert_eq!(heard(&xpub).await, "\u{0}A");

        xpub.set_option(SocketOption::XpubVerboser(true)).unwrap();
        s[0].set_option(sub("A")).unwrap();
        assert_eq!(heard(&xpub).await, "\u{1}A");
        s[1].set_option(sub("A")).unwrap();
        assert_eq!(heard(&xpub).await, "\u{1}A");
        xpub.send("A").await.unwrap();
        assert_eq!(frames(&s[0].recv().await.unwrap()), ["A"]);
        assert_eq!(frames(&s[1].recv().await.unwrap()), ["A"]);
        s[1].set_option(unsub("A")).unwrap();
        assert_eq!(heard(&xpub).await, "\u{0}A");
        s[0].set_option(unsub("A")).unwrap();
        assert_eq!(heard(&xpub).await, "\u{0}A");
        s[1].set_option(unsub("A")).unwrap();
        nothing_heard(&xpub, &s[1], "m3").await;
    });
}

/// test_xpub_manual's test_unsubscribe_manual: the user maps each request to
/// its own topic; a departing peer's remaining requests come back as cancels.
#[test]
fn xpub_manual_unsubscribe() {
    each_transport(|t| async move {
        let xpub = socket(SocketType::XPub, vec![SocketOption::XpubManual(true)]);
        let ep = bind(&xpub, t);
        let xsub = socket(SocketType::XSub, vec![]);
        xsub.connect(&ep).unwrap();
        xsub.send("\u{1}A").await.unwrap();
        xsub.send("\u{1}B").await.unwrap();
        assert_eq!(heard(&xpub).await, "\u{1}A");
        xpub.set_option(sub("XA")).unwrap();
        assert_eq!(heard(&xpub).await, "\u{1}B");
        xpub.set_option(sub("XB")).unwrap();
        xsub.send("\u{0}A").await.unwrap();
        assert_eq!(heard(&xpub).await, "\u{0}A");
        xpub.set_option(unsub("XA")).unwrap();
        xpub.send("XA").await.unwrap();
        xpub.send("XB").await.unwrap();
        assert_eq!(frames(&xsub.recv().await.unwrap()), ["XB"]);
        drop(xsub);
        assert_eq!(heard(&xpub).await, "\u{0}B");
        // That cancel has no peer: an UNSUBSCRIBE now changes nothing.
        xpub.set_option(unsub("XB")).unwrap();
        assert_eq!(
            xpub.topics_count(),
            0,
            "the departed peer's XB went with it"
        );
    });
}

/// test_xpub_manual's test_missing_subscriptions: requests queued from two
/// peers before the user reads them are each applied to their own peer.
#[test]
fn xpub_manual_applies_to_the_peer_of_each_request() {
    each_transport(|t| async move {
        let xpub = socket(SocketType::XPub, vec![SocketOption::XpubManual(true)]);
        let ep = bind(&xpub, t);
        let s = subs(&ep, 2);
        s[0].set_option(sub("1")).unwrap();
        s[1].set_option(sub("2")).unwrap();
        let mut requests = Vec::new();
        for _ in 0..2 {
            let r = heard(&xpub).await;
            xpub.set_option(SocketOption::Subscribe(Bytes::copy_from_slice(
                &r.as_bytes()[1..],
            )))
            .unwrap();
            requests.push(r);
        }
        requests.sort();
        assert_eq!(requests, ["\u{1}1", "\u{1}2"]);
        xpub.send(msg(&["1", "X"])).await.unwrap();
        xpub.send(msg(&["2", "X"])).await.unwrap();
        assert_eq!(frames(&s[0].recv().await.unwrap()), ["1", "X"]);
        assert_eq!(frames(&s[1].recv().await.unwrap()), ["2", "X"]);
    });
}

/// test_xpub_manual's proxy case: a manual XPUB in front of an XSUB; two
/// subscribers to "1" leave, and the XSUB's count lets only the second cancel
/// through to the publisher.
#[test]
fn manual_forwarder_unsubscribes_on_disconnect() {
    each_transport(|t| async move {
        let xsub = socket(SocketType::XSub, vec![]);
        let frontend = bind(&xsub, t);
        let xpub = socket(SocketType::XPub, vec![SocketOption::XpubManual(true)]);
        let backend = bind(&xpub, t);
        let publisher = socket(SocketType::Pub, vec![]);
        publisher.connect(&frontend).unwrap();
        let s = subs(&backend, 2);
        for sub_socket in &s {
            sub_socket.set_option(sub("1")).unwrap();
            let r = xpub.recv().await.unwrap();
            assert_eq!(frames(&r), ["\u{1}1"]);
            xpub.set_option(sub("1")).unwrap();
            xsub.send(r).await.unwrap();
        }
        until("the subscription upstream", || {
            publisher.topics_count() == 1
        })
        .await;
        publisher.send(msg(&["1", "X"])).await.unwrap();
        let m = xsub.recv().await.unwrap();
        xpub.send(m).await.unwrap();
        for sub_socket in &s {
            assert_eq!(frames(&sub_socket.recv().await.unwrap()), ["1", "X"]);
        }
        drop(s);
        for remaining in [1, 0] {
            let r = xpub.recv().await.unwrap();
            assert_eq!(frames(&r), ["\u{0}1"]);
            xpub.set_option(unsub("1")).unwrap(); // no peer: nothing happens
            xsub.send(r).await.unwrap();
            until("the count upstream", || {
                publisher.topics_count() == remaining
            })
            .await;
        }
        assert_eq!(xpub.topics_count(), 0);
    });
}

/// test_xpub_manual's test_user_message(_multi): what an XSUB sends that is
/// not a subscription reaches the XPUB user as it was sent; a cancel of
/// nothing never leaves the XSUB.
#[test]
fn xpub_receives_upstream_user_messages() {
    each_transport(|t| async move {
        let xpub = socket(SocketType::XPub, vec![]);
        let ep = bind(&xpub, t);
        let xsub = socket(SocketType::XSub, vec![]);
        xsub.connect(&ep).unwrap();
        xsub.send("\u{2}A").await.unwrap();
        assert_eq!(heard(&xpub).await, "\u{2}A");
        xsub.send(msg(&["ABC", "\u{0}BC"])).await.unwrap();
        assert_eq!(frames(&xpub.recv().await.unwrap()), ["ABC", "\u{0}BC"]);
        xsub.send("\u{0}BC").await.unwrap(); // never subscribed: dropped by the XSUB
        xsub.send("\u{1}BC").await.unwrap();
        assert_eq!(heard(&xpub).await, "\u{1}BC");
    });
}

/// test_xpub_nodrop: below the HWM every message is delivered; at it, a
/// non-waiting send fails with WouldBlock and nothing is lost (the HWM
/// counting reads as libzmq does, LWM at a time).
#[test]
fn xpub_nodrop() {
    each_transport(|t| async move {
        let hwm = 200;
        let xpub = socket(
            SocketType::XPub,
            vec![SocketOption::SndHwm(hwm), SocketOption::XpubNodrop(true)],
        );
        let ep = bind(&xpub, t);
        let s = &subs(&ep, 1)[0];
        s.set_option(sub("")).unwrap();
        assert_eq!(heard(&xpub).await, "\u{1}");
        for _ in 0..hwm - 1 {
            xpub.send(vec![bytes::Bytes::new()]).await.unwrap();
        }
        for _ in 0..hwm - 1 {
            s.recv().await.unwrap();
        }
        let mut sent = 0;
        loop {
            match xpub.try_send(vec![bytes::Bytes::new()]) {
                Ok(()) => sent += 1,
                Err(Error::WouldBlock(_)) => break,
                Err(e) => panic!("{e}"),
            }
        }
        // The 199 reads reach the writer LWM (half the HWM) at a time, as
        // libzmq's do: at least the HWM less the reads not told yet goes.
        assert!(sent >= hwm - (hwm.div_ceil(2) - 1), "{sent}");
        for _ in 0..sent {
            s.recv().await.unwrap();
        }
        assert!(s.try_recv().is_err());
    });
}

/// test_hwm_pubsub: non-waiting sends to one subscriber succeed until the
/// HWM; with XPUB_NODROP a stream larger than the HWM arrives whole as the
/// subscriber drains it.
#[test]
fn hwm_pubsub() {
    each_transport(|t| async move {
        for hwm in [1000, 100] {
            let xpub = socket(SocketType::XPub, vec![SocketOption::SndHwm(hwm)]);
            let ep = bind(&xpub, t);
            let s = socket(SocketType::Sub, vec![SocketOption::RcvHwm(hwm)]);
            s.connect(&ep).unwrap();
            s.set_option(sub("")).unwrap();
            assert_eq!(heard(&xpub).await, "\u{1}");
            for _ in 0..hwm {
                xpub.try_send("test message").unwrap();
            }
            for _ in 0..hwm {
                assert_eq!(frames(&s.recv().await.unwrap()), ["test message"]);
            }
        }

        let (hwm, count) = (200, 2000);
        let xpub = socket(
            SocketType::XPub,
            vec![SocketOption::SndHwm(hwm), SocketOption::XpubNodrop(true)],
        );
        let ep = bind(&xpub, t);
        let s = &subs(&ep, 1)[0];
        s.set_option(sub("")).unwrap();
        assert_eq!(heard(&xpub).await, "\u{1}");
        let (mut sent, mut blocked, mut received) = (0, 0, 0);
        while sent < count {
            match xpub.try_send(format!("{sent}").into_bytes()) {
                Ok(()) => sent += 1,
                Err(Error::WouldBlock(_)) => {
                    blocked += 1;
                    // Drain what is there, at least one.
                    loop {
                        let m = s.recv().await.unwrap();
                        assert_eq!(frames(&m), [format!("{received}")]);
                        received += 1;
                        if s.queued().0 == 0 {
                            break;
                        }
                    }
                }
                Err(e) => panic!("{e}"),
            }
        }
        xpub.send("end").await.unwrap();
        loop {
            let m = frames(&s.recv().await.unwrap());
            if m == ["end"] {
                break;
            }
            assert_eq!(m, [format!("{received}")]);
            received += 1;
        }
        assert!(blocked > 0);
        assert_eq!(received, count);
    });
}

/// test_xpub_manual_last_value's test_basic, made to fail if the first
/// send after a request were not spent: with two subscribers to "A", a
/// send that matches the last one's request nobody ("B") still spends it,
/// so the next "A" reaches both.
#[test]
fn xpub_manual_last_value_spends_the_first_send_on_the_last_peer() {
    each_transport(|t| async move {
        let xpub = socket(
            SocketType::XPub,
            vec![SocketOption::XpubManualLastValue(true)],
        );
        assert!(xpub.options().xpub_manual(), "manual mode comes with it");
        let ep = bind(&xpub, t);
        let xsubs: Vec<Socket> = (0..2)
            .map(|_| {
                let x = socket(SocketType::XSub, vec![]);
                x.connect(&ep).unwrap();
                x
            })
            .collect();
        for x in &xsubs {
            x.send("\u{1}A").await.unwrap();
            assert_eq!(heard(&xpub).await, "\u{1}A");
            xpub.set_option(sub("A")).unwrap();
        }
        xpub.send("B").await.unwrap();
        xpub.send("A, for both").await.unwrap();
        for x in &xsubs {
            assert_eq!(frames(&x.recv().await.unwrap()), ["A, for both"]);
        }
    });
}

/// test_xpub_manual_last_value's test_manual_last_value: with two
/// subscribers to "A", the message after the second one's request reaches
/// it alone; the next reaches both.
#[test]
fn xpub_manual_last_value_answers_the_new_subscriber_alone() {
    each_transport(|t| async move {
        let xpub = socket(
            SocketType::XPub,
            vec![SocketOption::XpubManualLastValue(true)],
        );
        let ep = bind(&xpub, t);
        let s = subs(&ep, 2);
        for one in &s {
            one.set_option(sub("A")).unwrap();
            assert_eq!(heard(&xpub).await, "\u{1}A");
            xpub.set_option(sub("A")).unwrap();
        }
        xpub.send(msg(&["A", "cached"])).await.unwrap();
        xpub.send(msg(&["A", "live"])).await.unwrap();
        assert_eq!(frames(&s[1].recv().await.unwrap()), ["A", "cached"]);
        assert_eq!(frames(&s[1].recv().await.unwrap()), ["A", "live"]);
        assert_eq!(
            frames(&s[0].recv().await.unwrap()),
            ["A", "live"],
            "the last value went to the new subscriber only"
        );
    });
}

#[test]
fn only_first_subscribe_makes_the_first_frame_a_subscription_and_the_rest_data() {
    each_transport(|t| async move {
        let xpub = socket(
            SocketType::XPub,
            vec![SocketOption::OnlyFirstSubscribe(true)],
        );
        let ep = bind(&xpub, t);
        let xsub = socket(
            SocketType::XSub,
            vec![SocketOption::OnlyFirstSubscribe(true)],
        );
        // Connected first: a connection made later hears the bare
        // subscription too, when the XSUB greets it with all of them.
        let monitor = xsub.monitor();
        xsub.connect(&ep).unwrap();
        if t != Transport::Inproc {
            while !matches!(
                monitor.recv().await,
                monocoque_patterns::MonitorEvent::HandshakeSucceeded { .. }
            ) {}
        }
        // A subscription carrying a parameter that looks like one too.
        xsub.send(msg(&["\u{1}A", "\u{1}B"])).await.unwrap();
        assert_eq!(frames(&xpub.recv().await.unwrap()), ["\u{1}A", "\u{1}B"]);
        assert_eq!(xpub.topics_count(), 1, "A only");
        assert_eq!(xsub.topics_count(), 1, "the XSUB keeps A for reconnects");
        xpub.send("B, not subscribed").await.unwrap();
        xpub.send("A, subscribed").await.unwrap();
        assert_eq!(frames(&xsub.recv().await.unwrap()), ["A, subscribed"]);
        // Its cancel, the same way.
        xsub.send(msg(&["\u{0}A", "bye"])).await.unwrap();
        assert_eq!(frames(&xpub.recv().await.unwrap()), ["\u{0}A", "bye"]);
        assert_eq!(xpub.topics_count(), 0);
        // A multipart message starting with data stays data.
        xsub.send(msg(&["data", "\u{1}C"])).await.unwrap();
        assert_eq!(frames(&xpub.recv().await.unwrap()), ["data", "\u{1}C"]);
        assert_eq!(xpub.topics_count(), 0);
    });
}

#[test]
fn without_only_first_subscribe_a_multipart_message_is_data() {
    each_transport(|t| async move {
        let xpub = socket(SocketType::XPub, vec![]);
        let ep = bind(&xpub, t);
        let xsub = socket(SocketType::XSub, vec![]);
        xsub.connect(&ep).unwrap();
        xsub.send(msg(&["\u{1}A", "x"])).await.unwrap();
        assert_eq!(frames(&xpub.recv().await.unwrap()), ["\u{1}A", "x"]);
        assert_eq!(xpub.topics_count(), 0);
        // A PUB with the option applies the first frame and drops the rest.
        let publisher = socket(
            SocketType::Pub,
            vec![SocketOption::OnlyFirstSubscribe(true)],
        );
        let ep = bind(&publisher, t);
        let xsub = socket(
            SocketType::XSub,
            vec![SocketOption::OnlyFirstSubscribe(true)],
        );
        xsub.connect(&ep).unwrap();
        xsub.send(msg(&["\u{1}A", "x"])).await.unwrap();
        until("the PUB applies it", || publisher.topics_count() == 1).await;
        publisher.send("A1").await.unwrap();
        assert_eq!(frames(&xsub.recv().await.unwrap()), ["A1"]);
    });
}

#[test]
fn options_are_taken_on_the_socket_types_libzmq_takes_them_on() {
    run(|| async {
        use SocketType as T;
        let every = [
            T::Req,
            T::Rep,
            T::Dealer,
            T::Router,
            T::Push,
            T::Pull,
            T::Pair,
            T::Pub,
            T::Sub,
            T::XPub,
            T::XSub,
            T::Stream,
        ];
        for kind in every {
            let s = socket(kind, vec![]);
            for option in [
                SocketOption::RoutingId(Bytes::from_static(b"me")),
                SocketOption::InvertMatching(true),
                SocketOption::Conflate(true),
            ] {
                let name = option.name();
                s.set_option(option)
                    .unwrap_or_else(|e| panic!("{name} on {kind}: {e}"));
            }
            let only_first = s.set_option(SocketOption::OnlyFirstSubscribe(true));
            assert_eq!(
                only_first.is_ok(),
                matches!(kind, T::XPub | T::Pub | T::XSub),
                "ONLY_FIRST_SUBSCRIBE on {kind}"
            );
            let last_value = s.set_option(SocketOption::XpubManualLastValue(true));
            assert_eq!(
                last_value.is_ok(),
                kind == T::XPub,
                "XPUB_MANUAL_LAST_VALUE on {kind}"
            );
            if let Err(e) = last_value {
                assert!(matches!(e, Error::InvalidOption { .. }), "{e}");
            }
        }
    });
}
