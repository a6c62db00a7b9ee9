//! TCP over the reactor: echo with many connections, partial writes, resets,
//! accept storms, cancellation, and timers. Runs on whichever driver
//! `MONOCOQUE_DRIVER` selects (CI runs it with both).

use std::cell::Cell;
use std::future::Future;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use monocoque_runtime::net::{TcpListener, TcpStream};
use monocoque_runtime::{sleep, spawn, timeout, Runtime, WaitStrategy};

const LIMIT: Duration = Duration::from_secs(20);

fn rt() -> Runtime {
    Runtime::builder().build().unwrap()
}

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Echoes every connection until it closes.
async fn echo_server(listener: TcpListener, connections: usize) {
    for _ in 0..connections {
        let (stream, _) = listener.accept().await.unwrap();
        spawn(async move {
            let mut buf = BytesMut::with_capacity(64 * 1024);
            loop {
                let (n, b) = stream.read(buf).await;
                buf = b;
                match n {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        let data = buf.split().freeze();
                        if stream.write_all(data).await.is_err() {
                            return;
                        }
                    }
                }
            }
        })
        .detach();
    }
}

async fn read_exact(stream: &TcpStream, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    while out.len() < len {
        let (n, b) = stream.read(buf).await;
        buf = b;
        let n = n.unwrap();
        assert!(n > 0, "peer closed after {} of {len} bytes", out.len());
        out.extend_from_slice(&buf.split());
    }
    out
}

/// Echoes `n` small messages through a fresh connection on `rt`.
fn echo_round_trips(rt: &Runtime, n: u32) {
    rt.block_on(async {
        timeout(LIMIT, async {
            let listener = TcpListener::bind(localhost()).unwrap();
            let addr = listener.local_addr().unwrap();
            spawn(echo_server(listener, 1)).detach();
            let s = TcpStream::connect(addr).await.unwrap();
            for i in 0..n {
                s.write_all(Bytes::copy_from_slice(&i.to_be_bytes()))
                    .await
                    .unwrap();
                assert_eq!(read_exact(&s, 4).await, i.to_be_bytes());
            }
        })
        .await
        .expect("timed out");
    });
}

/// A connected (client, server) pair from `listener`.
async fn connected(listener: &TcpListener) -> (TcpStream, TcpStream) {
    let addr = listener.local_addr().unwrap();
    let c = spawn(async move { TcpStream::connect(addr).await.unwrap() });
    let (server, _) = listener.accept().await.unwrap();
    (c.await, server)
}

#[test]
fn echo_hundreds_of_connections() {
    let rt = rt();
    rt.block_on(async {
        timeout(LIMIT, async {
            const CONNS: usize = 300;
            let listener = TcpListener::bind(localhost()).unwrap();
            let addr = listener.local_addr().unwrap();
            spawn(echo_server(listener, CONNS)).detach();
            let done = Rc::new(Cell::new(0));
            let mut clients = Vec::new();
            for i in 0..CONNS {
                let done = done.clone();
                clients.push(spawn(async move {
                    let s = TcpStream::connect(addr).await.unwrap();
                    for round in 0..5 {
                        let msg = format!("conn {i} round {round}");
                        s.write_all(Bytes::from(msg.clone())).await.unwrap();
                        assert_eq!(read_exact(&s, msg.len()).await, msg.as_bytes());
                    }
                    done.set(done.get() + 1);
                }));
            }
            for c in clients {
                c.await;
            }
            assert_eq!(done.get(), CONNS);
        })
        .await
        .expect("echo test timed out");
    });
}

#[test]
fn large_gathered_writes_survive_partial_writes() {
    let rt = rt();
    rt.block_on(async {
        timeout(LIMIT, async {
            let listener = TcpListener::bind(localhost()).unwrap();
            let addr = listener.local_addr().unwrap();
            spawn(echo_server(listener, 1)).detach();
            let s = Rc::new(TcpStream::connect(addr).await.unwrap());
            // 7 MiB in 3 chunks: far beyond the socket buffers, so writev returns short.
            let parts: Vec<Bytes> = [4usize << 20, 2 << 20, 1 << 20]
                .iter()
                .enumerate()
                .map(|(i, len)| Bytes::from(vec![i as u8 + 1; *len]))
                .collect();
            let expected: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
            let reader = {
                let s = s.clone();
                let total = expected.len();
                spawn(async move { read_exact(&s, total).await })
            };
            s.write_all_vectored(parts).await.unwrap();
            assert!(reader.await == expected);
        })
        .await
        .expect("timed out");
    });
}

