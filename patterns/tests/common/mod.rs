//! Helpers shared by the socket test suites.
#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use monocoque_patterns::{Socket, SocketOption};
use monocoque_runtime::{sleep, timeout, Runtime};
use monocoque_zmtp::{Msg, SocketType};

/// Every transport a conformance case runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Ipc,
    Inproc,
}

pub const TRANSPORTS: [Transport; 3] = [Transport::Tcp, Transport::Ipc, Transport::Inproc];

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl Transport {
    /// A fresh endpoint to bind: tcp port 0, a unique ipc path, a unique inproc name.
    pub fn endpoint(self) -> String {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        match self {
            Transport::Tcp => "tcp://127.0.0.1:0".into(),
            Transport::Ipc => {
                let dir = std::env::temp_dir();
                format!(
                    "ipc://{}/mq-test-{}-{n}.sock",
                    dir.display(),
                    std::process::id()
                )
            }
            Transport::Inproc => format!("inproc://test-{n}"),
        }
    }
}

/// Runs `f` on a fresh runtime, failing the test if it takes more than 20 s.
pub fn run<F, Fut>(f: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let rt = Runtime::builder().build().expect("runtime");
    rt.block_on(async {
        timeout(Duration::from_secs(20), f())
            .await
            .expect("test timed out");
    });
}

/// Runs `case` once per transport.
pub fn each_transport<F, Fut>(case: F)
where
    F: Fn(Transport) -> Fut,
    Fut: Future<Output = ()>,
{
    for t in TRANSPORTS {
        eprintln!("-- over {t:?}");
        run(|| case(t));
    }
}

/// A socket with the options given.
pub fn socket(kind: SocketType, options: Vec<SocketOption>) -> Socket {
    let s = Socket::new(kind).expect("socket");
    s.set_option(SocketOption::Linger(Some(Duration::ZERO)))
        .unwrap();
    for o in options {
        s.set_option(o).expect("option");
    }
    s
}

/// Binds `s` to a fresh endpoint of `t`; returns the endpoint to connect to.
pub fn bind(s: &Socket, t: Transport) -> String {
    s.bind(&t.endpoint()).expect("bind");
    s.last_endpoint().expect("last endpoint")
}

/// Waits (bounded by the test's timeout) until `cond` holds, yielding to the
/// runtime in between so the connections make progress.
pub async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        sleep(Duration::from_millis(1)).await;
    }
}

/// Waits until `s` has `n` connected peers.
pub async fn peers(s: &Socket, n: usize) {
    until(&format!("{n} peers"), || s.peer_count() >= n).await;
}

/// Waits until `n` messages are queued inbound on `s`.
pub async fn queued_in(s: &Socket, n: usize) {
    until(&format!("{n} queued messages"), || s.queued().0 >= n).await;
}

/// A message of string frames.
pub fn msg(frames: &[&str]) -> Msg {
    Msg::from(
        frames
            .iter()
            .map(|f| bytes::Bytes::copy_from_slice(f.as_bytes()))
            .collect::<Vec<_>>(),
    )
}

/// The frames of `m` as strings.
pub fn frames(m: &Msg) -> Vec<String> {
    m.frames()
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

/// SUBSCRIBE to `topic`.
pub fn sub(topic: &str) -> SocketOption {
    SocketOption::Subscribe(bytes::Bytes::copy_from_slice(topic.as_bytes()))
}

/// UNSUBSCRIBE from `topic`.
pub fn unsub(topic: &str) -> SocketOption {
    SocketOption::Unsubscribe(bytes::Bytes::copy_from_slice(topic.as_bytes()))
}

/// A raw peer's ZMTP greeting: version 3.`minor`, NULL mechanism, as client.
pub fn raw_greeting(minor: u8) -> Vec<u8> {
    let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, minor];
    let mut mechanism = b"NULL".to_vec();
    mechanism.resize(20, 0);
    g.extend_from_slice(&mechanism);
    g.extend_from_slice(&[0; 32]);
    g
}

/// A raw READY command frame announcing `socket_type`.
pub fn raw_ready(socket_type: &str) -> Vec<u8> {
    let mut body = b"\x05READY\x0bSocket-Type".to_vec();
    body.extend_from_slice(&(socket_type.len() as u32).to_be_bytes());
    body.extend_from_slice(socket_type.as_bytes());
    let mut frame = vec![0x04, body.len() as u8];
    frame.extend_from_slice(&body);
    frame
}
