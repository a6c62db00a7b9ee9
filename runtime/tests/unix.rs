//! Unix domain sockets: echo with many connections, stale socket files, and
//! paths the kernel cannot take. Runs on whichever driver `MONOCOQUE_DRIVER` selects.

use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use monocoque_runtime::net::{UnixListener, UnixStream};
use monocoque_runtime::{spawn, timeout, Runtime};

const LIMIT: Duration = Duration::from_secs(20);

/// A socket path in a directory of its own, removed with the guard.
fn socket_path(name: &str) -> (PathBuf, tempfile::TempDir) {
    let dir = tempfile::Builder::new()
        .prefix("monocoque-rt-")
        .tempdir()
        .unwrap();
    (dir.path().join(name), dir)
}

async fn read_exact(s: &UnixStream, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = BytesMut::with_capacity(4096);
    while out.len() < len {
        let (n, b) = s.read(buf).await;
        buf = b;
        assert!(n.unwrap() > 0, "peer closed early");
        out.extend_from_slice(&buf.split());
    }
    out
}

#[test]
fn echo_hundreds_of_connections() {
    let (path, _dir) = socket_path("echo.sock");
    let rt = Runtime::builder().build().unwrap();
    rt.block_on(async {
        timeout(LIMIT, async {
            const CONNS: usize = 200;
            let listener = Rc::new(UnixListener::bind(&path).unwrap());
            let l = listener.clone();
            spawn(async move {
                for _ in 0..CONNS {
                    let s = l.accept().await.unwrap();
                    spawn(async move {
                        let mut buf = BytesMut::with_capacity(4096);
                        loop {
                            let (n, b) = s.read(buf).await;
                            buf = b;
                            if !matches!(n, Ok(n) if n > 0) {
                                return;
                            }
                            s.write_all(buf.split().freeze()).await.unwrap();
                        }
                    })
                    .detach();
                }
            })
            .detach();
            let mut clients = Vec::new();
            for i in 0..CONNS {
                let path = path.clone();
                clients.push(spawn(async move {
                    let s = UnixStream::connect(&path).await.unwrap();
                    let msg = format!("client {i}");
                    s.write_all(Bytes::from(msg.clone())).await.unwrap();
                    assert_eq!(read_exact(&s, msg.len()).await, msg.as_bytes());
                }));
            }
            for c in clients {
                c.await;
            }
        })
        .await
        .expect("timed out");
    });
    drop(rt);
    assert!(!path.exists(), "the listener removes its socket file");
}

#[test]
fn stale_socket_file_is_replaced_live_one_is_not() {
    let (path, _dir) = socket_path("stale.sock");
    // A socket file whose listener is gone (as after a crash).
    let _ = std::fs::remove_file(&path);
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let rt = Runtime::builder().build().unwrap();
    rt.block_on(async {
        let listener = UnixListener::bind(&path).expect("stale file replaced");
        // Something listens now: a second bind must not steal the endpoint.
        let err = UnixListener::bind(&path).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
        // The refused bind probed the endpoint with a connection, which the live
        // listener sees as one connection closed at once.
        let probe = listener.accept().await.unwrap();
        let (n, _) = probe.read(BytesMut::with_capacity(8)).await;
        assert_eq!(n.unwrap(), 0);
        let c = spawn({
            let path = path.clone();
            async move { UnixStream::connect(&path).await.unwrap() }
        });
        let s = listener.accept().await.unwrap();
        let c = c.await;
        c.write_all(Bytes::from_static(b"ok")).await.unwrap();
        assert_eq!(read_exact(&s, 2).await, b"ok");
    });
}

#[test]
fn over_long_path_is_a_clear_error() {
    let rt = Runtime::builder().build().unwrap();
    rt.block_on(async {
        let long = PathBuf::from(format!("/tmp/{}", "x".repeat(200)));
        let err = UnixStream::connect(&long).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("too long"), "{err}");
    });
}