#[test]
fn peer_reset_mid_stream_is_an_error_not_a_hang() {
    let rt = rt();
    rt.block_on(async {
        timeout(LIMIT, async {
            let listener = TcpListener::bind(localhost()).unwrap();
            let addr = listener.local_addr().unwrap();
            // A blocking peer that sends a little, then resets (SO_LINGER 0).
            let peer = std::thread::spawn(move || {
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                c.write_all(b"partial").unwrap();
                let mut one = [0u8; 1];
                // Wait for our go-ahead byte, then reset.
                c.read_exact(&mut one).unwrap();
                set_linger_zero(std::os::fd::AsRawFd::as_raw_fd(&c));
                drop(c);
            });
            let (s, _) = listener.accept().await.unwrap();
            assert_eq!(read_exact(&s, 7).await, b"partial");
            s.write_all(Bytes::from_static(b"x")).await.unwrap();
            let mut buf = BytesMut::with_capacity(1024);
            let err = loop {
                let (n, b) = s.read(buf).await;
                buf = b;
                match n {
                    Ok(0) => break None,
                    Ok(_) => continue,
                    Err(e) => break Some(e),
                }
            };
            let err = err.expect("a reset reads as an error");
            assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
            peer.join().unwrap();
        })
        .await
        .expect("timed out");
    });
}

fn set_linger_zero(fd: i32) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: passes a live linger struct and its size; the only way to make a
    // peer send RST.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0);
}

#[test]
fn accept_storm() {
    let rt = rt();
    rt.block_on(async {
        timeout(LIMIT, async {
            const N: usize = 500;
            let listener = TcpListener::bind(localhost()).unwrap();
            let addr = listener.local_addr().unwrap();
            let connector = std::thread::spawn(move || {
                (0..N)
                    .map(|_| std::net::TcpStream::connect(addr).unwrap())
                    .collect::<Vec<_>>()
            });
            let mut accepted = Vec::with_capacity(N);
            for _ in 0..N {
                accepted.push(listener.accept().await.unwrap().0);
            }
            let clients = connector.join().unwrap();
            assert_eq!((accepted.len(), clients.len()), (N, N));
        })
        .await
        .expect("timed out");
    });
}

