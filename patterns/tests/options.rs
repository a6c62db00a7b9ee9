//! Socket options and their libzmq behaviour: ROUTER_MANDATORY, ROUTER_HANDOVER,
//! REQ_CORRELATE, REQ_RELAXED, HWM, IMMEDIATE, heartbeats, RECONNECT_IVL,
//! LINGER, PROBE_ROUTER, MAXMSGSIZE, MAX_SUBSCRIPTIONS, MAX_SUBSCRIPTION_BYTES
//! and monitor events, over every transport where the option applies to it.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use monocoque_patterns::{CloseReason, Error, MonitorEvent, Socket, SocketOption};
use monocoque_zmtp::Error as Zmtp;
use monocoque_zmtp::{Msg, SocketType};

fn id(s: &'static str) -> SocketOption {
    SocketOption::RoutingId(Bytes::from_static(s.as_bytes()))
}

#[test]
fn router_mandatory_refuses_unknown_ids_and_default_drops_them() {
    each_transport(|t| async move {
        let router = socket(SocketType::Router, vec![]);
        let ep = bind(&router, t);
        let d = socket(SocketType::Dealer, vec![id("known")]);
        d.connect(&ep).unwrap();
        peers(&router, 1).await;
        // Off (the default): an unknown id is silently dropped.
        router.send(msg(&["unknown", "x"])).await.unwrap();
        router
            .set_option(SocketOption::RouterMandatory(true))
            .unwrap();
        assert!(matches!(
            router.send(msg(&["unknown", "x"])).await,
            Err(Error::HostUnreachable)
        ));
        router.send(msg(&["known", "y"])).await.unwrap();
        assert_eq!(frames(&d.recv().await.unwrap()), ["y"]);
    });
}

#[test]
fn router_mandatory_blocks_at_the_hwm() {
    each_transport(|t| async move {
        let router = socket(
            SocketType::Router,
            vec![
                SocketOption::RouterMandatory(true),
                SocketOption::SndHwm(1),
                SocketOption::SndTimeo(Some(Duration::ZERO)),
            ],
        );
        let ep = bind(&router, t);
        let d = socket(SocketType::Dealer, vec![id("d"), SocketOption::RcvHwm(1)]);
        d.connect(&ep).unwrap();
        peers(&router, 1).await;
        let mut sent = 0;
        while router.try_send(msg(&["d", "x"])).is_ok() {
            sent += 1;
            assert!(sent < 100, "the HWM never applied");
        }
        assert!(matches!(
            router.try_send(msg(&["d", "x"])),
            Err(Error::WouldBlock(_))
        ));
        d.recv().await.unwrap();
        router.try_send(msg(&["d", "again"])).unwrap();
    });
}

#[test]
fn router_handover_lets_a_new_peer_take_the_id() {
    each_transport(|t| async move {
        for handover in [false, true] {
            let router = socket(
                SocketType::Router,
                vec![SocketOption::RouterHandover(handover)],
            );
            let ep = bind(&router, t);
            let first = socket(SocketType::Dealer, vec![id("X")]);
            first.connect(&ep).unwrap();
            peers(&router, 1).await;
            first.send("from first").await.unwrap();
            assert_eq!(frames(&router.recv().await.unwrap()), ["X", "from first"]);
            let second = socket(SocketType::Dealer, vec![id("X")]);
            second.connect(&ep).unwrap();
            second.send("from second").await.unwrap();
            if handover {
                assert_eq!(frames(&router.recv().await.unwrap()), ["X", "from second"]);
                router.send(msg(&["X", "to X"])).await.unwrap();
                assert_eq!(frames(&second.recv().await.unwrap()), ["to X"]);
            } else {
                // The duplicate is refused: the first keeps the id.
                first.send("first again").await.unwrap();
                assert_eq!(frames(&router.recv().await.unwrap()), ["X", "first again"]);
                router.send(msg(&["X", "to X"])).await.unwrap();
                assert_eq!(frames(&first.recv().await.unwrap()), ["to X"]);
            }
        }
    });
}

#[test]
fn req_correlate_and_relaxed() {
    each_transport(|t| async move {
        let req = socket(
            SocketType::Req,
            vec![
                SocketOption::ReqCorrelate(true),
                SocketOption::ReqRelaxed(true),
            ],
        );
        let router = socket(SocketType::Router, vec![]);
        let ep = bind(&router, t);
        req.connect(&ep).unwrap();
        req.send("first").await.unwrap();
        let r1 = router.recv().await.unwrap();
        assert_eq!(r1.len(), 4, "[peer id][request id][empty][body]");
        assert_eq!(r1[1].len(), 4);
        // RELAXED: a second request without waiting for the first reply.
        req.send("second").await.unwrap();
        let r2 = router.recv().await.unwrap();
        assert_ne!(r1[1], r2[1], "each request has its own id");
        // The late reply to the first request is dropped; the second's is delivered.
        let mut late = r1.frames().to_vec();
        late[3] = Bytes::from_static(b"reply to first");
        router.send(monocoque_zmtp::Msg::from(late)).await.unwrap();
        let mut good = r2.frames().to_vec();
        good[3] = Bytes::from_static(b"reply to second");
        router.send(monocoque_zmtp::Msg::from(good)).await.unwrap();
        assert_eq!(frames(&req.recv().await.unwrap()), ["reply to second"]);
    });
}

#[test]
fn req_correlate_refuses_options_on_other_types() {
    run(|| async {
        let rep = socket(SocketType::Rep, vec![]);
        let e = rep
            .set_option(SocketOption::ReqCorrelate(true))
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidOption {
                    option: "REQ_CORRELATE",
                    ..
                }
            ),
            "{e}"
        );
    });
}

