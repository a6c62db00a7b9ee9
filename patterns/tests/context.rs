//! The blocking API: a `Context` and its `BlockingSocket`s used from plain
//! threads: round trips on every transport, sockets moved between threads,
//! many threads into one socket, timeouts and DONTWAIT, zmq_ctx_shutdown, the
//! last drop waiting for LINGER, monitors, per-context inproc names, and
//! libzmq as the peer.
//!
//! Every test body runs under `bounded`, which fails it after 30 s instead of
//! letting a lost wake-up hang CI.

mod common;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::{frames, msg, Transport, TRANSPORTS};
use monocoque_patterns::{
    BlockingMonitor, BlockingSocket, Context, Error, MonitorEvent, SocketOption,
};
use monocoque_runtime::Runtime;
use monocoque_zmtp::SocketType;

/// Runs `body` on its own thread and fails the test if it takes over 30 s.
fn bounded(body: impl FnOnce() + Send + 'static) {
    common::bounded_for(Duration::from_secs(30), body);
}

/// A socket that gives up a receive after 10 s and drops what it has queued
/// when closed.
fn socket(ctx: &Context, kind: SocketType) -> BlockingSocket {
    let s = ctx.socket(kind).unwrap();
    s.set_option(SocketOption::Linger(Some(Duration::ZERO)))
        .unwrap();
    s.set_option(SocketOption::RcvTimeo(Some(Duration::from_secs(10))))
        .unwrap();
    s
}

fn bind(s: &BlockingSocket, t: Transport) -> String {
    s.bind(&t.endpoint()).unwrap();
    s.last_endpoint().unwrap().expect("bound")
}

#[test]
fn handles_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Context>();
    send::<BlockingSocket>();
    send::<BlockingMonitor>();
}

#[test]
fn req_rep_across_threads_on_every_transport() {
    bounded(|| {
        for t in TRANSPORTS {
            let ctx = Context::new().unwrap();
            let rep = socket(&ctx, SocketType::Rep);
            let endpoint = bind(&rep, t);
            let server = thread::spawn(move || {
                for _ in 0..100 {
                    let request = rep.recv().unwrap();
                    rep.send(request).unwrap();
                }
                // Kept open until the last reply is read: with LINGER 0,
                // closing now could discard it.
                rep
            });
            let req = socket(&ctx, SocketType::Req);
            req.connect(&endpoint).unwrap();
            for i in 0..100 {
                let body = format!("{t:?} {i}");
                req.send(msg(&[&body, "second frame"])).unwrap();
                assert_eq!(
                    frames(&req.recv().unwrap()),
                    [body.as_str(), "second frame"]
                );
            }
            drop(server.join().unwrap());
        }
    });
}

/// PUB/SUB from plain threads: a subscription set on one thread reaches a
/// publisher used on another, which waits for it through `topics_count`.
#[test]
fn pub_sub_across_threads_on_every_transport() {
    bounded(|| {
        for t in TRANSPORTS {
            let ctx = Context::new().unwrap();
            let publisher = socket(&ctx, SocketType::Pub);
            let endpoint = bind(&publisher, t);
            let subscriber = socket(&ctx, SocketType::Sub);
            subscriber
                .set_option(SocketOption::Subscribe(bytes::Bytes::from_static(b"tick")))
                .unwrap();
            subscriber.connect(&endpoint).unwrap();
            let feed = thread::spawn(move || {
                let deadline = std::time::Instant::now() + Duration::from_secs(10);
                while publisher.topics_count().unwrap() < 1 {
                    assert!(std::time::Instant::now() < deadline, "no subscription");
                    thread::sleep(Duration::from_millis(1));
                }
                for i in 0..100 {
                    publisher.send(msg(&["other", "x"])).unwrap();
                    publisher.send(msg(&["tick", &i.to_string()])).unwrap();
                }
                publisher
            });
            for i in 0..100 {
                assert_eq!(
                    frames(&subscriber.recv().unwrap()),
                    ["tick".to_string(), i.to_string()]
                );
            }
            drop(feed.join().unwrap());
        }
    });
}

