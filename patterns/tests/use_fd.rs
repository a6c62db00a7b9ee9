//! ZMQ_USE_FD: a bind takes over a listening socket the application made
//! (tcp and ipc), serves connections on it, closes it with the socket, and
//! leaves an ipc socket's file to the application; a descriptor that is
//! not a listening socket is refused at the bind.

mod common;

use std::time::Duration;

use monocoque_patterns::{Context, ListeningFd, SocketOption};
use monocoque_zmtp::SocketType;

/// A REP on the adopted listener answers a REQ that connects to it.
fn round_trip(ctx: &Context, rep_endpoint: &str, connect_to: &str, fd: ListeningFd) -> String {
    let rep = ctx.socket(SocketType::Rep).unwrap();
    rep.set_option(SocketOption::UseFd(Some(fd))).unwrap();
    rep.bind(rep_endpoint).unwrap();
    let bound = rep.last_endpoint().unwrap().expect("bound");
    let req = ctx.socket(SocketType::Req).unwrap();
    req.set_option(SocketOption::RcvTimeo(Some(Duration::from_secs(20))))
        .unwrap();
    req.connect(connect_to).unwrap();
    req.send("ping").unwrap();
    assert_eq!(&rep.recv().unwrap()[0][..], b"ping");
    rep.send("pong").unwrap();
    assert_eq!(&req.recv().unwrap()[0][..], b"pong");
    bound
}

#[test]
fn a_tcp_bind_serves_on_the_applications_listener_and_closes_it() {
    common::bounded_for(Duration::from_secs(60), || {
        let ctx = Context::new().unwrap();
        let made = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = made.local_addr().unwrap();
        let fd = ListeningFd::new(made.into());
        // The bind's address names the transport only.
        let bound = round_trip(&ctx, "tcp://127.0.0.1:1", &format!("tcp://{addr}"), fd);
        assert_eq!(bound, format!("tcp://{addr}"));
        // The context's end waits for its sockets: the listener is closed.
        drop(ctx);
        assert!(std::net::TcpStream::connect(addr).is_err());
    });
}

#[test]
fn an_ipc_bind_leaves_the_socket_file_to_the_application() {
    common::bounded_for(Duration::from_secs(60), || {
        let dir = std::env::temp_dir().join(format!("mq-use-fd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("made.sock");
        let _ = std::fs::remove_file(&path);
        let made = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let ctx = Context::new().unwrap();
        let endpoint = format!("ipc://{}", path.display());
        let bound = round_trip(
            &ctx,
            "ipc://ignored",
            &endpoint,
            ListeningFd::new(made.into()),
        );
        assert_eq!(bound, endpoint);
        drop(ctx);
        assert!(path.exists(), "the application's file was removed");
        std::fs::remove_file(&path).unwrap();
        let _ = std::fs::remove_dir(&dir);
    });
}

#[test]
fn a_descriptor_that_is_not_listening_is_refused_at_the_bind() {
    common::bounded_for(Duration::from_secs(60), || {
        let ctx = Context::new().unwrap();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = udp.local_addr().unwrap();
        let lent = ListeningFd::new(udp.into());
        let rep = ctx.socket(SocketType::Rep).unwrap();
        rep.set_option(SocketOption::UseFd(Some(lent.clone())))
            .unwrap();
        let refused = rep.bind("tcp://127.0.0.1:0").unwrap_err();
        assert!(refused.to_string().contains("not a listening"), "{refused}");
        // Refused, not taken: still open, the application's.
        let back = std::net::UdpSocket::from(lent.reclaim().expect("not taken"));
        assert_eq!(back.local_addr().unwrap(), addr);
        // inproc takes no descriptor, and with none left a tcp bind makes
        // its own.
        rep.bind("inproc://use-fd").unwrap();
        rep.bind("tcp://127.0.0.1:0").unwrap();
    });
}
