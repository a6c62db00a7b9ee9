//! The harness end to end: each scenario with a small count, every
//! implementation, its two ends in two processes, and the JSON it writes.

use std::process::Command;

fn bench(args: &[&str]) -> serde_json::Value {
    let dir = std::env::temp_dir().join(format!("monocoque-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join(format!("{}.json", args.join("_").replace(['-', ','], "")));
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
    serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap()
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
        assert_eq!(impls(&v), ["monocoque", "libzmq", "raw", "raw-busy-poll"]);
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
        }
    }
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
