//! 64-byte TCP ping-pong between two processes pinned to different cores: the
//! runtime in each wait strategy (and on the epoll driver) beside plain blocking
//! sockets and busy-polling sockets, all in one run.
//!
//! ```sh
//! cargo bench -p monocoque-runtime --bench pingpong                 # 100k round trips each
//! cargo bench -p monocoque-runtime --bench pingpong -- --count 20000 --only blocking,busy-poll
//! ```
//!
//! Reports latency as libzmq's perf tools do (round trip / 2, mean) and the round
//! trip's p50, p99, p99.9 and max. The peer is this binary re-executed with
//! `--serve`; client and server use the same technique.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use hdrhistogram::Histogram;
use monocoque_runtime::{net, Runtime, WaitStrategy};

const SIZE: usize = 64;

#[derive(Clone, Copy, Debug)]
enum Variant {
    Blocking,
    BusyPoll,
    UringPark,
    UringBusyPoll,
    UringBusyPollFixed,
    UringSqPoll,
    EpollPark,
    EpollBusyPoll,
}

const ALL: [Variant; 8] = [
    Variant::Blocking,
    Variant::BusyPoll,
    Variant::UringPark,
    Variant::UringBusyPoll,
    Variant::UringBusyPollFixed,
    Variant::UringSqPoll,
    Variant::EpollPark,
    Variant::EpollBusyPoll,
];

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Blocking => "blocking",
            Variant::BusyPoll => "busy-poll",
            Variant::UringPark => "uring-park",
            Variant::UringBusyPoll => "uring-busy-poll",
            Variant::UringBusyPollFixed => "uring-busy-poll-fixed",
            Variant::UringSqPoll => "uring-sqpoll",
            Variant::EpollPark => "epoll-park",
            Variant::EpollBusyPoll => "epoll-busy-poll",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Variant::Blocking => "raw: blocking send/recv",
            Variant::BusyPoll => "raw: non-blocking recv in a spin",
            Variant::UringPark => "runtime, io_uring, park",
            Variant::UringBusyPoll => {
                "runtime, io_uring, busy-poll (SINGLE_ISSUER + DEFER_TASKRUN)"
            }
            Variant::UringBusyPollFixed => {
                "as above, sends copied into registered buffers (WRITE_FIXED)"
            }
            Variant::UringSqPoll => "runtime, io_uring, SQPOLL (kernel thread, idle 50 ms)",
            Variant::EpollPark => "runtime, epoll fallback, park",
            Variant::EpollBusyPoll => "runtime, epoll fallback, busy-poll",
        }
    }

    fn from_name(n: &str) -> Option<Variant> {
        ALL.into_iter().find(|v| v.name() == n)
    }

    /// The runtime for runtime variants (sets the driver for this process).
    fn runtime(self) -> Option<Runtime> {
        let (driver, wait) = match self {
            Variant::Blocking | Variant::BusyPoll => return None,
            Variant::UringPark => ("uring", WaitStrategy::Park),
            Variant::UringBusyPoll | Variant::UringBusyPollFixed => {
                ("uring", WaitStrategy::BusyPoll)
            }
            Variant::UringSqPoll => (
                "uring",
                WaitStrategy::SqPoll {
                    cpu: None,
                    idle: Duration::from_millis(50),
                },
            ),
            Variant::EpollPark => ("epoll", WaitStrategy::Park),
            Variant::EpollBusyPoll => ("epoll", WaitStrategy::BusyPoll),
        };
        std::env::set_var("MONOCOQUE_DRIVER", driver);
        Some(
            Runtime::builder()
                .wait_strategy(wait)
                .build()
                .expect("runtime"),
        )
    }
}

/// Pins to a CPU by its id. Not relative to core_affinity::get_core_ids(): a
/// child inherits its parent's affinity, so after the parent pins itself the list
/// seen there holds only the parent's core.
fn pin(core: usize) {
    assert!(
        core_affinity::set_for_current(core_affinity::CoreId { id: core }),
        "could not pin to CPU {core}"
    );
}

fn spin_read_exact(s: &mut TcpStream, buf: &mut [u8]) {
    let mut got = 0;
    while got < buf.len() {
        match s.read(&mut buf[got..]) {
            Ok(0) => panic!("peer closed"),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) => panic!("{e}"),
        }
    }
}

/// Receives one 64-byte message with the zero-copy `recv` (multishot RECV on
/// io_uring); returns it as one `Bytes` (gathered only if it arrived split).
async fn rt_read_exact(s: &net::TcpStream, mut acc: BytesMut) -> (Bytes, BytesMut) {
    let first = s.recv().await.expect("recv");
    assert!(!first.is_empty(), "peer closed");
    if first.len() == SIZE {
        return (first, acc);
    }
    acc.clear();
    acc.extend_from_slice(&first);
    while acc.len() < SIZE {
        let more = s.recv().await.expect("recv");
        assert!(!more.is_empty(), "peer closed");
        acc.extend_from_slice(&more);
    }
    (acc.split().freeze(), acc)
}

