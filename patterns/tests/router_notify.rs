//! ROUTER_NOTIFY (libzmq's test_router_notify): a ROUTER receives
//! `[routing id, ""]` when a peer connects and when it disconnects, as the
//! option asks, over tcp, ipc and inproc, with our DEALERs and libzmq's.

mod common;

use bytes::Bytes;
use common::*;
use monocoque_patterns::SocketOption;
use monocoque_zmtp::{Msg, SocketType};

fn notice(id: &str) -> Msg {
    Msg::from(vec![Bytes::copy_from_slice(id.as_bytes()), Bytes::new()])
}

fn dealer(id: &str) -> monocoque_patterns::Socket {
    socket(
        SocketType::Dealer,
        vec![SocketOption::RoutingId(Bytes::copy_from_slice(
            id.as_bytes(),
        ))],
    )
}

#[test]
fn connect_and_disconnect_are_received_as_the_option_asks() {
    for flags in [0u8, 1, 2, 3] {
        each_transport(|t| async move {
            let router = socket(SocketType::Router, vec![SocketOption::RouterNotify(flags)]);
            let ep = bind(&router, t);
            let d = dealer("D1");
            d.connect(&ep).unwrap();
            peers(&router, 1).await;
            d.send(Msg::from("hello")).await.unwrap();
            if flags & 1 != 0 {
                assert_eq!(router.recv().await.unwrap(), notice("D1"), "{t:?} {flags}");
            }
            assert_eq!(
                router.recv().await.unwrap(),
                Msg::from(["D1", "hello"]),
                "{t:?} {flags}"
            );
            d.close();
            drop(d);
            if flags & 2 != 0 {
                assert_eq!(router.recv().await.unwrap(), notice("D1"), "{t:?} {flags}");
            } else {
                // Nothing arrives: the peer is gone without a word.
                until("the peer to leave", || router.peer_count() == 0).await;
            }
            assert!(
                matches!(
                    router.try_recv(),
                    Err(monocoque_patterns::Error::WouldBlock(_))
                ),
                "{t:?} {flags}: nothing more"
            );
        });
    }
}

#[test]
fn a_departure_comes_after_the_peers_last_message() {
    run(|| async {
        let router = socket(SocketType::Router, vec![SocketOption::RouterNotify(3)]);
        let ep = bind(&router, Transport::Tcp);
        let d = dealer("late");
        d.connect(&ep).unwrap();
        for i in 0..3 {
            d.send(Msg::from(Bytes::from(format!("m{i}"))))
                .await
                .unwrap();
        }
        queued_in(&router, 3).await;
        d.close();
        drop(d);
        until("the peer to leave", || router.peer_count() == 0).await;
        assert_eq!(router.recv().await.unwrap(), notice("late"));
        for i in 0..3 {
            assert_eq!(
                router.recv().await.unwrap(),
                Msg::from(vec![
                    Bytes::from_static(b"late"),
                    Bytes::from(format!("m{i}"))
                ])
            );
        }
        assert_eq!(router.recv().await.unwrap(), notice("late"));
    });
}

#[test]
fn libzmq_dealers_are_announced_too() {
    run(|| async {
        let router = socket(SocketType::Router, vec![SocketOption::RouterNotify(3)]);
        let ep = bind(&router, Transport::Tcp);
        let ctx = zmq::Context::new();
        let d = ctx.socket(zmq::DEALER).unwrap();
        d.set_identity(b"LZ").unwrap();
        d.set_linger(0).unwrap();
        d.connect(&ep).unwrap();
        assert_eq!(router.recv().await.unwrap(), notice("LZ"));
        drop(d);
        assert_eq!(router.recv().await.unwrap(), notice("LZ"));
        drop(ctx);
    });
}

#[test]
fn router_notify_is_refused_elsewhere_and_out_of_range() {
    run(|| async {
        let s = monocoque_patterns::Socket::new(SocketType::Dealer).unwrap();
        assert!(s.set_option(SocketOption::RouterNotify(1)).is_err());
        let r = monocoque_patterns::Socket::new(SocketType::Router).unwrap();
        assert!(r.set_option(SocketOption::RouterNotify(4)).is_err());
        r.set_option(SocketOption::RouterNotify(3)).unwrap();
        assert_eq!(r.options().router_notify(), 3);
    });
}
