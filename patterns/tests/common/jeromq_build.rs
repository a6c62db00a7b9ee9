//! JeroMQ 0.3.6 (Debian's libjeromq-java, a ZMTP 2.0 implementation) and
//! the test peer built on it, `patterns/tests/peers/JeromqPeer.java`.
//! Shared with the appliance's tests, which include this file by path.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Where Debian puts JeroMQ's jar; `.ci/run` installs it.
pub const JEROMQ_JAR: &str = "/usr/share/java/jeromq.jar";

/// A `java` command running JeromqPeer (arguments still to add).
pub fn jeromq_peer_command() -> Command {
    let mut cmd = Command::new("java");
    cmd.arg("-cp")
        .arg(format!("{JEROMQ_JAR}:{}", jeromq_classes().display()))
        .arg("JeromqPeer");
    cmd
}

/// The compiled JeromqPeer classes: compiled on first use into the target
/// directory (into a fresh directory renamed into place, so a half-written
/// class is never run).
pub fn jeromq_classes() -> PathBuf {
    static CLASSES: OnceLock<PathBuf> = OnceLock::new();
    CLASSES
        .get_or_init(|| {
            assert!(
                std::path::Path::new(JEROMQ_JAR).exists(),
                "these tests need JeroMQ 0.3.6 (apt-get install libjeromq-java); .ci/run installs it"
            );
            let source = concat!(env!("CARGO_MANIFEST_DIR"), "/../patterns/tests/peers/JeromqPeer.java");
            let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
            let staging = root.join(format!("jeromq-peer.{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&staging);
            let status = Command::new("javac")
                .args(["-nowarn", "-cp", JEROMQ_JAR, "-d"])
                .arg(&staging)
                .arg(source)
                .status()
                .expect("javac runs (a JDK is needed for the JeroMQ tests)");
            assert!(status.success(), "javac failed on {source}");
            let classes = root.join(format!("jeromq-peer-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&classes);
            std::fs::rename(&staging, &classes).expect("classes moved into place");
            classes
        })
        .clone()
}
