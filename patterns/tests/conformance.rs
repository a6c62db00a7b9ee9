//! The RFC 28/30/31 behaviours, as libzmq's tests/test_spec_req, test_spec_rep,
//! test_spec_dealer, test_spec_router and test_spec_pushpull check them
//! (including the cases libzmq disables because it fails them), each over tcp,
//! ipc and inproc.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use monocoque_patterns::{Error, SocketOption};
use monocoque_zmtp::{Msg, SocketType};

const SERVICES: usize = 5;

// ---------------------------------------------------------------- REQ (RFC 28)

/// REQ SHALL route outgoing messages to connected peers using a round-robin strategy.
#[test]
fn req_round_robin_out() {
    each_transport(|t| async move {
        let req = socket(SocketType::Req, vec![]);
        let ep = bind(&req, t);
        let mut reps = Vec::new();
        for i in 0..SERVICES {
            let rep = socket(SocketType::Rep, vec![]);
            rep.connect(&ep).unwrap();
            peers(&req, i + 1).await;
            reps.push(rep);
        }
        for rep in &reps {
            req.send("ABC").await.unwrap();
            assert_eq!(frames(&rep.recv().await.unwrap()), ["ABC"]);
            rep.send("DEF").await.unwrap();
            assert_eq!(frames(&req.recv().await.unwrap()), ["DEF"]);
        }
    });
}

/// REQ SHALL accept an incoming message only from the last peer it sent a request to.
#[test]
fn req_only_listens_to_current_peer() {
    each_transport(|t| async move {
        let req = socket(
            SocketType::Req,
            vec![SocketOption::RoutingId(Bytes::from_static(b"A"))],
        );
        let ep = bind(&req, t);
        let mut routers = Vec::new();
        for i in 0..SERVICES {
            let r = socket(
                SocketType::Router,
                vec![SocketOption::RouterMandatory(true)],
            );
            r.connect(&ep).unwrap();
            peers(&req, i + 1).await;
            peers(&r, 1).await;
            routers.push(r);
        }
        for (i, target) in routers.iter().enumerate() {
            req.send("ABC").await.unwrap();
            assert_eq!(frames(&target.recv().await.unwrap()), ["A", "", "ABC"]);
            // Every other router answers first; all those replies are queued
            // at the REQ before the right one is sent.
            for (j, r) in routers.iter().enumerate() {
                if j != i {
                    r.send(msg(&["A", "", "WRONG"])).await.unwrap();
                }
            }
            queued_in(&req, SERVICES - 1).await;
            target.send(msg(&["A", "", "GOOD"])).await.unwrap();
            assert_eq!(frames(&req.recv().await.unwrap()), ["GOOD"]);
        }
    });
}

/// A request on the wire is [empty delimiter][body...]; a reply must carry it back.
#[test]
fn req_message_format() {
    each_transport(|t| async move {
        let req = socket(SocketType::Req, vec![]);
        let router = socket(SocketType::Router, vec![]);
        let ep = bind(&router, t);
        req.connect(&ep).unwrap();
        req.send(msg(&["ABC", "DEF"])).await.unwrap();
        let m = router.recv().await.unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(frames(&m)[1..], ["", "ABC", "DEF"]);
        let mut reply = vec![m[0].clone(), Bytes::new(), Bytes::from_static(b"GHI")];
        router
            .send(monocoque_zmtp::Msg::from(reply.clone()))
            .await
            .unwrap();
        assert_eq!(frames(&req.recv().await.unwrap()), ["GHI"]);
        // A reply without the delimiter is dropped, not delivered.
        req.send("again").await.unwrap();
        let m = router.recv().await.unwrap();
        router
            .send(monocoque_zmtp::Msg::from(vec![
                m[0].clone(),
                Bytes::from_static(b"bad"),
            ]))
            .await
            .unwrap();
        reply[0] = m[0].clone();
        router.send(monocoque_zmtp::Msg::from(reply)).await.unwrap();
        assert_eq!(frames(&req.recv().await.unwrap()), ["GHI"]);
    });
}

