//! A peer in another process (pyzmq's libzmq, JeroMQ) that speaks a line
//! protocol on stdout: "ENDPOINT <ep>" once bound (or "STARTED"), then
//! "OK <n>" or "FAIL <reason>" when its exchange is over.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};

use super::jeromq_build::jeromq_peer_command;
use super::until;

/// A running peer process; killed when dropped.
pub struct PeerProcess {
    child: Child,
    lines: Receiver<String>,
    name: &'static str,
}

impl PeerProcess {
    /// `tests/peers/<script>` under python3 (pyzmq).
    pub fn python(script: &str, args: &[String]) -> PeerProcess {
        let path = format!("{}/tests/peers/{script}", env!("CARGO_MANIFEST_DIR"));
        let mut cmd = Command::new("python3");
        cmd.arg(path).args(args);
        PeerProcess::spawn(cmd, "libzmq peer")
    }

    /// `tests/peers/JeromqPeer.java` on JeroMQ 0.3.6 (compiled once per
    /// test binary).
    pub fn jeromq(args: &[&str]) -> PeerProcess {
        let mut cmd = jeromq_peer_command();
        cmd.args(args);
        PeerProcess::spawn(cmd, "JeroMQ peer")
    }

    fn spawn(mut cmd: Command, name: &'static str) -> PeerProcess {
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot start {cmd:?}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        PeerProcess { child, lines, name }
    }

    /// The next line the peer prints, while our runtime keeps serving.
    pub async fn line(&mut self) -> String {
        let mut got = None;
        until(self.name, || {
            got = self.lines.try_recv().ok();
            got.is_some()
        })
        .await;
        let line = got.unwrap();
        eprintln!("{}: {line}", self.name);
        line
    }

    /// Its bound endpoint (the first line of a binding peer).
    pub async fn endpoint(&mut self) -> String {
        let line = self.line().await;
        line.strip_prefix("ENDPOINT ")
            .unwrap_or_else(|| panic!("expected the endpoint, got {line:?}"))
            .to_string()
    }

    /// Waits for the line that starts with `prefix` (skipping others), and
    /// returns the rest of it.
    pub async fn expect(&mut self, prefix: &str) -> String {
        loop {
            let line = self.line().await;
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.to_string();
            }
            assert!(
                !line.starts_with("OK") && !line.starts_with("FAIL"),
                "{}: expected {prefix:?}, got the verdict {line:?}",
                self.name
            );
        }
    }

    /// Waits for its verdict and its exit; panics unless it is OK.
    pub async fn finish(mut self) -> String {
        let verdict = loop {
            let line = self.line().await;
            if line.starts_with("OK") || line.starts_with("FAIL") {
                break line;
            }
        };
        let mut status = None;
        until("the peer to exit", || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        })
        .await;
        assert!(verdict.starts_with("OK"), "{}: {verdict}", self.name);
        assert!(status.unwrap().success());
        verdict
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
