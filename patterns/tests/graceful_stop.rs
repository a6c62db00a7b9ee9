//! What a gateway needs to stop or account without losing track:
//! `stop_listening` (no new connections, the accepted ones carry on) and
//! `hwm_drops` (what the socket's rule dropped at SNDHWM).

mod common;

use common::*;
use monocoque_patterns::{MonitorEvent, SocketOption};
use monocoque_zmtp::SocketType;

#[test]
fn stop_listening_refuses_new_connections_and_keeps_the_accepted_ones() {
    run(|| async {
        let pull = socket(SocketType::Pull, vec![]);
        let monitor = pull.monitor();
        let ep = bind(&pull, Transport::Tcp);
        let push = socket(SocketType::Push, vec![]);
        push.connect(&ep).unwrap();
        peers(&pull, 1).await;

        pull.stop_listening().unwrap();
        let addr = ep.trim_start_matches("tcp://");
        // The listener task ends at the reactor's next turn.
        until("the listening socket to close", || {
            matches!(
                std::net::TcpStream::connect(addr),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
            )
        })
        .await;

        push.send(msg(&["still here"])).await.unwrap();
        assert_eq!(frames(&pull.recv().await.unwrap()), ["still here"]);
        let mut events = Vec::new();
        while let Some(e) = monitor.try_recv() {
            events.push(e);
        }
        assert!(
            events.contains(&MonitorEvent::Closed {
                endpoint: ep.clone()
            }),
            "{events:?}"
        );
        // Still bound as far as unbind is concerned.
        pull.unbind(&ep).unwrap();
    });
}

#[test]
fn hwm_drops_counts_each_subscriber_that_missed_a_message() {
    run(|| async {
        let publisher = socket(SocketType::Pub, vec![SocketOption::SndHwm(2)]);
        let ep = bind(&publisher, Transport::Inproc);
        let subscriber = socket(SocketType::Sub, vec![SocketOption::RcvHwm(2), sub("")]);
        subscriber.connect(&ep).unwrap();
        until("the subscription", || publisher.topics_count() == 1).await;
        for i in 0..50 {
            publisher.try_send(msg(&[&i.to_string()])).unwrap();
        }
        let mut delivered = 0u64;
        while subscriber.try_recv().is_ok() {
            delivered += 1;
        }
        assert!(delivered > 0 && delivered < 50, "{delivered}");
        assert_eq!(publisher.hwm_drops(), 50 - delivered);
    });
}

#[test]
fn hwm_drops_counts_what_a_router_drops_for_a_full_peer() {
    run(|| async {
        let router = socket(SocketType::Router, vec![SocketOption::SndHwm(1)]);
        let ep = bind(&router, Transport::Inproc);
        let dealer = socket(
            SocketType::Dealer,
            vec![
                SocketOption::RoutingId(bytes::Bytes::from_static(b"d")),
                SocketOption::RcvHwm(1),
            ],
        );
        dealer.connect(&ep).unwrap();
        peers(&router, 1).await;
        for _ in 0..20 {
            router.try_send(msg(&["d", "x"])).unwrap();
        }
        let mut delivered = 0u64;
        while dealer.try_recv().is_ok() {
            delivered += 1;
        }
        assert!(delivered < 20, "{delivered}");
        assert_eq!(router.hwm_drops(), 20 - delivered);
    });
}

/// A socket whose application does not read must not take the reactor's whole
/// receive pool: past three quarters held, its backlog is copied out, and
/// another socket on the same reactor keeps receiving.
#[test]
fn a_backlog_nobody_reads_leaves_receive_buffers_for_the_others() {
    use std::time::Duration;
    let rt = monocoque_runtime::Runtime::builder()
        .recv_buffers(32, 4096)
        .build()
        .unwrap();
    rt.block_on(async {
        monocoque_runtime::timeout(Duration::from_secs(20), async {
            let ignored = socket(SocketType::Pull, vec![SocketOption::RcvHwm(200)]);
            let flood_ep = bind(&ignored, Transport::Tcp);
            let flood = socket(SocketType::Push, vec![]);
            flood.connect(&flood_ep).unwrap();
            // Each 3 KB message fills most of a 4 KiB buffer: without copying,
            // 32 queued messages would hold the whole pool.
            let big = "x".repeat(3000);
            for _ in 0..200 {
                flood.send(msg(&[&big])).await.unwrap();
            }
            queued_in(&ignored, 200).await;
            let read = socket(SocketType::Pull, vec![]);
            let ep = bind(&read, Transport::Tcp);
            let sender = socket(SocketType::Push, vec![]);
            sender.connect(&ep).unwrap();
            for i in 0..20 {
                sender.send(msg(&[&format!("{i}")])).await.unwrap();
                assert_eq!(frames(&read.recv().await.unwrap()), [i.to_string()]);
            }
        })
        .await
        .expect("the second socket starved");
    });
}
