//! STREAM: raw TCP (and ipc) behind a ROUTER-like interface, with libzmq's
//! semantics (test_stream, test_stream_empty, test_stream_disconnect,
//! test_stream_exceeds_buffer cases): `[routing id, data]` both ways, a
//! connection's opening and closing received as `[routing id, ""]`
//! (STREAM_NOTIFY), an empty data frame to close a connection, tested
//! against plain TCP clients and servers and against libzmq's STREAM.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use monocoque_patterns::{Error, Socket, SocketOption};
use monocoque_zmtp::{Msg, SocketType};

fn stream_socket(options: Vec<SocketOption>) -> Socket {
    socket(SocketType::Stream, options)
}

/// The next message, which must be `[id, data]`; returns the id.
async fn expect(s: &Socket, data: &[u8]) -> Bytes {
    let m = s.recv().await.unwrap();
    assert_eq!(m.len(), 2, "{m:?}");
    assert_eq!(&m[1][..], data, "{m:?}");
    m[0].clone()
}

fn to(id: &Bytes, data: &'static [u8]) -> Msg {
    Msg::from(vec![id.clone(), Bytes::from_static(data)])
}

/// The thread's result, awaited without blocking the runtime (the sockets'
/// engines run on this thread).
async fn join<T>(h: std::thread::JoinHandle<T>) -> T {
    until("the raw peer's thread", || h.is_finished()).await;
    h.join().unwrap()
}

/// Reads until the peer closes; everything read.
fn read_to_close(mut r: impl Read) -> Vec<u8> {
    let mut all = Vec::new();
    r.read_to_end(&mut all).unwrap();
    all
}

#[test]
fn a_plain_tcp_client_is_served_and_closed() {
    run(|| async {
        let server = stream_socket(vec![]);
        let ep = bind(&server, Transport::Tcp);
        let addr = ep.trim_start_matches("tcp://").to_string();
        let client = std::thread::spawn(move || {
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            c.write_all(b"hello").unwrap();
            read_to_close(c)
        });
        let id = expect(&server, b"").await;
        assert_eq!(id.len(), 5, "libzmq's ids: 0x00 and four bytes");
        assert_eq!(id[0], 0);
        let mut got = Vec::new();
        while got.len() < 5 {
            let m = server.recv().await.unwrap();
            assert_eq!(m[0], id);
            got.extend_from_slice(&m[1]);
        }
        assert_eq!(got, b"hello");
        server.send(to(&id, b"world")).await.unwrap();
        server.send(to(&id, b"")).await.unwrap();
        // The data before the empty frame arrives, then the close.
        assert_eq!(join(client).await, b"world");
        // A close the socket made is not reported (libzmq's
        // test_stream_disconnect): the next notice is a later connection's.
        let second = TcpStream::connect(ep.trim_start_matches("tcp://")).unwrap();
        let next = expect(&server, b"").await;
        assert_ne!(next, id, "no disconnect notice for our own close");
        drop(second);
        assert_eq!(
            expect(&server, b"").await,
            next,
            "a peer's close is reported"
        );
        assert!(matches!(
            server.send(to(&id, b"late")).await,
            Err(Error::HostUnreachable)
        ));
    });
}

#[test]
fn a_stream_client_of_a_plain_tcp_server() {
    run(|| async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut c, _) = listener.accept().unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut request = [0u8; 18];
            c.read_exact(&mut request).unwrap();
            c.write_all(b"HTTP/1.0 200 OK\r\n\r\n").unwrap();
            request
        });
        let client = stream_socket(vec![SocketOption::ConnectRoutingId(Bytes::from_static(
            b"web",
        ))]);
        client.connect(&format!("tcp://{addr}")).unwrap();
        let id = expect(&client, b"").await;
        assert_eq!(&id[..], b"web", "CONNECT_ROUTING_ID names the connection");
        client
            .send(to(&id, b"GET / HTTP/1.0\r\n\r\n"))
            .await
            .unwrap();
        let mut reply = Vec::new();
        loop {
            let m = client.recv().await.unwrap();
            assert_eq!(m[0], id);
            if m[1].is_empty() {
                break; // the server closed: the disconnect notice
            }
            reply.extend_from_slice(&m[1]);
        }
        assert_eq!(reply, b"HTTP/1.0 200 OK\r\n\r\n");
        assert_eq!(&join(server).await, b"GET / HTTP/1.0\r\n\r\n");
    });
}

