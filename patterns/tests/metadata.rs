//! ZMQ_METADATA: application properties sent in the handshake, read by a
//! libzmq peer with zmq_msg_gets (pyzmq's `Frame.get`), and refused names.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use bytes::Bytes;
use common::*;
use monocoque_patterns::{Socket, SocketOption};
use monocoque_zmtp::{Msg, SocketType};

const PEER: &str = r#"
import zmq
ctx = zmq.Context()
s = ctx.socket(zmq.ROUTER)
s.rcvtimeo = 10000
s.bind("tcp://127.0.0.1:0")
print(s.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
frames = s.recv_multipart(copy=False)
body = frames[-1]
print(body.get("X-Desk"), body.get("Socket-Type"), body.get("Identity"), flush=True)
"#;

fn meta(name: &str, value: &str) -> SocketOption {
    SocketOption::Metadata {
        name: name.into(),
        value: Bytes::copy_from_slice(value.as_bytes()),
    }
}

#[test]
fn a_libzmq_peer_reads_our_metadata_from_each_message() {
    let ok = Command::new("python3")
        .args(["-c", "import zmq"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "pyzmq is needed (scripts/test installs it)");
    run(|| async {
        let mut child = Command::new("python3")
            .args(["-c", PEER])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                if tx.send(line.unwrap()).is_err() {
                    return;
                }
            }
        });
        let mut line = None;
        until("the endpoint", || {
            line = rx.try_recv().ok();
            line.is_some()
        })
        .await;
        let ep = line.unwrap();
        let dealer = socket(
            SocketType::Dealer,
            vec![
                meta("X-Desk", "first"),
                meta("X-Desk", "fx"),
                SocketOption::RoutingId(Bytes::from_static(b"d-1")),
            ],
        );
        dealer.connect(&ep).unwrap();
        dealer.send(Msg::from("order")).await.unwrap();
        let mut seen = None;
        until("the peer's report", || {
            seen = rx.try_recv().ok();
            seen.is_some()
        })
        .await;
        assert_eq!(seen.unwrap(), "fx DEALER d-1");
        let mut status = None;
        until("the peer to exit", || {
            status = child.try_wait().unwrap();
            status.is_some()
        })
        .await;
        assert!(status.unwrap().success());
    });
}

#[test]
fn metadata_names_are_checked() {
    run(|| async {
        let s = Socket::new(SocketType::Dealer).unwrap();
        for bad in [
            "Desk",
            "x-desk",
            "X-",
            "X-with space",
            &format!("X-{}", "a".repeat(300)),
        ] {
            assert!(s.set_option(meta(bad, "v")).is_err(), "{bad}");
        }
        s.set_option(meta("X-A", "1")).unwrap();
        s.set_option(meta("X-a", "2")).unwrap();
        assert_eq!(s.options().metadata().len(), 1);
        assert_eq!(&s.options().metadata()[0].1[..], b"2");
    });
}
