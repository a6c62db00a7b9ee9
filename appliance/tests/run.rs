//! `monocoque run` as a subprocess, driven by libzmq peers through each kind
//! of service, stopped and reloaded by signals.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn the_embedded_default_forwards_market_data_and_queues_requests() {
    let app = App::start(&[], None);
    assert_eq!(
        app.endpoint("market-data", "frontend"),
        "tcp://127.0.0.1:5556"
    );
    let ctx = zmq::Context::new();

    // Market data: the subscription travels upstream to the publisher.
    let sub = zsock(&ctx, zmq::SUB);
    sub.set_subscribe(b"A").unwrap();
    connect_ready(&ctx, &sub, "tcp://127.0.0.1:5557");
    let publisher = zsock(&ctx, zmq::XPUB);
    connect_ready(&ctx, &publisher, "tcp://127.0.0.1:5556");
    assert_eq!(publisher.recv_bytes(0).unwrap(), b"\x01A");
    publisher.send("B not wanted", 0).unwrap();
    publisher.send("A tick", 0).unwrap();
    assert_eq!(sub.recv_bytes(0).unwrap(), b"A tick");

    // Requests: a REQ client and a REP worker through ROUTER and DEALER.
    let worker = zsock(&ctx, zmq::REP);
    connect_ready(&ctx, &worker, "tcp://127.0.0.1:5560");
    let client = zsock(&ctx, zmq::REQ);
    connect_ready(&ctx, &client, "tcp://127.0.0.1:5559");
    client.send("ping", 0).unwrap();
    assert_eq!(worker.recv_bytes(0).unwrap(), b"ping");
    worker.send("pong", 0).unwrap();
    assert_eq!(client.recv_bytes(0).unwrap(), b"pong");

    app.signal(SIGTERM);
    assert_eq!(app.wait(Duration::from_secs(10)), Some(0));
}

#[test]
fn the_forwarder_fans_out_to_each_subscriber_what_it_subscribed_to() {
    let app = App::start(&[], Some(config_file("fanout", &services(FORWARDER))));
    let ctx = zmq::Context::new();
    let publisher = zsock(&ctx, zmq::XPUB);
    publisher.set_xpub_verbose(true).unwrap();
    connect_ready(&ctx, &publisher, &app.endpoint("md", "frontend"));
    let topics = ["AAPL", "MSFT", "A"];
    let subs: Vec<zmq::Socket> = topics
        .iter()
        .map(|t| {
            let s = zsock(&ctx, zmq::SUB);
            s.set_subscribe(t.as_bytes()).unwrap();
            connect_ready(&ctx, &s, &app.endpoint("md", "backend"));
            s
        })
        .collect();
    // Every subscription reaches the publisher (the XPUB in the box passes
    // new topics upstream; "A" and "AAPL" are different topics).
    let mut seen: Vec<Vec<u8>> = (0..3).map(|_| publisher.recv_bytes(0).unwrap()).collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            b"\x01A".to_vec(),
            b"\x01AAPL".to_vec(),
            b"\x01MSFT".to_vec()
        ]
    );
    for m in ["MSFT 1", "AAPL 2", "IBM 3", "AMZN 4"] {
        publisher.send(m, 0).unwrap();
    }
    publisher.send("END", 0).unwrap(); // matches nobody: not delivered
    let got = |s: &zmq::Socket, n: usize| -> Vec<String> {
        (0..n)
            .map(|_| String::from_utf8(s.recv_bytes(0).unwrap()).unwrap())
            .collect()
    };
    assert_eq!(got(&subs[0], 1), ["AAPL 2"]);
    assert_eq!(got(&subs[1], 1), ["MSFT 1"]);
    assert_eq!(got(&subs[2], 2), ["AAPL 2", "AMZN 4"]);
    for s in &subs {
        s.set_rcvtimeo(0).unwrap();
        assert!(s.recv_bytes(0).is_err(), "nothing else was for it");
    }
}

