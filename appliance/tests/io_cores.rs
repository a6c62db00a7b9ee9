//! Services whose accepted connections are spread over IO cores (the
//! `io_cores` field of a service): a forwarder's subscribers and a queue's
//! clients and workers. The startup report and the plan say so, every peer
//! is served, the connections are shared out over the IO cores (as the
//! metrics endpoint shows), and the IO core threads run.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// The common forwarder `md`, metrics on a free port, two IO cores.
fn config() -> String {
    format!("[metrics]\nlisten = \"127.0.0.1:0\"\n{FORWARDER}io_cores = 2\n")
}

/// `monocoque_io_core_connections` for `service`, per core.
fn io_core_connections(body: &str, service: &str) -> Vec<u64> {
    let mut per_core = Vec::new();
    for core in 0.. {
        let key =
            format!("monocoque_io_core_connections{{service=\"{service}\",core=\"{core}\"}} ");
        match body.lines().find_map(|l| l.strip_prefix(key.as_str())) {
            Some(n) => per_core.push(n.trim().parse().unwrap()),
            None => break,
        }
    }
    per_core
}

#[test]
fn a_forwarder_spreads_its_subscribers_over_two_io_cores() {
    let (app, report) = App::start_with_report(&[], Some(config_file("io-cores", &config())));
    let plan_line = report
        .iter()
        .find(|l| l.contains("IO core"))
        .unwrap_or_else(|| panic!("the report names the IO cores: {report:?}"));
    assert!(plan_line.contains("2 IO core(s)"), "{plan_line}");
    let metrics = metrics_address(&report);
    let (front, back) = (
        app.endpoint("md", "frontend"),
        app.endpoint("md", "backend"),
    );

    let ctx = zmq::Context::new();
    let subscribers: Vec<zmq::Socket> = (0..6)
        .map(|_| {
            let s = zsock(&ctx, zmq::SUB);
            s.set_subscribe(b"").unwrap();
            connect_ready(&ctx, &s, &back);
            s
        })
        .collect();
    let publisher = zsock(&ctx, zmq::PUB);
    connect_ready(&ctx, &publisher, &front);
    // Subscriptions travel up through the forwarder: publish until every
    // subscriber has heard one message, then each hears the marker.
    let deadline = Instant::now() + Duration::from_secs(20);
    for s in &subscribers {
        s.set_rcvtimeo(50).unwrap();
        loop {
            publisher.send("warm-up", 0).unwrap();
            if s.recv_bytes(0).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "a subscriber was never served");
        }
    }
    publisher.send("marker", 0).unwrap();
    for s in &subscribers {
        s.set_rcvtimeo(10_000).unwrap();
        loop {
            let m = s.recv_bytes(0).expect("the marker arrives");
            if m == b"marker" {
                break;
            }
        }
    }
    // Six connections, three on each IO core (round-robin), as the metrics
    // endpoint shows once the service has refreshed them.
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        seen = io_core_connections(&scrape(&metrics).1, "md");
        if seen.iter().sum::<u64>() == 6 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(seen, [3, 3], "connections per IO core");
    // The IO cores are threads of their own.
    let pid = app.child.id();
    let threads: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|c| c.trim().to_string())
        .collect();
    for name in ["monocoque-io-0", "monocoque-io-1"] {
        assert!(threads.iter().any(|t| t == name), "{name} in {threads:?}");
    }
    // Subscribers that leave are counted off.
    drop(subscribers);
    while Instant::now() < deadline {
        seen = io_core_connections(&scrape(&metrics).1, "md");
        if seen.iter().sum::<u64>() == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(seen, [0, 0]);
    app.signal(SIGTERM);
    assert_eq!(app.wait(Duration::from_secs(20)), Some(0));
}

/// Polls the metrics endpoint (it refreshes once a second) until `service`'s
/// IO cores hold `total` connections, within 20 s; returns them per core.
fn await_io_core_connections(metrics: &str, service: &str, total: u64) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = io_core_connections(&scrape(metrics).1, service);
        if seen.iter().sum::<u64>() == total || Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A queue asked for two IO cores spreads both its bound sides: six REQ
/// clients on the ROUTER frontend and a REP worker on the DEALER backend,
/// every request answered through the cores.
#[test]
fn a_queue_spreads_its_clients_and_workers_when_asked() {
    let config = format!("[metrics]\nlisten = \"127.0.0.1:0\"\n{QUEUE}io_cores = 2\n");
    let (app, report) = App::start_with_report(&[], Some(config_file("io-cores-rq", &config)));
    let metrics = metrics_address(&report);
    let (front, back) = (
        app.endpoint("rq", "frontend"),
        app.endpoint("rq", "backend"),
    );
    let ctx = zmq::Context::new();
    let worker = zsock(&ctx, zmq::REP);
    connect_ready(&ctx, &worker, &back);
    let clients: Vec<zmq::Socket> = (0..6)
        .map(|_| {
            let s = zsock(&ctx, zmq::REQ);
            connect_ready(&ctx, &s, &front);
            s
        })
        .collect();
    for round in 0..20 {
        for (i, c) in clients.iter().enumerate() {
            c.send(format!("{i}.{round}").as_bytes(), 0).unwrap();
        }
        for _ in &clients {
            let request = worker.recv_bytes(0).expect("a request within 10 s");
            let mut reply = b"re ".to_vec();
            reply.extend_from_slice(&request);
            worker.send(reply, 0).unwrap();
        }
        for (i, c) in clients.iter().enumerate() {
            let reply = c.recv_bytes(0).expect("a reply within 10 s");
            assert_eq!(reply, format!("re {i}.{round}").into_bytes());
        }
    }
    // The clients three and three (round-robin), the worker on one of the
    // cores (each socket starts its round-robin one core after the last).
    let mut seen = await_io_core_connections(&metrics, "rq", 7);
    seen.sort();
    assert_eq!(seen, [3, 4]);
    drop(clients);
    let left = await_io_core_connections(&metrics, "rq", 1);
    assert_eq!(
        left.iter().sum::<u64>(),
        1,
        "the worker's connection: {left:?}"
    );
    app.signal(SIGTERM);
    assert_eq!(app.wait(Duration::from_secs(20)), Some(0));
}

#[test]
fn io_cores_are_refused_where_nothing_binds_and_planned_by_tune() {
    let connecting = QUEUE.replace(
        "frontend = { bind = [\"tcp://127.0.0.1:0\"] }\nbackend = { bind = [\"tcp://127.0.0.1:0\"] }",
        "frontend = { connect = [\"tcp://127.0.0.1:7001\"] }\n\
         backend = { connect = [\"tcp://127.0.0.1:7002\"] }",
    );
    assert_ne!(connecting, QUEUE);
    let bad = config_file(
        "io-cores-queue",
        &services(&format!("{connecting}io_cores = 2\n")),
    );
    let _bad_cleanup = config_guard(&bad);
    let out = monocoque()
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("io_cores") && err.contains("a side that binds"),
        "{err}"
    );
    let good = config_file(
        "io-cores-plan",
        &services(&format!("{FORWARDER}io_cores = 2\n")),
    );
    let _good_cleanup = config_guard(&good);
    let out = monocoque()
        .args(["tune", "plan", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("2 IO core(s), not pinned"), "{text}");
}
