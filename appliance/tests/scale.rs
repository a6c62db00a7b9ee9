//! Scale: the appliance on its embedded default config (moved to ephemeral
//! ports) holds 5,000 handshaken idle SUBs on the market-data backend and
//! 5,000 handshaken idle DEALERs on the requests frontend while libzmq
//! peers keep being served (an XPUB publisher to a SUB, a REQ client to a
//! DEALER worker, and new ones that join while it is crowded); its
//! descriptor count and RSS are reported and bounded (RSS under 1 GiB);
//! when the idle peers leave the box sees every EOF (its descriptors come
//! back down) and serves a new subscriber and a new client. Once per driver (io_uring by default, and
//! epoll), and once with both services spread over two IO cores (the 5,000
//! SUBs on a publisher's fan-out, the 5,000 DEALERs as the ROUTER's pipes
//! across cores), one after the other (each holds 10,000 descriptors in the
//! test process).
//!
//! The idle peers are raw ZMTP 3.1 over `std::net::TcpStream` (greeting and
//! READY written by hand, the box's greeting and READY read back), opened in
//! pipelined batches so 10,000 handshakes take seconds. The default config
//! is `monocoque config default` with its binds moved to 127.0.0.1:0, so
//! nothing else on the machine (another suite using :5556-:5560 or :9464)
//! clashes with it; its options are the embedded default's.

mod common;
#[path = "common/zmtp_raw.rs"]
mod zmtp_raw;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::App;
use zmtp_raw::*;

/// Idle peers per socket.
const IDLE: usize = 5_000;
/// Connections opened before their handshakes are read (below the
/// listener's backlog of 1,024, so a connect never waits on accept).
const BATCH: usize = 100;
/// The bound on one handshake read, and on one connect.
const STEP: Duration = Duration::from_secs(10);
/// RSS bound for the box holding 10,000 connections.
const RSS_LIMIT: u64 = 1024 * MIB;

/// The runs hold 10,000 descriptors each: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Opens `n` connections to `endpoint` announcing `socket_type` and
/// completes each handshake; panics naming the first one that fails.
fn open_idle(endpoint: &str, socket_type: &str, n: usize) -> Vec<TcpStream> {
    let started = Instant::now();
    let to: SocketAddr = addr(endpoint).parse().unwrap();
    let bytes = hello(socket_type);
    let mut all = Vec::with_capacity(n);
    while all.len() < n {
        let first = all.len();
        let mut batch = Vec::with_capacity(BATCH);
        for i in first..(first + BATCH).min(n) {
            let mut s = TcpStream::connect_timeout(&to, STEP).unwrap_or_else(|e| {
                panic!(
                    "idle {socket_type} {i} of {n}: connect to {endpoint} failed after {:?}: {e}",
                    started.elapsed()
                )
            });
            s.set_read_timeout(Some(STEP)).unwrap();
            s.set_write_timeout(Some(STEP)).unwrap();
            s.write_all(&bytes)
                .unwrap_or_else(|e| panic!("idle {socket_type} {i} of {n}: hello: {e}"));
            batch.push(s);
        }
        for (j, s) in batch.iter_mut().enumerate() {
            read_handshake(s).unwrap_or_else(|e| {
                panic!(
                    "idle {socket_type} {} of {n} on {endpoint}: no greeting and READY from \
                     the box ({e}) after {:?}",
                    first + j,
                    started.elapsed()
                )
            });
        }
        all.extend(batch);
    }
    println!(
        "{n} idle {socket_type}s handshaken on {endpoint} in {:?}",
        started.elapsed()
    );
    all
}

fn report(app: &App, when: &str) -> (usize, u64) {
    let (fds, rss) = (open_fds(pid(app)), rss(pid(app)));
    println!(
        "{when}: appliance holds {fds} descriptors, RSS {} MiB",
        rss / MIB
    );
    (fds, rss)
}

