//! Monitor events with libzmq's set and meanings (libzmq's test_monitor):
//! CONNECT_DELAYED before CONNECTED, the remote address on accepted,
//! connected, handshake and disconnect events, BIND_FAILED, and failed
//! handshakes classified as libzmq's monitor classifies them.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::*;
use monocoque_patterns::{HandshakeFailure, Monitor, MonitorEvent, SocketOption};
use monocoque_zmtp::{AuthDecision, Authenticator, Credentials, Msg, SocketType};

async fn next(m: &Monitor) -> MonitorEvent {
    m.recv().await
}

#[test]
fn connect_side_and_bind_side_events_carry_the_remote_address() {
    run(|| async {
        let rep = socket(SocketType::Rep, vec![]);
        let server_monitor = rep.monitor();
        let ep = bind(&rep, Transport::Tcp);
        let port = ep.rsplit(':').next().unwrap().to_string();
        assert!(matches!(
            next(&server_monitor).await,
            MonitorEvent::Listening { .. }
        ));

        let req = socket(SocketType::Req, vec![]);
        let client_monitor = req.monitor();
        req.connect(&ep).unwrap();
        assert_eq!(
            next(&client_monitor).await,
            MonitorEvent::ConnectDelayed {
                endpoint: ep.clone()
            }
        );
        let MonitorEvent::Connected { endpoint, remote } = next(&client_monitor).await else {
            panic!("expected Connected")
        };
        assert_eq!(endpoint, ep);
        assert_eq!(
            remote.as_deref(),
            Some(format!("127.0.0.1:{port}").as_str())
        );
        let MonitorEvent::HandshakeSucceeded { remote, .. } = next(&client_monitor).await else {
            panic!("expected HandshakeSucceeded")
        };
        assert!(remote.is_some());

        let MonitorEvent::Accepted {
            remote: accepted, ..
        } = next(&server_monitor).await
        else {
            panic!("expected Accepted")
        };
        let accepted = accepted.expect("a tcp peer has an address");
        assert!(accepted.starts_with("127.0.0.1:"), "{accepted}");
        let MonitorEvent::HandshakeSucceeded { remote, .. } = next(&server_monitor).await else {
            panic!("expected HandshakeSucceeded")
        };
        assert_eq!(remote.as_deref(), Some(accepted.as_str()));

        req.send(Msg::from("x")).await.unwrap();
        rep.recv().await.unwrap();
        req.close();
        drop(req);
        loop {
            if let MonitorEvent::Disconnected { remote, .. } = next(&server_monitor).await {
                assert_eq!(remote.as_deref(), Some(accepted.as_str()));
                break;
            }
        }
    });
}

#[test]
fn a_failed_bind_is_an_event_too() {
    run(|| async {
        let a = socket(SocketType::Pull, vec![]);
        let ep = bind(&a, Transport::Tcp);
        let b = socket(SocketType::Pull, vec![]);
        let m = b.monitor();
        assert!(b.bind(&ep).is_err());
        let MonitorEvent::BindFailed { endpoint, error } = next(&m).await else {
            panic!("expected BindFailed")
        };
        assert_eq!(endpoint, ep);
        assert!(!error.is_empty());
    });
}

struct Nobody;
impl Authenticator for Nobody {
    fn authenticate(&self, _: &Credentials<'_>) -> AuthDecision {
        AuthDecision::Deny {
            reason: "400 nobody".into(),
        }
    }
}

#[test]
fn a_refused_handshake_is_an_authentication_failure_on_both_sides() {
    run(|| async {
        let server = socket(
            SocketType::Rep,
            vec![SocketOption::PlainServer(Arc::new(Nobody))],
        );
        let sm = server.monitor();
        let ep = bind(&server, Transport::Tcp);
        let client = socket(
            SocketType::Req,
            vec![SocketOption::PlainClient {
                username: Bytes::from_static(b"u"),
                password: Bytes::from_static(b"p"),
            }],
        );
        let cm = client.monitor();
        client.connect(&ep).unwrap();
        for m in [&cm, &sm] {
            loop {
                if let MonitorEvent::HandshakeFailed { reason, remote, .. } = next(m).await {
                    assert_eq!(reason.handshake_failure(), HandshakeFailure::Auth(400));
                    assert_eq!(reason.handshake_failure().zmq_event(), (0x4000, 400));
                    assert!(remote.is_some());
                    break;
                }
            }
        }
    });
}

#[test]
fn a_mismatched_mechanism_is_a_protocol_failure() {
    run(|| async {
        let server = socket(
            SocketType::Rep,
            vec![SocketOption::PlainServer(Arc::new(Nobody))],
        );
        let sm = server.monitor();
        let ep = bind(&server, Transport::Tcp);
        let client = socket(SocketType::Req, vec![]);
        client.connect(&ep).unwrap();
        loop {
            if let MonitorEvent::HandshakeFailed { reason, .. } = next(&sm).await {
                assert_eq!(
                    reason.handshake_failure(),
                    HandshakeFailure::Protocol(
                        monocoque_patterns::protocol_error::ZMTP_MECHANISM_MISMATCH
                    )
                );
                break;
            }
        }
    });
}

#[test]
fn an_ipc_file_that_cannot_be_removed_is_a_close_failure() {
    run(|| async {
        let s = socket(SocketType::Pull, vec![]);
        let m = s.monitor();
        let ep = bind(&s, Transport::Ipc);
        let path = std::path::PathBuf::from(ep.trim_start_matches("ipc://"));
        assert!(matches!(next(&m).await, MonitorEvent::Listening { .. }));
        // Unbound normally: the file goes, and the monitor hears Closed.
        s.unbind(&ep).unwrap();
        assert_eq!(
            next(&m).await,
            MonitorEvent::Closed {
                endpoint: ep.clone()
            }
        );
        assert!(!path.exists());
        // Someone removed the file first: libzmq's ZMQ_EVENT_CLOSE_FAILED.
        s.bind(&ep).unwrap();
        assert!(matches!(next(&m).await, MonitorEvent::Listening { .. }));
        std::fs::remove_file(&path).unwrap();
        s.unbind(&ep).unwrap();
        match next(&m).await {
            MonitorEvent::CloseFailed { endpoint, error } => {
                assert_eq!(endpoint, ep);
                assert!(error.contains("No such file"), "{error}");
            }
            other => panic!("expected CloseFailed, got {other:?}"),
        }
        // Closing the socket removes what it still has bound.
        s.bind(&ep).unwrap();
        assert!(path.exists());
        s.close();
        assert!(!path.exists());
    });
}
