//! Helpers shared by the socket test suites.
#![allow(dead_code)]

pub mod jeromq_build;
pub mod peer_process;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use monocoque_patterns::{Socket, SocketOption};
use monocoque_runtime::{sleep, timeout, Runtime, RuntimeBuilder};
use monocoque_zmtp::{Msg, SocketType};

/// Two IO cores on default reactor settings (the spread suites').
pub fn two_io_cores() -> monocoque_patterns::IoCores {
    monocoque_patterns::IoCores::start(vec![RuntimeBuilder::default(), RuntimeBuilder::default()])
        .unwrap()
}

/// A spread socket's connections on each of its IO cores.
pub fn connections(s: &Socket) -> Vec<usize> {
    s.io_core_statistics()
        .unwrap()
        .iter()
        .map(|c| c.connections)
        .collect()
}

/// A peer thread's result, awaited without blocking the runtime (the
/// sockets' engines run on this thread).
pub async fn join_thread<T>(h: std::thread::JoinHandle<T>) -> T {
    until("the peer's thread", || h.is_finished()).await;
    h.join().expect("the peer's thread panicked")
}

/// Runs `body` on a thread of its own (the blocking API's tests) and fails
/// the test if it takes longer than `limit`.
pub fn bounded_for(limit: Duration, body: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        body();
        let _ = done.send(());
    });
    match finished.recv_timeout(limit) {
        Ok(()) => worker.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(worker.join().unwrap_err())
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("the test took over {limit:?}"),
    }
}

/// Every transport a conformance case runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Ipc,
    Inproc,
}

pub const TRANSPORTS: [Transport; 3] = [Transport::Tcp, Transport::Ipc, Transport::Inproc];

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A tcp endpoint on a port nobody listens on: a connect to it is refused
/// until something binds it.
///
/// The port is below the kernel's ephemeral range (the one a connect picks
/// its source port from): a test that connects with reconnects before it
/// binds would otherwise, now and then, see a reconnect draw that very port
/// as its source and meet itself (TCP's simultaneous open), holding the port
/// the test then fails to bind. Ports are tried from a per-process start so
/// parallel test binaries rarely try the same one, each checked by a bind.
pub fn unused_tcp_endpoint() -> String {
    static NEXT_PORT: AtomicUsize = AtomicUsize::new(0);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<usize>().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000usize, ephemeral_low.max(10_001));
    let span = high - low;
    let start = std::process::id() as usize * 7919;
    for _ in 0..span {
        let port = low + (start + NEXT_PORT.fetch_add(1, Ordering::Relaxed)) % span;
        if std::net::TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
            return format!("tcp://127.0.0.1:{port}");
        }
    }
    panic!("no free tcp port in {low}..{high}");
}

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

/// The file of an ipc endpoint a libzmq socket bound, removed when this is
/// dropped: libzmq 4.3's listener leaves it behind (ours unlinks its own).
/// Nothing for another transport or an abstract name.
pub struct IpcFile(Option<std::path::PathBuf>);

impl IpcFile {
    /// The guard of `endpoint`'s file, if it has one.
    pub fn of(endpoint: &str) -> IpcFile {
        IpcFile(
            endpoint
                .strip_prefix("ipc://")
                .filter(|path| !path.starts_with('@'))
                .map(std::path::PathBuf::from),
        )
    }
}