#[test]
fn a_socket_made_on_one_thread_is_used_on_another() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let pull = socket(&ctx, SocketType::Pull);
        let endpoint = bind(&pull, Transport::Tcp);
        let push = socket(&ctx, SocketType::Push);
        push.connect(&endpoint).unwrap();
        push.send("from the main thread").unwrap();
        let push = thread::spawn(move || {
            push.send("from a second thread").unwrap();
            push
        })
        .join()
        .unwrap();
        push.send("back on the main thread").unwrap();
        for expected in [
            "from the main thread",
            "from a second thread",
            "back on the main thread",
        ] {
            assert_eq!(frames(&pull.recv().unwrap()), [expected]);
        }
    });
}

#[test]
fn many_threads_push_into_one_pull() {
    bounded(|| {
        const THREADS: usize = 4;
        const EACH: usize = 250;
        let ctx = Context::new().unwrap();
        let pull = socket(&ctx, SocketType::Pull);
        let endpoint = bind(&pull, Transport::Tcp);
        let senders: Vec<_> = (0..THREADS)
            .map(|n| {
                let ctx = ctx.clone();
                let endpoint = endpoint.clone();
                thread::spawn(move || {
                    let push = socket(&ctx, SocketType::Push);
                    push.set_option(SocketOption::Linger(None)).unwrap();
                    push.connect(&endpoint).unwrap();
                    for i in 0..EACH {
                        push.send(msg(&[&n.to_string(), &i.to_string()])).unwrap();
                    }
                })
            })
            .collect();
        let mut next = [0usize; THREADS];
        for _ in 0..THREADS * EACH {
            let m = frames(&pull.recv().unwrap());
            let n: usize = m[0].parse().unwrap();
            assert_eq!(m[1], next[n].to_string(), "thread {n}'s messages in order");
            next[n] += 1;
        }
        assert_eq!(next, [EACH; THREADS]);
        for s in senders {
            s.join().unwrap();
        }
    });
}

#[test]
fn timeouts_dontwait_and_errors() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let pull = socket(&ctx, SocketType::Pull);
        pull.set_option(SocketOption::RcvTimeo(Some(Duration::from_millis(20))))
            .unwrap();
        assert!(matches!(pull.recv(), Err(Error::WouldBlock(_))));
        assert!(matches!(pull.try_recv(), Err(Error::WouldBlock(_))));
        assert!(matches!(pull.send("x"), Err(Error::NotSupported { .. })));

        let push = socket(&ctx, SocketType::Push);
        push.set_option(SocketOption::SndTimeo(Some(Duration::from_millis(20))))
            .unwrap();
        assert!(matches!(push.send("no peer"), Err(Error::WouldBlock(_))));
        assert!(matches!(
            push.try_send("no peer"),
            Err(Error::WouldBlock(_))
        ));
        assert!(matches!(
            push.set_option(SocketOption::RouterMandatory(true)),
            Err(Error::InvalidOption {
                option: "ROUTER_MANDATORY",
                ..
            })
        ));
        assert!(matches!(
            push.connect("tcp://nowhere"),
            Err(Error::InvalidEndpoint { .. })
        ));
        assert!(matches!(
            push.unbind("tcp://127.0.0.1:1"),
            Err(Error::UnknownEndpoint(_))
        ));
        assert_eq!(
            push.options().unwrap().sndtimeo(),
            Some(Duration::from_millis(20))
        );
        assert_eq!(push.socket_type(), SocketType::Push);

        let req = socket(&ctx, SocketType::Req);
        let rep = socket(&ctx, SocketType::Rep);
        let endpoint = bind(&rep, Transport::Inproc);
        req.connect(&endpoint).unwrap();
        req.send("one").unwrap();
        assert!(matches!(req.send("two"), Err(Error::InvalidState(_))));
        assert_eq!(frames(&rep.recv().unwrap()), ["one"]);
        assert_eq!(req.peer_count().unwrap(), 1);
    });
}