#[test]
fn hwm_blocks_push_and_bounds_memory() {
    each_transport(|t| async move {
        let pull = socket(SocketType::Pull, vec![SocketOption::RcvHwm(4)]);
        let ep = bind(&pull, t);
        let push = socket(
            SocketType::Push,
            vec![
                SocketOption::SndHwm(4),
                SocketOption::SndTimeo(Some(Duration::from_millis(50))),
            ],
        );
        push.connect(&ep).unwrap();
        peers(&pull, 1).await;
        let mut sent = 0usize;
        loop {
            match push.send(vec![0u8; 1024]).await {
                Ok(()) => sent += 1,
                Err(Error::WouldBlock(_)) => break,
                Err(e) => panic!("{e}"),
            }
            assert!(sent < 100_000, "send never blocked");
        }
        // Bounded by the HWMs (an inproc pipe holds SNDHWM + RCVHWM, as in
        // libzmq; an engine may hold one decoded message beyond RCVHWM).
        let (queued_in, _) = pull.queued();
        let (_, queued_out) = push.queued();
        if t == Transport::Inproc {
            assert!(queued_in <= 8, "the inproc pipe holds {queued_in} > 8");
        } else {
            assert!(queued_in <= 5, "PULL holds {queued_in} > RCVHWM + 1");
            assert!(queued_out <= 4, "PUSH holds {queued_out} > SNDHWM");
        }
        for _ in 0..sent {
            pull.recv().await.unwrap();
        }
        push.send("after").await.unwrap();
        assert_eq!(frames(&pull.recv().await.unwrap()), ["after"]);
    });
}

#[test]
fn immediate_queues_only_to_completed_connections() {
    // inproc too: a connect to a name not bound yet is not a completed
    // connection. (libzmq attaches that inproc pipe at once, IMMEDIATE or not.)
    each_transport(|t| async move {
        let dead = match t {
            Transport::Tcp => dead_endpoint(),
            // A path or name nobody listens on: never a completed connection.
            _ => t.endpoint(),
        };

        let pull = socket(SocketType::Pull, vec![]);
        let live = bind(&pull, t);
        for immediate in [false, true] {
            let push = socket(SocketType::Push, vec![SocketOption::Immediate(immediate)]);
            push.connect(&dead).unwrap();
            push.connect(&live).unwrap();
            until("the live connection", || push.peer_count() == 1).await;
            for i in 0..4 {
                push.send(format!("{i}").into_bytes()).await.unwrap();
            }
            if immediate {
                // Every message went to the live peer.
                for i in 0..4 {
                    assert_eq!(frames(&pull.recv().await.unwrap()), [format!("{i}")]);
                }
            } else {
                // Round robin over both pipes (the dead one attached first):
                // half wait for the dead endpoint.
                for i in [1, 3] {
                    assert_eq!(frames(&pull.recv().await.unwrap()), [format!("{i}")]);
                }
                assert_eq!(push.queued().1, 2);
            }
        }
    });
}

/// A tcp endpoint nobody listens on (a port the kernel handed out and took back).
fn dead_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("tcp://127.0.0.1:{port}")
}

#[test]
fn heartbeats_keep_a_live_peer_and_drop_a_silent_one() {
    for t in [Transport::Tcp, Transport::Ipc] {
        run(|| async move {
            let router = socket(
                SocketType::Router,
                vec![
                    SocketOption::HeartbeatIvl(Duration::from_millis(20)),
                    SocketOption::HeartbeatTimeout(Duration::from_millis(60)),
                ],
            );
            let monitor = router.monitor();
            let ep = bind(&router, t);
            // A live peer answers PINGs: it survives many timeouts' worth of time.
            let dealer = socket(SocketType::Dealer, vec![]);
            dealer.connect(&ep).unwrap();
            peers(&router, 1).await;
            monocoque_runtime::sleep(Duration::from_millis(300)).await;
            assert_eq!(router.peer_count(), 1);
            // A peer that completes the handshake and then goes silent, with its
            // connection still open, is dropped by the heartbeat timer.
            let (release, hold) = std::sync::mpsc::channel::<()>();
            let silent = std::thread::spawn(move || {
                let conn = silent_peer(&ep);
                let _ = hold.recv();
                drop(conn);
            });
            peers(&router, 2).await;
            until("the silent peer is dropped", || router.peer_count() == 1).await;
            let reasons = disconnect_reasons(&monitor);
            assert!(
                reasons
                    .iter()
                    .any(|r| matches!(r, CloseReason::Protocol(Zmtp::HeartbeatTimeout(_)))),
                "{reasons:?}"
            );
            release.send(()).unwrap();
            silent.join().unwrap();
            // The live peer is still served.
            dealer.send("still here").await.unwrap();
            assert_eq!(frames(&router.recv().await.unwrap())[1], "still here");
        });
    }
}

/// A blocking tcp or ipc stream.
trait RawStream: std::io::Read + std::io::Write + Send {}
impl<T: std::io::Read + std::io::Write + Send> RawStream for T {}

/// Connects to a tcp:// or ipc:// endpoint with a blocking socket, completes a
/// ZMTP handshake as a DEALER, and returns the open connection, which will
/// never answer a PING.
fn silent_peer(endpoint: &str) -> Box<dyn RawStream> {
    use std::time::Instant;
    let mut s: Box<dyn RawStream> = match endpoint.split_once("://").unwrap() {
        ("tcp", addr) => Box::new(std::net::TcpStream::connect(addr).unwrap()),
        ("ipc", path) => Box::new(std::os::unix::net::UnixStream::connect(path).unwrap()),
        other => panic!("no raw stream for {other:?}"),
    };
    let mut session = monocoque_zmtp::Session::new(
        monocoque_zmtp::SessionConfig::new(SocketType::Dealer),
        Instant::now(),
    )
    .unwrap();
    let mut buf = [0u8; 4096];
    loop {
        let out = session.transmit().take_all();
        s.write_all(&out).unwrap();
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "the router closed during the handshake");
        session.handle_input(Bytes::copy_from_slice(&buf[..n]), Instant::now());
        while let Some(e) = session.poll_event() {
            if matches!(e, monocoque_zmtp::Event::HandshakeSucceeded(_)) {
                let out = session.transmit().take_all();
                s.write_all(&out).unwrap();
                return s;
            }
        }
    }
}

