//! The proxy (zmq_proxy) and the steerable proxy (zmq_proxy_steerable): an
//! XSUB/XPUB forwarder with a capture socket, a ROUTER/DEALER broker steered
//! through PAUSE, RESUME, STATISTICS and TERMINATE, over tcp, ipc and inproc.

mod common;

use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use monocoque_patterns::{proxy, proxy_steerable, Error, ProxyStatistics, Socket, SocketOption};
use monocoque_runtime::spawn;
use monocoque_zmtp::{Msg, SocketType};

/// Subscriptions go upstream through the forwarder, messages downstream, and
/// the capture socket sees both.
#[test]
fn xsub_xpub_forwarder_with_capture() {
    each_transport(|t| async move {
        let xsub = socket(SocketType::XSub, vec![]);
        let upstream = bind(&xsub, t);
        let xpub = socket(SocketType::XPub, vec![]);
        let downstream = bind(&xpub, t);
        let capture = socket(SocketType::Push, vec![]);
        let captured = socket(SocketType::Pull, vec![]);
        let capture_ep = bind(&captured, t);
        capture.connect(&capture_ep).unwrap();
        let forwarder = spawn(async move { proxy(&xsub, &xpub, Some(&capture)).await });

        let publisher = socket(SocketType::Pub, vec![]);
        publisher.connect(&upstream).unwrap();
        let s = socket(
            SocketType::Sub,
            vec![SocketOption::Subscribe(Bytes::from_static(b"tick"))],
        );
        s.connect(&downstream).unwrap();
        until("the subscription upstream", || {
            publisher.topics_count() == 1
        })
        .await;
        publisher.send(msg(&["other", "x"])).await.unwrap();
        publisher.send(msg(&["tick", "1"])).await.unwrap();
        assert_eq!(frames(&s.recv().await.unwrap()), ["tick", "1"]);

        // The capture saw the subscription going up and the message coming down
        // (the publisher filtered "other" out before it reached the forwarder).
        assert_eq!(frames(&captured.recv().await.unwrap()), ["\u{1}tick"]);
        assert_eq!(frames(&captured.recv().await.unwrap()), ["tick", "1"]);

        // A subscriber leaving takes its subscription upstream with it.
        drop(s);
        until("the cancel upstream", || publisher.topics_count() == 0).await;
        assert_eq!(frames(&captured.recv().await.unwrap()), ["\u{0}tick"]);
        drop(forwarder);
    });
}

/// A broker between REQ clients and REP workers, steered through a REP
/// control socket: PAUSE holds requests in the frontend's queue, RESUME lets
/// them through, STATISTICS counts frames and bytes per side, TERMINATE ends
/// the proxy with `Ok`.
#[test]
fn steerable_router_dealer_broker() {
    each_transport(|t| async move {
        let frontend = Rc::new(socket(SocketType::Router, vec![]));
        let clients_ep = bind(&frontend, t);
        let backend = socket(SocketType::Dealer, vec![]);
        let workers_ep = bind(&backend, t);
        // A linger, so that the reply to TERMINATE leaves after the proxy ends
        // and drops the socket.
        let control = socket(
            SocketType::Rep,
            vec![SocketOption::Linger(Some(Duration::from_secs(5)))],
        );
        let control_ep = bind(&control, t);
        let proxied = frontend.clone();
        let broker =
            spawn(async move { proxy_steerable(&proxied, &backend, None, &control).await });
        let steer = socket(SocketType::Req, vec![]);
        steer.connect(&control_ep).unwrap();
        let command = |word: &'static str| {
            let steer = &steer;
            async move {
                steer.send(word).await.unwrap();
                steer.recv().await.unwrap()
            }
        };

        let workers: Vec<_> = (0..3)
            .map(|_| {
                let w = socket(SocketType::Rep, vec![]);
                w.connect(&workers_ep).unwrap();
                w
            })
            .collect();
        let clients: Vec<_> = (0..3)
            .map(|_| {
                let c = socket(SocketType::Req, vec![]);
                c.connect(&clients_ep).unwrap();
                c
            })
            .collect();

        // Each client's request reaches some worker, and the reply comes back.
        for c in &clients {
            c.send("req").await.unwrap();
        }
        for _ in 0..3 {
            let (i, w) = next_request(&workers).await;
            assert_eq!(frames(&w), ["req"]);
            workers[i].send("rep").await.unwrap();
        }
        for c in &clients {
            assert_eq!(frames(&c.recv().await.unwrap()), ["rep"]);
        }

        // 3 requests of [routing id (5 bytes), "", "req"] in on the frontend and
        // out on the backend, 3 replies the other way.
        let stats = ProxyStatistics::from_msg(&command("STATISTICS").await).unwrap();
        assert_eq!(
            stats.frontend.messages_in, 3,
            "a multipart message counts once"
        );
        assert_eq!(stats.frontend.bytes_in, 3 * (5 + 3));
        assert_eq!(stats.backend.messages_out, 3);
        assert_eq!(stats.backend.messages_in, 3);
        assert_eq!(stats.frontend.messages_out, 3);
        assert_eq!(stats.frontend.bytes_out, 3 * (5 + 3));

        // Paused: a request waits in the frontend.
        assert_eq!(command("PAUSE").await.len(), 1);
        clients[0].send("held").await.unwrap();
        until("the request in the frontend", || frontend.queued().0 == 1).await;
        let held = stats;
        let again = ProxyStatistics::from_msg(&command("STATISTICS").await).unwrap();
        assert_eq!(again, held, "nothing forwarded while paused");
        assert_eq!(frames(&command("RESUME").await), [""]);
        let (i, m) = next_request(&workers).await;
        assert_eq!(frames(&m), ["held"]);
        workers[i].send("done").await.unwrap();
        assert_eq!(frames(&clients[0].recv().await.unwrap()), ["done"]);

        // Unknown commands are ignored (a REP still gets its empty reply).
        assert_eq!(frames(&command("BOGUS").await), [""]);
        assert_eq!(frames(&command("TERMINATE").await), [""]);
        broker.await.expect("TERMINATE ends the proxy with Ok");
    });
}