#[test]
fn shutdown_interrupts_a_blocked_recv_and_fails_later_calls() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.bind(&Transport::Inproc.endpoint()).unwrap();
        // No RCVTIMEO: only the shutdown can end this recv. Whether it is
        // already waiting or not yet started, it must return ETERM.
        let blocked = thread::spawn(move || (pull.recv(), pull));
        ctx.shutdown().unwrap();
        let (result, pull) = blocked.join().unwrap();
        assert_eq!(result.unwrap_err(), Error::Terminated);
        assert_eq!(pull.try_recv().unwrap_err(), Error::Terminated);
        assert_eq!(pull.bind("inproc://later").unwrap_err(), Error::Terminated);
        assert_eq!(ctx.socket(SocketType::Push).unwrap_err(), Error::Terminated);
        // Dropping the last handles ends the context's thread (checked by
        // `bounded`: a thread that never ended would hang this drop).
        drop(pull);
        drop(ctx);
    });
}

#[test]
fn the_last_drop_waits_for_lingering_messages() {
    bounded(|| {
        // More than the kernel's socket buffers and the receive pool can hold,
        // so the push side cannot finish until the pull side reads.
        const COUNT: usize = 100;
        const SIZE: usize = 256 * 1024;
        let receiver_ctx = Context::new().unwrap();
        let pull = socket(&receiver_ctx, SocketType::Pull);
        pull.set_option(SocketOption::RcvHwm(1)).unwrap();
        let endpoint = bind(&pull, Transport::Tcp);

        let (dropping, dropping_rx) = mpsc::channel();
        let (dropped, dropped_rx) = mpsc::channel();
        let sender = thread::spawn(move || {
            let ctx = Context::new().unwrap();
            let push = ctx.socket(SocketType::Push).unwrap();
            push.set_option(SocketOption::Linger(Some(Duration::from_secs(25))))
                .unwrap();
            push.connect(&endpoint).unwrap();
            for _ in 0..COUNT {
                push.send(vec![0u8; SIZE]).unwrap();
            }
            dropping.send(()).unwrap();
            drop(push);
            drop(ctx);
            dropped.send(()).unwrap();
        });
        dropping_rx.recv().unwrap();
        assert_eq!(
            dropped_rx.recv_timeout(Duration::from_millis(100)),
            Err(mpsc::RecvTimeoutError::Timeout),
            "the context ended with messages still undelivered"
        );
        for _ in 0..COUNT {
            assert_eq!(pull.recv().unwrap()[0].len(), SIZE);
        }
        dropped_rx.recv().unwrap();
        sender.join().unwrap();
    });
}

/// The `zmq` crate's `test_conflating_receiver`: a PUSH sending as fast as
/// it can to a conflating PULL on the same context is closed (LINGER -1),
/// then at once the PULL, then the context. libzmq writes what the PUSH
/// still queued before the PULL's connection goes, so the context ends;
/// a PUSH left with messages and no peer would wait for it forever. Rounds
/// until 20 or 10 s (a flooded context answers each receive slowly on a
/// loaded machine; a hang still fails the bound).
#[test]
fn a_lingering_push_flushes_before_a_later_close_of_its_peer() {
    bounded(|| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        for _ in 0..20 {
            if std::time::Instant::now() > deadline {
                break;
            }
            let ctx = Context::new().unwrap();
            let pull = ctx.socket(SocketType::Pull).unwrap();
            let endpoint = bind(&pull, Transport::Tcp);
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let sender = {
                let (ctx, stop) = (ctx.clone(), stop.clone());
                thread::spawn(move || {
                    let push = ctx.socket(SocketType::Push).unwrap();
                    push.connect(&endpoint).unwrap();
                    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                        push.send("bar").unwrap();
                    }
                })
            };
            pull.set_option(SocketOption::Conflate(true)).unwrap();
            for _ in 0..10 {
                assert_eq!(&pull.recv().unwrap()[0][..], b"bar");
            }
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            sender.join().unwrap();
            drop(pull);
            drop(ctx);
        }
    });
}

#[test]
fn linger_zero_lets_the_context_end_with_undeliverable_messages() {
    bounded(|| {
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("tcp://{}", dead.local_addr().unwrap());
        drop(dead);
        let ctx = Context::new().unwrap();
        let push = socket(&ctx, SocketType::Push);
        push.connect(&endpoint).unwrap();
        for _ in 0..3 {
            push.send("nobody will read this").unwrap();
        }
        assert_eq!(push.queued().unwrap(), (0, 3));
        drop(push);
        drop(ctx);
    });
}