impl Drop for IpcFile {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
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

/// Runs `f` on a fresh runtime, failing the test if it takes more than
/// `limit` (for the cases that move hundreds of megabytes in a debug build).
pub fn run_within<F, Fut>(limit: Duration, f: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let rt = Runtime::builder().build().expect("runtime");
    rt.block_on(async {
        timeout(limit, f()).await.expect("test timed out");
    });
}

/// A raw ZMTP 3.1 peer (NULL mechanism) on tcp `ep` announcing `socket_type`:
/// connected, greeted, and past our greeting and READY (for `ours`, checked).
pub fn raw_connect(ep: &str, socket_type: &str, ours: &str) -> std::net::TcpStream {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(ep.strip_prefix("tcp://").expect("a tcp endpoint"))
        .expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(&raw_greeting(1)).unwrap();
    s.write_all(&raw_ready(socket_type)).unwrap();
    let mut theirs = vec![0; 64 + raw_ready(ours).len()];
    s.read_exact(&mut theirs).unwrap();
    assert_eq!(&theirs[64..], &raw_ready(ours)[..], "our READY");
    s
}

/// A raw ZMTP 3.1 command frame: `name` (short) and its body, as a short or
/// long frame as its size requires.
pub fn raw_command(name: &str, body: &[u8]) -> Vec<u8> {
    let size = 1 + name.len() + body.len();
    let mut frame = if size <= 255 {
        vec![0x04, size as u8]
    } else {
        let mut f = vec![0x06];
        f.extend_from_slice(&(size as u64).to_be_bytes());
        f
    };
    frame.push(name.len() as u8);
    frame.extend_from_slice(name.as_bytes());
    frame.extend_from_slice(body);
    frame
}

/// A raw SUBSCRIBE command for `topic` (ZMTP 3.1).
pub fn raw_subscribe(topic: &[u8]) -> Vec<u8> {
    raw_command("SUBSCRIBE", topic)
}

/// A raw CANCEL command for `topic` (ZMTP 3.1).
pub fn raw_cancel(topic: &[u8]) -> Vec<u8> {
    raw_command("CANCEL", topic)
}

/// Reads one frame from a raw peer: (flags, body).
pub fn raw_read_frame(s: &mut impl std::io::Read) -> (u8, Vec<u8>) {
    let mut flags = [0u8; 1];
    s.read_exact(&mut flags).unwrap();
    let len = if flags[0] & 0x02 == 0 {
        let mut l = [0u8; 1];
        s.read_exact(&mut l).unwrap();
        l[0] as usize
    } else {
        let mut l = [0u8; 8];
        s.read_exact(&mut l).unwrap();
        u64::from_be_bytes(l) as usize
    };
    let mut body = vec![0; len];
    s.read_exact(&mut body).unwrap();
    (flags[0], body)
}

/// Reads one single-frame message from a raw peer; returns its body.
pub fn raw_read_message(s: &mut std::net::TcpStream) -> Vec<u8> {
    let (flags, body) = raw_read_frame(s);
    assert_eq!(flags & 0x05, 0, "a last data frame, not a command");
    body
}

/// Reads from a raw peer until the other side closes the connection;
/// returns what came before (a reset counts as closed too).
pub fn raw_read_until_closed(s: &mut std::net::TcpStream) -> Vec<u8> {
    use std::io::Read;
    let mut rest = Vec::new();
    match s.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the connection was not closed: {e}"),
    }
    rest
}

/// As [`until`], with the time allowed given (for conditions that wait on
/// hundreds of megabytes in a debug build).
pub async fn until_within(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        sleep(Duration::from_millis(1)).await;
    }
}

/// What a raw client hears first on `stream` (read timeout 20 s): the
/// greeting's first byte, or `None` if the connection was closed on it
/// (an accept filter's refusal).
pub fn first_byte_or_closed(mut stream: impl std::io::Read) -> Option<u8> {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(1) => Some(byte[0]),
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => None,
        Err(e) => panic!("neither a greeting nor a close: {e}"),
    }
}

/// An accept filter's refusal is reported: a PAIR with `filter` set binds
/// `bind`, `peer` (connecting to the bound endpoint, returning the first
/// byte it reads) gets nothing, and the PAIR's monitor reports
/// ZMQ_EVENT_ACCEPT_FAILED naming `name`, not an accepted peer.
pub fn refusal_is_reported(
    filter: SocketOption,
    bind: &str,
    name: &str,
    peer: impl FnOnce(&str) -> Option<u8>,
) {
    let ctx = monocoque_patterns::Context::new().unwrap();
    let pair = ctx.socket(SocketType::Pair).unwrap();
    let monitor = pair.monitor().unwrap();
    pair.set_option(filter).unwrap();
    pair.bind(bind).unwrap();
    let endpoint = pair.last_endpoint().unwrap().unwrap();
    assert_eq!(peer(&endpoint), None, "the refused peer read nothing");
    expect_refusal_reported(&monitor, &endpoint, name);
}

/// Reads `monitor` until an accept filter's refusal on `endpoint` is
/// reported (ZMQ_EVENT_ACCEPT_FAILED naming `filter`); fails the test if
/// the refused peer is reported accepted instead.
pub fn expect_refusal_reported(
    monitor: &monocoque_patterns::BlockingMonitor,
    endpoint: &str,
    filter: &str,
) {
    use monocoque_patterns::MonitorEvent;
    loop {
        match monitor.recv().expect("the socket is open") {
            MonitorEvent::AcceptFailed {
                endpoint: at,
                error,
            } => {
                assert_eq!(at, endpoint);
                assert!(error.contains(filter), "{error}");
                return;
            }
            MonitorEvent::Accepted { .. } => panic!("a refused peer reported accepted"),
            _ => {}
        }
    }
}