#[test]
fn reconnect_after_the_peer_comes_back() {
    for t in [Transport::Tcp, Transport::Ipc] {
        run(|| async move {
            let pull = socket(SocketType::Pull, vec![]);
            let ep = bind(&pull, t);
            let push = socket(
                SocketType::Push,
                vec![SocketOption::ReconnectIvl(Some(Duration::from_millis(10)))],
            );
            let monitor = push.monitor();
            push.connect(&ep).unwrap();
            peers(&push, 1).await;
            push.send("one").await.unwrap();
            assert_eq!(frames(&pull.recv().await.unwrap()), ["one"]);
            drop(pull);
            until("the push notices", || push.peer_count() == 0).await;
            let pull = socket(SocketType::Pull, vec![]);
            pull.bind(&ep).unwrap();
            peers(&push, 1).await;
            push.send("two").await.unwrap();
            assert_eq!(frames(&pull.recv().await.unwrap()), ["two"]);
            let mut retried = false;
            while let Some(e) = monitor.try_recv() {
                retried |= matches!(e, MonitorEvent::ConnectRetried { .. });
            }
            assert!(retried, "a reconnect was scheduled and reported");
        });
    }
}

#[test]
fn reconnect_ivl_minus_one_never_reconnects() {
    // inproc has no reconnect to turn off: its pipes live as long as the sockets.
    for t in [Transport::Tcp, Transport::Ipc] {
        run(|| async move {
            let pull = socket(SocketType::Pull, vec![]);
            let ep = bind(&pull, t);
            let push = socket(SocketType::Push, vec![SocketOption::ReconnectIvl(None)]);
            push.connect(&ep).unwrap();
            peers(&push, 1).await;
            drop(pull);
            until("the push notices", || push.peer_count() == 0).await;
            let pull = socket(SocketType::Pull, vec![]);
            pull.bind(&ep).unwrap();
            monocoque_runtime::sleep(Duration::from_millis(100)).await;
            assert_eq!(push.peer_count(), 0);
        });
    }
}

#[test]
fn linger_delivers_queued_messages_after_close() {
    each_transport(|t| async move {
        let pull = socket(SocketType::Pull, vec![]);
        let ep = bind(&pull, t);
        let push = socket(SocketType::Push, vec![]);
        push.set_option(SocketOption::Linger(Some(Duration::from_secs(5))))
            .unwrap();
        push.connect(&ep).unwrap();
        for i in 0..100 {
            push.send(format!("{i}").into_bytes()).await.unwrap();
        }
        drop(push);
        for i in 0..100 {
            assert_eq!(frames(&pull.recv().await.unwrap()), [format!("{i}")]);
        }
    });
}

#[test]
fn linger_zero_discards_queued_messages() {
    run(|| async {
        let ep = dead_endpoint();
        let push = socket(SocketType::Push, vec![]);
        push.connect(&ep).unwrap();
        push.send("never").await.unwrap();
        drop(push);
        let pull = socket(
            SocketType::Pull,
            vec![SocketOption::RcvTimeo(Some(Duration::from_millis(100)))],
        );
        pull.bind(&ep).unwrap();
        assert!(matches!(pull.recv().await, Err(Error::WouldBlock(_))));
    });
}

#[test]
fn probe_router_sends_an_empty_message_on_connect() {
    each_transport(|t| async move {
        let router = socket(SocketType::Router, vec![]);
        let ep = bind(&router, t);
        let dealer = socket(
            SocketType::Dealer,
            vec![id("P"), SocketOption::ProbeRouter(true)],
        );
        dealer.connect(&ep).unwrap();
        assert_eq!(frames(&router.recv().await.unwrap()), ["P", ""]);
    });
}

#[test]
fn maxmsgsize_drops_the_peer_that_exceeds_it() {
    for t in [Transport::Tcp, Transport::Ipc] {
        run(|| async move {
            let (pull, monitor, good, bad) =
                good_and_bad_pushers(t, SocketOption::MaxMsgSize(Some(100))).await;
            good.send("fine").await.unwrap();
            assert_eq!(frames(&pull.recv().await.unwrap()), ["fine"]);
            bad.send(vec![0u8; 101]).await.unwrap();
            until("the oversize peer is dropped", || pull.peer_count() == 1).await;
            good.send("still fine").await.unwrap();
            assert_eq!(frames(&pull.recv().await.unwrap()), ["still fine"]);
            let reasons = disconnect_reasons(&monitor);
            assert!(
                reasons.iter().any(|r| matches!(
                    r,
                    CloseReason::Protocol(Zmtp::FrameTooLarge { size: 101, .. })
                )),
                "{reasons:?}"
            );
        });
    }
}

/// A PULL with `limit` bound on `t`, watched by a monitor, with two PUSH
/// peers connected: one that will keep to the limit and one that will not.
async fn good_and_bad_pushers(
    t: Transport,
    limit: SocketOption,
) -> (Socket, monocoque_patterns::Monitor, Socket, Socket) {
    let pull = socket(SocketType::Pull, vec![limit]);
    let monitor = pull.monitor();
    let ep = bind(&pull, t);
    let good = socket(SocketType::Push, vec![]);
    let bad = socket(SocketType::Push, vec![]);
    good.connect(&ep).unwrap();
    bad.connect(&ep).unwrap();
    peers(&pull, 2).await;
    (pull, monitor, good, bad)
}

/// What disconnected the peers of `pull`, from its monitor.
fn disconnect_reasons(monitor: &monocoque_patterns::Monitor) -> Vec<CloseReason> {
    std::iter::from_fn(|| monitor.try_recv())
        .filter_map(|e| match e {
            MonitorEvent::Disconnected { reason, .. } => Some(reason),
            _ => None,
        })
        .collect()
}

