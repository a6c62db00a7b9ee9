//! `monocoque config check` and `monocoque config default`.

mod common;

use common::*;

#[test]
fn config_default_prints_the_embedded_config_and_it_checks() {
    let out = monocoque().args(["config", "default"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("kind = \"forwarder\""), "{text}");
    let path = config_file("default", &text);
    let _cleanup = config_guard(&path);
    let out = monocoque()
        .args(["config", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!(
            "{}: ok (2 service(s): market-data (forwarder), requests (queue))\n",
            path.display()
        )
    );
}

#[test]
fn config_check_names_the_file_line_and_field_and_fails() {
    let path = config_file(
        "bad",
        "[[service]]\nname = \"md\"\nkind = \"forwarder\"\n\
         frontend = { bind = [\"tcp://*:5556\"] }\n\
         backend = { bind = [\"tcp://*:5557\"], options = { sndhmw = 10 } }\n",
    );
    let _cleanup = config_guard(&path);
    let out = monocoque()
        .args(["config", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with(&format!(
            "error: {}:5:59: service \"md\" backend option sndhmw: no such option",
            path.display()
        )),
        "{err}"
    );
}

/// The example configs in deploy/examples pass the check and place on the
/// 2-socket fixture host.
#[test]
fn the_deploy_examples_check_and_place() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples");
    let host = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tuning/tests/fixtures/two-socket-smt");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let out = monocoque()
            .args(["config", "check"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let out = monocoque()
            .args(["tune", "plan", "--config"])
            .arg(&path)
            .arg("--host-root")
            .arg(&host)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        seen += 1;
    }
    assert_eq!(seen, 2);
}

/// Two services on the same port, `*` and 127.0.0.1, and a service on the
/// metrics listener's port: `config check` and `run` refuse both alike,
/// pointing at the later bind.
#[test]
fn overlapping_binds_are_refused_by_check_and_run_at_the_later_line() {
    let cases = [
        (
            "overlap-services",
            "[metrics]\nlisten = \"off\"\n\
             [[service]]\nname = \"a\"\nkind = \"streamer\"\n\
             frontend = { bind = [\"tcp://*:7101\"] }\n\
             backend = { bind = [\"tcp://*:7102\"] }\n\
             [[service]]\nname = \"b\"\nkind = \"streamer\"\n\
             frontend = { bind = [\"tcp://127.0.0.1:7101\"] }\n\
             backend = { bind = [\"tcp://*:7103\"] }\n",
            "11:22: service \"b\" frontend bind: tcp://127.0.0.1:7101 overlaps tcp://*:7101 \
             (bound by service \"a\" frontend at line 6)",
        ),
        (
            "overlap-metrics",
            "[[service]]\nname = \"a\"\nkind = \"streamer\"\n\
             frontend = { bind = [\"tcp://*:7104\"] }\n\
             backend = { bind = [\"tcp://*:7105\"] }\n\
             [metrics]\nlisten = \"127.0.0.1:7105\"\n",
            "7:10: metrics.listen: 127.0.0.1:7105 overlaps tcp://*:7105 \
             (bound by service \"a\" backend at line 5)",
        ),
    ];
    for (name, text, what) in cases {
        let path = config_file(name, text);
        let _cleanup = config_guard(&path);
        let expected = format!("error: {}:{what}\n", path.display());
        let out = monocoque()
            .args(["config", "check"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(String::from_utf8(out.stderr).unwrap(), expected);
        let out = monocoque()
            .args(["run", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(String::from_utf8(out.stderr).unwrap(), expected);
    }
}
