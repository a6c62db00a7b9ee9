//! ZMTP 2.0 peers through the appliance: JeroMQ 0.3.6 (Debian's
//! libjeromq-java) clients and workers through a queue, a JeroMQ publisher
//! and subscribers through a forwarder, beside libzmq peers on the same
//! services. The JeroMQ side is patterns/tests/peers/JeromqPeer.java;
//! `.ci/run` installs JeroMQ and a JDK.

mod common;
#[path = "../../patterns/tests/common/jeromq_build.rs"]
mod jeromq_build;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use common::*;

const WITHIN: Duration = Duration::from_secs(20);

/// A running JeroMQ peer; its stdout lines arrive on a channel.
struct Jeromq {
    child: Child,
    lines: Receiver<String>,
}

impl Jeromq {
    fn start(args: &[&str]) -> Jeromq {
        let mut child = jeromq_build::jeromq_peer_command()
            .args(args)
            .args(["--timeout-ms", "15000"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("java runs (a JDK is needed for the JeroMQ tests)");
        let out: ChildStdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                eprintln!("JeroMQ peer: {line}");
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Jeromq { child, lines }
    }

    /// Waits for a line starting with `prefix`.
    fn expect(&self, prefix: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(WITHIN)
                .expect("a line from the JeroMQ peer");
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.to_string();
            }
            assert!(!line.starts_with("FAIL"), "JeroMQ peer: {line}");
        }
    }

    /// Waits for its verdict, which must be OK; returns it.
    fn finish(mut self) -> String {
        let verdict = self.expect("OK");
        let status = self.child.wait().unwrap();
        assert!(status.success());
        verdict
    }
}

impl Drop for Jeromq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_queue_carries_jeromq_requests_to_jeromq_and_libzmq_workers() {
    let app = App::start(&[], Some(config_file("jeromq-queue", &services(QUEUE))));
    let front = app.endpoint("rq", "frontend");
    let back = app.endpoint("rq", "backend");
    let sizes = "0,1,255,256,70000";
    // A JeroMQ worker first, alone: the JeroMQ client's requests all reach it.
    let worker = Jeromq::start(&["--type", "REP", "--mode", "echo", "--connect", &back]);
    worker.expect("STARTED");
    let client = Jeromq::start(&[
        "--type",
        "REQ",
        "--mode",
        "request",
        "--sizes",
        sizes,
        "--connect",
        &front,
    ]);
    assert_eq!(client.finish(), " 5");
    assert_eq!(worker.finish(), " 6", "five sizes and END");

    // Then a libzmq client through the same queue to a second JeroMQ worker.
    let worker = Jeromq::start(&["--type", "REP", "--mode", "echo", "--connect", &back]);
    worker.expect("STARTED");
    let ctx = zmq::Context::new();
    let client = zsock(&ctx, zmq::REQ);
    connect_ready(&ctx, &client, &front);
    for m in ["libzmq", "END"] {
        client.send(m, 0).unwrap();
        assert_eq!(client.recv_bytes(0).unwrap(), m.as_bytes());
    }
    assert_eq!(worker.finish(), " 2");

    app.signal(SIGTERM);
    assert_eq!(app.wait(Duration::from_secs(10)), Some(0));
}

#[test]
fn a_forwarder_carries_a_jeromq_publisher_to_jeromq_and_libzmq_subscribers() {
    let app = App::start(&[], Some(config_file("jeromq-fwd", &services(FORWARDER))));
    let sizes = "0,1,255,256,70000";
    let ctx = zmq::Context::new();
    let libzmq_sub = zsock(&ctx, zmq::SUB);
    libzmq_sub.set_subscribe(b"t").unwrap();
    connect_ready(&ctx, &libzmq_sub, &app.endpoint("md", "backend"));
    let jeromq_sub = Jeromq::start(&[
        "--type",
        "SUB",
        "--mode",
        "subscribe",
        "--sizes",
        sizes,
        "--connect",
        &app.endpoint("md", "backend"),
    ]);
    jeromq_sub.expect("SUBSCRIBED");
    // The JeroMQ publisher (XPUB) starts once the subscription to "t" comes
    // up through the forwarder; both subscribers then connected.
    let publisher = Jeromq::start(&[
        "--type",
        "XPUB",
        "--mode",
        "publish",
        "--sizes",
        sizes,
        "--connect",
        &app.endpoint("md", "frontend"),
    ]);
    assert_eq!(publisher.expect("SUBSCRIBED "), "t");
    assert_eq!(jeromq_sub.finish(), " 5");
    assert_eq!(publisher.finish(), " 5");
    let mut got = Vec::new();
    loop {
        let m = libzmq_sub.recv_bytes(0).unwrap();
        let end = m == b"tEND";
        got.push(m.len());
        if end {
            break;
        }
    }
    assert_eq!(got, [1, 2, 256, 257, 70_001, 4]);

    app.signal(SIGTERM);
    assert_eq!(app.wait(Duration::from_secs(10)), Some(0));
}