/// The echo side, in the child process.
fn serve(variant: Variant, listener: TcpListener, rounds: usize) {
    pin(1);
    match variant.runtime() {
        None => {
            let (mut s, _) = listener.accept().unwrap();
            s.set_nodelay(true).unwrap();
            if let Variant::BusyPoll = variant {
                s.set_nonblocking(true).unwrap();
            }
            let mut buf = [0u8; SIZE];
            for _ in 0..rounds {
                if let Variant::BusyPoll = variant {
                    spin_read_exact(&mut s, &mut buf);
                } else {
                    s.read_exact(&mut buf).unwrap();
                }
                s.write_all(&buf).unwrap();
            }
        }
        Some(rt) => {
            let addr = listener.local_addr().unwrap();
            drop(listener);
            rt.block_on(async move {
                let l = net::TcpListener::bind(addr).unwrap();
                println!("ready");
                let (s, _) = l.accept().await.unwrap();
                let mut buf = BytesMut::with_capacity(4096);
                for _ in 0..rounds {
                    let (msg, b) = rt_read_exact(&s, buf).await;
                    buf = b;
                    s.write_all(msg).await.unwrap();
                }
            });
        }
    }
}

/// The measuring side: returns the round-trip histogram in nanoseconds.
fn client(variant: Variant, addr: SocketAddr, warmup: usize, count: usize) -> Histogram<u64> {
    pin(0);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap();
    let payload = [0x5Au8; SIZE];
    match variant.runtime() {
        None => {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_nodelay(true).unwrap();
            let busy = matches!(variant, Variant::BusyPoll);
            s.set_nonblocking(busy).unwrap();
            let mut buf = [0u8; SIZE];
            for i in 0..warmup + count {
                let t = Instant::now();
                s.write_all(&payload).unwrap();
                if busy {
                    spin_read_exact(&mut s, &mut buf);
                } else {
                    s.read_exact(&mut buf).unwrap();
                }
                if i >= warmup {
                    hist.record(t.elapsed().as_nanos() as u64).unwrap();
                }
            }
        }
        Some(rt) => {
            rt.block_on(async {
                let s = net::TcpStream::connect(addr).await.unwrap();
                let payload = Bytes::copy_from_slice(&payload);
                let mut buf = BytesMut::with_capacity(4096);
                for i in 0..warmup + count {
                    let t = Instant::now();
                    s.write_all(payload.clone()).await.unwrap();
                    let (_, b) = rt_read_exact(&s, buf).await;
                    buf = b;
                    if i >= warmup {
                        hist.record(t.elapsed().as_nanos() as u64).unwrap();
                    }
                }
            });
        }
    }
    hist
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(v) = arg(&args, "--serve") {
        let variant = Variant::from_name(&v).expect("variant");
        let rounds: usize = arg(&args, "--rounds").unwrap().parse().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        println!("{}", listener.local_addr().unwrap());
        std::io::stdout().flush().unwrap();
        serve(variant, listener, rounds);
        return;
    }
    let count: usize = arg(&args, "--count").map_or(100_000, |c| c.parse().unwrap());
    let warmup = (count / 10).max(1000);
    let only: Option<Vec<String>> =
        arg(&args, "--only").map(|s| s.split(',').map(String::from).collect());
    println!(
        "| variant | how | RTT/2 mean (us) | RTT p50 (us) | p99 (us) | p99.9 (us) | max (us) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for variant in ALL {
        if let Some(only) = &only {
            if !only.iter().any(|o| o == variant.name()) {
                continue;
            }
        }
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--serve",
                variant.name(),
                "--rounds",
                &(warmup + count).to_string(),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the peer");
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        let addr: SocketAddr = line.trim().parse().expect("peer address");
        if variant.runtime_kind() {
            line.clear();
            std::io::BufRead::read_line(&mut out, &mut line).unwrap();
            assert_eq!(line.trim(), "ready");
        }
        let h = client(variant, addr, warmup, count);
        child.wait().unwrap();
        let us = |ns: u64| ns as f64 / 1000.0;
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            variant.name(),
            variant.describe(),
            h.mean() / 2000.0,
            us(h.value_at_quantile(0.5)),
            us(h.value_at_quantile(0.99)),
            us(h.value_at_quantile(0.999)),
            us(h.max()),
        );
    }
}

impl Variant {
    fn runtime_kind(self) -> bool {
        !matches!(self, Variant::Blocking | Variant::BusyPoll)
    }
}