#[test]
fn maxmsgsize_bounds_a_multipart_message_as_a_whole() {
    for t in [Transport::Tcp, Transport::Ipc] {
        run(|| async move {
            let (pull, monitor, good, bad) =
                good_and_bad_pushers(t, SocketOption::MaxMsgSize(Some(100))).await;
            // 50 + 50 bytes: exactly the limit.
            good.send(Msg::from(vec![
                Bytes::from(vec![1u8; 50]),
                Bytes::from(vec![2u8; 50]),
            ]))
            .await
            .unwrap();
            assert_eq!(pull.recv().await.unwrap().frames().len(), 2);
            // Each frame is under the limit; the message is not.
            let parts: Vec<Bytes> = (0..3).map(|_| Bytes::from(vec![0u8; 40])).collect();
            bad.send(Msg::from(parts)).await.unwrap();
            until("the peer is dropped", || pull.peer_count() == 1).await;
            good.send("still served").await.unwrap();
            assert_eq!(frames(&pull.recv().await.unwrap()), ["still served"]);
            let reasons = disconnect_reasons(&monitor);
            assert!(
                reasons.iter().any(|r| matches!(
                    r,
                    CloseReason::Protocol(Zmtp::MessageTooLarge { size: 120, .. })
                )),
                "{reasons:?}"
            );
        });
    }
}

#[test]
fn maxmsgframes_stops_endless_empty_frames() {
    run(|| async {
        let (pull, monitor, good, bad) =
            good_and_bad_pushers(Transport::Tcp, SocketOption::MaxMsgFrames(Some(4))).await;
        good.send(msg(&["", "", "", "four"])).await.unwrap();
        assert_eq!(frames(&pull.recv().await.unwrap()), ["", "", "", "four"]);
        bad.send(msg(&["", "", "", "", ""])).await.unwrap();
        until("the peer is dropped", || pull.peer_count() == 1).await;
        good.send("still served").await.unwrap();
        assert_eq!(frames(&pull.recv().await.unwrap()), ["still served"]);
        let reasons = disconnect_reasons(&monitor);
        assert!(
            reasons
                .iter()
                .any(|r| matches!(r, CloseReason::Protocol(Zmtp::TooManyFrames { limit: 4 }))),
            "{reasons:?}"
        );
        assert!(matches!(
            pull.set_option(SocketOption::MaxMsgFrames(Some(0))),
            Err(Error::InvalidOption {
                option: "MAXMSGFRAMES",
                ..
            })
        ));
    });
}

#[test]
fn monitor_reports_the_connection_lifecycle() {
    run(|| async {
        let t = Transport::Tcp;
        let rep = socket(SocketType::Rep, vec![]);
        let server_events = rep.monitor();
        let ep = bind(&rep, t);
        let req = socket(SocketType::Req, vec![]);
        let client_events = req.monitor();
        req.connect(&ep).unwrap();
        peers(&rep, 1).await;
        peers(&req, 1).await;
        let server: Vec<_> = std::iter::from_fn(|| server_events.try_recv()).collect();
        assert!(
            matches!(server[0], MonitorEvent::Listening { .. }),
            "{server:?}"
        );
        assert!(server
            .iter()
            .any(|e| matches!(e, MonitorEvent::Accepted { .. })));
        assert!(server
            .iter()
            .any(|e| matches!(e, MonitorEvent::HandshakeSucceeded { .. })));
        let client: Vec<_> = std::iter::from_fn(|| client_events.try_recv()).collect();
        // As libzmq: CONNECT_DELAYED when the attempt starts, then CONNECTED.
        assert!(
            matches!(client[0], MonitorEvent::ConnectDelayed { .. })
                && matches!(client[1], MonitorEvent::Connected { .. }),
            "{client:?}"
        );
        assert!(client
            .iter()
            .any(|e| matches!(e, MonitorEvent::HandshakeSucceeded { .. })));
        rep.unbind(&ep).unwrap();
        until("the client sees the disconnect", || req.peer_count() == 0).await;
        let server: Vec<_> = std::iter::from_fn(|| server_events.try_recv()).collect();
        assert!(
            server
                .iter()
                .any(|e| matches!(e, MonitorEvent::Closed { .. })),
            "{server:?}"
        );
        let client: Vec<_> = std::iter::from_fn(|| client_events.try_recv()).collect();
        assert!(
            client
                .iter()
                .any(|e| matches!(e, MonitorEvent::Disconnected { .. })),
            "{client:?}"
        );
    });
}

#[test]
fn wrong_socket_type_fails_the_handshake() {
    for t in [Transport::Tcp, Transport::Ipc] {
        run(|| async move {
            let pull = socket(SocketType::Pull, vec![]);
            let events = pull.monitor();
            let ep = bind(&pull, t);
            let wrong = socket(SocketType::Dealer, vec![]);
            wrong.connect(&ep).unwrap();
            let good = socket(SocketType::Push, vec![]);
            good.connect(&ep).unwrap();
            good.send("ok").await.unwrap();
            assert_eq!(frames(&pull.recv().await.unwrap()), ["ok"]);
            until("the handshake failure is reported", || {
                std::iter::from_fn(|| events.try_recv())
                    .any(|e| matches!(e, MonitorEvent::HandshakeFailed { .. }))
            })
            .await;
            assert_eq!(pull.peer_count(), 1);
        });
    }
    // inproc has no handshake and, as in libzmq, no check of the types
    // (libzmq_rules.rs: inproc_joins_sockets_whatever_their_types).
}

/// `disconnect` ends an IMMEDIATE connect's live connection too (its pipe
/// is the connection's, not the connect's): both sides lose the peer.
#[test]
fn disconnect_ends_an_immediate_connection() {
    run(|| async {
        let router = socket(SocketType::Router, vec![]);
        let ep = bind(&router, Transport::Tcp);
        let dealer = socket(SocketType::Dealer, vec![SocketOption::Immediate(true)]);
        dealer.connect(&ep).unwrap();
        peers(&dealer, 1).await;
        peers(&router, 1).await;
        dealer.disconnect(&ep).unwrap();
        until("the DEALER's peer gone", || dealer.peer_count() == 0).await;
        until("the ROUTER's peer gone", || router.peer_count() == 0).await;
    });
}

