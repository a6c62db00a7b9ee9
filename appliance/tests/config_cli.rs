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
