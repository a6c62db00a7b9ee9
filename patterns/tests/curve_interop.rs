//! CURVE against real libzmq 4.3 with CURVE (pyzmq's; the `zmq` crate's copy
//! is built without it): REQ/REP, DEALER/ROUTER and PUB/SUB with
//! subscriptions, each with our side as server and as client and with either
//! side binding, messages from 0 bytes to 1 MiB; ZAP on the libzmq side and
//! an authenticator on ours, refusing the wrong key. The libzmq side is
//! `tests/peers/curve_peer.py`, a subprocess; `.ci/run` (through
//! `scripts/test`) installs pyzmq.

mod common;

use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use common::peer_process::PeerProcess;
use common::*;
use monocoque_patterns::{CloseReason, MonitorEvent, Socket, SocketOption};
use monocoque_zmtp::mechanism::{CurveKeyPair, CurvePublicKey};
use monocoque_zmtp::{AuthDecision, Authenticator, Credentials, Msg, SocketType};

const SIZES: [usize; 6] = [0, 1, 255, 256, 65536, 1 << 20];

/// The libzmq peer process. Keys go as `--flag=KEY`: a Z85 key may start
/// with `-`, which would read as an option on its own.
fn py_peer(args: &[String]) -> PeerProcess {
    PeerProcess::python("curve_peer.py", args)
}

