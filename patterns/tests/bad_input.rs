//! Hostile and broken peers lose only their own connection: garbage instead of
//! a greeting, a valid greeting followed by a malformed frame, a peer that
//! vanishes mid-handshake, the wrong socket type, an oversize message. The
//! socket keeps serving its good peer and loses none of its messages.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::*;
use monocoque_patterns::{MonitorEvent, SocketOption};
use monocoque_zmtp::SocketType;

/// Sends `bytes` on a fresh connection and reports whether the server closed it.
fn hostile(addr: String, bytes: Vec<u8>, then_close: bool) -> std::thread::JoinHandle<bool> {
    std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(&bytes);
        if then_close {
            return true;
        }
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue, // our greeting, an ERROR command
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    })
}

fn greeting(mechanism: &[u8]) -> Vec<u8> {
    let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1];
    let mut m = mechanism.to_vec();
    m.resize(20, 0);
    g.extend_from_slice(&m);
    g.push(0);
    g.extend_from_slice(&[0; 31]);
    g
}

#[test]
fn hostile_peers_lose_only_their_own_connection() {
    run(|| async {
        let pull = socket(
            SocketType::Pull,
            vec![SocketOption::MaxMsgSize(Some(1 << 16))],
        );
        let events = pull.monitor();
        let ep = bind(&pull, Transport::Tcp);
        let addr = ep.strip_prefix("tcp://").unwrap().to_string();

        let good = socket(SocketType::Push, vec![]);
        good.connect(&ep).unwrap();
        peers(&pull, 1).await;

        let mut bad_frame = greeting(b"NULL");
        // A command frame claiming 2^62 bytes.
        bad_frame.extend_from_slice(&[0x06, 0x40, 0, 0, 0, 0, 0, 0, 0]);
        let mut oversize = greeting(b"NULL");
        // READY as a PUSH, then a 1 MiB message (MAXMSGSIZE is 64 KiB).
        let ready = b"\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH";
        oversize.extend_from_slice(&[0x04, ready.len() as u8]);
        oversize.extend_from_slice(ready);
        oversize.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 0x10, 0, 0]);
        let mut wrong_type = greeting(b"NULL");
        let ready_pub = b"\x05READY\x0bSocket-Type\x00\x00\x00\x03PUB";
        wrong_type.extend_from_slice(&[0x04, ready_pub.len() as u8]);
        wrong_type.extend_from_slice(ready_pub);

        let attacks = vec![
            hostile(
                addr.clone(),
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
                false,
            ),
            hostile(addr.clone(), bad_frame, false),
            hostile(addr.clone(), oversize, false),
            hostile(addr.clone(), wrong_type, false),
            hostile(addr.clone(), greeting(b"NULL")[..5].to_vec(), true),
            hostile(addr.clone(), greeting(b"CURVE"), false),
        ];
        // The good peer keeps sending while the attacks run.
        for i in 0..200u32 {
            good.send(i.to_be_bytes().to_vec()).await.unwrap();
        }
        for i in 0..200u32 {
            let m = pull.recv().await.unwrap();
            assert_eq!(
                &m[0][..],
                &i.to_be_bytes(),
                "the good peer's messages, in order"
            );
        }
        for a in attacks {
            until("the attacker finishes", || a.is_finished()).await;
            assert!(
                a.join().unwrap(),
                "a hostile connection was closed by the server"
            );
        }
        let failures = std::iter::from_fn(|| events.try_recv())
            .filter(|e| {
                matches!(
                    e,
                    MonitorEvent::HandshakeFailed { .. } | MonitorEvent::Disconnected { .. }
                )
            })
            .count();
        assert!(
            failures >= 5,
            "each hostile connection is reported ({failures})"
        );
        assert_eq!(pull.peer_count(), 1);
        good.send("still serving").await.unwrap();
        assert_eq!(frames(&pull.recv().await.unwrap()), ["still serving"]);
    });
}