/// The default config (on ephemeral ports) with `io_cores = 2` on both
/// services.
fn default_config_spread_over_two_io_cores() -> String {
    let mut text = default_config_on_ephemeral_ports();
    for service in ["market-data", "requests"] {
        let name = format!("name = \"{service}\"\n");
        assert!(text.contains(&name), "the default has {service}: {text}");
        text = text.replace(&name, &format!("{name}io_cores = 2\n"));
    }
    text
}

fn ten_thousand_idle_peers_while_libzmq_peers_are_served(driver: Driver, spread: bool) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let test_started = Instant::now();
    let limit = monocoque_runtime::raise_open_files_limit().expect("raise RLIMIT_NOFILE");
    assert!(
        limit.after >= (2 * IDLE + 512) as u64,
        "this test needs {} descriptors, the hard limit allows {}",
        2 * IDLE + 512,
        limit.after
    );
    let mut app = if spread {
        start_config(
            &format!("scale-{driver:?}-io-cores"),
            &default_config_spread_over_two_io_cores(),
            driver,
        )
    } else {
        start_default(&format!("scale-{driver:?}"), driver)
    };
    let mut served = Served::new(&app);
    let label = if spread {
        format!("{driver:?} on IO cores")
    } else {
        format!("{driver:?}")
    };
    let (fds_before, _) = report(&app, &format!("{label}: before"));

    let subs = open_idle(&app.endpoint("market-data", "backend"), "SUB", IDLE);
    let dealers = open_idle(&app.endpoint("requests", "frontend"), "DEALER", IDLE);

    let (fds, rss) = report(&app, &format!("{label}: with {} idle peers", 2 * IDLE));
    if spread {
        // Every idle peer landed on an IO core (two per service).
        let threads = std::fs::read_dir(format!("/proc/{}/task", pid(&app)))
            .unwrap()
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|c| c.starts_with("monocoque-io-"))
            .count();
        assert_eq!(threads, 4, "two IO cores for each service");
    }
    assert!(
        fds >= fds_before + 2 * IDLE && fds <= fds_before + 2 * IDLE + 256,
        "one descriptor per connection: {fds} (was {fds_before})"
    );
    assert!(
        rss < RSS_LIMIT,
        "RSS {} MiB with {} connections",
        rss / MIB,
        2 * IDLE
    );

    // The working peers carry on, and new ones join the crowd and are served.
    served.check("with 10,000 idle peers");
    served
        .add_subscriber(STEP)
        .unwrap_or_else(|e| panic!("with 10,000 idle peers: {e}"));
    served
        .add_client(STEP)
        .unwrap_or_else(|e| panic!("with 10,000 idle peers: {e}"));
    served.check("with 10,000 idle peers, new peers included");
    assert_alive(&mut app, "with 10,000 idle peers");

    // All idle peers leave: the box sees every EOF and closes its side.
    drop(subs);
    drop(dealers);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let fds = open_fds(pid(&app));
        if fds <= fds_before + 16 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "30 s after 10,000 peers left the box still holds {fds} descriptors (was {fds_before})"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    report(&app, &format!("{label}: after the idle peers left"));
    served.check("after the idle peers left");
    served
        .add_subscriber(STEP)
        .unwrap_or_else(|e| panic!("after the idle peers left: {e}"));
    served
        .add_client(STEP)
        .unwrap_or_else(|e| panic!("after the idle peers left: {e}"));
    served.check("after the idle peers left, new peers included");
    assert_alive(&mut app, "after the idle peers left");
    println!("{label}: the whole run took {:?}", test_started.elapsed());
}

#[test]
fn ten_thousand_idle_peers_while_libzmq_peers_are_served_io_uring() {
    ten_thousand_idle_peers_while_libzmq_peers_are_served(Driver::Default, false);
}

#[test]
fn ten_thousand_idle_peers_on_io_cores_while_libzmq_peers_are_served() {
    ten_thousand_idle_peers_while_libzmq_peers_are_served(Driver::Default, true);
}

#[test]
fn ten_thousand_idle_peers_while_libzmq_peers_are_served_epoll() {
    ten_thousand_idle_peers_while_libzmq_peers_are_served(Driver::Epoll, false);
}