/// The first request any of `workers` has, with the worker's index.
async fn next_request(workers: &[Socket]) -> (usize, Msg) {
    let mut found = None;
    until("a request at a worker", || {
        found = workers
            .iter()
            .enumerate()
            .find_map(|(i, w)| w.try_recv().ok().map(|m| (i, m)));
        found.is_some()
    })
    .await;
    found.expect("until returned")
}

/// A plain proxy ends with the error of the socket that failed.
#[test]
fn a_proxy_ends_when_a_socket_is_closed() {
    run(|| async {
        let a = socket(SocketType::Pull, vec![]);
        let b = socket(SocketType::Push, vec![]);
        let a2 = Rc::new(a);
        let a3 = a2.clone();
        let task = spawn(async move { proxy(&a3, &b, None).await });
        a2.close();
        assert!(matches!(task.await, Err(Error::Closed)));
    });
}

/// A backlog in one direction does not hold the other: with 5,000
/// subscriptions queued at the XPUB (no HWM) the forwarder lets a message
/// from the publisher through long before it has carried them all upstream,
/// because each direction yields to the thread every few messages. The
/// capture socket shows the order in which the forwarder moved them.
#[test]
fn a_backlog_one_way_does_not_hold_the_other_way() {
    const FLOOD: usize = 5_000;
    run(|| async {
        let t = Transport::Inproc;
        let xsub = Rc::new(socket(SocketType::XSub, vec![]));
        let upstream = bind(&xsub, t);
        let xpub = socket(SocketType::XPub, vec![SocketOption::RcvHwm(0)]);
        let downstream = bind(&xpub, t);
        let capture = socket(SocketType::Push, vec![SocketOption::SndHwm(0)]);
        let captured = socket(SocketType::Pull, vec![SocketOption::RcvHwm(0)]);
        capture.connect(&bind(&captured, t)).unwrap();
        let forwarding = xsub.clone();
        let _forwarder = spawn(async move { proxy(&forwarding, &xpub, Some(&capture)).await });

        let publisher = Rc::new(socket(SocketType::Pub, vec![]));
        publisher.connect(&upstream).unwrap();
        let s = socket(
            SocketType::Sub,
            vec![SocketOption::Subscribe(Bytes::from_static(b"tick"))],
        );
        s.connect(&downstream).unwrap();
        until("the subscription upstream", || xsub.topics_count() == 1).await;
        assert_eq!(frames(&captured.recv().await.unwrap()), ["\u{1}tick"]);

        let flooder = socket(SocketType::XSub, vec![SocketOption::SndHwm(0)]);
        flooder.connect(&downstream).unwrap();
        for i in 0..FLOOD {
            let topic = format!("\u{1}flood-{i:05}");
            flooder.try_send(msg(&[topic.as_str()])).unwrap();
        }
        // Sent once the forwarder has begun on the backlog (the forwarder
        // was woken first, so it runs first).
        let p = publisher.clone();
        let _tick = spawn(async move { p.send(msg(&["tick", "1"])).await.unwrap() });
        assert_eq!(frames(&s.recv().await.unwrap()), ["tick", "1"]);
        let mut before = 0;
        loop {
            let m = captured.recv().await.unwrap();
            if frames(&m) == ["tick", "1"] {
                break;
            }
            before += 1;
        }
        assert!(
            (1..FLOOD).contains(&before),
            "the message was forwarded after {before} of the {FLOOD} subscriptions"
        );
        until("the whole backlog upstream", || {
            xsub.topics_count() == FLOOD + 1
        })
        .await;
    });
}