/// If no peer is available, send SHALL block (here: until SNDTIMEO).
#[test]
fn req_block_on_send_no_peers() {
    run(|| async {
        let req = socket(
            SocketType::Req,
            vec![SocketOption::SndTimeo(Some(Duration::from_millis(20)))],
        );
        assert!(matches!(req.send("x").await, Err(Error::WouldBlock(_))));
        assert!(matches!(req.try_send("x"), Err(Error::WouldBlock(_))));
    });
}

/// REQ alternates strictly: send, recv, send; anything else is EFSM.
#[test]
fn req_strict_alternation() {
    each_transport(|t| async move {
        let req = socket(SocketType::Req, vec![]);
        let rep = socket(SocketType::Rep, vec![]);
        let ep = bind(&rep, t);
        req.connect(&ep).unwrap();
        assert!(matches!(req.recv().await, Err(Error::InvalidState(_))));
        req.send("1").await.unwrap();
        assert!(matches!(req.send("2").await, Err(Error::InvalidState(_))));
        assert!(matches!(
            rep.send("early").await,
            Err(Error::InvalidState(_))
        ));
        let m = rep.recv().await.unwrap();
        assert!(matches!(rep.recv().await, Err(Error::InvalidState(_))));
        rep.send(m).await.unwrap();
        assert_eq!(frames(&req.recv().await.unwrap()), ["1"]);
    });
}

// ---------------------------------------------------------------- REP (RFC 28)

/// REP SHALL receive incoming messages from its peers using a fair-queuing strategy.
#[test]
fn rep_fair_queue_in() {
    each_transport(|t| async move {
        let rep = socket(SocketType::Rep, vec![]);
        let ep = bind(&rep, t);
        let mut reqs = Vec::new();
        for i in 0..SERVICES {
            let req = socket(SocketType::Req, vec![]);
            req.connect(&ep).unwrap();
            peers(&rep, i + 1).await;
            reqs.push(req);
        }
        for (i, req) in reqs.iter().enumerate() {
            req.send(format!("A{i}").into_bytes()).await.unwrap();
        }
        queued_in(&rep, SERVICES).await;
        for i in 0..SERVICES {
            assert_eq!(frames(&rep.recv().await.unwrap()), [format!("A{i}")]);
            rep.send(format!("B{i}").into_bytes()).await.unwrap();
        }
        for (i, req) in reqs.iter().enumerate() {
            assert_eq!(frames(&req.recv().await.unwrap()), [format!("B{i}")]);
        }
    });
}

/// REP SHALL keep the envelope (everything up to the delimiter) and put it on the reply.
#[test]
fn rep_envelope() {
    each_transport(|t| async move {
        let rep = socket(SocketType::Rep, vec![]);
        let dealer = socket(SocketType::Dealer, vec![]);
        let ep = bind(&rep, t);
        dealer.connect(&ep).unwrap();
        dealer.send(msg(&["X", "Y", "", "BODY"])).await.unwrap();
        assert_eq!(frames(&rep.recv().await.unwrap()), ["BODY"]);
        rep.send(msg(&["R1", "R2"])).await.unwrap();
        assert_eq!(
            frames(&dealer.recv().await.unwrap()),
            ["X", "Y", "", "R1", "R2"]
        );
        // A request without a delimiter is dropped; the next good one is served.
        dealer.send(msg(&["no-delimiter"])).await.unwrap();
        dealer.send(msg(&["", "ok"])).await.unwrap();
        assert_eq!(frames(&rep.recv().await.unwrap()), ["ok"]);
    });
}

/// If the original requester does not exist any more, REP SHALL silently
/// discard the reply: the reply is still owed (receiving first is EFSM, as
/// in libzmq) and sending it succeeds; the next requester is served.
#[test]
fn rep_discards_the_reply_to_a_requester_that_left() {
    each_transport(|t| async move {
        let rep = socket(SocketType::Rep, vec![]);
        let ep = bind(&rep, t);
        let req = socket(
            SocketType::Req,
            vec![SocketOption::Linger(Some(Duration::ZERO))],
        );
        req.connect(&ep).unwrap();
        req.send("question").await.unwrap();
        assert_eq!(frames(&rep.recv().await.unwrap()), ["question"]);
        drop(req);
        peers(&rep, 0).await;
        assert!(matches!(rep.try_recv(), Err(Error::InvalidState(_))));
        rep.send("to nobody").await.unwrap();
        let next = socket(SocketType::Req, vec![]);
        next.connect(&ep).unwrap();
        next.send("again").await.unwrap();
        assert_eq!(frames(&rep.recv().await.unwrap()), ["again"]);
        rep.send("answer").await.unwrap();
        assert_eq!(frames(&next.recv().await.unwrap()), ["answer"]);
    });
}

