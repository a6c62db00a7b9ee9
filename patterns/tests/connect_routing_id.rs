//! CONNECT_ROUTING_ID (libzmq's test_connect_rid): a ROUTER names the peer
//! of its next connect itself, over tcp, ipc and inproc; the name is taken
//! by that one connect.

mod common;

use bytes::Bytes;
use common::*;
use monocoque_patterns::{Error, SocketOption};
use monocoque_zmtp::{Msg, SocketType};

fn id(s: &str) -> SocketOption {
    SocketOption::ConnectRoutingId(Bytes::copy_from_slice(s.as_bytes()))
}

#[test]
fn a_router_reaches_its_peer_by_the_name_it_gave() {
    each_transport(|t| async move {
        let dealer = socket(
            SocketType::Dealer,
            vec![SocketOption::RoutingId(Bytes::from_static(b"own-name"))],
        );
        let ep = bind(&dealer, t);
        let router = socket(
            SocketType::Router,
            vec![SocketOption::RouterMandatory(true), id("X")],
        );
        router.connect(&ep).unwrap();
        peers(&router, 1).await;
        // The dealer's own Identity no longer names it here...
        until("the connection to be named", || {
            !matches!(
                router.try_send(Msg::from(["X", "probe"])),
                Err(Error::HostUnreachable)
            )
        })
        .await;
        assert_eq!(dealer.recv().await.unwrap(), Msg::from("probe"), "{t:?}");
        assert!(
            matches!(
                router.try_send(Msg::from(["own-name", "lost"])),
                Err(Error::HostUnreachable)
            ),
            "{t:?}"
        );
        // ...and what it sends arrives under the given name.
        dealer.send(Msg::from("back")).await.unwrap();
        assert_eq!(
            router.recv().await.unwrap(),
            Msg::from(["X", "back"]),
            "{t:?}"
        );
        // The option was this connect's: it is gone.
        assert!(router.options().connect_routing_id().is_empty());
    });
}

#[test]
fn router_to_router_with_a_connect_routing_id() {
    each_transport(|t| async move {
        let server = socket(SocketType::Router, vec![]);
        let ep = bind(&server, t);
        let client = socket(
            SocketType::Router,
            vec![
                SocketOption::RoutingId(Bytes::from_static(b"client")),
                SocketOption::RouterMandatory(true),
                id("srv"),
            ],
        );
        client.connect(&ep).unwrap();
        until("the server to be reachable", || {
            client.try_send(Msg::from(["srv", "hello"])).is_ok()
        })
        .await;
        assert_eq!(
            server.recv().await.unwrap(),
            Msg::from(["client", "hello"]),
            "{t:?}"
        );
        server.send(Msg::from(["client", "hi"])).await.unwrap();
        assert_eq!(
            client.recv().await.unwrap(),
            Msg::from(["srv", "hi"]),
            "{t:?}"
        );
    });
}

#[test]
fn only_routers_take_it_and_it_is_checked() {
    run(|| async {
        let d = monocoque_patterns::Socket::new(SocketType::Dealer).unwrap();
        assert!(d.set_option(id("x")).is_err());
        let r = monocoque_patterns::Socket::new(SocketType::Router).unwrap();
        assert!(r
            .set_option(SocketOption::ConnectRoutingId(Bytes::new()))
            .is_err());
        assert!(r
            .set_option(SocketOption::ConnectRoutingId(Bytes::from_static(b"\0x")))
            .is_err());
        assert!(r
            .set_option(SocketOption::ConnectRoutingId(Bytes::from(vec![b'a'; 256])))
            .is_err());
    });
}

#[test]
fn a_named_connect_is_routable_before_its_connection_is_made() {
    // libzmq makes the pipe at connect (IMMEDIATE off): a message to the
    // name queues at once and leaves when the connection is made. The
    // endpoint is bound only after the send, so the connect cannot have
    // connected yet.
    for kind in [SocketType::Router, SocketType::Stream] {
        run(move || async move {
            let ep = unused_tcp_endpoint();
            let mut options = vec![id("early")];
            if kind == SocketType::Router {
                options.push(SocketOption::RouterMandatory(true));
            }
            let connecting = socket(kind, options);
            connecting.connect(&ep).unwrap();
            connecting.try_send(Msg::from(["early", "queued"])).unwrap();
            assert!(
                matches!(
                    connecting.try_send(Msg::from(["other", "lost"])),
                    Err(Error::HostUnreachable)
                ),
                "{kind:?}: an unnamed peer is still unknown"
            );
            if kind == SocketType::Router {
                let dealer = socket(SocketType::Dealer, vec![]);
                dealer.bind(&ep).unwrap();
                assert_eq!(dealer.recv().await.unwrap(), Msg::from("queued"));
            } else {
                let server = socket(SocketType::Stream, vec![]);
                server.bind(&ep).unwrap();
                let opened = server.recv().await.unwrap();
                assert_eq!(&opened[1][..], b"", "the connection's notice");
                let data = server.recv().await.unwrap();
                assert_eq!(&data[1][..], b"queued");
            }
        });
    }
}