fn pyzmq_required() {
    let ok = Command::new("python3")
        .args(["-c", "import zmq; assert zmq.has('curve')"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "these tests need pyzmq with CURVE (pip install pyzmq); scripts/test installs it"
    );
}

fn sizes_arg() -> String {
    SIZES.map(|s| s.to_string()).join(",")
}

fn z85(k: &CurvePublicKey) -> String {
    k.to_z85()
}

fn server_options(keys: &CurveKeyPair) -> Vec<SocketOption> {
    vec![
        SocketOption::CurveServer(true),
        SocketOption::CurveSecretKey(keys.secret.clone()),
    ]
}

fn client_options(server: &CurvePublicKey, keys: &CurveKeyPair) -> Vec<SocketOption> {
    vec![
        SocketOption::CurveServerKey(*server),
        SocketOption::CurvePublicKey(keys.public),
        SocketOption::CurveSecretKey(keys.secret.clone()),
    ]
}

/// Sends every size and expects each back (REQ or DEALER on our side).
async fn request_every_size(s: &Socket, dealer: bool) {
    for size in SIZES {
        let body = Bytes::from((0..size).map(|i| (i % 251) as u8).collect::<Vec<_>>());
        let m = if dealer {
            Msg::from(vec![Bytes::from_static(b"head"), body])
        } else {
            Msg::from(body)
        };
        s.send(m.clone()).await.unwrap();
        assert_eq!(s.recv().await.unwrap(), m, "{size} bytes");
    }
    s.send(Msg::from("END")).await.unwrap();
    assert_eq!(s.recv().await.unwrap(), Msg::from("END"));
}

/// Echoes until END (REP or ROUTER on our side).
async fn echo_until_end(s: &Socket) {
    loop {
        let m = s.recv().await.unwrap();
        let last_is_end = m.frames().last().is_some_and(|f| &f[..] == b"END");
        s.send(m).await.unwrap();
        if last_is_end {
            return;
        }
    }
}

/// Our client against libzmq's server, libzmq binding.
#[test]
fn our_clients_to_libzmq_servers_that_bind() {
    pyzmq_required();
    for (ours, theirs) in [(SocketType::Req, "REP"), (SocketType::Dealer, "ROUTER")] {
        run(|| async move {
            let server = CurveKeyPair::generate();
            let mut peer = py_peer(&[
                "--type".into(),
                theirs.into(),
                "--bind".into(),
                "tcp://127.0.0.1:0".into(),
                format!("--server-secret={}", server.secret.to_z85().as_str()),
                "--mode".into(),
                "echo".into(),
            ]);
            let ep = peer.endpoint().await;
            let keys = CurveKeyPair::generate();
            let s = socket(ours, client_options(&server.public, &keys));
            s.connect(&ep).unwrap();
            request_every_size(&s, ours == SocketType::Dealer).await;
            assert_eq!(peer.finish().await, format!("OK {}", SIZES.len() + 1));
        });
    }
}

/// libzmq's client against our server, ours binding.
#[test]
fn libzmq_clients_to_our_servers_that_bind() {
    pyzmq_required();
    for (ours, theirs) in [(SocketType::Rep, "REQ"), (SocketType::Router, "DEALER")] {
        run(|| async move {
            let server = CurveKeyPair::generate();
            let s = socket(ours, server_options(&server));
            let ep = bind(&s, Transport::Tcp);
            let client = CurveKeyPair::generate();
            let peer = py_peer(&[
                "--type".into(),
                theirs.into(),
                "--connect".into(),
                ep,
                format!("--server-key={}", z85(&server.public)),
                format!("--secret={}", client.secret.to_z85().as_str()),
                "--mode".into(),
                "request".into(),
                "--sizes".into(),
                sizes_arg(),
            ]);
            echo_until_end(&s).await;
            assert_eq!(peer.finish().await, format!("OK {}", SIZES.len()));
        });
    }
}

/// The other binding side: the CURVE server connects, the client binds.
#[test]
fn servers_that_connect_and_clients_that_bind() {
    pyzmq_required();
    // Our ROUTER server connects to libzmq's binding DEALER client.
    run(|| async {
        let server = CurveKeyPair::generate();
        let client = CurveKeyPair::generate();
        let mut peer = py_peer(&[
            "--type".into(),
            "DEALER".into(),
            "--bind".into(),
            "tcp://127.0.0.1:0".into(),
            format!("--server-key={}", z85(&server.public)),
            format!("--secret={}", client.secret.to_z85().as_str()),
            "--mode".into(),
            "request".into(),
            "--sizes".into(),
            sizes_arg(),
        ]);
        let ep = peer.endpoint().await;
        let s = socket(SocketType::Router, server_options(&server));
        s.connect(&ep).unwrap();
        echo_until_end(&s).await;
        peer.finish().await;
    });
    // libzmq's REP server connects to our binding REQ client.
    run(|| async {
        let server = CurveKeyPair::generate();
        let keys = CurveKeyPair::generate();
        let s = socket(SocketType::Req, client_options(&server.public, &keys));
        let ep = bind(&s, Transport::Tcp);
        let peer = py_peer(&[
            "--type".into(),
            "REP".into(),
            "--connect".into(),
            ep,
            format!("--server-secret={}", server.secret.to_z85().as_str()),
            "--mode".into(),
            "echo".into(),
        ]);
        request_every_size(&s, false).await;
        peer.finish().await;
    });
}

/// PUB/SUB both ways, with the subscription crossing inside the box.
#[test]
fn publish_and_subscribe_through_curve_both_ways() {
    pyzmq_required();
    // Our XPUB server to libzmq's SUB client.
    run(|| async {
        let server = CurveKeyPair::generate();
        let mut options = server_options(&server);
        options.push(SocketOption::XpubVerbose(true));
        let s = socket(SocketType::XPub, options);
        let ep = bind(&s, Transport::Tcp);
        let client = CurveKeyPair::generate();
        let peer = py_peer(&[
            "--type".into(),
            "SUB".into(),
            "--connect".into(),
            ep,
            format!("--server-key={}", z85(&server.public)),
            format!("--secret={}", client.secret.to_z85().as_str()),
            "--mode".into(),
            "subscribe".into(),
            "--sizes".into(),
            sizes_arg(),
        ]);
        assert_eq!(
            s.recv().await.unwrap(),
            Msg::from(Bytes::from_static(b"\x01t"))
        );
        for size in SIZES {
            let mut body = vec![b't'];
            body.extend((0..size).map(|i| (i % 251) as u8));
            s.send(Msg::from(body)).await.unwrap();
        }
        s.send(Msg::from("tEND")).await.unwrap();
        assert_eq!(peer.finish().await, format!("OK {}", SIZES.len()));
    });
    // libzmq's XPUB server to our SUB client.
    run(|| async {
        let server = CurveKeyPair::generate();
        let mut peer = py_peer(&[
            "--type".into(),
            "XPUB".into(),
            "--bind".into(),
            "tcp://127.0.0.1:0".into(),
            format!("--server-secret={}", server.secret.to_z85().as_str()),
            "--mode".into(),
            "publish".into(),
            "--sizes".into(),
            sizes_arg(),
        ]);
        let ep = peer.endpoint().await;
        let keys = CurveKeyPair::generate();
        let mut options = client_options(&server.public, &keys);
        options.push(sub("t"));
        let s = socket(SocketType::Sub, options);
        s.connect(&ep).unwrap();
        for size in SIZES {
            let m = s.recv().await.unwrap();
            assert_eq!(m.frames()[0].len(), size + 1);
        }
        assert_eq!(s.recv().await.unwrap(), Msg::from("tEND"));
        peer.finish().await;
    });
}

/// libzmq's ZAP handler admits one key: ours with that key gets in (and
/// libzmq names the user); ours with another is refused with ERROR.
#[test]
fn libzmq_zap_admits_and_refuses_our_keys() {
    pyzmq_required();
    run(|| async {
        let server = CurveKeyPair::generate();
        let admitted = CurveKeyPair::generate();
        let mut peer = py_peer(&[
            "--type".into(),
            "REP".into(),
            "--bind".into(),
            "tcp://127.0.0.1:0".into(),
            format!("--server-secret={}", server.secret.to_z85().as_str()),
            format!("--allow={}", z85(&admitted.public)),
            "--mode".into(),
            "echo".into(),
        ]);
        let ep = peer.endpoint().await;

        let refused = socket(
            SocketType::Req,
            client_options(&server.public, &CurveKeyPair::generate()),
        );
        let monitor = refused.monitor();
        refused.connect(&ep).unwrap();
        loop {
            match monitor.recv().await {
                MonitorEvent::HandshakeFailed { reason, .. } => {
                    assert!(
                        matches!(
                            reason,
                            CloseReason::Protocol(monocoque_zmtp::Error::PeerError { .. })
                        ),
                        "{reason:?}"
                    );
                    break;
                }
                MonitorEvent::HandshakeSucceeded { .. } => panic!("a refused key got in"),
                _ => {}
            }
        }
        refused.close();

        let s = socket(SocketType::Req, client_options(&server.public, &admitted));
        s.connect(&ep).unwrap();
        request_every_size(&s, false).await;
        peer.finish().await;
    });
}

struct OnlyKey(CurvePublicKey);

impl Authenticator for OnlyKey {
    fn authenticate(&self, c: &Credentials<'_>) -> AuthDecision {
        match c {
            Credentials::Curve { public_key } if *public_key == self.0 => {
                AuthDecision::accept(Some(Bytes::from_static(b"trader-1")))
            }
            _ => AuthDecision::Deny {
                reason: "400".into(),
            },
        }
    }
}

/// Our authenticator refuses libzmq's client with the wrong key and admits
/// the right one.
#[test]
fn our_authenticator_refuses_and_admits_libzmq_clients() {
    pyzmq_required();
    run(|| async {
        let server = CurveKeyPair::generate();
        let admitted = CurveKeyPair::generate();
        let mut options = server_options(&server);
        options.push(SocketOption::CurveAuthenticator(Arc::new(OnlyKey(
            admitted.public,
        ))));
        let s = socket(SocketType::Rep, options);
        let monitor = s.monitor();
        let ep = bind(&s, Transport::Tcp);

        refuse_then_admit(&s, &monitor, &ep, &server.public, &admitted).await;
    });
}

/// A libzmq REQ client with a stranger's key is refused (our monitor says
/// so), then one with `admitted`'s key gets every size echoed by `s`.
async fn refuse_then_admit(
    s: &Socket,
    monitor: &monocoque_patterns::Monitor,
    ep: &str,
    server: &CurvePublicKey,
    admitted: &CurveKeyPair,
) {
    let client = |secret: &CurveKeyPair, sizes: String, timeout_ms: &str| {
        py_peer(&[
            "--type=REQ".into(),
            format!("--connect={ep}"),
            format!("--server-key={}", z85(server)),
            format!("--secret={}", secret.secret.to_z85().as_str()),
            "--mode=request".into(),
            format!("--sizes={sizes}"),
            format!("--timeout-ms={timeout_ms}"),
        ])
    };
    let refused = client(&CurveKeyPair::generate(), "1".into(), "1000");
    loop {
        if let MonitorEvent::HandshakeFailed { reason, .. } = monitor.recv().await {
            assert!(reason.is_authentication_failure(), "{reason:?}");
            break;
        }
    }
    drop(refused);
    let peer = client(admitted, sizes_arg(), "10000");
    echo_until_end(s).await;
    peer.finish().await;
}

/// A CURVE socket whose keys are incomplete refuses to bind or connect,
/// naming the option, and never falls back to NULL.
#[test]
fn incomplete_curve_setups_are_refused_at_bind_and_connect() {
    run(|| async {
        let s = Socket::new(SocketType::Rep).unwrap();
        s.set_option(SocketOption::CurveServer(true)).unwrap();
        let err = s.bind("tcp://127.0.0.1:0").unwrap_err();
        assert!(err.to_string().contains("CURVE_SECRETKEY"), "{err}");
        let c = Socket::new(SocketType::Req).unwrap();
        c.set_option(SocketOption::CurveSecretKey(
            CurveKeyPair::generate().secret,
        ))
        .unwrap();
        let err = c.connect("tcp://127.0.0.1:5").unwrap_err();
        assert!(err.to_string().contains("CURVE_SERVERKEY"), "{err}");
        // inproc carries no mechanism, as in libzmq.
        c.bind("inproc://curve-free").unwrap();
    });
}

/// Two of our own sockets over CURVE, both transports, with the user id.
#[test]
fn our_server_and_client_over_tcp_and_ipc() {
    for t in [Transport::Tcp, Transport::Ipc] {
        run(|| async move {
            let server = CurveKeyPair::generate();
            let client = CurveKeyPair::generate();
            let mut options = server_options(&server);
            options.push(SocketOption::CurveAuthenticator(Arc::new(OnlyKey(
                client.public,
            ))));
            let rep = socket(SocketType::Rep, options);
            let ep = bind(&rep, t);
            let req = socket(SocketType::Req, client_options(&server.public, &client));
            req.connect(&ep).unwrap();
            req.send(Msg::from("ping")).await.unwrap();
            assert_eq!(rep.recv().await.unwrap(), Msg::from("ping"));
            rep.send(Msg::from("pong")).await.unwrap();
            assert_eq!(req.recv().await.unwrap(), Msg::from("pong"));
        });
    }
}

/// Our ZAP handler (a REP at inproc://zeromq.zap.01) admits libzmq's client
/// by key and refuses another, as a libzmq server's handler would.
#[test]
fn our_zap_handler_admits_and_refuses_libzmq_clients() {
    pyzmq_required();
    run(|| async {
        let server = CurveKeyPair::generate();
        let admitted = CurveKeyPair::generate();
        let handler = Socket::new(SocketType::Rep).unwrap();
        handler.bind("inproc://zeromq.zap.01").unwrap();
        let allowed = Bytes::copy_from_slice(admitted.public.as_bytes());
        monocoque_runtime::spawn(async move {
            while let Ok(req) = handler.recv().await {
                let f = req.frames();
                let ok = f.get(6) == Some(&allowed);
                let reply: Vec<Bytes> = vec![
                    f[0].clone(),
                    f[1].clone(),
                    Bytes::from_static(if ok { b"200" } else { b"400" }),
                    Bytes::new(),
                    Bytes::from_static(b"trader"),
                    Bytes::new(),
                ];
                if handler.send(Msg::from(reply)).await.is_err() {
                    return;
                }
            }
        })
        .detach();
        let s = socket(SocketType::Rep, server_options(&server));
        let monitor = s.monitor();
        let ep = bind(&s, Transport::Tcp);

        refuse_then_admit(&s, &monitor, &ep, &server.public, &admitted).await;
    });
}