#[test]
fn endpoints_bind_connect_unbind_disconnect() {
    run(|| async {
        let s = socket(SocketType::Pull, vec![]);
        s.bind("tcp://*:0").unwrap();
        let any = s.last_endpoint().unwrap();
        assert!(any.starts_with("tcp://0.0.0.0:"), "{any}");
        s.bind("tcp://[::1]:0").unwrap();
        let v6 = s.last_endpoint().unwrap();
        assert!(v6.starts_with("tcp://[::1]:"), "{v6}");
        let port = v6.rsplit(':').next().unwrap();
        let push = socket(SocketType::Push, vec![]);
        push.connect(&format!(
            "tcp://localhost:{}",
            any.rsplit(':').next().unwrap()
        ))
        .unwrap();
        push.connect(&format!("tcp://[::1]:{port}")).unwrap();
        peers(&s, 2).await;
        assert!(matches!(
            s.unbind("tcp://127.0.0.1:1"),
            Err(Error::UnknownEndpoint(_))
        ));
        // A wildcard names no endpoint (libzmq: ENOENT); the address it got does.
        assert!(matches!(
            s.unbind("tcp://*:0"),
            Err(Error::UnknownEndpoint(_))
        ));
        assert!(matches!(
            s.unbind("tcp://[::1]:*"),
            Err(Error::UnknownEndpoint(_))
        ));
        s.unbind(&v6).unwrap();
        push.disconnect(&format!("tcp://[::1]:{port}")).unwrap();
        assert!(matches!(
            push.disconnect("tcp://[::1]:1"),
            Err(Error::UnknownEndpoint(_))
        ));
        assert!(matches!(
            s.bind("udp://x:1"),
            Err(Error::InvalidEndpoint { .. })
        ));
        // ipc: a stale socket file is replaced.
        let path = std::env::temp_dir().join(format!("mq-stale-{}.sock", std::process::id()));
        std::fs::write(&path, b"").ok();
        let _ = std::fs::remove_file(&path);
        std::os::unix::net::UnixListener::bind(&path).unwrap(); // dropped: stale file left
        s.bind(&format!("ipc://{}", path.display())).unwrap();
        // inproc names are exclusive.
        s.bind("inproc://only-once").unwrap();
        let other = socket(SocketType::Pull, vec![]);
        assert!(matches!(
            other.bind("inproc://only-once"),
            Err(Error::InprocInUse(_))
        ));
        drop(s);
        other.bind("inproc://only-once").unwrap();
        let _ = std::fs::remove_file(&path);
    });
}

struct OnlyAdmin;

impl monocoque_zmtp::Authenticator for OnlyAdmin {
    fn authenticate(&self, c: &monocoque_zmtp::Credentials<'_>) -> monocoque_zmtp::AuthDecision {
        match c {
            monocoque_zmtp::Credentials::Plain {
                username: b"admin",
                password: b"secret",
            } => monocoque_zmtp::AuthDecision::accept(None),
            _ => monocoque_zmtp::AuthDecision::Deny {
                reason: "unknown user".into(),
            },
        }
    }
}

#[test]
fn plain_authenticates_clients() {
    for t in [Transport::Tcp, Transport::Ipc] {
        run(|| async move {
            let server = socket(
                SocketType::Rep,
                vec![SocketOption::PlainServer(std::sync::Arc::new(OnlyAdmin))],
            );
            let events = server.monitor();
            let ep = bind(&server, t);
            let intruder = socket(
                SocketType::Req,
                vec![SocketOption::PlainClient {
                    username: Bytes::from_static(b"admin"),
                    password: Bytes::from_static(b"guess"),
                }],
            );
            intruder.connect(&ep).unwrap();
            until("the intruder is refused", || {
                std::iter::from_fn(|| events.try_recv()).any(|e| {
                    matches!(e, MonitorEvent::HandshakeFailed { ref reason, .. }
                        if reason.is_authentication_failure()
                            && reason.to_string().contains("unknown user"))
                })
            })
            .await;
            let admin = socket(
                SocketType::Req,
                vec![SocketOption::PlainClient {
                    username: Bytes::from_static(b"admin"),
                    password: Bytes::from_static(b"secret"),
                }],
            );
            admin.connect(&ep).unwrap();
            admin.send("let me in").await.unwrap();
            let m = server.recv().await.unwrap();
            server.send(m).await.unwrap();
            assert_eq!(frames(&admin.recv().await.unwrap()), ["let me in"]);
            assert_eq!(server.peer_count(), 1);
        });
    }
}

#[test]
fn tcp_keepalive_options_reach_the_connection() {
    run(|| async {
        // Our side applies the options to both accepted and connected streams;
        // read them back from a runtime stream configured the same way.
        let ka = monocoque_runtime::net::Keepalive {
            enabled: Some(true),
            idle: Some(Duration::from_secs(30)),
            interval: Some(Duration::from_secs(5)),
            count: Some(4),
        };
        let l = monocoque_runtime::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = l.local_addr().unwrap();
        let c = monocoque_runtime::net::TcpStream::connect(addr)
            .await
            .unwrap();
        c.set_keepalive(&ka).unwrap();
        assert_eq!(c.keepalive().unwrap(), ka);
        // And the socket takes the options (refusing none of them).
        let s = socket(
            SocketType::Dealer,
            vec![
                SocketOption::TcpKeepalive(Some(true)),
                SocketOption::TcpKeepaliveIdle(Some(Duration::from_secs(30))),
                SocketOption::TcpKeepaliveIntvl(Some(Duration::from_secs(5))),
                SocketOption::TcpKeepaliveCnt(Some(4)),
            ],
        );
        assert_eq!(s.options().tcp_keepalive(), ka);
    });
}

