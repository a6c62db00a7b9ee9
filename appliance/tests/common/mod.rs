//! Runs the `monocoque` binary as a subprocess and drives it with libzmq
//! peers (the `zmq` crate).

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

/// The appliance, killed on drop unless it was stopped.
pub struct App {
    pub child: Child,
    pub out: BufReader<ChildStdout>,
    /// service name -> ("frontend" | "backend" -> bound endpoint, with 127.0.0.1).
    pub bound: HashMap<String, HashMap<String, String>>,
    pub config: Option<PathBuf>,
}

/// A config file in a fresh temporary directory.
pub fn config_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("monocoque-app-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("appliance.toml");
    std::fs::write(&path, text).unwrap();
    path
}

pub fn monocoque() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_monocoque"));
    c.env("RUST_LOG", "warn");
    c
}

impl App {
    /// Starts `monocoque run` with `args` and reads its report up to the
    /// "running" line.
    pub fn start(args: &[&str], config: Option<PathBuf>) -> App {
        App::start_with_report(args, config).0
    }

    /// As `start`, also returning the report's lines.
    pub fn start_with_report(args: &[&str], config: Option<PathBuf>) -> (App, Vec<String>) {
        let mut cmd = monocoque();
        cmd.arg("run").args(args);
        if let Some(c) = &config {
            cmd.arg("--config").arg(c);
        }
        let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut app = App {
            child,
            out,
            bound: HashMap::new(),
            config,
        };
        let lines = app.read_report("service(s) running");
        (app, lines)
    }

    /// `monocoque run --config CONFIG` under `sh -c "ulimit ULIMIT && exec
    /// ..."` (a limit for the child only), its stderr going to `stderr`;
    /// returns it with its startup report.
    pub fn start_under_ulimit(config: PathBuf, ulimit: &str, stderr: Stdio) -> (App, Vec<String>) {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit {ulimit} && exec \"$0\" run --config \"$1\""
            ))
            .arg(env!("CARGO_BIN_EXE_monocoque"))
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut app = App {
            out,
            child,
            bound: HashMap::new(),
            config: Some(config),
        };
        let report = app.read_report("service(s) running");
        (app, report)
    }

    /// Kills the app (started with a piped stderr) and returns what it wrote
    /// to stderr.
    pub fn kill_for_stderr(&mut self) -> String {
        use std::io::Read;
        self.child.kill().unwrap();
        let _ = self.child.wait();
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .expect("started with a piped stderr")
            .read_to_string(&mut stderr)
            .unwrap();
        stderr
    }

    /// Reads stdout lines until one contains `until`, recording bound
    /// endpoints; returns the lines.
    pub fn read_report(&mut self, until: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.out.read_line(&mut line).unwrap();
            assert!(n > 0, "the appliance ended before {until:?}: {lines:?}");
            let line = line.trim_end().to_string();
            if let Some(rest) = line.strip_prefix("service ") {
                let name = rest.split(' ').next().unwrap().to_string();
                for side in ["frontend", "backend"] {
                    if let Some(i) = rest.find(&format!("{side} ")) {
                        let after = &rest[i..];
                        if let Some(b) = after.find("bound ") {
                            let ep = after[b + 6..]
                                .split([' ', ';', ','])
                                .next()
                                .unwrap()
                                .replace("0.0.0.0", "127.0.0.1");
                            self.bound
                                .entry(name.clone())
                                .or_default()
                                .insert(side.to_string(), ep);
                        }
                    }
                }
            }
            let done = line.contains(until);
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    pub fn endpoint(&self, service: &str, side: &str) -> String {
        self.bound[service][side].clone()
    }

    pub fn signal(&self, sig: i32) {
        let r = unsafe_free_kill(self.child.id(), sig);
        assert!(r, "kill failed");
    }

    /// Waits for the exit (bounded) and returns its code.
    pub fn wait(mut self, within: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the appliance did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// `kill -SIG pid` through the kill(1) command: no unsafe in tests.
pub fn unsafe_free_kill(pid: u32, sig: i32) -> bool {
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        drop(self.config.as_deref().and_then(config_guard));
    }
}

/// Removes a test's temporary directory when dropped.
pub struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes the directory [`config_file`] made for `config` when dropped
/// (a path made otherwise is left alone), also when the test fails.
pub fn config_guard(config: &std::path::Path) -> Option<RemoveOnDrop> {
    let dir = config.parent()?;
    let prefix = format!("monocoque-app-{}-", std::process::id());
    let made_here = dir
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(&prefix));
    made_here.then(|| RemoveOnDrop(dir.to_path_buf()))
}

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGTERM: i32 = 15;

/// A libzmq socket with a receive timeout, so a test fails instead of hanging.
pub fn zsock(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(kind).unwrap();
    s.set_rcvtimeo(10_000).unwrap();
    s.set_sndtimeo(10_000).unwrap();
    s.set_linger(1000).unwrap();
    s
}

/// Connects `s` and waits until its handshake with the appliance is done.
pub fn connect_ready(ctx: &zmq::Context, s: &zmq::Socket, endpoint: &str) {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mon = format!("inproc://mon-{}-{n}", std::process::id());
    s.monitor(&mon, zmq::SocketEvent::HANDSHAKE_SUCCEEDED as i32)
        .unwrap();
    let m = ctx.socket(zmq::PAIR).unwrap();
    m.set_rcvtimeo(10_000).unwrap();
    m.connect(&mon).unwrap();
    s.connect(endpoint).unwrap();
    let event = m.recv_bytes(0).expect("no handshake within 10 s");
    let _ = m.recv_bytes(0);
    let id = u16::from_le_bytes([event[0], event[1]]);
    assert_eq!(id, zmq::SocketEvent::HANDSHAKE_SUCCEEDED as u16);
}

/// A streamer service `st` (PULL frontend, PUSH backend) on ephemeral
/// ports, with the metrics endpoint on one too.
pub const STREAMER: &str = r#"
[metrics]
listen = "127.0.0.1:0"

[[service]]
name = "st"
kind = "streamer"
frontend = { bind = ["tcp://127.0.0.1:0"] }
backend = { bind = ["tcp://127.0.0.1:0"] }
"#;

/// A config with metrics off and the given services.
pub fn services(body: &str) -> String {
    format!("[metrics]\nlisten = \"off\"\n{body}")
}

/// A forwarder `md` with both sides on free ports (for [`services`]).
pub const FORWARDER: &str = r#"
[[service]]
name = "md"
kind = "forwarder"
frontend = { bind = ["tcp://127.0.0.1:0"] }
backend = { bind = ["tcp://127.0.0.1:0"] }
"#;

/// A queue `rq` with both sides on free ports (for [`services`]).
pub const QUEUE: &str = r#"
[[service]]
name = "rq"
kind = "queue"
frontend = { bind = ["tcp://127.0.0.1:0"] }
backend = { bind = ["tcp://127.0.0.1:0"] }
"#;

/// The metrics address (host:port) in a startup report.
pub fn metrics_address(report: &[String]) -> String {
    report
        .iter()
        .find_map(|l| l.strip_prefix("metrics on http://"))
        .map(|l| l.trim_end_matches("/metrics").to_string())
        .expect("the app reports its metrics address")
}

/// One `GET /metrics` on a fresh connection, bounded by a 10 s read timeout;
/// the response's status line and body.
pub fn scrape(addr: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response)
        .expect("the scrape is answered within 10 s");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    (head.lines().next().unwrap().to_string(), body.to_string())
}