// ------------------------------------------------------------- DEALER (RFC 28)

/// DEALER SHALL route outgoing messages to available peers using round-robin.
#[test]
fn dealer_round_robin_out() {
    each_transport(|t| async move {
        let dealer = socket(SocketType::Dealer, vec![]);
        let ep = bind(&dealer, t);
        let mut reps = Vec::new();
        for i in 0..SERVICES {
            let rep = socket(SocketType::Rep, vec![]);
            rep.connect(&ep).unwrap();
            peers(&dealer, i + 1).await;
            reps.push(rep);
        }
        for i in 0..SERVICES {
            dealer.send(msg(&["", &format!("M{i}")])).await.unwrap();
        }
        for (i, rep) in reps.iter().enumerate() {
            assert_eq!(frames(&rep.recv().await.unwrap()), [format!("M{i}")]);
        }
    });
}

/// DEALER SHALL receive incoming messages from its peers using fair-queuing.
#[test]
fn dealer_fair_queue_in() {
    each_transport(|t| async move {
        let receiver = socket(SocketType::Dealer, vec![]);
        let ep = bind(&receiver, t);
        let mut senders = Vec::new();
        for i in 0..SERVICES {
            let d = socket(SocketType::Dealer, vec![]);
            d.connect(&ep).unwrap();
            peers(&receiver, i + 1).await;
            senders.push(d);
        }
        for (i, d) in senders.iter().enumerate() {
            d.send(format!("a{i}").into_bytes()).await.unwrap();
            d.send(format!("b{i}").into_bytes()).await.unwrap();
        }
        queued_in(&receiver, 2 * SERVICES).await;
        for round in ["a", "b"] {
            for i in 0..SERVICES {
                assert_eq!(
                    frames(&receiver.recv().await.unwrap()),
                    [format!("{round}{i}")]
                );
            }
        }
    });
}

/// If no peer is available, DEALER's send SHALL block.
#[test]
fn dealer_block_on_send_no_peers() {
    run(|| async {
        let d = socket(
            SocketType::Dealer,
            vec![SocketOption::SndTimeo(Some(Duration::from_millis(20)))],
        );
        assert!(matches!(d.send("x").await, Err(Error::WouldBlock(_))));
    });
}

/// When a peer disconnects, DEALER SHALL destroy its queue and discard the messages
/// in it (libzmq disables this case because it fails it).
#[test]
fn dealer_destroy_queue_on_disconnect() {
    each_transport(|t| async move {
        destroy_queue_on_disconnect(t, SocketType::Dealer, SocketType::Dealer).await
    });
}

async fn destroy_queue_on_disconnect(t: common::Transport, a_type: SocketType, b_type: SocketType) {
    let a = socket(a_type, vec![]);
    let ep = bind(&a, t);
    let b = socket(b_type, vec![]);
    b.connect(&ep).unwrap();
    peers(&a, 1).await;
    peers(&b, 1).await;
    a.send("ABC").await.unwrap();
    a.send("DEF").await.unwrap();
    b.disconnect(&ep).unwrap();
    until("A notices the disconnect", || a.peer_count() == 0).await;
    assert_eq!(a.queued().1, 0, "A's queue for the gone peer was destroyed");
    b.connect(&ep).unwrap();
    peers(&a, 1).await;
    a.send("GHI").await.unwrap();
    assert_eq!(frames(&b.recv().await.unwrap()), ["GHI"]);
    assert!(matches!(b.try_recv(), Err(Error::WouldBlock(_))));
}

// ------------------------------------------------------------- ROUTER (RFC 28)