/// The kernel's view of the established tcp connections to or from `port` on
/// 127.0.0.1, from /proc/net/tcp: `(ours_is_the_connecting_side, timer, ticks)`
/// where timer 2 is the keepalive timer and ticks count down to it (USER_HZ, 100/s).
fn kernel_timers(port: u16) -> Vec<(bool, u8, u64)> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let port_of = |addr: &str| u16::from_str_radix(addr.rsplit(':').next().unwrap(), 16).unwrap();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (local, remote, state, timer) = (f[1], f[2], f[3], f[5]);
            if state != "01" {
                return None;
            }
            let connecting = port_of(remote) == port;
            if !connecting && port_of(local) != port {
                return None;
            }
            let (tr, when) = timer.split_once(':').unwrap();
            Some((
                connecting,
                u8::from_str_radix(tr, 16).unwrap(),
                u64::from_str_radix(when, 16).unwrap(),
            ))
        })
        .collect()
}

#[test]
fn tcp_keepalive_is_armed_on_live_connections_with_the_idle_given() {
    run(|| async {
        let keepalive = |idle: u64| {
            vec![
                SocketOption::TcpKeepalive(Some(true)),
                SocketOption::TcpKeepaliveIdle(Some(Duration::from_secs(idle))),
            ]
        };
        // 1000 s on the accepting side, 2000 s on the connecting side: the
        // kernel's keepalive timer on each connection shows which was applied.
        let pull = socket(SocketType::Pull, keepalive(1000));
        let ep = bind(&pull, Transport::Tcp);
        let port: u16 = ep.rsplit(':').next().unwrap().parse().unwrap();
        let push = socket(SocketType::Push, keepalive(2000));
        push.connect(&ep).unwrap();
        push.send("x").await.unwrap();
        pull.recv().await.unwrap();
        let mut seen = Vec::new();
        until("both sides' keepalive timers", || {
            seen = kernel_timers(port);
            seen.len() == 2 && seen.iter().all(|&(_, timer, _)| timer == 2)
        })
        .await;
        for (connecting, _, ticks) in seen {
            let idle = if connecting { 2000 } else { 1000 };
            assert!(
                ticks <= idle * 100 && ticks > (idle - 60) * 100,
                "connecting side {connecting}: keepalive fires in {ticks} ticks, expected about {idle} s"
            );
        }
        // Without the option, the kernel arms no keepalive timer.
        let plain = socket(SocketType::Pull, vec![]);
        let ep = bind(&plain, Transport::Tcp);
        let port: u16 = ep.rsplit(':').next().unwrap().parse().unwrap();
        let push = socket(SocketType::Push, vec![]);
        push.connect(&ep).unwrap();
        push.send("x").await.unwrap();
        plain.recv().await.unwrap();
        until("an idle connection without timers", || {
            let t = kernel_timers(port);
            t.len() == 2 && t.iter().all(|&(_, timer, _)| timer == 0)
        })
        .await;
    });
}

/// A PUB with `cap`, a good SUB and a greedy one (that does not reconnect):
/// the greedy SUB subscribes to `within` once connected (each subscribe goes
/// upstream, repeats included, which do not count), is served, then
/// subscribes to `beyond` and is dropped; the good SUB is served throughout.
async fn greedy_subscriber(
    t: Transport,
    cap: SocketOption,
    within: &[&str],
    beyond: &str,
    reason: &str,
) {
    let publisher = socket(SocketType::Pub, vec![cap]);
    let monitor = publisher.monitor();
    let ep = bind(&publisher, t);
    let good = socket(SocketType::Sub, vec![sub("z")]);
    good.connect(&ep).unwrap();
    let greedy = socket(SocketType::Sub, vec![SocketOption::ReconnectIvl(None)]);
    greedy.connect(&ep).unwrap();
    peers(&publisher, 2).await;
    peers(&greedy, 1).await;
    for topic in within {
        greedy.set_option(sub(topic)).unwrap();
    }
    let distinct: std::collections::BTreeSet<_> = within.iter().collect();
    until("the subscriptions within the cap", || {
        publisher.topics_count() == 1 + distinct.len()
    })
    .await;
    let last = within.last().expect("a topic");
    publisher.send(msg(&[last, "news"])).await.unwrap();
    assert_eq!(frames(&greedy.recv().await.unwrap()), [*last, "news"]);

    greedy.set_option(sub(beyond)).unwrap();
    until("the greedy subscriber dropped", || {
        publisher.peer_count() == 1
    })
    .await;
    assert_eq!(
        publisher.topics_count(),
        1,
        "its subscriptions went with it"
    );
    publisher.send("z still").await.unwrap();
    assert_eq!(frames(&good.recv().await.unwrap()), ["z still"]);
    let reasons = disconnect_reasons(&monitor);
    assert!(
        reasons
            .iter()
            .any(|r| matches!(r, CloseReason::SubscriptionLimit(_))
                && r.to_string().contains(reason)),
        "{reasons:?}"
    );
}

#[test]
fn max_subscriptions_drops_the_subscriber_that_goes_over() {
    each_transport(|t| async move {
        // "a" twice: two subscribes reach the publisher, one topic counts.
        greedy_subscriber(
            t,
            SocketOption::MaxSubscriptions(Some(3)),
            &["a", "b", "a", "c"],
            "d",
            "MAX_SUBSCRIPTIONS (3)",
        )
        .await;
    });
}

#[test]
fn max_subscription_bytes_drops_the_subscriber_that_goes_over() {
    each_transport(|t| async move {
        // 3 + 2 + 1 = 6 bytes, "abc" counted once.
        greedy_subscriber(
            t,
            SocketOption::MaxSubscriptionBytes(Some(6)),
            &["abc", "de", "abc", "f"],
            "g",
            "MAX_SUBSCRIPTION_BYTES (6)",
        )
        .await;
    });
}