#[test]
fn a_blocking_monitor_sees_the_lifecycle_up_to_stopped() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let rep = socket(&ctx, SocketType::Rep);
        let events = rep.monitor().unwrap();
        let endpoint = bind(&rep, Transport::Tcp);
        let req = socket(&ctx, SocketType::Req);
        req.connect(&endpoint).unwrap();
        req.send("ping").unwrap();
        rep.send(rep.recv().unwrap()).unwrap();
        req.recv().unwrap();
        drop(rep);
        let seen: Vec<MonitorEvent> = thread::spawn(move || {
            let seen: Vec<_> = std::iter::from_fn(|| events.recv()).collect();
            assert_eq!(events.lost(), 0);
            seen
        })
        .join()
        .unwrap();
        assert!(
            matches!(seen.first(), Some(MonitorEvent::Listening { .. })),
            "{seen:?}"
        );
        for wanted in [
            |e: &MonitorEvent| matches!(e, MonitorEvent::Accepted { .. }),
            |e: &MonitorEvent| matches!(e, MonitorEvent::HandshakeSucceeded { .. }),
            |e: &MonitorEvent| matches!(e, MonitorEvent::Closed { .. }),
        ] {
            assert!(seen.iter().any(wanted), "{seen:?}");
        }
        assert_eq!(seen.last(), Some(&MonitorEvent::Stopped), "{seen:?}");
    });
}

#[test]
fn inproc_names_belong_to_their_context() {
    bounded(|| {
        let first = Context::new().unwrap();
        let second = Context::new().unwrap();
        let pull_first = socket(&first, SocketType::Pull);
        let pull_second = socket(&second, SocketType::Pull);
        pull_first.bind("inproc://same-name").unwrap();
        pull_second.bind("inproc://same-name").unwrap();
        assert_eq!(
            socket(&first, SocketType::Pull)
                .bind("inproc://same-name")
                .unwrap_err(),
            Error::InprocInUse("same-name".into())
        );
        let push = socket(&second, SocketType::Push);
        push.connect("inproc://same-name").unwrap();
        push.send("for the second context").unwrap();
        assert_eq!(
            frames(&pull_second.recv().unwrap()),
            ["for the second context"]
        );
        assert!(matches!(pull_first.try_recv(), Err(Error::WouldBlock(_))));
    });
}

#[test]
fn a_context_on_a_missing_core_is_refused_with_the_reason() {
    let err = Context::with_runtime(Runtime::builder().core(100_000)).unwrap_err();
    assert!(err.to_string().contains("CPU 100000"), "{err}");
}

#[test]
fn blocking_sockets_talk_to_libzmq() {
    bounded(|| {
        let zctx = zmq::Context::new();
        let router = zctx.socket(zmq::ROUTER).unwrap();
        router.set_rcvtimeo(10_000).unwrap();
        router.set_linger(0).unwrap();
        router.bind("tcp://127.0.0.1:*").unwrap();
        let endpoint = router.get_last_endpoint().unwrap().unwrap();

        let ctx = Context::new().unwrap();
        let dealer = socket(&ctx, SocketType::Dealer);
        dealer
            .set_option(SocketOption::RoutingId("blocking".into()))
            .unwrap();
        dealer.connect(&endpoint).unwrap();
        for i in 0..10 {
            let body = i.to_string();
            dealer.send(msg(&["", &body])).unwrap();
            let got = router.recv_multipart(0).unwrap();
            assert_eq!(
                got,
                [b"blocking".to_vec(), vec![], body.clone().into_bytes()]
            );
            router.send_multipart(got, 0).unwrap();
            assert_eq!(frames(&dealer.recv().unwrap()), ["", body.as_str()]);
        }
    });
}

