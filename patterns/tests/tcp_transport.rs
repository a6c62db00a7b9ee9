//! The tcp and ipc transport options and endpoint forms: TOS, BINDTODEVICE,
//! CONNECT_TIMEOUT, TCP_MAXRT and BUSY_POLL; `tcp://source;destination`,
//! interface names, and `ipc://@name` (Linux's abstract namespace). Where
//! the kernel shows an option (`ss`), the test reads it there.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use monocoque_patterns::{CloseReason, Error, MonitorEvent, SocketOption};
use monocoque_zmtp::SocketType;

const LONG: Duration = Duration::from_secs(60);

/// `ss`'s lines (with TOS) for the tcp sockets `filter` picks;
/// `scripts/test` installs iproute2 where it is missing.
fn ss_line(filter: &str) -> String {
    let out = std::process::Command::new("ss")
        .args(["-tanH", "--tos"])
        .args(filter.split_whitespace())
        .output()
        .expect("ss (iproute2) runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn port_of(endpoint: &str) -> u16 {
    endpoint.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn tos_and_bindtodevice_reach_the_listener_and_both_ends_of_a_connection() {
    run(|| async {
        let tuned = || {
            vec![
                SocketOption::Tos(0x28),
                SocketOption::BindToDevice("lo".into()),
            ]
        };
        let pull = socket(SocketType::Pull, tuned());
        let ep = bind(&pull, Transport::Tcp);
        let port = port_of(&ep);
        let push = socket(SocketType::Push, tuned());
        push.connect(&ep).unwrap();
        push.send("x").await.unwrap();
        pull.recv().await.unwrap();
        let listening = ss_line(&format!("state listening sport = :{port}"));
        assert!(
            listening.contains("%lo:"),
            "listener bound to lo: {listening}"
        );
        let accepted = ss_line(&format!("state established sport = :{port}"));
        let connected = ss_line(&format!("state established dport = :{port}"));
        for (side, line) in [("accepted", &accepted), ("connected", &connected)] {
            assert!(line.contains("tos:0x28"), "{side}: {line}");
            assert!(line.contains("%lo:"), "{side} bound to lo: {line}");
        }
        // Untuned: neither.
        let plain = socket(SocketType::Pull, vec![]);
        let ep = bind(&plain, Transport::Tcp);
        let push = socket(SocketType::Push, vec![]);
        push.connect(&ep).unwrap();
        push.send("x").await.unwrap();
        plain.recv().await.unwrap();
        let line = ss_line(&format!("state established dport = :{}", port_of(&ep)));
        assert!(
            !line.contains("tos:0x28") && !line.contains("%lo"),
            "{line}"
        );
    });
}

#[test]
fn a_device_that_does_not_exist_fails_the_bind_and_keeps_the_connect_retrying() {
    run(|| async {
        let s = socket(
            SocketType::Push,
            vec![
                SocketOption::BindToDevice("no-such-nic0".into()),
                SocketOption::ReconnectIvl(Some(Duration::from_millis(5))),
            ],
        );
        let e = s.bind("tcp://127.0.0.1:0").unwrap_err();
        assert!(e.to_string().contains("SO_BINDTODEVICE"), "{e}");
        let live = socket(SocketType::Pull, vec![]);
        let ep = bind(&live, Transport::Tcp);
        let monitor = s.monitor();
        s.connect(&ep).unwrap();
        let mut retried = 0;
        while retried < 2 {
            match monitor.recv().await {
                MonitorEvent::ConnectRetried { .. } => retried += 1,
                MonitorEvent::Connected { .. } => panic!("connected through a missing device"),
                _ => {}
            }
        }
        let too_long = s
            .set_option(SocketOption::BindToDevice("x".repeat(16)))
            .unwrap_err();
        assert!(matches!(
            too_long,
            Error::InvalidOption {
                option: "BINDTODEVICE",
                ..
            }
        ));
    });
}

#[test]
fn connect_timeout_abandons_a_connect_nobody_answers_and_retries() {
    run_within(LONG, || async {
        // A listener with a backlog of 0 that never accepts: once one
        // connection waits in its queue, the kernel drops every SYN, and a
        // connect hangs for minutes.
        let listener = monocoque_runtime::net::TcpListener::bind_with_backlog(
            "127.0.0.1:0".parse().unwrap(),
            Some(0),
        )
        .unwrap();
        let addr = listener.local_addr().unwrap();
        let mut queued = Vec::new();
        loop {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(s) => queued.push(s),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
                Err(e) => panic!("filling the queue: {e}"),
            }
            assert!(queued.len() < 64, "the backlog never filled");
        }
        let push = socket(
            SocketType::Push,
            vec![
                SocketOption::ConnectTimeout(Some(Duration::from_millis(50))),
                SocketOption::ReconnectIvl(Some(Duration::from_millis(10))),
            ],
        );
        let monitor = push.monitor();
        push.connect(&format!("tcp://{addr}")).unwrap();
        let mut retried = 0;
        while retried < 3 {
            match monitor.recv().await {
                MonitorEvent::ConnectRetried { .. } => retried += 1,
                MonitorEvent::Connected { .. } => panic!("the full queue took a connection"),
                _ => {}
            }
        }
        drop(listener);
    });
}

#[test]
fn tcp_maxrt_drops_a_peer_that_stops_taking_data() {
    run_within(LONG, || async {
        let push = std::rc::Rc::new(socket(
            SocketType::Push,
            vec![SocketOption::TcpMaxrt(Some(Duration::from_millis(300)))],
        ));
        let monitor = push.monitor();
        let ep = bind(&push, Transport::Tcp);
        // A peer that completes the handshake and then never reads: its
        // window closes, and only the retransmission limit ends it.
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let peer = std::thread::spawn(move || {
            let s = raw_connect(&ep, "PULL", "PUSH");
            let _ = wait.recv_timeout(LONG);
            drop(s);
        });
        peers(&push, 1).await;
        let chunk = Bytes::from(vec![7u8; 64 * 1024]);
        let sender = monocoque_runtime::spawn({
            let push = push.clone();
            async move { while push.send(chunk.clone()).await.is_ok() {} }
        });
        let reason = loop {
            if let MonitorEvent::Disconnected { reason, .. } = monitor.recv().await {
                break reason;
            }
        };
        assert!(
            matches!(
                &reason,
                CloseReason::WriteFailed {
                    kind: std::io::ErrorKind::TimedOut,
                    ..
                } | CloseReason::ReadFailed {
                    kind: std::io::ErrorKind::TimedOut,
                    ..
                }
            ),
            "{reason:?}"
        );
        drop(sender);
        done.send(()).unwrap();
        until("the peer thread ends", || peer.is_finished()).await;
    });
}

#[test]
fn busy_poll_is_taken_where_the_kernel_allows_it() {
    run(|| async {
        let s = socket(SocketType::Dealer, vec![]);
        s.set_option(SocketOption::BusyPoll(Some(Duration::ZERO)))
            .unwrap();
        assert_eq!(s.options().tcp_tuning().busy_poll, None, "0: the system's");
        // Raising it above net.core.busy_read needs CAP_NET_ADMIN: the option
        // is taken, or refused at once naming why.
        let asked = Duration::from_micros(50);
        match s.set_option(SocketOption::BusyPoll(Some(asked))) {
            Ok(()) => assert_eq!(s.options().tcp_tuning().busy_poll, Some(asked)),
            Err(e) => {
                assert!(e.to_string().contains("BUSY_POLL"), "{e}");
                return;
            }
        }
        // The socket still connects with it.
        let peer = socket(SocketType::Dealer, vec![]);
        let ep = bind(&peer, Transport::Tcp);
        s.connect(&ep).unwrap();
        s.send("busy").await.unwrap();
        assert_eq!(frames(&peer.recv().await.unwrap()), ["busy"]);
    });
}

#[test]
fn a_connect_starts_from_the_source_given() {
    run(|| async {
        let pull = socket(SocketType::Pull, vec![]);
        let monitor = pull.monitor();
        let ep = bind(&pull, Transport::Tcp);
        let port = port_of(&ep);
        // A port nobody holds now, for a source with a fixed port.
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        for (source, seen) in [
            ("127.0.0.2:0".to_string(), None),
            (format!("lo:{free}"), Some(format!("127.0.0.1:{free}"))),
        ] {
            let push = socket(SocketType::Push, vec![]);
            push.connect(&format!("tcp://{source};127.0.0.1:{port}"))
                .unwrap();
            push.send("from a source").await.unwrap();
            let (_, props) = pull.recv_with_properties().await.unwrap();
            let remote = loop {
                if let MonitorEvent::Accepted { remote, .. } = monitor.recv().await {
                    break remote.expect("tcp has a peer address");
                }
            };
            match seen {
                Some(exact) => assert_eq!(remote, exact, "{source}"),
                None => {
                    let props = props.expect("tcp peers have properties");
                    assert_eq!(props.peer_address(), Some("127.0.0.2"), "{source}");
                    assert!(remote.starts_with("127.0.0.2:"), "{remote}");
                }
            }
        }
        // A bind has no source.
        let e = pull.bind("tcp://127.0.0.2:0;127.0.0.1:0").unwrap_err();
        assert!(e.to_string().contains("for connect"), "{e}");
    });
}

/// A connect whose source is its own destination meets itself (TCP's
/// simultaneous open succeeds on a port nothing listens on): that is no
/// peer, so the connection is dropped and retried, never reported
/// connected, and a PAIR that would have handshaken with itself stays
/// without peers.
#[test]
fn a_connect_that_meets_itself_is_refused_and_retried() {
    run(|| async {
        let ep = unused_tcp_endpoint();
        let port = port_of(&ep);
        let pair = socket(
            SocketType::Pair,
            vec![SocketOption::ReconnectIvl(Some(Duration::from_millis(5)))],
        );
        let monitor = pair.monitor();
        pair.connect(&format!("tcp://127.0.0.1:{port};127.0.0.1:{port}"))
            .unwrap();
        let mut retried = 0;
        while retried < 3 {
            match monitor.recv().await {
                MonitorEvent::ConnectRetried { .. } => retried += 1,
                MonitorEvent::Connected { .. } => panic!("connected to itself"),
                _ => {}
            }
        }
        assert_eq!(pair.peer_count(), 0);
    });
}

#[test]
fn an_interface_name_binds_its_address() {
    run(|| async {
        let pull = socket(SocketType::Pull, vec![]);
        pull.bind("tcp://lo:0").unwrap();
        let ep = pull.last_endpoint().unwrap();
        assert!(ep.starts_with("tcp://127.0.0.1:"), "{ep}");
        let push = socket(SocketType::Push, vec![]);
        push.connect(&ep).unwrap();
        push.send("via lo").await.unwrap();
        assert_eq!(frames(&pull.recv().await.unwrap()), ["via lo"]);
        assert!(pull.bind("tcp://no-such-nic0:0").is_err());
    });
}

#[test]
fn abstract_ipc_names_carry_messages_and_leave_no_file() {
    run(|| async {
        let name = format!("monocoque-test-{}", std::process::id());
        let ep = format!("ipc://@{name}");
        let pull = socket(SocketType::Pull, vec![]);
        let monitor = pull.monitor();
        pull.bind(&ep).unwrap();
        assert_eq!(pull.last_endpoint().unwrap(), ep);
        assert!(!std::path::Path::new(&format!("@{name}")).exists());
        let push = socket(SocketType::Push, vec![]);
        push.connect(&ep).unwrap();
        push.send("abstract").await.unwrap();
        assert_eq!(frames(&pull.recv().await.unwrap()), ["abstract"]);
        // The name is taken while bound.
        let other = socket(SocketType::Pull, vec![]);
        assert!(other.bind(&ep).is_err());
        pull.unbind(&ep).unwrap();
        loop {
            match monitor.recv().await {
                MonitorEvent::Closed { endpoint } => break assert_eq!(endpoint, ep),
                MonitorEvent::CloseFailed { error, .. } => panic!("no file to remove: {error}"),
                _ => {}
            }
        }
    });
}
