//! ZAP (RFC 27): a handler bound at `inproc://zeromq.zap.01` on the socket's
//! thread is asked about every CURVE and PLAIN client and, with ZAP_DOMAIN
//! set, every NULL peer, as libzmq asks it; its user id and metadata reach
//! the connection, its refusals reach the client as ERROR.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use common::*;
use monocoque_patterns::{CloseReason, MonitorEvent, Socket, SocketOption};
use monocoque_runtime::spawn;
use monocoque_zmtp::mechanism::CurveKeyPair;
use monocoque_zmtp::{Msg, SocketType};

/// A ZAP handler (a REP at inproc://zeromq.zap.01) that records each
/// request and admits the clients `admit` says yes to, with user id "u-"
/// and the credential's first byte, and the property `Hello: World` in the
/// reply's metadata frame.
fn handler(admit: impl Fn(&[Bytes]) -> bool + 'static) -> Seen {
    let rep = Socket::new(SocketType::Rep).unwrap();
    rep.bind("inproc://zeromq.zap.01").unwrap();
    let (seen, task) = serve_handler(rep, admit);
    task.detach();
    seen
}

/// Each request a handler received, its frames in order.
type Seen = Rc<RefCell<Vec<Vec<Bytes>>>>;

/// The handler's requests seen so far, and its task: dropping the task
/// closes the handler's socket, which frees the endpoint.
fn serve_handler(
    rep: Socket,
    admit: impl Fn(&[Bytes]) -> bool + 'static,
) -> (Seen, monocoque_runtime::JoinHandle<()>) {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    let task = spawn(async move {
        while let Ok(req) = rep.recv().await {
            let frames: Vec<Bytes> = req.frames().to_vec();
            log.borrow_mut().push(frames.clone());
            let ok = admit(&frames);
            let user = if ok {
                Bytes::from(format!(
                    "u-{}",
                    frames.get(6).map_or(0, |c| c.first().copied().unwrap_or(0))
                ))
            } else {
                Bytes::new()
            };
            let reply = vec![
                frames[0].clone(),
                frames[1].clone(),
                Bytes::from_static(if ok { b"200" } else { b"400" }),
                Bytes::from_static(if ok { b"OK" } else { b"no" }),
                user,
                if ok {
                    Bytes::from_static(b"\x05Hello\x00\x00\x00\x05World")
                } else {
                    Bytes::new()
                },
            ];
            if rep.send(Msg::from(reply)).await.is_err() {
                return;
            }
        }
    });
    (seen, task)
}

/// The first handshake outcome the monitor reports.
async fn outcome(monitor: &monocoque_patterns::Monitor) -> Result<(), CloseReason> {
    loop {
        match monitor.recv().await {
            MonitorEvent::HandshakeSucceeded { .. } => return Ok(()),
            MonitorEvent::HandshakeFailed { reason, .. } => return Err(reason),
            _ => {}
        }
    }
}

fn refused_with(r: Result<(), CloseReason>, code: &str) {
    match r {
        Err(CloseReason::Protocol(monocoque_zmtp::Error::PeerError { reason })) => {
            assert_eq!(reason, code)
        }
        other => panic!("expected a refusal with {code}, got {other:?}"),
    }
}