/// ROUTER SHALL receive from peers fair-queued, prefixing each peer's routing id.
#[test]
fn router_fair_queue_in() {
    each_transport(|t| async move {
        let router = socket(SocketType::Router, vec![]);
        let ep = bind(&router, t);
        let mut senders = Vec::new();
        for i in 0..SERVICES {
            let d = socket(
                SocketType::Dealer,
                vec![SocketOption::RoutingId(Bytes::from(format!("D{i}")))],
            );
            d.connect(&ep).unwrap();
            peers(&router, i + 1).await;
            senders.push(d);
        }
        for d in &senders {
            d.send("a").await.unwrap();
            d.send("b").await.unwrap();
        }
        queued_in(&router, 2 * SERVICES).await;
        for round in ["a", "b"] {
            for i in 0..SERVICES {
                assert_eq!(
                    frames(&router.recv().await.unwrap()),
                    [format!("D{i}"), round.into()]
                );
            }
        }
        // Replies are routed by the id frame.
        router.send(msg(&["D3", "to-3"])).await.unwrap();
        assert_eq!(frames(&senders[3].recv().await.unwrap()), ["to-3"]);
    });
}

/// When a peer disconnects, ROUTER SHALL destroy its queue (libzmq disables this case).
#[test]
fn router_destroy_queue_on_disconnect() {
    each_transport(|t| async move {
        let router = socket(
            SocketType::Router,
            vec![SocketOption::RouterMandatory(true)],
        );
        let ep = bind(&router, t);
        let d = socket(
            SocketType::Dealer,
            vec![SocketOption::RoutingId(Bytes::from_static(b"X"))],
        );
        d.connect(&ep).unwrap();
        peers(&router, 1).await;
        router.send(msg(&["X", "ABC"])).await.unwrap();
        d.disconnect(&ep).unwrap();
        until("ROUTER notices", || router.peer_count() == 0).await;
        assert!(matches!(
            router.send(msg(&["X", "DEF"])).await,
            Err(Error::HostUnreachable)
        ));
        d.connect(&ep).unwrap();
        peers(&router, 1).await;
        router.send(msg(&["X", "GHI"])).await.unwrap();
        assert_eq!(frames(&d.recv().await.unwrap()), ["GHI"]);
    });
}

/// Automatic routing ids are 5 bytes: 0x00 and a u32.
#[test]
fn router_automatic_ids() {
    each_transport(|t| async move {
        let router = socket(SocketType::Router, vec![]);
        let ep = bind(&router, t);
        let d = socket(SocketType::Dealer, vec![]);
        d.connect(&ep).unwrap();
        d.send("hi").await.unwrap();
        let m = router.recv().await.unwrap();
        assert_eq!(m[0].len(), 5);
        assert_eq!(m[0][0], 0);
        router
            .send(monocoque_zmtp::Msg::from(vec![
                m[0].clone(),
                Bytes::from_static(b"back"),
            ]))
            .await
            .unwrap();
        assert_eq!(frames(&d.recv().await.unwrap()), ["back"]);
    });
}

// ---------------------------------------------------------- PUSH/PULL (RFC 30)

/// PUSH SHALL route outgoing messages to peers using round-robin.
#[test]
fn push_round_robin_out() {
    each_transport(|t| async move {
        let push = socket(SocketType::Push, vec![]);
        let ep = bind(&push, t);
        let mut pulls = Vec::new();
        for i in 0..SERVICES {
            let p = socket(SocketType::Pull, vec![]);
            p.connect(&ep).unwrap();
            peers(&push, i + 1).await;
            pulls.push(p);
        }
        for i in 0..2 * SERVICES {
            push.send(format!("{i}").into_bytes()).await.unwrap();
        }
        for (i, p) in pulls.iter().enumerate() {
            assert_eq!(frames(&p.recv().await.unwrap()), [format!("{i}")]);
            assert_eq!(
                frames(&p.recv().await.unwrap()),
                [format!("{}", i + SERVICES)]
            );
        }
    });
}

