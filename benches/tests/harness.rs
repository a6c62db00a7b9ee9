//! The harness end to end: each scenario with a small count, every
//! implementation, its two ends in two processes, and the JSON it writes.

use std::process::Command;

fn bench(args: &[&str]) -> serde_json::Value {
    // A directory per call (tests run in parallel), removed once read.
    let name = args.join("_").replace(['-', ',', '/', '.'], "");
    let dir = std::env::temp_dir().join(format!(
        "monocoque-bench-test-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join(format!("{name}.json"));
    let out = Command::new(env!("CARGO_BIN_EXE_monocoque-bench"))
        .args(args)
        .args(["--count", "500", "--warmup", "50", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("median"), "no table: {table}");
    // Every table says where it was measured.
    assert!(table.contains("\nmachine: "), "no machine line: {table}");
    assert!(
        table.contains("\nplacement: "),
        "no placement line: {table}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    for r in v.as_array().unwrap() {
        assert!(r["machine"]["kernel"].is_string(), "{r}");
        assert!(r["machine"]["cpus"].as_u64().unwrap() >= 1, "{r}");
        assert_eq!(r["cores"], serde_json::json!([0, 1]), "{r}");
    }
    v
}

fn impls(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["impl"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn lat_over_tcp_and_ipc_for_every_implementation() {
    for transport in ["tcp", "ipc"] {
        let v = bench(&["lat", "--transport", transport]);
        assert_eq!(
            impls(&v),
            ["monocoque", "libzmq", "zeromq", "raw", "raw-busy-poll"]
        );
        for r in v.as_array().unwrap() {
            let lat = r["latency_us"].as_f64().unwrap();
            let p50 = r["rtt_p50_us"].as_f64().unwrap();
            let max = r["rtt_max_us"].as_f64().unwrap();
            assert!(lat > 0.0 && p50 > 0.0 && max >= p50, "{r}");
            assert_eq!(r["count"], 500);
            assert_eq!(r["transport"], transport);
        }
        assert_eq!(v[0]["profile"], "balanced");
        assert!(v[1]["profile"].is_null());
    }
}

#[test]
fn thr_push_pull_and_pub_sub() {
    for pattern in ["push-pull", "pub-sub"] {
        let v = bench(&["thr", "--pattern", pattern, "--impl", "monocoque,libzmq"]);
        assert_eq!(impls(&v), ["monocoque", "libzmq"]);
        for r in v.as_array().unwrap() {
            assert!(r["msgs_per_s"].as_f64().unwrap() > 0.0, "{r}");
            assert_eq!(r["pattern"], pattern);
            // 550 messages stay under the default HWM: PUB drops none.
            if pattern == "pub-sub" {
                assert_eq!(r["lost"], 0, "{r}");
                assert!(r["delivery_p50_us"].as_f64().unwrap() > 0.0, "{r}");
            }
        }
    }
    let v = bench(&["thr", "--impl", "zeromq"]);
    assert!(v[0]["msgs_per_s"].as_f64().unwrap() > 0.0, "{v}");
}

/// The raw floor's one-way stream is ZMTP frames, counted as messages (the
/// frame walker itself is tested in its module, frames split every way).
#[test]
fn raw_thr_counts_zmtp_messages_over_tcp_and_ipc() {
    for transport in ["tcp", "ipc"] {
        for size in ["64", "1000"] {
            let v = bench(&[
                "thr",
                "--impl",
                "raw",
                "--transport",
                transport,
                "--size",
                size,
            ]);
            assert_eq!(impls(&v), ["raw"]);
            let rate = v[0]["msgs_per_s"].as_f64().unwrap();
            assert!(rate > 0.0 && rate.is_finite(), "{v}");
        }
    }
}

/// `box` through the appliance and through zmq_proxy. The appliance is
/// another crate's binary, which `cargo test -p monocoque-benches` does not
/// build: the test runs when it is beside the harness (`cargo build -p
/// monocoque-appliance`) and says why it did not otherwise.
#[test]
fn box_measures_round_trips_and_a_stream_through_both_boxes() {
    let harness = std::path::Path::new(env!("CARGO_BIN_EXE_monocoque-bench"));
    let appliance = harness.with_file_name("monocoque");
    if !appliance.is_file() {
        eprintln!(
            "skipped: no appliance at {} (cargo build -p monocoque-appliance builds it)",
            appliance.display()
        );
        return;
    }
    let v = bench(&["box", "--impl", "monocoque,libzmq"]);
    assert_eq!(impls(&v), ["monocoque", "libzmq"]);
    for r in v.as_array().unwrap() {
        assert_eq!(r["scenario"], "box", "{r}");
        assert_eq!(r["transport"], "tcp", "{r}");
        let (lat, p50) = (r["latency_us"].as_f64(), r["rtt_p50_us"].as_f64());
        assert!(lat.unwrap() > 0.0 && p50.unwrap() > 0.0, "{r}");
        assert!(r["msgs_per_s"].as_f64().unwrap() > 0.0, "{r}");
        // The publisher waits at its HWM, and 550 messages fit the box's.
        assert_eq!(r["lost"], 0, "{r}");
        assert!(r["delivery_p50_us"].as_f64().unwrap() > 0.0, "{r}");
    }
    assert_eq!(v[0]["profile"], "balanced");
    assert!(v[1]["profile"].is_null());
}

#[test]
fn fanout_counts_every_subscriber_and_times_delivery() {
    let v = bench(&[
        "fanout",
        "--subscribers",
        "3",
        "--impl",
        "monocoque,libzmq,zeromq",
    ]);
    assert_eq!(impls(&v), ["monocoque", "libzmq", "zeromq"]);
    for r in v.as_array().unwrap() {
        assert_eq!(r["peers"], 3, "{r}");
        assert!(r["lost"].as_u64().unwrap() <= 3 * 500, "{r}");
    }
    for r in &v.as_array().unwrap()[..2] {
        assert_eq!(r["lost"], 0, "under the HWM: {r}");
        assert!(r["msgs_per_s"].as_f64().unwrap() > 0.0, "{r}");
        let (p50, max) = (r["delivery_p50_us"].as_f64(), r["delivery_max_us"].as_f64());
        assert!(p50.unwrap() > 0.0 && max.unwrap() >= p50.unwrap(), "{r}");
    }
}

#[test]
fn a_paced_fanout_takes_as_long_as_its_rate_says() {
    let start = std::time::Instant::now();
    let v = bench(&[
        "fanout",
        "--subscribers",
        "2",
        "--rate",
        "5000",
        "--impl",
        "monocoque",
    ]);
    // 550 messages at 5000 a second: at least 110 ms.
    assert!(start.elapsed() >= std::time::Duration::from_millis(110));
    let rate = v[0]["msgs_per_s"].as_f64().unwrap();
    assert!(
        rate < 2.0 * 5000.0 * 1.5,
        "two subscribers at about 5000 each: {rate}"
    );
    assert_eq!(v[0]["lost"], 0);
}

#[test]
fn lb_sums_what_the_dealers_send() {
    let v = bench(&["lb", "--dealers", "3", "--impl", "monocoque,libzmq,zeromq"]);
    assert_eq!(impls(&v), ["monocoque", "libzmq", "zeromq"]);
    for r in v.as_array().unwrap() {
        assert_eq!(r["peers"], 3);
        assert!(r["msgs_per_s"].as_f64().unwrap() > 0.0, "{r}");
    }
}

#[test]
fn svg_plots_every_implementation() {
    let svg = std::env::temp_dir().join(format!("monocoque-harness-{}.svg", std::process::id()));
    bench(&[
        "lat",
        "--impl",
        "monocoque,libzmq",
        "--svg",
        svg.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&svg).unwrap();
    std::fs::remove_file(&svg).unwrap();
    assert!(text.starts_with("<svg"));
    let texts = |name: &str| text.lines().filter(|l| l.trim() == name).count();
    assert_eq!(texts("monocoque (balanced)"), 1, "its legend entry");
    assert_eq!(texts("libzmq"), 1);
}

#[test]
fn suite_writes_its_section_and_refuses_a_busy_machine() {
    let dir = std::env::temp_dir().join(format!("monocoque-suite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let doc = dir.join("BENCH.md");
    std::fs::write(&doc, "# Bench\n\nkept\n").unwrap();
    let suite = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_monocoque-bench"))
            .args(["suite", "--impl", "monocoque", "--profile", "balanced"])
            .args(["--sizes", "64", "--transports", "ipc", "--count", "300"])
            .args(["--warmup", "30", "--doc", doc.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap()
    };
    let mut spinner = Command::new("sh")
        .args(["-c", "while :; do :; done"])
        .spawn()
        .unwrap();
    let busy = suite(&[]);
    spinner.kill().unwrap();
    spinner.wait().unwrap();
    assert!(!busy.status.success());
    let why = String::from_utf8_lossy(&busy.stderr);
    assert!(why.contains("busy") && why.contains("--force"), "{why}");

    let out = suite(&["--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&doc).unwrap();
    assert!(text.starts_with("# Bench\n\nkept\n"), "the rest is kept");
    for heading in [
        "#### lat: 64 bytes",
        "#### thr: 64 bytes",
        "#### fanout: 64 bytes",
        "#### lb: 64 bytes",
    ] {
        assert!(text.contains(heading), "{heading} missing:\n{text}");
    }
    assert!(dir.join("benchmarks-suite.svg").exists());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("benchmarks-suite.json")).unwrap())
            .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 4);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inproc_runs_in_one_process_and_raw_is_skipped() {
    let v = bench(&["lat", "--transport", "inproc", "--runs", "2"]);
    assert_eq!(impls(&v), ["monocoque", "libzmq", "monocoque", "libzmq"]);
    assert_eq!(v[2]["run"], 2);
}

#[test]
fn floor_reports_blocking_and_busy_polling() {
    let v = bench(&["floor"]);
    assert_eq!(impls(&v), ["raw", "raw-busy-poll"]);
}

#[test]
fn bad_arguments_are_refused_with_the_reason() {
    let out = Command::new(env!("CARGO_BIN_EXE_monocoque-bench"))
        .args(["lat", "--cores", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--cores takes two cores"));
}

#[test]
fn ipc_runs_one_after_another_each_get_a_fresh_socket_file() {
    // zmq.rs does not replace a socket file an earlier run left behind.
    let v = bench(&[
        "lat",
        "--transport",
        "ipc",
        "--impl",
        "zeromq",
        "--runs",
        "2",
    ]);
    assert_eq!(impls(&v), ["zeromq", "zeromq"]);
}

/// libzmq's PULL drops what it holds when an ipc sender disconnects
/// (zeromq/libzmq#4660); the sending peer is held open until the measuring
/// side has everything, so the run ends instead of waiting forever.
#[test]
fn libzmq_push_pull_over_ipc_gets_every_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_monocoque-bench"))
        .args([
            "thr",
            "--impl",
            "libzmq",
            "--transport",
            "ipc",
            "--size",
            "1",
        ])
        .args(["--count", "50000", "--warmup", "1000", "--runs", "10"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn soak_holds_idle_connections_and_reports_each_phase_for_both_servers() {
    let dir = std::env::temp_dir().join(format!("monocoque-bench-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("soak.json");
    let out = Command::new(env!("CARGO_BIN_EXE_monocoque-bench"))
        .args(["soak", "--connections", "300", "--duration-secs", "1"])
        .args(["--samples", "100", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "soak failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let rows: Vec<(String, String, u64, u64)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["implementation"].as_str().unwrap().to_string(),
                p["phase"].as_str().unwrap().to_string(),
                p["connections"].as_u64().unwrap(),
                p["fds"].as_u64().unwrap(),
            )
        })
        .collect();
    let shape: Vec<(&str, &str, u64)> = rows
        .iter()
        .map(|(i, p, c, _)| (i.as_str(), p.as_str(), *c))
        .collect();
    assert_eq!(
        shape,
        [
            ("monocoque", "before", 0),
            ("monocoque", "during", 300),
            ("monocoque", "after", 0),
            ("libzmq", "before", 0),
            ("libzmq", "during", 300),
            ("libzmq", "after", 0),
        ]
    );
    // The server held a descriptor per idle connection, and gave them back.
    for imp in rows.chunks(3) {
        let (before, during, after) = (imp[0].3, imp[1].3, imp[2].3);
        assert!(during >= before + 300, "{imp:?}");
        assert!(after <= before + 16, "{imp:?}");
    }
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("| monocoque | during | 300 |"), "{table}");
}