#[test]
fn curve_clients_are_admitted_by_the_zap_handler() {
    run(|| async {
        let server_keys = CurveKeyPair::generate();
        let good = CurveKeyPair::generate();
        let good_key = Bytes::copy_from_slice(good.public.as_bytes());
        let seen = handler(move |f| f.get(6) == Some(&good_key));
        let server = socket(
            SocketType::Router,
            vec![
                SocketOption::CurveServer(true),
                SocketOption::CurveSecretKey(server_keys.secret.clone()),
                SocketOption::ZapDomain(Bytes::from_static(b"global")),
                SocketOption::RoutingId(Bytes::from_static(b"srv")),
            ],
        );
        let ep = bind(&server, Transport::Tcp);

        for (keys, admitted) in [(good.clone(), true), (CurveKeyPair::generate(), false)] {
            let client = socket(
                SocketType::Dealer,
                vec![
                    SocketOption::CurveServerKey(server_keys.public),
                    SocketOption::CurveSecretKey(keys.secret.clone()),
                ],
            );
            let monitor = client.monitor();
            client.connect(&ep).unwrap();
            let r = outcome(&monitor).await;
            if admitted {
                r.unwrap();
                client.send(Msg::from("order")).await.unwrap();
                let m = server.recv().await.unwrap();
                assert_eq!(&m.frames()[1][..], b"order");
            } else {
                refused_with(r, "400");
            }
        }
        let seen = seen.borrow();
        assert_eq!(seen.len(), 2);
        let f = &seen[0];
        // version, request id, domain, address, identity, mechanism, key
        assert_eq!(f.len(), 7, "{f:?}");
        assert_eq!(&f[0][..], b"1.0");
        assert_eq!(&f[2][..], b"global");
        assert_eq!(&f[3][..], b"127.0.0.1");
        assert_eq!(&f[4][..], b"srv");
        assert_eq!(&f[5][..], b"CURVE");
        assert_eq!(&f[6][..], good.public.as_bytes());
        assert_eq!(
            &f[1][..],
            b"1",
            "one request per ZAP connection, id 1 as libzmq's"
        );
    });
}

#[test]
fn plain_via_zap_needs_a_handler_and_follows_it() {
    run(|| async {
        let server = socket(SocketType::Rep, vec![SocketOption::PlainServerViaZap]);
        let ep = bind(&server, Transport::Tcp);
        let plain = |user: &'static str| SocketOption::PlainClient {
            username: Bytes::from_static(user.as_bytes()),
            password: Bytes::from_static(b"pw"),
        };
        // No handler bound: PLAIN refuses, as in libzmq.
        let client = socket(SocketType::Req, vec![plain("admin")]);
        let monitor = client.monitor();
        client.connect(&ep).unwrap();
        refused_with(outcome(&monitor).await, "500");
        client.close();

        let seen = handler(|f| f.get(6).is_some_and(|u| &u[..] == b"admin"));
        let client = socket(SocketType::Req, vec![plain("admin")]);
        let monitor = client.monitor();
        client.connect(&ep).unwrap();
        outcome(&monitor).await.unwrap();
        client.send(Msg::from("hi")).await.unwrap();
        let (msg, properties) = server.recv_with_properties().await.unwrap();
        assert_eq!(msg, Msg::from("hi"));
        // The reply's user id and metadata reach every message, as in libzmq.
        let properties = properties.unwrap();
        assert_eq!(properties.get("User-Id").as_deref(), Some(&b"u-97"[..]));
        assert_eq!(properties.get("Hello").as_deref(), Some(&b"World"[..]));
        let intruder = socket(SocketType::Req, vec![plain("mallory")]);
        let monitor = intruder.monitor();
        intruder.connect(&ep).unwrap();
        refused_with(outcome(&monitor).await, "400");
        let seen = seen.borrow();
        assert_eq!(&seen[0][5][..], b"PLAIN");
        assert_eq!(&seen[0][6][..], b"admin");
        assert_eq!(&seen[0][7][..], b"pw");
    });
}

#[test]
fn null_peers_are_asked_about_only_with_a_zap_domain() {
    run(|| async {
        let seen = handler(|_| false);
        // No domain: nobody is asked.
        let open = socket(SocketType::Pull, vec![]);
        let ep = bind(&open, Transport::Tcp);
        let push = socket(SocketType::Push, vec![]);
        let monitor = push.monitor();
        push.connect(&ep).unwrap();
        outcome(&monitor).await.unwrap();
        assert!(seen.borrow().is_empty());

        // A domain: the handler decides (here: no).
        let guarded = socket(
            SocketType::Pull,
            vec![SocketOption::ZapDomain(Bytes::from_static(b"d"))],
        );
        let ep = bind(&guarded, Transport::Tcp);
        let push = socket(SocketType::Push, vec![]);
        let monitor = push.monitor();
        push.connect(&ep).unwrap();
        refused_with(outcome(&monitor).await, "400");
        let seen = seen.borrow();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].len(), 6, "NULL has no credential frames");
        assert_eq!(&seen[0][5][..], b"NULL");
    });
}