/// PULL SHALL receive from its peers using fair-queuing.
#[test]
fn pull_fair_queue_in() {
    each_transport(|t| async move {
        let pull = socket(SocketType::Pull, vec![]);
        let ep = bind(&pull, t);
        let mut pushes = Vec::new();
        for i in 0..SERVICES {
            let p = socket(SocketType::Push, vec![]);
            p.connect(&ep).unwrap();
            peers(&pull, i + 1).await;
            pushes.push(p);
        }
        for (i, p) in pushes.iter().enumerate() {
            for k in 0..3 {
                p.send(format!("{i}-{k}").into_bytes()).await.unwrap();
            }
        }
        queued_in(&pull, 3 * SERVICES).await;
        for k in 0..3 {
            for i in 0..SERVICES {
                assert_eq!(frames(&pull.recv().await.unwrap()), [format!("{i}-{k}")]);
            }
        }
    });
}

/// PUSH with no peers SHALL block.
#[test]
fn push_block_on_send_no_peers() {
    run(|| async {
        let p = socket(
            SocketType::Push,
            vec![SocketOption::SndTimeo(Some(Duration::from_millis(20)))],
        );
        assert!(matches!(p.send("x").await, Err(Error::WouldBlock(_))));
    });
}

/// PUSH and PULL SHALL destroy a gone peer's queue (libzmq disables this case).
#[test]
fn pushpull_destroy_queue_on_disconnect() {
    each_transport(|t| async move {
        destroy_queue_on_disconnect(t, SocketType::Push, SocketType::Pull).await
    });
}

/// PUSH and PULL SHALL either receive or drop multipart messages atomically:
/// test_push_multipart_atomic_drop, with a blocking send of the message in
/// flight while the pipe is being replaced.
#[test]
fn push_multipart_atomic_drop_block() {
    each_transport(|t| push_multipart_atomic_drop(t, true));
}

/// The same with ZMQ_DONTWAIT (retried blocking if the new pipe is not there yet).
#[test]
fn push_multipart_atomic_drop_non_block() {
    each_transport(|t| push_multipart_atomic_drop(t, false));
}

async fn push_multipart_atomic_drop(t: common::Transport, block: bool) {
    // Large enough to overrun the kernel's socket buffers, as in libzmq's case.
    const LEN: usize = 16 << 20;
    let big = |fill: u8| Bytes::from(vec![fill; LEN]);
    let small = |s: &'static str| Bytes::from_static(s.as_bytes());
    let push = socket(SocketType::Push, vec![SocketOption::SndHwm(1)]);
    let ep = bind(&push, t);
    let pull = socket(SocketType::Pull, vec![SocketOption::RcvHwm(1)]);
    pull.connect(&ep).unwrap();
    peers(&push, 1).await;

    // The normal case exercises the queues.
    push.send(Msg::from(vec![small("0"), small("0"), big(b'a')]))
        .await
        .unwrap();
    let m = pull.recv().await.unwrap();
    assert_eq!(
        (&m[0][..], &m[1][..], m[2].len()),
        (&b"0"[..], &b"0"[..], LEN)
    );

    // Fill both HWMs, then replace the connection while a large message is
    // on its way.
    push.send("1").await.unwrap();
    push.send(Msg::from(vec![small("2"), small("2"), big(b'b')]))
        .await
        .unwrap();
    pull.disconnect(&ep).unwrap();
    until("PUSH notices the disconnect", || push.peer_count() == 0).await;
    pull.connect(&ep).unwrap();
    let three = Msg::from(vec![small("3"), small("3"), big(b'c'), small("3b")]);
    if block {
        push.send(three).await.unwrap();
    } else {
        match push.try_send(three.clone()) {
            Ok(()) => {}
            Err(Error::WouldBlock(_)) => push.send(three).await.unwrap(),
            Err(e) => panic!("{e}"),
        }
    }
    push.send(Msg::from(vec![small("5"), small("5"), big(b'd')]))
        .await
        .unwrap();

    // Whatever was dropped was dropped whole: the next message starts with
    // its first frame and has all of its frames.
    let first = pull.recv().await.unwrap();
    let five = if &first[0][..] == b"3" {
        assert_eq!(first.frames().len(), 4);
        assert_eq!(
            (&first[1][..], first[2].len(), first[2][0]),
            (&b"3"[..], LEN, b'c')
        );
        assert_eq!(&first[3][..], b"3b");
        pull.recv().await.unwrap()
    } else {
        first
    };
    assert_eq!(five.frames().len(), 3, "a whole message, not a tail");
    assert_eq!(
        (&five[0][..], &five[1][..], five[2].len(), five[2][0]),
        (&b"5"[..], &b"5"[..], LEN, b'd')
    );
}