#[test]
fn several_clients_get_their_own_ids_and_replies() {
    run(|| async {
        let server = stream_socket(vec![SocketOption::StreamNotify(false)]);
        let ep = bind(&server, Transport::Tcp);
        let addr = ep.trim_start_matches("tcp://").to_string();
        let clients: Vec<_> = (0..3u8)
            .map(|i| {
                let addr = addr.clone();
                std::thread::spawn(move || {
                    let mut c = TcpStream::connect(addr).unwrap();
                    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    c.write_all(&[b'a' + i]).unwrap();
                    let mut answer = [0u8; 2];
                    c.read_exact(&mut answer).unwrap();
                    (i, answer)
                })
            })
            .collect();
        // No notices with STREAM_NOTIFY off: the first message is data.
        let mut ids = Vec::new();
        for _ in 0..3 {
            let m = server.recv().await.unwrap();
            assert_eq!(m[1].len(), 1, "{m:?}");
            let mut answer = m[1].to_vec();
            answer.push(b'!');
            ids.push(m[0].clone());
            server
                .send(Msg::from(vec![m[0].clone(), Bytes::from(answer)]))
                .await
                .unwrap();
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 3);
        for c in clients {
            let (i, answer) = join(c).await;
            assert_eq!(answer, [b'a' + i, b'!']);
        }
    });
}

#[test]
fn ipc_works_too() {
    run(|| async {
        let server = stream_socket(vec![]);
        let ep = bind(&server, Transport::Ipc);
        let path = ep.trim_start_matches("ipc://").to_string();
        let client = std::thread::spawn(move || {
            let mut c = UnixStream::connect(path).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            c.write_all(b"x").unwrap();
            read_to_close(c)
        });
        let id = expect(&server, b"").await;
        assert_eq!(expect(&server, b"x").await, id);
        server.send(to(&id, b"y")).await.unwrap();
        server.send(to(&id, b"")).await.unwrap();
        assert_eq!(join(client).await, b"y");
    });
}

#[test]
fn what_a_stream_socket_refuses() {
    run(|| async {
        let s = stream_socket(vec![]);
        assert!(matches!(
            s.bind("inproc://raw"),
            Err(Error::InvalidEndpoint { .. })
        ));
        assert!(matches!(
            s.connect("inproc://raw"),
            Err(Error::InvalidEndpoint { .. })
        ));
        let unknown = Bytes::from_static(b"\0\0\0\0\x07");
        assert!(matches!(
            s.send(to(&unknown, b"x")).await,
            Err(Error::HostUnreachable)
        ));
        assert!(matches!(
            s.send(Msg::from(vec![unknown.clone(), Bytes::new(), Bytes::new()]))
                .await,
            Err(Error::Malformed(_))
        ));
        // STREAM options only on STREAM; ROUTER_NOTIFY not on STREAM.
        assert!(socket_result(SocketType::Router, SocketOption::StreamNotify(false)).is_err());
        assert!(socket_result(SocketType::Stream, SocketOption::RouterNotify(3)).is_err());
    });
}

fn socket_result(kind: SocketType, option: SocketOption) -> Result<(), Error> {
    Socket::new(kind).unwrap().set_option(option)
}

#[test]
fn libzmq_stream_sockets_talk_to_ours() {
    run(|| async {
        let ours = stream_socket(vec![]);
        let ep = bind(&ours, Transport::Tcp);
        let theirs = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let s = ctx.socket(zmq::STREAM).unwrap();
            s.set_rcvtimeo(10_000).unwrap();
            s.connect(&ep).unwrap();
            // libzmq's own connect notice first (ZMQ_STREAM_NOTIFY).
            let notice = s.recv_multipart(0).unwrap();
            assert_eq!(notice[1], b"");
            let id = notice[0].clone();
            s.send_multipart([id.clone(), b"from libzmq".to_vec()], 0)
                .unwrap();
            let mut got = Vec::new();
            while got.len() < 9 {
                let m = s.recv_multipart(0).unwrap();
                got.extend_from_slice(&m[1]);
            }
            got
        });
        let id = expect(&ours, b"").await;
        let mut got = Vec::new();
        while got.len() < 11 {
            let m = ours.recv().await.unwrap();
            got.extend_from_slice(&m[1]);
        }
        assert_eq!(got, b"from libzmq");
        ours.send(to(&id, b"from ours")).await.unwrap();
        assert_eq!(join(theirs).await, b"from ours");
    });
}

#[test]
fn a_megabyte_each_way_arrives_whole() {
    // test_stream_exceeds_buffer: more than any one read or write.
    run(|| async {
        let server = stream_socket(vec![]);
        let ep = bind(&server, Transport::Tcp);
        let addr = ep.trim_start_matches("tcp://").to_string();
        let body: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        let sent = body.clone();
        let client = std::thread::spawn(move || {
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            c.write_all(&sent).unwrap();
            read_to_close(c)
        });
        let id = expect(&server, b"").await;
        let mut got = Vec::new();
        while got.len() < body.len() {
            let m = server.recv().await.unwrap();
            assert_eq!(m[0], id);
            got.extend_from_slice(&m[1]);
        }
        assert!(got == body, "the client's megabyte arrived altered");
        server
            .send(Msg::from(vec![id.clone(), Bytes::from(body.clone())]))
            .await
            .unwrap();
        server.send(to(&id, b"")).await.unwrap();
        assert!(join(client).await == body, "our megabyte arrived altered");
    });
}
