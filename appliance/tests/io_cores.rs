//! A forwarder whose subscribers' connections are spread over IO cores (the
//! `io_cores` field of a service): the startup report and the plan say so,
//! every subscriber is served, the connections are shared out over the IO
//! cores (as the metrics endpoint shows), and the IO core threads run.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// The common forwarder `md`, metrics on a free port, two IO cores.
fn config() -> String {
    format!("[metrics]\nlisten = \"127.0.0.1:0\"\n{FORWARDER}io_cores = 2\n")
}

/// `monocoque_io_core_connections` for service md, per core.
fn io_core_connections(body: &str) -> Vec<u64> {
    let mut per_core = Vec::new();
    for core in 0.. {
        let key = format!("monocoque_io_core_connections{{service=\"md\",core=\"{core}\"}} ");
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
        seen = io_core_connections(&scrape(&metrics).1);
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
        seen = io_core_connections(&scrape(&metrics).1);
        if seen.iter().sum::<u64>() == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(seen, [0, 0]);
    app.signal(SIGTERM);
    assert_eq!(app.wait(Duration::from_secs(20)), Some(0));
}

#[test]
fn io_cores_are_refused_where_nothing_publishes_and_planned_by_tune() {
    let bad = config_file(
        "io-cores-queue",
        &services(&format!("{QUEUE}io_cores = 2\n")),
    );
    let out = monocoque()
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("io_cores") && err.contains("PUB or XPUB"),
        "{err}"
    );
    let good = config_file(
        "io-cores-plan",
        &services(&format!("{FORWARDER}io_cores = 2\n")),
    );
    let out = monocoque()
        .args(["tune", "plan", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("2 IO core(s), not pinned"), "{text}");
}