#[test]
fn cancelled_operations_free_their_slots_and_the_stream_still_works() {
    let rt = rt();
    rt.block_on(async {
        timeout(LIMIT, async {
            let listener = TcpListener::bind(localhost()).unwrap();
            let (client, server) = connected(&listener).await;
            // A read that can never complete, cancelled by a timeout, 100 times.
            for _ in 0..100 {
                let r = timeout(
                    Duration::from_millis(1),
                    server.read(BytesMut::with_capacity(64)),
                )
                .await;
                assert!(r.is_err(), "nothing was sent, the read must time out");
            }
            // An accept cancelled the same way.
            assert!(timeout(Duration::from_millis(1), listener.accept())
                .await
                .is_err());
            // A sleep cancelled by dropping it.
            assert!(
                timeout(Duration::from_millis(1), sleep(Duration::from_secs(3600)))
                    .await
                    .is_err()
            );
            client
                .write_all(Bytes::from_static(b"after"))
                .await
                .unwrap();
            assert_eq!(read_exact(&server, 5).await, b"after");
            // Every cancelled operation's completion comes back and frees its slot
            // (the listener's multishot ACCEPT is cancelled when it is dropped).
            drop((client, server, listener));
            while rt.driver_load() > 0 {
                sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .expect("timed out: operations or registrations leaked");
    });
}

#[test]
fn timers_fire_in_order_within_tolerance() {
    let rt = rt();
    let fired = rt.block_on(async {
        let order = Rc::new(std::cell::RefCell::new(Vec::new()));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for ms in [30u64, 10, 50, 20, 40, 0] {
            let order = order.clone();
            tasks.push(spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                order.borrow_mut().push((ms, start.elapsed()));
            }));
        }
        for t in tasks {
            t.await;
        }
        Rc::try_unwrap(order).unwrap().into_inner()
    });
    let order: Vec<u64> = fired.iter().map(|(ms, _)| *ms).collect();
    assert_eq!(order, vec![0, 10, 20, 30, 40, 50]);
    for (ms, at) in fired {
        assert!(
            at >= Duration::from_millis(ms),
            "{ms} ms timer fired early at {at:?}"
        );
        assert!(
            at < Duration::from_millis(ms + 200),
            "{ms} ms timer fired late at {at:?}"
        );
    }
}

#[test]
fn busy_poll_strategy_echoes() {
    let rt = Runtime::builder()
        .wait_strategy(WaitStrategy::BusyPoll)
        .build()
        .unwrap();
    echo_round_trips(&rt, 1000);
}

#[test]
fn wakes_from_another_thread_reach_a_parked_reactor() {
    let rt = rt();
    let (tx, rx) = std::sync::mpsc::channel::<std::task::Waker>();
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let f2 = flag.clone();
    let waker_thread = std::thread::spawn(move || {
        let w = rx.recv().unwrap();
        f2.store(true, std::sync::atomic::Ordering::SeqCst);
        w.wake();
    });
    rt.block_on(async {
        let mut sent = Some(tx);
        timeout(
            LIMIT,
            std::future::poll_fn(|cx| {
                if flag.load(std::sync::atomic::Ordering::SeqCst) {
                    return std::task::Poll::Ready(());
                }
                if let Some(tx) = sent.take() {
                    tx.send(cx.waker().clone()).unwrap();
                }
                std::task::Poll::Pending
            }),
        )
        .await
        .expect("the cross-thread wake never arrived");
    });
    waker_thread.join().unwrap();
}

#[test]
fn invalid_settings_are_named() {
    let err = Runtime::builder().ring_entries(3).build().unwrap_err();
    assert!(err.to_string().contains("ring_entries"), "{err}");
    let err = Runtime::builder().core(100_000).build().unwrap_err();
    assert!(err.to_string().contains("core"), "{err}");
    let err = Runtime::builder()
        .spin_before_park(monocoque_runtime::MAX_SPIN_BEFORE_PARK + Duration::from_micros(1))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("spin_before_park"), "{err}");
    let err = Runtime::builder()
        .wait_strategy(monocoque_runtime::WaitStrategy::BusyPoll)
        .spin_before_park(Duration::from_micros(50))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("spin_before_park"), "{err}");
}

/// A reactor that spins before it parks takes work from other threads both
/// while it spins and once it has parked, and its timers fire.
#[test]
fn a_reactor_that_spins_before_parking_still_wakes_and_parks() {
    let rt = Runtime::builder()
        .spin_before_park(Duration::from_millis(2))
        .build()
        .unwrap();
    let (mut tx, mut rx) = monocoque_runtime::spsc::channel::<u32>(4);
    let sender = std::thread::spawn(move || {
        // Within the spin, then well after it (the reactor has parked).
        tx.send_blocking(1).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        tx.send_blocking(2).unwrap();
    });
    rt.block_on(async move {
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        let start = std::time::Instant::now();
        sleep(Duration::from_millis(20)).await;
        assert!(start.elapsed() >= Duration::from_millis(20));
    });
    sender.join().unwrap();
}

#[test]
fn spawn_thread_runs_its_own_reactor() {
    let handle = Runtime::builder()
        .core(0)
        .spawn_thread("reactor-0", || async {
            sleep(Duration::from_millis(1)).await;
            7
        })
        .unwrap();
    assert_eq!(handle.join().unwrap(), 7);
}

#[test]
fn driver_matches_environment() {
    let rt = rt();
    match std::env::var("MONOCOQUE_DRIVER").as_deref() {
        Ok("epoll") => assert_eq!(rt.driver(), monocoque_runtime::DriverKind::Epoll),
        Ok("uring") => assert_eq!(rt.driver(), monocoque_runtime::DriverKind::Uring),
        _ => {}
    }
}

#[test]
fn sqpoll_echoes_or_is_refused_by_name() {
    let built = Runtime::builder()
        .wait_strategy(WaitStrategy::SqPoll {
            cpu: None,
            idle: Duration::from_millis(10),
        })
        .build();
    let rt = match built {
        Ok(rt) => rt,
        Err(e) => {
            // The epoll driver, or a kernel without SQPOLL, must say which setting failed.
            assert!(e.to_string().contains("sqpoll"), "{e}");
            return;
        }
    };
    echo_round_trips(&rt, 100);
}