#[test]
fn a_local_authenticator_wins_over_the_handler_and_sees_the_whole_request() {
    use monocoque_zmtp::{AuthDecision, AuthRequest, Authenticator, Credentials};
    use std::sync::{Arc, Mutex};
    /// Domain, address, identity, mechanism of each request.
    type Seen = (Vec<u8>, String, Vec<u8>, &'static str);
    struct Recording(Mutex<Vec<Seen>>);
    impl Authenticator for Recording {
        fn authenticate(&self, _: &Credentials<'_>) -> AuthDecision {
            unreachable!("admit is called with the whole request")
        }
        fn admit(&self, r: &AuthRequest<'_>) -> AuthDecision {
            self.0.lock().unwrap().push((
                r.domain.to_vec(),
                r.address.to_string(),
                r.identity.to_vec(),
                r.credentials.mechanism(),
            ));
            AuthDecision::accept(None)
        }
    }
    run(|| async {
        let seen = handler(|_| false);
        let server_keys = CurveKeyPair::generate();
        let auth = Arc::new(Recording(Mutex::new(Vec::new())));
        let server = socket(
            SocketType::Rep,
            vec![
                SocketOption::CurveServer(true),
                SocketOption::CurveSecretKey(server_keys.secret.clone()),
                SocketOption::CurveAuthenticator(auth.clone()),
                SocketOption::ZapDomain(Bytes::from_static(b"dom")),
            ],
        );
        let ep = bind(&server, Transport::Tcp);
        let client = socket(
            SocketType::Req,
            vec![
                SocketOption::CurveServerKey(server_keys.public),
                SocketOption::CurveSecretKey(CurveKeyPair::generate().secret),
            ],
        );
        let monitor = client.monitor();
        client.connect(&ep).unwrap();
        outcome(&monitor).await.unwrap();
        assert!(seen.borrow().is_empty(), "the handler was not asked");
        assert_eq!(
            auth.0.lock().unwrap().as_slice(),
            [(
                b"dom".to_vec(),
                "127.0.0.1".to_string(),
                Vec::new(),
                "CURVE"
            )]
        );
    });
}

#[test]
fn a_handler_closed_and_bound_again_serves_the_next_client() {
    run(|| async {
        let server_keys = CurveKeyPair::generate();
        let server = socket(
            SocketType::Rep,
            vec![
                SocketOption::CurveServer(true),
                SocketOption::CurveSecretKey(server_keys.secret.clone()),
            ],
        );
        let ep = bind(&server, Transport::Tcp);
        let client = |keys: &CurveKeyPair| {
            socket(
                SocketType::Req,
                vec![
                    SocketOption::CurveServerKey(server_keys.public),
                    SocketOption::CurveSecretKey(keys.secret.clone()),
                ],
            )
        };
        // A first handler refuses everyone.
        let rep = Socket::new(SocketType::Rep).unwrap();
        rep.bind("inproc://zeromq.zap.01").unwrap();
        let (first, first_task) = serve_handler(rep, |_| false);
        let c = client(&CurveKeyPair::generate());
        let monitor = c.monitor();
        c.connect(&ep).unwrap();
        refused_with(outcome(&monitor).await, "400");
        assert_eq!(first.borrow().len(), 1);
        c.close();
        // It goes away, and a new one, admitting everyone, takes its place.
        drop(first_task);
        let rep = Socket::new(SocketType::Rep).unwrap();
        until("the first handler to let go of the endpoint", || {
            rep.bind("inproc://zeromq.zap.01").is_ok()
        })
        .await;
        let (second, _task) = serve_handler(rep, |_| true);
        let c = client(&CurveKeyPair::generate());
        let monitor = c.monitor();
        c.connect(&ep).unwrap();
        outcome(&monitor).await.unwrap();
        assert_eq!(second.borrow().len(), 1);
    });
}
