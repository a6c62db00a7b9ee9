//! IO cores for STREAM: a spread STREAM's raw connections, accepted and
//! made, run on two other reactor threads in the raw engine, while its
//! routing ids, STREAM_NOTIFY notices and closes stay the socket's.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use monocoque_zmtp::{Msg, SocketType};

fn to(id: &Bytes, data: &[u8]) -> Msg {
    Msg::from(vec![id.clone(), Bytes::copy_from_slice(data)])
}

/// Four plain TCP clients of a spread STREAM, over both cores: each one's
/// opening is a `[id, ""]` notice, its bytes arrive under its id, the
/// reply routed by that id reaches it, and its closing is a notice too.
#[test]
fn a_spread_stream_serves_plain_tcp_clients_from_its_io_cores() {
    let cores = two_io_cores();
    run(|| async move {
        let server = socket(SocketType::Stream, vec![]);
        server.spread_connections(&cores).unwrap();
        let ep = bind(&server, Transport::Tcp);
        let addr = ep.trim_start_matches("tcp://").to_string();
        let clients: Vec<_> = (0..4)
            .map(|i| {
                let addr = addr.clone();
                std::thread::spawn(move || {
                    let mut c = TcpStream::connect(addr).unwrap();
                    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    c.write_all(format!("hello {i}").as_bytes()).unwrap();
                    let mut reply = vec![0u8; 10];
                    c.read_exact(&mut reply).unwrap();
                    assert_eq!(reply, format!("re hello {i}").into_bytes());
                })
            })
            .collect();
        let mut open = std::collections::HashSet::new();
        let (mut opened, mut closed) = (0, 0);
        while closed < 4 {
            let m = server.recv().await.unwrap();
            assert_eq!(m.len(), 2, "{m:?}");
            let (id, data) = (&m[0], &m[1]);
            if data.is_empty() {
                // A notice: the first one per id opens, the second closes.
                if open.insert(id.clone()) {
                    opened += 1;
                } else {
                    closed += 1;
                }
                continue;
            }
            assert!(open.contains(id), "data after the opening notice");
            let mut reply = b"re ".to_vec();
            reply.extend_from_slice(data);
            server.send(to(id, &reply)).await.unwrap();
        }
        assert_eq!(opened, 4);
        for c in clients {
            join_thread(c).await;
        }
        until("no connection", || connections(&server) == [0, 0]).await;
        let handed: u64 = server
            .io_core_statistics()
            .unwrap()
            .iter()
            .map(|c| c.handed)
            .sum();
        assert_eq!(handed, 4, "each reply crossed to its core once");
    });
}

/// An empty data frame closes a connection on an IO core once what was
/// sent before it is written.
#[test]
fn an_empty_frame_closes_a_raw_connection_on_an_io_core() {
    let cores = two_io_cores();
    run(|| async move {
        let server = socket(SocketType::Stream, vec![]);
        server.spread_connections(&cores).unwrap();
        let ep = bind(&server, Transport::Tcp);
        let addr = ep.trim_start_matches("tcp://").to_string();
        let client = std::thread::spawn(move || {
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut all = Vec::new();
            c.read_to_end(&mut all).unwrap();
            all
        });
        let m = server.recv().await.unwrap();
        assert!(m[1].is_empty(), "the opening notice");
        let id = m[0].clone();
        server.send(to(&id, b"bye")).await.unwrap();
        server.send(to(&id, b"")).await.unwrap();
        assert_eq!(join_thread(client).await, b"bye");
        until("no connection", || connections(&server) == [0, 0]).await;
    });
}

/// A spread STREAM's connect runs on an IO core: the opening notice, then
/// bytes both ways with a plain TCP server.
#[test]
fn a_spread_stream_connects_from_an_io_core() {
    let cores = two_io_cores();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut ping = [0u8; 4];
        c.read_exact(&mut ping).unwrap();
        assert_eq!(&ping, b"ping");
        c.write_all(b"pong").unwrap();
    });
    run(|| async move {
        let s = socket(SocketType::Stream, vec![]);
        s.spread_connections(&cores).unwrap();
        s.connect(&format!("tcp://{addr}")).unwrap();
        let m = s.recv().await.unwrap();
        assert!(m[1].is_empty(), "the opening notice: {m:?}");
        let id = m[0].clone();
        assert_eq!(
            connections(&s).iter().sum::<usize>(),
            1,
            "one connection, on one core"
        );
        s.send(to(&id, b"ping")).await.unwrap();
        let mut got = Vec::new();
        while got.len() < 4 {
            let m = s.recv().await.unwrap();
            assert_eq!(m[0], id);
            got.extend_from_slice(&m[1]);
        }
        assert_eq!(got, b"pong");
        join_thread(peer).await;
    });
}