#[test]
fn the_queue_serves_three_clients_with_three_workers() {
    let app = App::start(&[], Some(config_file("queue", &services(QUEUE))));
    let ctx = zmq::Context::new();
    let workers: Vec<zmq::Socket> = (0..3)
        .map(|_| {
            let w = zsock(&ctx, zmq::REP);
            connect_ready(&ctx, &w, &app.endpoint("rq", "backend"));
            w
        })
        .collect();
    let clients: Vec<zmq::Socket> = (0..3)
        .map(|_| {
            let c = zsock(&ctx, zmq::REQ);
            connect_ready(&ctx, &c, &app.endpoint("rq", "frontend"));
            c
        })
        .collect();
    let mut served = [0usize; 3];
    for round in 0..10 {
        for (i, c) in clients.iter().enumerate() {
            c.send(format!("client {i} request {round}").as_str(), 0)
                .unwrap();
        }
        // Each request lands on some worker; each worker answers what it got.
        for _ in 0..3 {
            let mut items: Vec<zmq::PollItem> = workers
                .iter()
                .map(|w| w.as_poll_item(zmq::POLLIN))
                .collect();
            assert!(
                zmq::poll(&mut items, 10_000).unwrap() > 0,
                "no request arrived"
            );
            let ready: Vec<usize> = (0..3).filter(|&i| items[i].is_readable()).collect();
            let w = ready[0];
            let req = workers[w].recv_bytes(0).unwrap();
            served[w] += 1;
            let mut reply = b"done: ".to_vec();
            reply.extend_from_slice(&req);
            workers[w].send(reply, 0).unwrap();
        }
        for (i, c) in clients.iter().enumerate() {
            assert_eq!(
                c.recv_bytes(0).unwrap(),
                format!("done: client {i} request {round}").as_bytes()
            );
        }
    }
    assert_eq!(served.iter().sum::<usize>(), 30);
    assert!(
        served.iter().all(|&n| n > 0),
        "the DEALER spreads work: {served:?}"
    );
}

const STREAMER: &str = r#"
[[service]]
name = "st"
kind = "streamer"
frontend = { bind = ["tcp://127.0.0.1:0"] }
backend = { bind = ["tcp://127.0.0.1:0"] }
"#;

#[test]
fn the_streamer_carries_pushes_to_pullers_in_order() {
    let app = App::start(&[], Some(config_file("streamer", &services(STREAMER))));
    let ctx = zmq::Context::new();
    let sink = zsock(&ctx, zmq::PULL);
    connect_ready(&ctx, &sink, &app.endpoint("st", "backend"));
    let source = zsock(&ctx, zmq::PUSH);
    connect_ready(&ctx, &source, &app.endpoint("st", "frontend"));
    for i in 0..5000 {
        source.send(format!("{i}").as_str(), 0).unwrap();
    }
    for i in 0..5000 {
        assert_eq!(sink.recv_bytes(0).unwrap(), format!("{i}").as_bytes());
    }
}

#[test]
fn sighup_with_a_bad_config_keeps_serving_and_a_good_one_applies() {
    let path = config_file("reload", &services(&format!("{STREAMER}{QUEUE}")));
    let mut app = App::start(&[], Some(path.clone()));
    let ctx = zmq::Context::new();
    let sink = zsock(&ctx, zmq::PULL);
    connect_ready(&ctx, &sink, &app.endpoint("st", "backend"));
    let source = zsock(&ctx, zmq::PUSH);
    connect_ready(&ctx, &source, &app.endpoint("st", "frontend"));
    source.send("before", 0).unwrap();
    assert_eq!(sink.recv_bytes(0).unwrap(), b"before");

    std::fs::write(&path, "[[service]]\nname = \"st\"\nkind = \"nonsense\"\n").unwrap();
    app.signal(SIGHUP);
    let lines = app.read_report("reload refused");
    assert!(lines.last().unwrap().contains("kind"), "{lines:?}");
    source.send("after a bad reload", 0).unwrap();
    assert_eq!(sink.recv_bytes(0).unwrap(), b"after a bad reload");

    // A good config: the queue goes, the streamer is untouched (its
    // connections carry on), a new bridge starts.
    let bridge = r#"
[[service]]
name = "br"
kind = "bridge"
frontend = { type = "pull", bind = ["tcp://127.0.0.1:0"] }
backend = { type = "pub", bind = ["tcp://127.0.0.1:0"] }
"#;
    std::fs::write(&path, services(&format!("{STREAMER}{bridge}"))).unwrap();
    app.signal(SIGHUP);
    let lines = app.read_report("reloaded");
    assert!(
        lines.iter().any(|l| l == "service rq: removed"),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("service br (bridge)")),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("service st ")),
        "{lines:?}"
    );
    source.send("after a good reload", 0).unwrap();
    assert_eq!(sink.recv_bytes(0).unwrap(), b"after a good reload");

    let sub = zsock(&ctx, zmq::SUB);
    sub.set_subscribe(b"").unwrap();
    connect_ready(&ctx, &sub, &app.endpoint("br", "backend"));
    let push = zsock(&ctx, zmq::PUSH);
    connect_ready(&ctx, &push, &app.endpoint("br", "frontend"));
    // The bridge's PUB drops what it sends before the subscription has
    // reached it (the slow joiner; its subscribers are on an IO core here,
    // one hop further): push until the subscriber hears one, within 10 s.
    sub.set_rcvtimeo(50).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        push.send("bridged", 0).unwrap();
        if let Ok(m) = sub.recv_bytes(0) {
            assert_eq!(m, b"bridged");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing bridged in 10 s"
        );
    }

    app.signal(SIGINT);
    assert_eq!(app.wait(Duration::from_secs(10)), Some(0));
}