/// Echo server on `recv()`: received chunks go straight back out, no copy.
async fn recv_echo_server(listener: TcpListener, connections: usize) {
    for _ in 0..connections {
        let (stream, _) = listener.accept().await.unwrap();
        spawn(async move {
            loop {
                match stream.recv().await {
                    Ok(chunk) if !chunk.is_empty() => {
                        if stream.write_all(chunk).await.is_err() {
                            return;
                        }
                    }
                    _ => return,
                }
            }
        })
        .detach();
    }
}

async fn recv_exact(stream: &TcpStream, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let chunk = stream.recv().await.unwrap();
        assert!(
            !chunk.is_empty(),
            "peer closed after {} of {len} bytes",
            out.len()
        );
        out.extend_from_slice(&chunk);
    }
    out
}

#[test]
fn zero_copy_recv_echo_many_connections() {
    let rt = rt();
    rt.block_on(async {
        timeout(LIMIT, async {
            const CONNS: usize = 300;
            let listener = TcpListener::bind(localhost()).unwrap();
            let addr = listener.local_addr().unwrap();
            spawn(recv_echo_server(listener, CONNS)).detach();
            let mut clients = Vec::new();
            for i in 0..CONNS {
                clients.push(spawn(async move {
                    let s = TcpStream::connect(addr).await.unwrap();
                    for round in 0..5 {
                        let msg = format!("conn {i} round {round}");
                        s.write_all(Bytes::from(msg.clone())).await.unwrap();
                        assert_eq!(recv_exact(&s, msg.len()).await, msg.as_bytes());
                    }
                }));
            }
            for c in clients {
                c.await;
            }
        })
        .await
        .expect("timed out");
    });
}