#[test]
fn a_blocking_publisher_spreads_its_subscribers_over_io_cores() {
    bounded(|| {
        let cores = monocoque_patterns::IoCores::start(vec![
            monocoque_runtime::RuntimeBuilder::default();
            2
        ])
        .unwrap();
        let ctx = Context::new().unwrap();
        let publisher = socket(&ctx, SocketType::Pub);
        assert!(publisher.io_core_statistics().unwrap().is_none());
        publisher.spread_connections(&cores).unwrap();
        let endpoint = bind(&publisher, Transport::Tcp);
        let subscribers: Vec<BlockingSocket> = (0..4)
            .map(|i| {
                let s = socket(&ctx, SocketType::Sub);
                s.set_option(SocketOption::Subscribe(bytes::Bytes::from(format!("s{i}"))))
                    .unwrap();
                s.connect(&endpoint).unwrap();
                s
            })
            .collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while publisher.topics_count().unwrap() < 4 {
            assert!(
                std::time::Instant::now() < deadline,
                "subscriptions missing"
            );
            thread::sleep(Duration::from_millis(1));
        }
        for i in 0..4 {
            publisher.send(msg(&[&format!("s{i}"), "hello"])).unwrap();
        }
        for (i, s) in subscribers.iter().enumerate() {
            assert_eq!(
                frames(&s.recv().unwrap()),
                [format!("s{i}"), "hello".into()]
            );
        }
        let per_core: Vec<usize> = publisher
            .io_core_statistics()
            .unwrap()
            .expect("spread")
            .iter()
            .map(|c| c.connections)
            .collect();
        assert_eq!(per_core, [2, 2], "round-robin over the two IO cores");
        // Once only: a second spread is refused.
        assert!(matches!(
            publisher.spread_connections(&cores),
            Err(Error::InvalidState(_))
        ));
    });
}

/// The blocking steerable proxy, steered through a REP: each command gets
/// an empty reply; PAUSE holds messages in the frontend's queue (none
/// reaches the sink, which the proxy's STATISTICS confirm), RESUME lets them
/// through, TERMINATE ends the call with `Ok`.
#[test]
fn blocking_proxy_steerable_pauses_resumes_counts_and_terminates() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let frontend = socket(&ctx, SocketType::Pull);
        frontend.bind("inproc://steer-front").unwrap();
        let backend = socket(&ctx, SocketType::Push);
        backend.bind("inproc://steer-back").unwrap();
        let control = socket(&ctx, SocketType::Rep);
        control.bind("inproc://steer-control").unwrap();
        // The sockets come back with the result: dropped on that thread at
        // once (LINGER 0), the control socket could lose its last reply.
        let proxy = thread::spawn(move || {
            let result =
                monocoque_patterns::blocking_proxy_steerable(&frontend, &backend, None, &control);
            (result, [frontend, backend, control])
        });
        let steering = socket(&ctx, SocketType::Req);
        steering.connect("inproc://steer-control").unwrap();
        let command = |word: &'static str| {
            steering.send(word).unwrap();
            steering
                .recv()
                .unwrap_or_else(|e| panic!("no reply to {word}: {e}"))
        };
        let source = socket(&ctx, SocketType::Push);
        source.connect("inproc://steer-front").unwrap();
        let sink = socket(&ctx, SocketType::Pull);
        sink.connect("inproc://steer-back").unwrap();

        assert_eq!(frames(&command("PAUSE")), [""]);
        source.send(msg(&["held", "back"])).unwrap();
        let stats = command("STATISTICS");
        let stats = monocoque_patterns::ProxyStatistics::from_msg(&stats).unwrap();
        assert_eq!(
            stats.frontend.messages_in, 0,
            "nothing crossed while paused"
        );
        assert!(matches!(sink.try_recv(), Err(Error::WouldBlock(_))));

        assert_eq!(frames(&command("RESUME")), [""]);
        assert_eq!(frames(&sink.recv().unwrap()), ["held", "back"]);
        let stats = command("STATISTICS");
        let stats = monocoque_patterns::ProxyStatistics::from_msg(&stats).unwrap();
        assert_eq!(
            (stats.frontend.messages_in, stats.frontend.bytes_in),
            (1, 8)
        );
        assert_eq!(
            (stats.backend.messages_out, stats.backend.bytes_out),
            (1, 8)
        );
        assert_eq!(frames(&command("NONSENSE")), [""]);
        assert_eq!(frames(&command("TERMINATE")), [""]);
        assert_eq!(proxy.join().unwrap().0, Ok(()));
    });
}
