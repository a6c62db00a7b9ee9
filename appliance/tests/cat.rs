//! `monocoque cat` against libzmq peers, one test per socket type. libzmq
//! binds; cat connects.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;

struct Cat {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

fn cat(args: &[&str]) -> Cat {
    let mut child = monocoque()
        .arg("cat")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for l in out.lines() {
            if tx.send(l.unwrap()).is_err() {
                return;
            }
        }
    });
    Cat {
        stdin: child.stdin.take(),
        child,
        lines,
    }
}

impl Cat {
    fn write(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    fn line(&mut self) -> String {
        match self.lines.recv_timeout(Duration::from_secs(10)) {
            Ok(l) => l,
            Err(e) => panic!(
                "cat printed nothing within 10 s ({e}); its exit: {:?}",
                self.child.try_wait()
            ),
        }
    }

    /// Closes stdin and waits (bounded) for the exit code.
    fn finish(mut self) -> i32 {
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap();
            }
            assert!(std::time::Instant::now() < deadline, "cat did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Cat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A libzmq socket bound to a fresh tcp port; returns it and the endpoint.
fn bound(ctx: &zmq::Context, kind: zmq::SocketType) -> (zmq::Socket, String) {
    let s = zsock(ctx, kind);
    s.bind("tcp://127.0.0.1:0").unwrap();
    let ep = s.get_last_endpoint().unwrap().unwrap();
    (s, ep)
}

#[test]
fn req_sends_a_line_and_prints_the_reply() {
    let ctx = zmq::Context::new();
    let (rep, ep) = bound(&ctx, zmq::REP);
    let mut c = cat(&["--type", "req", "--connect", &ep]);
    c.write("hello");
    assert_eq!(rep.recv_bytes(0).unwrap(), b"hello");
    rep.send("world", 0).unwrap();
    assert_eq!(c.line(), "world");
    assert_eq!(c.finish(), 0);
}

#[test]
fn rep_echo_answers_each_request_with_itself() {
    let ctx = zmq::Context::new();
    let (req, ep) = bound(&ctx, zmq::REQ);
    let mut c = cat(&["--type", "rep", "--echo", "--count", "2", "--connect", &ep]);
    for m in ["a", "b"] {
        req.send(m, 0).unwrap();
        assert_eq!(req.recv_bytes(0).unwrap(), m.as_bytes());
        assert_eq!(c.line(), m);
    }
    assert_eq!(c.finish(), 0);
}

#[test]
fn dealer_sends_frames_split_by_tab_with_its_identity() {
    let ctx = zmq::Context::new();
    let (router, ep) = bound(&ctx, zmq::ROUTER);
    let mut c = cat(&[
        "--type",
        "dealer",
        "--identity",
        "d1",
        "--count",
        "1",
        "--connect",
        &ep,
    ]);
    c.write("x\ty");
    assert_eq!(
        router.recv_multipart(0).unwrap(),
        [b"d1".to_vec(), b"x".to_vec(), b"y".to_vec()]
    );
    router.send_multipart(["d1", "reply"], 0).unwrap();
    assert_eq!(c.line(), "reply");
    assert_eq!(c.finish(), 0);
}

#[test]
fn router_echo_prints_the_routing_id_and_sends_back() {
    let ctx = zmq::Context::new();
    let dealer = zsock(&ctx, zmq::DEALER);
    dealer.set_identity(b"w").unwrap();
    dealer.bind("tcp://127.0.0.1:0").unwrap();
    let ep = dealer.get_last_endpoint().unwrap().unwrap();
    let mut c = cat(&[
        "--type",
        "router",
        "--echo",
        "--hex",
        "--count",
        "1",
        "--connect",
        &ep,
    ]);
    // The dealer's identity is sent at the handshake; a send before the
    // connection exists waits in its queue.
    dealer.send("ping", 0).unwrap();
    assert_eq!(c.line(), "77\t70696e67");
    assert_eq!(dealer.recv_bytes(0).unwrap(), b"ping");
    assert_eq!(c.finish(), 0);
}

#[test]
fn push_sends_every_line_and_ends_with_stdin() {
    let ctx = zmq::Context::new();
    let (pull, ep) = bound(&ctx, zmq::PULL);
    let mut c = cat(&["--type", "push", "--connect", &ep]);
    for m in ["1", "2", "3"] {
        c.write(m);
    }
    assert_eq!(c.finish(), 0);
    for m in ["1", "2", "3"] {
        assert_eq!(pull.recv_bytes(0).unwrap(), m.as_bytes());
    }
}

#[test]
fn pull_prints_count_messages_then_exits() {
    let ctx = zmq::Context::new();
    let (push, ep) = bound(&ctx, zmq::PUSH);
    let mut c = cat(&["--type", "pull", "--count", "3", "--connect", &ep]);
    for m in ["1", "2", "3"] {
        push.send(m, 0).unwrap();
    }
    assert_eq!([c.line(), c.line(), c.line()], ["1", "2", "3"]);
    assert_eq!(c.finish(), 0);
}

#[test]
fn pub_publishes_lines_to_a_libzmq_subscriber() {
    let ctx = zmq::Context::new();
    let (sub, ep) = bound(&ctx, zmq::SUB);
    sub.set_subscribe(b"").unwrap();
    sub.set_rcvtimeo(50).unwrap();
    let mut c = cat(&["--type", "pub", "--connect", &ep]);
    // A publisher drops what it sends before the subscription arrives (the
    // slow joiner): publish until the subscriber hears one, within 10 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        c.write("quote");
        if let Ok(m) = sub.recv_bytes(0) {
            assert_eq!(m, b"quote");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "nothing arrived");
    }
    assert_eq!(c.finish(), 0);
}

#[test]
fn sub_prints_what_matches_its_topics() {
    let ctx = zmq::Context::new();
    let (xpub, ep) = bound(&ctx, zmq::XPUB);
    let mut c = cat(&[
        "--type",
        "sub",
        "--subscribe",
        "A",
        "--count",
        "1",
        "--connect",
        &ep,
    ]);
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x01A");
    xpub.send("B no", 0).unwrap();
    xpub.send("A yes", 0).unwrap();
    assert_eq!(c.line(), "A yes");
    assert_eq!(c.finish(), 0);
}

#[test]
fn xpub_prints_subscriptions_and_publishes_lines() {
    // cat binds here and libzmq's SUB connects. The other way round, a
    // bound libzmq SUB sends its subscriptions to a new connection only when
    // its application thread next calls into libzmq (the pipe is attached
    // from the socket's mailbox), and this thread would be waiting on cat.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ep = format!("tcp://127.0.0.1:{port}");
    let mut c = cat(&[
        "--type",
        "xpub",
        "--hex",
        "--timeout-ms",
        "300",
        "--bind",
        &ep,
    ]);
    let ctx = zmq::Context::new();
    let sub = zsock(&ctx, zmq::SUB);
    sub.set_subscribe(b"T").unwrap();
    sub.connect(&ep).unwrap();
    assert_eq!(c.line(), "0154");
    c.write("5420686921");
    assert_eq!(sub.recv_bytes(0).unwrap(), b"T hi!");
    // stdin done, still able to receive: it ends when quiet for 300 ms.
    assert_eq!(c.finish(), 0);
}

#[test]
fn xsub_sends_a_subscription_line_and_prints_what_matches() {
    let ctx = zmq::Context::new();
    let (xpub, ep) = bound(&ctx, zmq::XPUB);
    let mut c = cat(&["--type", "xsub", "--hex", "--count", "1", "--connect", &ep]);
    c.write("0141");
    assert_eq!(xpub.recv_bytes(0).unwrap(), b"\x01A");
    xpub.send("A1", 0).unwrap();
    assert_eq!(c.line(), "4131");
    assert_eq!(c.finish(), 0);
}

#[test]
fn pair_talks_both_ways() {
    let ctx = zmq::Context::new();
    let (pair, ep) = bound(&ctx, zmq::PAIR);
    let mut c = cat(&["--type", "pair", "--count", "1", "--connect", &ep]);
    c.write("hi");
    assert_eq!(pair.recv_bytes(0).unwrap(), b"hi");
    pair.send("yo", 0).unwrap();
    assert_eq!(c.line(), "yo");
    assert_eq!(c.finish(), 0);
}

#[test]
fn a_count_not_reached_before_the_timeout_fails() {
    let ctx = zmq::Context::new();
    let (_push, ep) = bound(&ctx, zmq::PUSH);
    let c = cat(&[
        "--type",
        "pull",
        "--count",
        "1",
        "--timeout-ms",
        "100",
        "--connect",
        &ep,
    ]);
    assert_eq!(c.finish(), 1);
}

/// Runs cat with `stdin` as its input (closed after), to its end; returns
/// the exit code and what it wrote to stderr.
fn cat_to_end(args: &[&str], stdin: &str) -> (i32, String) {
    let mut child = monocoque()
        .arg("cat")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "cat did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_req_without_a_reply_fails_with_a_message() {
    let ctx = zmq::Context::new();
    let (rep, ep) = bound(&ctx, zmq::REP);
    let (code, err) = cat_to_end(
        &["--type", "req", "--connect", &ep, "--timeout-ms", "200"],
        "anyone?\n",
    );
    assert_eq!(
        rep.recv_bytes(0).unwrap(),
        b"anyone?",
        "the request went out"
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no reply within --timeout-ms 200"), "{err}");
}

#[test]
fn a_bound_socket_with_no_peer_gives_up_after_the_timeout() {
    for t in ["req", "dealer", "push", "pair"] {
        let (code, err) = cat_to_end(
            &[
                "--type",
                t,
                "--bind",
                "tcp://127.0.0.1:0",
                "--timeout-ms",
                "150",
            ],
            "lost\n",
        );
        assert_eq!(code, 1, "{t}: {err}");
        assert!(
            err.contains("no peer took the message within --timeout-ms 150"),
            "{t}: {err}"
        );
    }
}

#[test]
fn a_sub_without_subscribe_says_it_receives_nothing() {
    let ctx = zmq::Context::new();
    let (_publisher, ep) = bound(&ctx, zmq::PUB);
    let (code, err) = cat_to_end(
        &["--type", "sub", "--connect", &ep, "--timeout-ms", "100"],
        "",
    );
    assert_eq!(code, 0);
    assert!(
        err.contains("a SUB without --subscribe receives nothing"),
        "{err}"
    );
}

#[test]
fn count_does_not_cut_off_lines_still_to_send() {
    let ctx = zmq::Context::new();
    let (router, ep) = bound(&ctx, zmq::ROUTER);
    let mut c = cat(&["--type", "dealer", "--count", "1", "--connect", &ep]);
    c.write("a");
    let first = router.recv_multipart(0).unwrap();
    assert_eq!(first[1], b"a");
    router
        .send_multipart([first[0].clone(), b"reply".to_vec()], 0)
        .unwrap();
    assert_eq!(c.line(), "reply");
    // The count is reached; the lines after it still go out.
    c.write("b");
    c.write("c");
    for expected in [&b"b"[..], b"c"] {
        assert_eq!(router.recv_multipart(0).unwrap()[1], expected);
    }
    assert_eq!(c.finish(), 0);
}