#[test]
fn a_dry_pool_never_stops_reads_they_fall_back_to_the_heap() {
    const BUFFERS: u16 = 8;
    const SIZE: usize = 4096;
    const TOTAL: usize = 4 << 20;
    let rt = Runtime::builder()
        .recv_buffers(BUFFERS, SIZE)
        .build()
        .unwrap();
    rt.block_on(async {
        timeout(LIMIT, async {
            let listener = TcpListener::bind(localhost()).unwrap();
            let addr = listener.local_addr().unwrap();
            // 4 MiB of a counting pattern, far more than the pool holds.
            let data: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
            let flood = std::thread::spawn(move || {
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                c.write_all(&data).unwrap();
            });
            let (s, _) = listener.accept().await.unwrap();
            // Hold every chunk, as an application that never lets go would:
            // the pool runs dry after 8 chunks, and reading goes on regardless.
            let mut held = Vec::new();
            let mut received = 0usize;
            loop {
                let chunk = s.recv().await.unwrap();
                if chunk.is_empty() {
                    break;
                }
                for (k, b) in chunk.iter().enumerate() {
                    assert_eq!(*b as usize, (received + k) % 251, "data lost or reordered");
                }
                received += chunk.len();
                held.push(chunk);
            }
            assert_eq!(
                received, TOTAL,
                "the end of stream was seen after all of it"
            );
            assert!(
                monocoque_runtime::recv_pool_mostly_held(),
                "the application holds the pool"
            );
            assert!(rt.heap_fallback_reads() > 0);
            flood.join().unwrap();
            // Another connection is served with the pool still dry: its data
            // and its end of stream are both seen.
            let other = std::thread::spawn(move || {
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                c.write_all(b"still served").unwrap();
            });
            let (s2, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            loop {
                let chunk = s2.recv().await.unwrap();
                if chunk.is_empty() {
                    break;
                }
                got.extend_from_slice(&chunk);
            }
            assert_eq!(got, b"still served");
            other.join().unwrap();
            drop(held);
            assert!(!monocoque_runtime::recv_pool_mostly_held());
        })
        .await
        .expect("timed out");
    });
}

#[test]
fn cancelled_recv_loses_no_data() {
    let rt = rt();
    rt.block_on(async {
        timeout(LIMIT, async {
            let listener = TcpListener::bind(localhost()).unwrap();
            let (client, server) = connected(&listener).await;
            for i in 0..50u8 {
                assert!(timeout(Duration::from_millis(1), server.recv())
                    .await
                    .is_err());
                client
                    .write_all(Bytes::copy_from_slice(&[i]))
                    .await
                    .unwrap();
                assert_eq!(recv_exact(&server, 1).await, [i]);
            }
            drop(server);
            drop(client);
            drop(listener);
            // The multishot RECV's cancellation completes; no slot is left behind.
            while rt.driver_load() > 0 {
                sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .expect("timed out: an operation slot leaked");
    });
}

#[test]
fn connections_wait_for_accept_and_untaken_ones_close_with_the_listener() {
    let rt = rt();
    rt.block_on(async {
        timeout(LIMIT, async {
            let listener = TcpListener::bind(localhost()).unwrap();
            let addr = listener.local_addr().unwrap();
            // First accept arms the listener; then 4 clients connect before the next calls.
            let first = spawn(async move {
                let (s, _) = listener.accept().await.unwrap();
                (listener, s)
            });
            let mut clients = Vec::new();
            for _ in 0..5 {
                clients.push(std::net::TcpStream::connect(addr).unwrap());
            }
            let (listener, _s0) = first.await;
            let (_s1, peer) = listener.accept().await.unwrap();
            assert!(peer.ip().is_loopback());
            // Three connections are still queued; dropping the listener closes them.
            drop(listener);
            let mut eof = 0;
            for c in clients.iter_mut().skip(2) {
                c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut b = [0u8; 1];
                // Either the kernel's queue or our slot held it: both end in EOF/reset.
                match c.read(&mut b) {
                    Ok(0) => eof += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => eof += 1,
                    other => panic!("expected the connection closed, got {other:?}"),
                }
            }
            assert_eq!(eof, 3);
        })
        .await
        .expect("timed out");
    });
}

#[test]
fn cancelled_connect_and_write_leave_nothing_behind() {
    let rt = rt();
    rt.block_on(async {
        timeout(LIMIT, async {
            let listener = TcpListener::bind(localhost()).unwrap();
            let addr = listener.local_addr().unwrap();
            // A connect cancelled before it can be polled to completion.
            for _ in 0..20 {
                drop(TcpStream::connect(addr));
                let mut fut = std::pin::pin!(TcpStream::connect(addr));
                // Poll once (submits the CONNECT), then drop it.
                let _ =
                    std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx))).await;
            }
            // A write cancelled while the peer is not reading and the buffers are full.
            let (client, _server) = connected(&listener).await;
            let big = Bytes::from(vec![7u8; 32 << 20]);
            assert!(timeout(Duration::from_millis(50), client.write_all(big))
                .await
                .is_err());
            drop((client, listener, _server));
            while rt.driver_load() > 0 {
                sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .expect("timed out: a cancelled connect or write leaked its slot");
    });
}

#[test]
fn zero_copy_sends_deliver_everything_and_cancel_cleanly() {
    let rt = Runtime::builder()
        .send_zc_threshold(Some(1024))
        .build()
        .unwrap();
    rt.block_on(async {
        timeout(LIMIT, async {
            const TOTAL: usize = 8 << 20;
            let listener = TcpListener::bind(localhost()).unwrap();
            let addr = listener.local_addr().unwrap();
            let reader = std::thread::spawn(move || {
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                let mut got = vec![0u8; TOTAL];
                c.read_exact(&mut got).unwrap();
                got
            });
            let (s, _) = listener.accept().await.unwrap();
            let data: Vec<u8> = (0..TOTAL).map(|i| (i % 253) as u8).collect();
            let data = Bytes::from(data);
            for chunk in 0..TOTAL / 65536 {
                s.write_all(data.slice(chunk * 65536..(chunk + 1) * 65536))
                    .await
                    .unwrap();
            }
            assert!(reader.join().unwrap() == data[..]);

            // A zero-copy send cancelled while the peer does not read.
            let (client, _idle) = connected(&listener).await;
            let big = Bytes::from(vec![1u8; 32 << 20]);
            assert!(timeout(Duration::from_millis(50), client.write_all(big))
                .await
                .is_err());
            drop((client, _idle, listener, s));
            while rt.driver_load() > 0 {
                sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .expect("timed out");
    });
}

/// An accepted connection moves to a reactor on another thread and serves
/// there; one that has armed a receive refuses to move.
#[test]
fn a_connection_moves_to_another_reactor() {
    let (fd_tx, fd_rx) = std::sync::mpsc::channel::<std::os::fd::OwnedFd>();
    let other = Runtime::builder()
        .spawn_thread("adopter", move || async move {
            let fd = fd_rx.recv().unwrap();
            let stream = TcpStream::from_owned_fd(fd).unwrap();
            let got = stream.recv().await.unwrap();
            let reply = [b"moved:".as_slice(), &got].concat();
            stream.write_all(Bytes::from(reply)).await.unwrap();
        })
        .unwrap();
    rt().block_on(async move {
        timeout(LIMIT, async move {
            let listener = TcpListener::bind(localhost()).unwrap();
            let addr = listener.local_addr().unwrap();
            let mut client = std::net::TcpStream::connect(addr).unwrap();
            let (accepted, _) = listener.accept().await.unwrap();
            fd_tx.send(accepted.into_owned_fd().unwrap()).unwrap();
            client.write_all(b"ping").unwrap();
            let mut reply = [0u8; 10];
            client.read_exact(&mut reply).unwrap();
            assert_eq!(&reply, b"moved:ping");

            // A second connection, read from here first: with io_uring's
            // multishot receive armed, the move is refused; on epoll it is allowed.
            let mut client = std::net::TcpStream::connect(addr).unwrap();
            let (accepted, _) = listener.accept().await.unwrap();
            client.write_all(b"x").unwrap();
            assert_eq!(&accepted.recv().await.unwrap()[..], b"x");
            match accepted.into_owned_fd() {
                Ok(_) => {}
                Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ResourceBusy),
            }
        })
        .await
        .unwrap();
    });
    other.join().unwrap();
}

#[test]
fn connections_reset_before_accept_are_skipped_not_errors() {
    let rt = rt();
    rt.block_on(async {
        timeout(LIMIT, async {
            let listener = TcpListener::bind(localhost()).unwrap();
            let addr = listener.local_addr().unwrap();
            // 100 connections reset (SO_LINGER 0) while they wait in the
            // kernel's accept queue, then one that stays.
            const RESET: usize = 100;
            for _ in 0..RESET {
                let c = std::net::TcpStream::connect(addr).unwrap();
                set_linger_zero(std::os::fd::AsRawFd::as_raw_fd(&c));
                drop(c);
            }
            let good = std::net::TcpStream::connect(addr).unwrap();
            let good_addr = good.local_addr().unwrap();
            // Every accept succeeds (io_uring skips the reset ones; epoll may
            // hand some out, whose reads then fail), and the good one comes.
            for _ in 0..=RESET {
                let (_s, from) = listener
                    .accept()
                    .await
                    .expect("a reset is not an accept error");
                if from == good_addr {
                    return;
                }
            }
            panic!("the connection that stayed was never accepted");
        })
        .await
        .expect("timed out");
    });
}

#[test]
fn a_reader_that_stops_holds_a_few_buffers_and_loses_nothing() {
    // A pool four times the flood, so only the backlog cap (not a dry
    // pool) can end the receive.
    const TOTAL: usize = 1 << 20;
    let rt = Runtime::builder().recv_buffers(1024, 4096).build().unwrap();
    rt.block_on(async {
        timeout(LIMIT, async {
            let listener = TcpListener::bind(localhost()).unwrap();
            let addr = listener.local_addr().unwrap();
            let data: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
            let sender = std::thread::spawn(move || {
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                c.write_all(&data).unwrap();
            });
            let (s, _) = listener.accept().await.unwrap();
            // Arm the receive (taking what it may already have), then stop
            // reading while the flood arrives.
            let mut received = 0usize;
            if let Ok(first) = timeout(Duration::from_millis(1), s.recv()).await {
                let first = first.unwrap();
                for (k, b) in first.iter().enumerate() {
                    assert_eq!(*b as usize, k % 251);
                }
                received = first.len();
            }
            if rt.driver() == monocoque_runtime::DriverKind::Uring {
                let deadline = Instant::now() + Duration::from_secs(10);
                while rt.stopped_receives() == 0 {
                    assert!(Instant::now() < deadline, "the receive was never stopped");
                    sleep(Duration::from_millis(1)).await;
                }
            }
            // Reading again re-arms it: everything arrives, in order.
            while received < TOTAL {
                let chunk = s.recv().await.unwrap();
                assert!(!chunk.is_empty(), "end of stream after {received} bytes");
                for (k, b) in chunk.iter().enumerate() {
                    assert_eq!(*b as usize, (received + k) % 251, "data lost or reordered");
                }
                received += chunk.len();
            }
            sender.join().unwrap();
        })
        .await
        .expect("timed out");
    });
}