#[test]
fn subscription_caps_are_refused_off_publishers_and_zero_subscriptions_too() {
    run(|| async {
        let sub_socket = Socket::new(SocketType::Sub).unwrap();
        for opt in [
            SocketOption::MaxSubscriptions(Some(5)),
            SocketOption::MaxSubscriptionBytes(Some(5)),
        ] {
            assert!(matches!(
                sub_socket.set_option(opt),
                Err(Error::InvalidOption { .. })
            ));
        }
        let publisher = Socket::new(SocketType::XPub).unwrap();
        assert!(matches!(
            publisher.set_option(SocketOption::MaxSubscriptions(Some(0))),
            Err(Error::InvalidOption {
                option: "MAX_SUBSCRIPTIONS",
                ..
            })
        ));
        publisher
            .set_option(SocketOption::MaxSubscriptionBytes(Some(0)))
            .unwrap();
        let o = publisher.options();
        assert_eq!(
            (o.max_subscriptions(), o.max_subscription_bytes()),
            (None, Some(0))
        );
    });
}

/// The backlog the kernel shows for a listening tcp port (`ss`'s Send-Q;
/// `scripts/test` installs iproute2 where it is missing).
fn listen_backlog(port: &str) -> u32 {
    let out = std::process::Command::new("ss")
        .args(["-ltnH", &format!("sport = :{port}")])
        .output()
        .expect("ss (iproute2) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no listener on {port}: {text:?}"));
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}

#[test]
fn backlog_reaches_the_kernel_for_later_binds() {
    run(|| async {
        let s = socket(SocketType::Rep, vec![]);
        assert_eq!(s.options().backlog(), 100, "libzmq's default");
        let first = bind(&s, Transport::Tcp);
        s.set_option(SocketOption::Backlog(37)).unwrap();
        let second = bind(&s, Transport::Tcp);
        let port = |ep: &str| ep.rsplit(':').next().unwrap().to_string();
        assert_eq!(listen_backlog(&port(&first)), 100);
        assert_eq!(listen_backlog(&port(&second)), 37);
    });
}

#[test]
fn ipc_star_binds_a_generated_path_and_removes_it_after() {
    run(|| async {
        let pull = socket(SocketType::Pull, vec![]);
        pull.bind("ipc://*").unwrap();
        let ep = pull.last_endpoint().unwrap();
        let path = std::path::PathBuf::from(ep.trim_start_matches("ipc://"));
        assert!(path.starts_with(std::env::temp_dir()), "{ep}");
        assert!(path.exists(), "{ep}");
        let push = socket(SocketType::Push, vec![]);
        push.connect(&ep).unwrap();
        push.send("via a made-up path").await.unwrap();
        assert_eq!(frames(&pull.recv().await.unwrap()), ["via a made-up path"]);
        pull.bind("ipc://*").unwrap();
        assert_ne!(pull.last_endpoint().unwrap(), ep, "each bind a fresh path");
        assert!(
            matches!(pull.unbind("ipc://*"), Err(Error::UnknownEndpoint(_))),
            "a wildcard is unbound by the path it got, as in libzmq"
        );
        pull.unbind(&ep).unwrap();
        assert!(!path.exists());
        assert!(!path.parent().unwrap().exists(), "its directory goes too");
    });
}

/// Monitor events of one kind seen within `window` (a bounded look for
/// retries that must not come).
async fn count_within(
    m: &monocoque_patterns::Monitor,
    window: std::time::Duration,
    is: impl Fn(&monocoque_patterns::MonitorEvent) -> bool,
) -> usize {
    let end = std::time::Instant::now() + window;
    let mut n = 0;
    loop {
        let left = end.saturating_duration_since(std::time::Instant::now());
        match monocoque_runtime::timeout(left, m.recv()).await {
            Ok(e) if is(&e) => n += 1,
            Ok(_) => {}
            Err(_) => return n,
        }
    }
}

