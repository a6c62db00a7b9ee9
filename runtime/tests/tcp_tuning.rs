//! TCP socket options set before connect or listen (TOS, device, user
//! timeout, busy poll), connecting from a source address, and abstract Unix
//! socket names. Runs on whichever driver `MONOCOQUE_DRIVER` selects.

use std::net::SocketAddr;
use std::time::Duration;

use monocoque_runtime::net::{TcpListener, TcpStream, TcpTuning, UnixListener, UnixStream};
use monocoque_runtime::{timeout, Runtime};

const LIMIT: Duration = Duration::from_secs(20);

/// Every option set; busy polling only where this process may raise it
/// (CAP_NET_ADMIN, or net.core.busy_read at 50 us or more).
fn tuning() -> TcpTuning {
    let busy = Duration::from_micros(50);
    TcpTuning {
        tos: Some(0x28),
        device: Some("lo".into()),
        user_timeout: Some(Duration::from_millis(1500)),
        busy_poll: monocoque_runtime::net::check_busy_poll(busy)
            .is_ok()
            .then_some(busy),
    }
}

#[test]
fn tuning_reaches_connected_listening_and_accepted_sockets() {
    let rt = Runtime::builder().build().unwrap();
    rt.block_on(async {
        timeout(LIMIT, async {
            let listener =
                TcpListener::bind_with("127.0.0.1:0".parse().unwrap(), None, &tuning()).unwrap();
            // Read back, `None` where the kernel's value was kept.
            let read = |mut t: TcpTuning| {
                if tuning().busy_poll.is_none() {
                    t.busy_poll = None;
                }
                t
            };
            assert_eq!(read(listener.tuning().unwrap()), tuning());
            let addr = listener.local_addr().unwrap();
            let connected = TcpStream::connect_with(addr, None, &tuning())
                .await
                .unwrap();
            assert_eq!(read(connected.tuning().unwrap()), tuning());
            // Linux copies each of them from the listener to what it accepts.
            let (accepted, _) = listener.accept().await.unwrap();
            assert_eq!(read(accepted.tuning().unwrap()), tuning());
            // Untuned, the kernel's defaults: no TOS, no device, no timeout.
            let plain = TcpStream::connect(addr).await.unwrap();
            let t = plain.tuning().unwrap();
            assert_eq!(
                (t.tos, t.device, t.user_timeout),
                (Some(0), None, Some(Duration::ZERO))
            );
            // Set later on a live connection.
            plain
                .set_tuning(&TcpTuning {
                    tos: Some(0x10),
                    ..TcpTuning::default()
                })
                .unwrap();
            assert_eq!(plain.tuning().unwrap().tos, Some(0x10));
        })
        .await
        .unwrap();
    });
}

#[test]
fn a_device_that_does_not_exist_fails_the_bind_and_the_connect_naming_the_option() {
    let rt = Runtime::builder().build().unwrap();
    rt.block_on(async {
        let bad = TcpTuning {
            device: Some("no-such-nic0".into()),
            ..TcpTuning::default()
        };
        let e = TcpListener::bind_with("127.0.0.1:0".parse().unwrap(), None, &bad).unwrap_err();
        assert!(e.to_string().contains("SO_BINDTODEVICE"), "{e}");
        let live = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let e = TcpStream::connect_with(live.local_addr().unwrap(), None, &bad)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("SO_BINDTODEVICE"), "{e}");
        let long = TcpTuning {
            device: Some("x".repeat(16)),
            ..TcpTuning::default()
        };
        assert!(TcpListener::bind_with("127.0.0.1:0".parse().unwrap(), None, &long).is_err());
    });
}

#[test]
fn connects_from_the_source_address_given() {
    let rt = Runtime::builder().build().unwrap();
    rt.block_on(async {
        timeout(LIMIT, async {
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = listener.local_addr().unwrap();
            // All of 127/8 is loopback on Linux: 127.0.0.2 is a distinct source.
            let source: SocketAddr = "127.0.0.2:0".parse().unwrap();
            let s = TcpStream::connect_with(addr, Some(source), &TcpTuning::default())
                .await
                .unwrap();
            let (_accepted, seen) = listener.accept().await.unwrap();
            assert_eq!(seen.ip(), source.ip());
            assert_eq!(s.local_addr().unwrap(), seen);
            // A fixed source port, reused for a second destination (SO_REUSEADDR).
            let port = seen.port();
            drop(s);
            let other = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let fixed: SocketAddr = format!("127.0.0.2:{port}").parse().unwrap();
            let again = TcpStream::connect_with(
                other.local_addr().unwrap(),
                Some(fixed),
                &TcpTuning::default(),
            )
            .await
            .unwrap();
            assert_eq!(again.local_addr().unwrap(), fixed);
            // A source address of the other family cannot be bound.
            let v6: SocketAddr = "[::1]:0".parse().unwrap();
            assert!(
                TcpStream::connect_with(addr, Some(v6), &TcpTuning::default())
                    .await
                    .is_err()
            );
        })
        .await
        .unwrap();
    });
}

#[test]
fn abstract_unix_names_connect_and_leave_no_file() {
    let rt = Runtime::builder().build().unwrap();
    rt.block_on(async {
        timeout(LIMIT, async {
            let name = format!("monocoque-rt-abstract-{}", std::process::id());
            let listener = UnixListener::bind_abstract(name.as_bytes(), None).unwrap();
            assert_eq!(listener.path().to_str().unwrap(), format!("@{name}"));
            assert!(!listener.path().exists());
            assert_eq!(
                UnixListener::bind_abstract(name.as_bytes(), None)
                    .unwrap_err()
                    .kind(),
                std::io::ErrorKind::AddrInUse
            );
            let client = UnixStream::connect_abstract(name.as_bytes()).await.unwrap();
            let server = listener.accept().await.unwrap();
            client
                .write_all(bytes::Bytes::from_static(b"abstract"))
                .await
                .unwrap();
            let (n, buf) = server.read(bytes::BytesMut::with_capacity(16)).await;
            assert_eq!(&buf[..n.unwrap()], b"abstract");
            assert!(UnixListener::bind_abstract(&[b'x'; 108], None).is_err());
        })
        .await
        .unwrap();
    });
}
