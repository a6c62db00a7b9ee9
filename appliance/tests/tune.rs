//! `monocoque tune plan` and `monocoque tune check` against the tuning
//! crate's fixture hosts, for the embedded default's two services: the
//! exact text of tuning/tests/expected/ (plan, then check after `---`).

mod common;

use std::path::PathBuf;

use common::*;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tuning/tests")
}

fn tune(what: &str, host: &str, profile: &str, json: bool) -> (i32, String, String) {
    let mut cmd = monocoque();
    cmd.args(["tune", what, "--profile", profile, "--host-root"])
        .arg(fixtures().join("fixtures").join(host));
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn plan_and_check_print_the_expected_text_for_each_fixture_host() {
    for host in ["two-socket-smt", "vm-2vcpu", "isolated"] {
        for profile in ["latency", "throughput", "balanced", "auto"] {
            let expected = std::fs::read_to_string(
                fixtures()
                    .join("expected")
                    .join(format!("{host}-{profile}.txt")),
            )
            .unwrap();
            let (code, plan, err) = tune("plan", host, profile, false);
            match expected.split_once("---\n") {
                Some((want_plan, want_check)) => {
                    assert_eq!(
                        (code, plan.as_str()),
                        (0, want_plan),
                        "{host} {profile}: {err}"
                    );
                    let (code, check, _) = tune("check", host, profile, false);
                    assert_eq!((code, check.as_str()), (0, want_check), "{host} {profile}");
                }
                None => {
                    assert_eq!(code, 1, "{host} {profile}");
                    assert_eq!(err, expected, "{host} {profile}");
                }
            }
        }
    }
}

#[test]
fn json_output_carries_the_same_plan_and_findings() {
    let (code, plan, _) = tune("plan", "isolated", "latency", true);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(v["services"][0]["wait"]["sq-poll"]["cpu"], 3, "{plan}");
    assert_eq!(v["services"][1]["wait"], "busy-poll", "{plan}");
    assert_eq!(v["services"][1]["ring_entries"], 256, "{plan}");
    assert_eq!(v["housekeeping"], serde_json::json!([0, 4]), "{plan}");
    let (code, check, _) = tune("check", "two-socket-smt", "latency", true);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&check).unwrap();
    assert_eq!(v[0]["severity"], "high", "{check}");
    assert_eq!(
        v[0]["fix"], "cpupower -c 1-2 frequency-set -g performance",
        "{check}"
    );
}