#[test]
fn a_port_in_use_is_refused_at_start_with_the_service_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let path = config_file(
        "taken",
        &services(&format!(
            "[[service]]\nname = \"st\"\nkind = \"streamer\"\n\
             frontend = {{ bind = [\"tcp://127.0.0.1:{port}\"] }}\n\
             backend = {{ bind = [\"tcp://127.0.0.1:0\"] }}\n"
        )),
    );
    let _cleanup = config_guard(&path);
    let out = monocoque()
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "service \"st\": frontend: bind tcp://127.0.0.1:{port}"
        )),
        "{err}"
    );
}

/// `monocoque stats` against the app's metrics address: the table's lines.
fn stats(metrics: &str) -> String {
    let out = monocoque()
        .args(["stats", "--metrics", metrics])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn sigterm_delivers_what_the_box_accepted_and_metrics_count_it() {
    let config = STREAMER.to_string() + "[metrics]\nlisten = \"127.0.0.1:0\"\n";
    let mut cmd_app = App::start_with_report(&[], Some(config_file("drain", &config)));
    let metrics = metrics_address(&cmd_app.1);
    let app = &mut cmd_app.0;
    let ctx = zmq::Context::new();
    let sink = zsock(&ctx, zmq::PULL);
    sink.set_rcvhwm(1).unwrap();
    connect_ready(&ctx, &sink, &app.endpoint("st", "backend"));
    let source = zsock(&ctx, zmq::PUSH);
    connect_ready(&ctx, &source, &app.endpoint("st", "frontend"));
    for i in 0..300 {
        source.send(format!("m{i}").as_str(), 0).unwrap();
    }
    // The box has taken all 300 (the sink has not read one yet).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let table = stats(&metrics);
        let front = table
            .lines()
            .find(|l| l.starts_with("st ") && l.contains("frontend"))
            .unwrap()
            .to_string();
        if front.split_whitespace().nth(2) == Some("300") {
            let back = table
                .lines()
                .find(|l| l.starts_with("st ") && l.contains("backend"))
                .unwrap();
            assert_eq!(back.split_whitespace().nth(3), Some("300"), "{table}");
            assert_eq!(
                front.split_whitespace().nth(7),
                Some("1"),
                "one peer: {table}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the box never took 300: {table}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    app.signal(SIGTERM);
    for i in 0..300 {
        assert_eq!(sink.recv_bytes(0).unwrap(), format!("m{i}").as_bytes());
    }
    let app = cmd_app.0;
    assert_eq!(app.wait(Duration::from_secs(10)), Some(0));
}

#[test]
fn malformed_traffic_on_every_port_is_cut_off_and_the_rest_serves() {
    use std::io::{Read, Write};
    let config = format!("{FORWARDER}{QUEUE}[metrics]\nlisten = \"127.0.0.1:0\"\n");
    let (app, report) = App::start_with_report(&[], Some(config_file("hostile", &config)));
    let metrics = metrics_address(&report);
    let garbage: [&[u8]; 3] = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        // A ZMTP 3 greeting with the wrong filler, then more.
        b"\xff\x00\x00\x00\x00\x00\x00\x00\x00\x7e\x03\x01NULL",
        &[0xAB; 600],
    ];
    for (service, side) in [
        ("md", "frontend"),
        ("md", "backend"),
        ("rq", "frontend"),
        ("rq", "backend"),
    ] {
        for bytes in garbage {
            let ep = app.endpoint(service, side);
            let mut s = std::net::TcpStream::connect(ep.trim_start_matches("tcp://")).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let _ = s.write_all(bytes);
            // The box answers with at most its greeting, then closes.
            let mut sink = Vec::new();
            let closed = s.read_to_end(&mut sink);
            assert!(
                closed.is_ok()
                    || closed.as_ref().unwrap_err().kind() == std::io::ErrorKind::ConnectionReset,
                "{service} {side}: still open after garbage: {closed:?}"
            );
        }
    }
    // Every service still serves libzmq peers.
    let ctx = zmq::Context::new();
    let worker = zsock(&ctx, zmq::REP);
    connect_ready(&ctx, &worker, &app.endpoint("rq", "backend"));
    let client = zsock(&ctx, zmq::REQ);
    connect_ready(&ctx, &client, &app.endpoint("rq", "frontend"));
    client.send("still there?", 0).unwrap();
    assert_eq!(worker.recv_bytes(0).unwrap(), b"still there?");
    worker.send("yes", 0).unwrap();
    assert_eq!(client.recv_bytes(0).unwrap(), b"yes");
    let sub = zsock(&ctx, zmq::SUB);
    sub.set_subscribe(b"").unwrap();
    connect_ready(&ctx, &sub, &app.endpoint("md", "backend"));
    let publisher = zsock(&ctx, zmq::XPUB);
    connect_ready(&ctx, &publisher, &app.endpoint("md", "frontend"));
    assert_eq!(publisher.recv_bytes(0).unwrap(), b"\x01");
    publisher.send("tick", 0).unwrap();
    assert_eq!(sub.recv_bytes(0).unwrap(), b"tick");
    // Each failed handshake is counted where it happened.
    let table = stats(&metrics);
    for line in table
        .lines()
        .filter(|l| l.contains(" frontend ") || l.contains(" backend "))
    {
        let failed: u64 = line.split_whitespace().nth(9).unwrap().parse().unwrap();
        assert_eq!(failed, 3, "{table}");
    }
}

#[test]
fn the_throughput_profile_pins_services_and_keeps_housekeeping_apart() {
    let (app, report) = App::start_with_report(
        &["--profile", "throughput"],
        Some(config_file("pinned", &services(QUEUE))),
    );
    let line = report
        .iter()
        .find(|l| l.starts_with("service rq "))
        .unwrap();
    assert!(
        line.contains("profile throughput (--profile), pinned to CPU"),
        "{line}"
    );
    assert!(line.ends_with("parks when idle"), "{line}");
    assert!(
        report
            .iter()
            .any(|l| l.starts_with("housekeeping: the main and metrics threads on CPU")),
        "{report:?}"
    );
    let ctx = zmq::Context::new();
    let worker = zsock(&ctx, zmq::REP);
    connect_ready(&ctx, &worker, &app.endpoint("rq", "backend"));
    let client = zsock(&ctx, zmq::REQ);
    connect_ready(&ctx, &client, &app.endpoint("rq", "frontend"));
    client.send("pinned", 0).unwrap();
    assert_eq!(worker.recv_bytes(0).unwrap(), b"pinned");
}

#[test]
fn sighup_restarts_a_changed_service_and_leaves_the_others_alone() {
    let path = config_file("changed", &services(&format!("{STREAMER}{QUEUE}")));
    let mut app = App::start(&[], Some(path.clone()));
    let ctx = zmq::Context::new();
    // A queue client and worker that must not notice the reload.
    let worker = zsock(&ctx, zmq::REP);
    connect_ready(&ctx, &worker, &app.endpoint("rq", "backend"));
    let client = zsock(&ctx, zmq::REQ);
    connect_ready(&ctx, &client, &app.endpoint("rq", "frontend"));

    let changed = STREAMER.replace(
        "backend = { bind = [\"tcp://127.0.0.1:0\"] }",
        "backend = { bind = [\"tcp://127.0.0.1:0\"], options = { sndhwm = 10 } }",
    );
    assert_ne!(changed, STREAMER);
    std::fs::write(&path, services(&format!("{changed}{QUEUE}"))).unwrap();
    app.signal(SIGHUP);
    let lines = app.read_report("reloaded");
    assert!(
        lines.iter().any(|l| l.starts_with("service st (streamer)")),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("service rq ")),
        "{lines:?}"
    );

    // The queue's connections carried on through the reload.
    client.send("across the reload", 0).unwrap();
    assert_eq!(worker.recv_bytes(0).unwrap(), b"across the reload");
    worker.send("ok", 0).unwrap();
    assert_eq!(client.recv_bytes(0).unwrap(), b"ok");
    // The restarted streamer serves on its new endpoints.
    let sink = zsock(&ctx, zmq::PULL);
    connect_ready(&ctx, &sink, &app.endpoint("st", "backend"));
    let source = zsock(&ctx, zmq::PUSH);
    connect_ready(&ctx, &source, &app.endpoint("st", "frontend"));
    source.send("restarted", 0).unwrap();
    assert_eq!(sink.recv_bytes(0).unwrap(), b"restarted");
}

#[test]
fn the_startup_output_names_each_bind_once() {
    // As a user runs it: the default log level, stdout and stderr together.
    let config = config_file("binds-once", &services(QUEUE));
    let _cleanup = config_guard(&config);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_monocoque"))
        .env_remove("RUST_LOG")
        .args(["run", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut report = String::new();
    while !report.contains("service(s) running") {
        let n = std::io::BufRead::read_line(&mut out, &mut report).unwrap();
        assert!(n > 0, "the appliance ended: {report}");
    }
    assert!(unsafe_free_kill(child.id(), SIGTERM));
    let rest = child.wait_with_output().unwrap();
    let all = format!("{report}{}", String::from_utf8_lossy(&rest.stderr));
    let bound: Vec<&str> = report
        .split_whitespace()
        .filter(|w| w.starts_with("tcp://127.0.0.1:"))
        .map(|w| w.trim_end_matches(';'))
        .collect();
    assert_eq!(bound.len(), 2, "{report}");
    for ep in bound {
        assert_eq!(all.matches(ep).count(), 1, "{ep} in:\n{all}");
    }
}