/// PUSH cannot receive; PULL cannot send.
#[test]
fn pushpull_directions() {
    run(|| async {
        let push = socket(SocketType::Push, vec![]);
        let pull = socket(SocketType::Pull, vec![]);
        assert!(matches!(push.recv().await, Err(Error::NotSupported { .. })));
        assert!(matches!(
            pull.send("x").await,
            Err(Error::NotSupported { .. })
        ));
    });
}

// ---------------------------------------------------------------- PAIR (RFC 31)

/// PAIR talks to exactly one peer; a second one is refused.
#[test]
fn pair_single_peer() {
    each_transport(|t| async move {
        let a = socket(SocketType::Pair, vec![]);
        let ep = bind(&a, t);
        let b = socket(SocketType::Pair, vec![]);
        b.connect(&ep).unwrap();
        peers(&a, 1).await;
        let c = socket(SocketType::Pair, vec![]);
        c.connect(&ep).unwrap();
        b.send("from b").await.unwrap();
        assert_eq!(frames(&a.recv().await.unwrap()), ["from b"]);
        a.send("to b").await.unwrap();
        assert_eq!(frames(&b.recv().await.unwrap()), ["to b"]);
        assert_eq!(a.peer_count(), 1);
    });
}

/// Large frames cross every transport whole.
#[test]
fn one_mebibyte_frames() {
    each_transport(|t| async move {
        let a = socket(SocketType::Dealer, vec![]);
        let ep = bind(&a, t);
        let b = socket(SocketType::Dealer, vec![]);
        b.connect(&ep).unwrap();
        let big = Bytes::from(vec![0xA5u8; 1 << 20]);
        let m = monocoque_zmtp::Msg::from(vec![big, Bytes::from_static(b"tail")]);
        b.send(m.clone()).await.unwrap();
        let got = a.recv().await.unwrap();
        assert_eq!(got, m);
        a.send(got).await.unwrap();
        assert_eq!(b.recv().await.unwrap(), m);
    });
}

/// Messages bigger than the reactor's whole receive pool (4 MiB by default)
/// arrive whole: one 24 MiB frame, and one message of 6,000 small frames. A
/// message still arriving must not hold every receive buffer.
#[test]
fn messages_larger_than_the_receive_pool() {
    each_transport(|t| async move {
        let pull = socket(SocketType::Pull, vec![]);
        let ep = bind(&pull, t);
        let push = socket(SocketType::Push, vec![]);
        push.connect(&ep).unwrap();
        let huge = Msg::from(vec![Bytes::from(vec![0x5Au8; 24 << 20])]);
        let many = Msg::from(
            (0..6000u32)
                .map(|i| Bytes::from(vec![(i % 251) as u8; 1000]))
                .collect::<Vec<_>>(),
        );
        push.send(huge.clone()).await.unwrap();
        push.send(many.clone()).await.unwrap();
        assert!(pull.recv().await.unwrap() == huge, "the 24 MiB frame");
        assert!(pull.recv().await.unwrap() == many, "the 6,000 frames");
    });
}

/// A peer's last messages are delivered with its routing id even after it left.
#[test]
fn router_keeps_the_id_of_a_departed_peer() {
    each_transport(|t| async move {
        let router = socket(SocketType::Router, vec![]);
        let ep = bind(&router, t);
        let d = socket(
            SocketType::Dealer,
            vec![
                SocketOption::RoutingId(Bytes::from_static(b"gone")),
                SocketOption::Linger(Some(Duration::from_secs(5))),
            ],
        );
        d.connect(&ep).unwrap();
        d.send("last words").await.unwrap();
        drop(d);
        until("the peer has left", || {
            router.peer_count() == 0 && router.queued().0 == 1
        })
        .await;
        assert_eq!(
            frames(&router.recv().await.unwrap()),
            ["gone", "last words"]
        );
    });
}
