//! Subscriptions on the wire, byte for byte, as libzmq's test_mock_pub_sub and
//! test_xpub_topic check them: a raw TCP peer speaking ZMTP 3.0 or 3.1 to our
//! XPUB (it must accept both the SUBSCRIBE command and the 0x01 message) and
//! to our SUB (it must send the command to a 3.1 peer and the message to a
//! 3.0 one), and topics either side of the short/long frame boundary.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use monocoque_patterns::SocketOption;
use monocoque_zmtp::SocketType;

/// Connects a raw peer to `ep`, greets as ZMTP 3.`minor` with `socket_type`, and
/// reads our greeting and READY (whose length is known: 64 + READY for `ours`).
fn raw_peer(ep: &str, minor: u8, socket_type: &str, ours: &str) -> TcpStream {
    let mut s = TcpStream::connect(ep.strip_prefix("tcp://").unwrap()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&raw_greeting(minor)).unwrap();
    s.write_all(&raw_ready(socket_type)).unwrap();
    let mut theirs = vec![0; 64 + raw_ready(ours).len()];
    s.read_exact(&mut theirs).unwrap();
    assert_eq!(&theirs[64..], &raw_ready(ours)[..], "our READY");
    s
}

fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf).unwrap();
    buf
}

/// Our XPUB hears a raw SUB's subscription in both forms and publishes to it.
#[test]
fn mock_sub_to_our_xpub() {
    for (minor, subscription) in [
        (1u8, b"\x04\x0b\x09SUBSCRIBEA".to_vec()),
        (0u8, b"\x00\x02\x01A".to_vec()),
    ] {
        run(|| async move {
            let xpub = socket(SocketType::XPub, vec![]);
            let ep = bind(&xpub, Transport::Tcp);
            let peer = std::thread::spawn(move || {
                let mut s = raw_peer(&ep, minor, "SUB", "XPUB");
                s.write_all(&subscription).unwrap();
                read_n(&mut s, 6)
            });
            assert_eq!(frames(&xpub.recv().await.unwrap()), ["\u{1}A"]);
            xpub.send("ALOL").await.unwrap();
            until("the raw peer", || peer.is_finished()).await;
            assert_eq!(peer.join().unwrap(), b"\x00\x04ALOL", "ZMTP 3.{minor}");
        });
    }
}

/// Our SUB sends a SUBSCRIBE command to a 3.1 publisher and a 0x01 message to
/// a 3.0 one, and receives what it publishes.
#[test]
fn our_sub_to_mock_pub() {
    for (minor, subscription) in [
        (1u8, b"\x04\x0b\x09SUBSCRIBEA".to_vec()),
        (0u8, b"\x00\x02\x01A".to_vec()),
    ] {
        run(|| async move {
            let s = socket(
                SocketType::Sub,
                vec![SocketOption::Subscribe(Bytes::from_static(b"A"))],
            );
            let ep = bind(&s, Transport::Tcp);
            let expected = subscription.clone();
            let peer = std::thread::spawn(move || {
                let mut raw = raw_peer(&ep, minor, "XPUB", "SUB");
                let got = read_n(&mut raw, expected.len());
                raw.write_all(b"\x00\x04ALOL").unwrap();
                // Hold the connection until the message is read.
                let _ = raw.read(&mut [0u8; 1]);
                got
            });
            assert_eq!(frames(&s.recv().await.unwrap()), ["ALOL"]);
            drop(s);
            until("the raw peer", || peer.is_finished()).await;
            assert_eq!(peer.join().unwrap(), subscription, "ZMTP 3.{minor}");
        });
    }
}

/// A 245-byte topic makes a 255-byte SUBSCRIBE body (a short frame); 246
/// bytes need a long frame. Both reach the XPUB intact, as do their cancels,
/// between our sockets and from our SUB to a raw peer that checks the bytes.
#[test]
fn topics_at_the_short_long_frame_boundary() {
    let topic = |len: usize| -> Vec<u8> {
        b"ABCDEFGHIJKLMNOP"
            .iter()
            .copied()
            .cycle()
            .take(len)
            .collect()
    };
    each_transport(|t| async move {
        let xpub = socket(SocketType::XPub, vec![]);
        let ep = bind(&xpub, t);
        let s = socket(SocketType::Sub, vec![]);
        s.connect(&ep).unwrap();
        for len in [245, 246] {
            let tp = Bytes::from(topic(len));
            s.set_option(SocketOption::Subscribe(tp.clone())).unwrap();
            let m = xpub.recv().await.unwrap();
            assert_eq!(m[0].len(), len + 1);
            assert_eq!((m[0][0], &m[0][1..]), (1, &tp[..]));
            s.set_option(SocketOption::Unsubscribe(tp.clone())).unwrap();
            let m = xpub.recv().await.unwrap();
            assert_eq!((m[0][0], &m[0][1..]), (0, &tp[..]));
        }
    });
    run(|| async move {
        let s = socket(SocketType::Sub, vec![]);
        let ep = bind(&s, Transport::Tcp);
        let expected: Vec<Vec<u8>> = [245usize, 246]
            .iter()
            .map(|&len| {
                let mut body = b"\x09SUBSCRIBE".to_vec();
                body.extend(topic(len));
                let mut frame = if body.len() <= 255 {
                    vec![0x04, body.len() as u8]
                } else {
                    let mut f = vec![0x06];
                    f.extend_from_slice(&(body.len() as u64).to_be_bytes());
                    f
                };
                frame.extend(body);
                frame
            })
            .collect();
        assert_eq!(expected[0][..2], [0x04, 0xFF]);
        assert_eq!(expected[1][0], 0x06);
        let want = expected.clone();
        let peer = std::thread::spawn(move || {
            let mut raw = raw_peer(&ep, 1, "PUB", "SUB");
            want.iter()
                .map(|w| read_n(&mut raw, w.len()))
                .collect::<Vec<_>>()
        });
        for len in [245, 246] {
            s.set_option(SocketOption::Subscribe(Bytes::from(topic(len))))
                .unwrap();
        }
        until("the raw peer", || peer.is_finished()).await;
        assert_eq!(peer.join().unwrap(), expected);
    });
}
