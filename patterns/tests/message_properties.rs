//! Message properties (libzmq's test_metadata and zmq_msg_gets): every
//! message received can tell its peer's Socket-Type, Routing-Id, User-Id,
//! Peer-Address and `X-` metadata, over tcp, ipc and inproc, from our
//! peers and libzmq's.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::*;
use monocoque_patterns::SocketOption;
use monocoque_zmtp::{AuthDecision, Authenticator, Credentials, Msg, SocketType};

fn get(p: &monocoque_patterns::PeerProperties, name: &str) -> Option<String> {
    p.get(name)
        .map(|v| String::from_utf8_lossy(&v).into_owned())
}

#[test]
fn each_message_tells_who_sent_it() {
    each_transport(|t| async move {
        let router = socket(SocketType::Router, vec![]);
        let ep = bind(&router, t);
        let dealer = socket(
            SocketType::Dealer,
            vec![
                SocketOption::RoutingId(Bytes::from_static(b"d-1")),
                SocketOption::Metadata {
                    name: "X-Desk".into(),
                    value: Bytes::from_static(b"fx"),
                },
            ],
        );
        dealer.connect(&ep).unwrap();
        dealer.send(Msg::from("order")).await.unwrap();
        let (msg, props) = router.recv_with_properties().await.unwrap();
        assert_eq!(msg, Msg::from(["d-1", "order"]));
        let props = props.expect("a peer sent it");
        assert_eq!(
            get(&props, "socket-type").as_deref(),
            Some("DEALER"),
            "{t:?}"
        );
        assert_eq!(get(&props, "Routing-Id").as_deref(), Some("d-1"), "{t:?}");
        assert_eq!(get(&props, "Identity").as_deref(), Some("d-1"), "{t:?}");
        assert_eq!(get(&props, "User-Id"), None, "{t:?}");
        // ZMQ_SRCFD: a live connection's descriptor over tcp and ipc.
        match props.source_fd() {
            Some(fd) => {
                assert_ne!(t, Transport::Inproc);
                let kind = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
                assert!(kind.to_string_lossy().starts_with("socket:"), "{kind:?}");
            }
            None => assert_eq!(t, Transport::Inproc),
        }
        match t {
            Transport::Tcp => {
                assert_eq!(get(&props, "Peer-Address").as_deref(), Some("127.0.0.1"));
                assert_eq!(get(&props, "X-Desk").as_deref(), Some("fx"));
            }
            // inproc carries no handshake: type and routing id only.
            Transport::Inproc => assert_eq!(get(&props, "X-Desk"), None),
            Transport::Ipc => {
                assert_eq!(get(&props, "Peer-Address"), None);
                assert_eq!(get(&props, "X-Desk").as_deref(), Some("fx"));
            }
        }
        // recv still works beside it, and says nothing of properties.
        dealer.send(Msg::from("again")).await.unwrap();
        assert_eq!(router.recv().await.unwrap(), Msg::from(["d-1", "again"]));
    });
}

struct Named;
impl Authenticator for Named {
    fn authenticate(&self, c: &Credentials<'_>) -> AuthDecision {
        match c {
            Credentials::Plain { username, .. } => {
                AuthDecision::accept(Some(Bytes::copy_from_slice(username)))
            }
            _ => AuthDecision::Deny {
                reason: "400".into(),
            },
        }
    }
}

#[test]
fn the_user_id_of_an_authenticated_peer_is_on_its_messages() {
    run(|| async {
        let rep = socket(
            SocketType::Rep,
            vec![SocketOption::PlainServer(Arc::new(Named))],
        );
        let ep = bind(&rep, Transport::Tcp);
        let req = socket(
            SocketType::Req,
            vec![SocketOption::PlainClient {
                username: Bytes::from_static(b"alice"),
                password: Bytes::from_static(b"pw"),
            }],
        );
        req.connect(&ep).unwrap();
        req.send(Msg::from("hi")).await.unwrap();
        let (_, props) = rep.recv_with_properties().await.unwrap();
        let props = props.unwrap();
        assert_eq!(props.user_id().map(|u| &u[..]), Some(&b"alice"[..]));
        assert_eq!(get(&props, "User-Id").as_deref(), Some("alice"));
    });
}

#[test]
fn a_departed_peers_last_messages_keep_their_properties() {
    run(|| async {
        let pull = socket(SocketType::Pull, vec![]);
        let ep = bind(&pull, Transport::Tcp);
        let push = socket(SocketType::Push, vec![]);
        push.connect(&ep).unwrap();
        push.send(Msg::from("one")).await.unwrap();
        push.send(Msg::from("two")).await.unwrap();
        queued_in(&pull, 2).await;
        push.close();
        drop(push);
        until("the peer to leave", || pull.peer_count() == 0).await;
        for body in ["one", "two"] {
            let (msg, props) = pull.recv_with_properties().await.unwrap();
            assert_eq!(msg, Msg::from(body));
            assert_eq!(get(&props.unwrap(), "Socket-Type").as_deref(), Some("PUSH"));
        }
    });
}

#[test]
fn a_libzmq_peer_is_described_too() {
    run(|| async {
        let router = socket(SocketType::Router, vec![]);
        let ep = bind(&router, Transport::Tcp);
        let ctx = zmq::Context::new();
        let d = ctx.socket(zmq::DEALER).unwrap();
        d.set_identity(b"lz").unwrap();
        d.set_linger(0).unwrap();
        d.connect(&ep).unwrap();
        d.send("x", 0).unwrap();
        let (_, props) = router.recv_with_properties().await.unwrap();
        let props = props.unwrap();
        assert_eq!(get(&props, "Socket-Type").as_deref(), Some("DEALER"));
        assert_eq!(get(&props, "Identity").as_deref(), Some("lz"));
        drop(d);
        drop(ctx);
    });
}