/// Waits until `want` monitor events of one kind have come, within
/// `limit` (a bound for a broken build, never reached by a working one):
/// how many came.
async fn count_until(
    m: &monocoque_patterns::Monitor,
    want: usize,
    limit: std::time::Duration,
    is: impl Fn(&monocoque_patterns::MonitorEvent) -> bool,
) -> usize {
    let end = std::time::Instant::now() + limit;
    let mut n = 0;
    while n < want {
        let left = end.saturating_duration_since(std::time::Instant::now());
        match monocoque_runtime::timeout(left, m.recv()).await {
            Ok(e) if is(&e) => n += 1,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    n
}

#[test]
fn reconnect_stop_ends_reconnecting_after_a_refusal_or_a_failed_handshake() {
    use monocoque_patterns::{RECONNECT_STOP_CONN_REFUSED, RECONNECT_STOP_HANDSHAKE_FAILED};
    run(|| async {
        let ivl = SocketOption::ReconnectIvl(Some(Duration::from_millis(5)));
        // A port nobody listens on: refused at every attempt.
        let refused = unused_tcp_endpoint();
        // A server that closes each connection at once: the handshake fails
        // (the connection ends, no protocol error) at every attempt. The
        // thread accepts until the test binary exits.
        let closer = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let failing = format!("tcp://{}", closer.local_addr().unwrap());
        std::thread::spawn(move || {
            for connection in closer.incoming() {
                drop(connection);
            }
        });
        for (ep, stop, counted) in [
            (&refused, RECONNECT_STOP_CONN_REFUSED, "ConnectDelayed"),
            (&failing, RECONNECT_STOP_HANDSHAKE_FAILED, "Connected"),
        ] {
            for stopping in [false, true] {
                let mut options = vec![ivl.clone()];
                if stopping {
                    options.push(SocketOption::ReconnectStop(stop));
                }
                let s = socket(SocketType::Dealer, options);
                let m = s.monitor();
                s.connect(ep).unwrap();
                let is_attempt = |e: &MonitorEvent| match e {
                    MonitorEvent::ConnectDelayed { .. } => counted == "ConnectDelayed",
                    MonitorEvent::Connected { .. } => counted == "Connected",
                    _ => false,
                };
                // Stopping, a second attempt must not come: a look of 30
                // intervals. Not stopping, the third is awaited (a window
                // could close first on a loaded machine).
                let attempts = if stopping {
                    count_within(&m, Duration::from_millis(150), is_attempt).await
                } else {
                    count_until(&m, 3, Duration::from_secs(10), is_attempt).await
                };
                if stopping {
                    assert_eq!(attempts, 1, "{ep}: one attempt, then RECONNECT_STOP");
                } else {
                    assert!(
                        attempts >= 3,
                        "{ep}: only {attempts} attempts without RECONNECT_STOP"
                    );
                }
            }
        }
        assert!(Socket::new(SocketType::Dealer)
            .unwrap()
            .set_option(SocketOption::ReconnectStop(8))
            .is_err());
    });
}

#[test]
fn a_protocol_error_ends_reconnecting_as_in_libzmq() {
    run(|| async {
        // A NULL client of a PLAIN server: the mechanisms do not match, a
        // protocol error, after which libzmq's session does not reconnect.
        let plain = socket(SocketType::Router, vec![SocketOption::PlainServerViaZap]);
        let ep = bind(&plain, Transport::Tcp);
        let ivl = SocketOption::ReconnectIvl(Some(Duration::from_millis(5)));
        let s = socket(SocketType::Dealer, vec![ivl]);
        let m = s.monitor();
        s.connect(&ep).unwrap();
        let attempts = count_within(&m, Duration::from_millis(150), |e| {
            matches!(e, MonitorEvent::Connected { .. })
        })
        .await;
        assert_eq!(attempts, 1, "one attempt, then no reconnect");
    });
}

/// `(tb, rb)`: the send and receive buffers `ss` reports for the
/// established tcp connection to local port `dport`.
fn kernel_buffers(dport: &str) -> (u64, u64) {
    let out = std::process::Command::new("ss")
        .args(["-tnmH", &format!("dport = :{dport}")])
        .output()
        .expect("ss (iproute2) runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |name: &str| -> u64 {
        let at = text
            .find(&format!(",{name}"))
            .unwrap_or_else(|| panic!("no {name} in {text:?}"));
        text[at + 1 + name.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap()
    };
    (field("tb"), field("rb"))
}

#[test]
fn sndbuf_and_rcvbuf_reach_the_kernel_for_new_connections() {
    run(|| async {
        let router = socket(SocketType::Router, vec![]);
        let ep = bind(&router, Transport::Tcp);
        let dealer = socket(
            SocketType::Dealer,
            vec![
                SocketOption::SndBuf(Some(65_536)),
                SocketOption::RcvBuf(Some(32_768)),
            ],
        );
        assert_eq!(
            dealer.options().buffer_sizes(),
            (Some(65_536), Some(32_768))
        );
        dealer.connect(&ep).unwrap();
        peers(&router, 1).await;
        // Linux keeps twice what was asked (its own bookkeeping).
        let port = ep.rsplit(':').next().unwrap();
        assert_eq!(kernel_buffers(port), (131_072, 65_536));
    });
}

/// Sends without waiting until the pipe is full; how many went.
fn fill(s: &Socket) -> usize {
    let mut n = 0;
    while s.try_send("x").is_ok() {
        n += 1;
        assert!(n < 100_000, "never full");
    }
    n
}

#[test]
fn hwm_changes_reach_live_pipes() {
    run(|| async {
        // A tcp pipe made at connect, its peer not there yet: SNDHWM alone.
        let push = socket(SocketType::Push, vec![SocketOption::SndHwm(5)]);
        push.connect(&unused_tcp_endpoint()).unwrap();
        assert_eq!(fill(&push), 5);
        push.set_option(SocketOption::SndHwm(8)).unwrap();
        assert_eq!(fill(&push), 3, "the live pipe took the new SNDHWM");

        // inproc: the shared queue holds SNDHWM + the other side's RCVHWM.
        let pull = socket(SocketType::Pull, vec![SocketOption::RcvHwm(3)]);
        let ep = bind(&pull, Transport::Inproc);
        let push = socket(SocketType::Push, vec![SocketOption::SndHwm(2)]);
        push.connect(&ep).unwrap();
        assert_eq!(fill(&push), 5);
        push.set_option(SocketOption::SndHwm(4)).unwrap();
        assert_eq!(fill(&push), 2, "our part of the shared limit grew by 2");
        pull.set_option(SocketOption::RcvHwm(4)).unwrap();
        assert_eq!(fill(&push), 1, "the reader's part grew by 1");
    });
}

#[test]
fn ipv6_makes_star_a_dual_stack_bind() {
    run(|| async {
        let v4_only = socket(SocketType::Rep, vec![]);
        v4_only.bind("tcp://*:0").unwrap();
        assert!(v4_only
            .last_endpoint()
            .unwrap()
            .starts_with("tcp://0.0.0.0:"));

        let rep = socket(SocketType::Rep, vec![SocketOption::Ipv6(true)]);
        rep.bind("tcp://*:0").unwrap();
        let ep = rep.last_endpoint().unwrap();
        assert!(ep.starts_with("tcp://[::]:"), "{ep}");
        let port = ep.rsplit(':').next().unwrap().to_string();
        for host in ["127.0.0.1", "[::1]"] {
            let req = socket(SocketType::Req, vec![]);
            req.connect(&format!("tcp://{host}:{port}")).unwrap();
            req.send(Bytes::from(host.to_string())).await.unwrap();
            let m = rep.recv().await.unwrap();
            rep.send(m).await.unwrap();
            assert_eq!(
                &req.recv().await.unwrap()[0][..],
                host.as_bytes(),
                "over {host}"
            );
        }
    });
}
