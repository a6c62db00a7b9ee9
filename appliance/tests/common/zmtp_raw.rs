//! Hand-written ZMTP 3.1 peers and `/proc` probes for the scale and hostile
//! suites: a greeting, READY and command framing built byte by byte (so a
//! test can send exactly what a hostile peer would), the appliance started
//! on its embedded default config moved to ephemeral ports, and the box's
//! RSS and open descriptors read from `/proc`.
//!
//! Included by the test files with `#[path = "common/zmtp_raw.rs"] mod
//! zmtp_raw;` next to `mod common;`.

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common::{monocoque, App};

// ---------------------------------------------------------------- framing

/// A ZMTP 3.1 greeting for the NULL mechanism, as a client.
pub fn greeting() -> [u8; 64] {
    let mut g = [0u8; 64];
    g[0] = 0xFF;
    g[9] = 0x7F;
    g[10] = 3;
    g[11] = 1;
    g[12..16].copy_from_slice(b"NULL");
    // as-server (byte 32) and the filler stay 0.
    g
}

/// A command frame: `name` (1-byte length) then `data`; the short form up
/// to 255 bytes of body, the long form (0x06, 8-byte length) above.
pub fn command(name: &[u8], data: &[u8]) -> Vec<u8> {
    let body_len = 1 + name.len() + data.len();
    let mut f = Vec::with_capacity(body_len + 9);
    if body_len <= 255 {
        f.push(0x04);
        f.push(body_len as u8);
    } else {
        f.push(0x06);
        f.extend_from_slice(&(body_len as u64).to_be_bytes());
    }
    f.push(name.len() as u8);
    f.extend_from_slice(name);
    f.extend_from_slice(data);
    f
}

/// A READY command with these properties, in this order (duplicates kept).
pub fn ready(props: &[(&str, &[u8])]) -> Vec<u8> {
    let mut md = Vec::new();
    for (name, value) in props {
        md.push(name.len() as u8);
        md.extend_from_slice(name.as_bytes());
        md.extend_from_slice(&(value.len() as u32).to_be_bytes());
        md.extend_from_slice(value);
    }
    command(b"READY", &md)
}

/// Greeting plus READY announcing `socket_type`: what a client writes first.
pub fn hello(socket_type: &str) -> Vec<u8> {
    hello_with(&[("Socket-Type", socket_type.as_bytes())])
}

/// Greeting plus READY with exactly these properties.
pub fn hello_with(props: &[(&str, &[u8])]) -> Vec<u8> {
    let mut v = greeting().to_vec();
    v.extend_from_slice(&ready(props));
    v
}

/// A ZMTP 3.1 SUBSCRIBE command.
pub fn subscribe(topic: &[u8]) -> Vec<u8> {
    command(b"SUBSCRIBE", topic)
}

/// A PING command with a TTL (tenths of a second) and a context.
pub fn ping(ttl: u16, context: &[u8]) -> Vec<u8> {
    let mut data = ttl.to_be_bytes().to_vec();
    data.extend_from_slice(context);
    command(b"PING", &data)
}

/// A data frame (short or long form as the length needs).
pub fn data_frame(more: bool, body: &[u8]) -> Vec<u8> {
    let more = u8::from(more);
    let mut f = Vec::with_capacity(body.len() + 9);
    if body.len() <= 255 {
        f.push(more);
        f.push(body.len() as u8);
    } else {
        f.push(0x02 | more);
        f.extend_from_slice(&(body.len() as u64).to_be_bytes());
    }
    f.extend_from_slice(body);
    f
}

/// The header of a long data frame announcing `len` bytes (no body).
pub fn long_frame_header(more: bool, len: u64) -> [u8; 9] {
    let mut h = [0u8; 9];
    h[0] = 0x02 | u8::from(more);
    h[1..].copy_from_slice(&len.to_be_bytes());
    h
}

/// One frame as read: its flags byte and body.
pub struct Frame {
    pub flags: u8,
    pub body: Vec<u8>,
}

impl Frame {
    pub fn is_command(&self) -> bool {
        self.flags & 0x04 != 0
    }
    pub fn more(&self) -> bool {
        self.flags & 0x01 != 0
    }
    /// A command's name ("" for a data frame).
    pub fn command_name(&self) -> &[u8] {
        if !self.is_command() || self.body.is_empty() {
            return b"";
        }
        let n = self.body[0] as usize;
        &self.body[1..(1 + n).min(self.body.len())]
    }
}

/// Reads one frame; bodies over 16 MiB are refused (a test never expects one).
pub fn read_frame(s: &mut impl Read) -> io::Result<Frame> {
    let mut flags = [0u8; 1];
    s.read_exact(&mut flags)?;
    let len = if flags[0] & 0x02 != 0 {
        let mut l = [0u8; 8];
        s.read_exact(&mut l)?;
        u64::from_be_bytes(l)
    } else {
        let mut l = [0u8; 1];
        s.read_exact(&mut l)?;
        u64::from(l[0])
    };
    if len > 16 << 20 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a {len}-byte frame"),
        ));
    }
    let mut body = vec![0u8; len as usize];
    s.read_exact(&mut body)?;
    Ok(Frame {
        flags: flags[0],
        body,
    })
}

/// Reads the server's 64-byte greeting and checks its signature and version.
pub fn read_greeting(s: &mut impl Read) -> io::Result<[u8; 64]> {
    let mut g = [0u8; 64];
    s.read_exact(&mut g)?;
    if g[0] != 0xFF || g[9] & 1 != 1 || g[10] != 3 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not a ZMTP 3 greeting: {:02x?}", &g[..12]),
        ));
    }
    Ok(g)
}

/// Reads the server's greeting and its READY.
pub fn read_handshake(s: &mut impl Read) -> io::Result<()> {
    read_greeting(s)?;
    let f = read_frame(s)?;
    if f.command_name() != b"READY" {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "expected READY, got flags {:#x} {:?}",
                f.flags,
                String::from_utf8_lossy(&f.body[..f.body.len().min(32)])
            ),
        ));
    }
    Ok(())
}

/// `tcp://127.0.0.1:1234` -> `127.0.0.1:1234`.
pub fn addr(endpoint: &str) -> &str {
    endpoint.trim_start_matches("tcp://")
}

/// Connects, says hello as `socket_type` and reads the server's greeting and
/// READY; reads and writes of the returned stream time out after `timeout`.
pub fn handshake(endpoint: &str, socket_type: &str, timeout: Duration) -> io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr(endpoint))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.set_nodelay(true)?;
    s.write_all(&hello(socket_type))?;
    read_handshake(&mut s)?;
    Ok(s)
}

/// Whether `e` says the peer closed or reset the connection.
pub fn is_closed_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

/// Reads (and discards) until the peer closes or resets the connection, or
/// `within` has passed. Ok(bytes discarded) when it closed; Err when it is
/// still open (or another error).
pub fn closed_within(s: &mut TcpStream, within: Duration) -> Result<u64, String> {
    let deadline = Instant::now() + within;
    let mut buf = vec![0u8; 64 * 1024];
    let mut discarded = 0u64;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "still open after {within:?} ({discarded} bytes read meanwhile)"
            ));
        }
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .map_err(|e| e.to_string())?;
        match s.read(&mut buf) {
            Ok(0) => return Ok(discarded),
            Ok(n) => discarded += n as u64,
            Err(e) if is_closed_error(&e) => return Ok(discarded),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read failed: {e}")),
        }
    }
}

/// How a flood of writes ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteEnd {
    /// Everything was written.
    Done,
    /// The peer closed or reset the connection.
    Closed,
    /// A write made no progress within the write timeout: TCP pushed back.
    Blocked,
}

/// Writes `total` bytes by repeating `pattern` (chunked to about 64 KiB),
/// with `stall` as the bound on a single write. Returns how it ended and the
/// bytes written.
pub fn flood(s: &mut TcpStream, pattern: &[u8], total: u64, stall: Duration) -> (WriteEnd, u64) {
    assert!(!pattern.is_empty());
    let reps = (64 * 1024 / pattern.len()).max(1);
    let chunk: Vec<u8> = pattern.repeat(reps);
    flood_with(s, total, stall, |_| chunk.clone())
}

/// Writes chunks made by `next(written_so_far)` until `total` bytes or an end.
pub fn flood_with(
    s: &mut TcpStream,
    total: u64,
    stall: Duration,
    mut next: impl FnMut(u64) -> Vec<u8>,
) -> (WriteEnd, u64) {
    s.set_write_timeout(Some(stall)).unwrap();
    let mut written = 0u64;
    while written < total {
        let chunk = next(written);
        if chunk.is_empty() {
            break;
        }
        let mut off = 0;
        while off < chunk.len() {
            match s.write(&chunk[off..]) {
                Ok(0) => return (WriteEnd::Closed, written),
                Ok(n) => {
                    off += n;
                    written += n as u64;
                }
                Err(e) if is_closed_error(&e) => return (WriteEnd::Closed, written),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return (WriteEnd::Blocked, written)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("write failed: {e}"),
            }
        }
    }
    (WriteEnd::Done, written)
}

/// Sets SO_LINGER to {on, 0 s}: closing the socket then sends a RST.
pub fn set_linger_zero(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct Linger {
        l_onoff: i32,
        l_linger: i32,
    }
    extern "C" {
        fn setsockopt(fd: i32, level: i32, name: i32, value: *const Linger, len: u32) -> i32;
    }
    const SOL_SOCKET: i32 = 1;
    const SO_LINGER: i32 = 13;
    let l = Linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid fd owned by `s` and a live, correctly sized struct linger.
    let r = unsafe {
        setsockopt(
            s.as_raw_fd(),
            SOL_SOCKET,
            SO_LINGER,
            &l,
            std::mem::size_of::<Linger>() as u32,
        )
    };
    assert_eq!(
        r,
        0,
        "setsockopt(SO_LINGER): {}",
        io::Error::last_os_error()
    );
}

// ------------------------------------------------------------ the appliance

/// Which reactor driver the appliance runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// The default: io_uring (with the runtime's own fallback to epoll).
    Default,
    /// `MONOCOQUE_DRIVER=epoll`.
    Epoll,
}

/// `monocoque config default`, with every bind moved to 127.0.0.1:0 (so tests
/// running in parallel, or another suite on the machine, never clash on the
/// fixed ports); the metrics listener moved to 127.0.0.1:0 as well. Every
/// other line, options included, is the embedded default's.
pub fn default_config_on_ephemeral_ports() -> String {
    let out = monocoque().args(["config", "default"]).output().unwrap();
    assert!(out.status.success(), "monocoque config default failed");
    let mut text = String::from_utf8(out.stdout).unwrap();
    for port in ["5556", "5557", "5559", "5560"] {
        let from = format!("tcp://*:{port}");
        assert!(text.contains(&from), "the default binds {from}: {text}");
        text = text.replace(&from, "tcp://127.0.0.1:0");
    }
    assert!(
        text.contains("\"127.0.0.1:9464\""),
        "the default's metrics listener: {text}"
    );
    text.replace("\"127.0.0.1:9464\"", "\"127.0.0.1:0\"")
}

/// Starts `monocoque run` on the default config (on ephemeral ports, see
/// [`default_config_on_ephemeral_ports`]) with the given driver.
pub fn start_default(name: &str, driver: Driver) -> App {
    start_config(name, &default_config_on_ephemeral_ports(), driver)
}

/// Starts `monocoque run` on the config `text` with the given driver.
pub fn start_config(name: &str, text: &str, driver: Driver) -> App {
    let config = crate::common::config_file(name, text);
    let mut cmd = monocoque();
    match driver {
        Driver::Default => cmd.env_remove("MONOCOQUE_DRIVER"),
        Driver::Epoll => cmd.env("MONOCOQUE_DRIVER", "epoll"),
    };
    cmd.arg("run").arg("--config").arg(&config);
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let out = io::BufReader::new(child.stdout.take().unwrap());
    let mut app = App {
        child,
        out,
        bound: Default::default(),
        config: Some(config),
    };
    app.read_report("service(s) running");
    app
}

/// The pid of the appliance.
pub fn pid(app: &App) -> u32 {
    app.child.id()
}

/// Panics (with the exit status) if the appliance has exited.
pub fn assert_alive(app: &mut App, when: &str) {
    if let Some(status) = app.child.try_wait().unwrap() {
        panic!("the appliance died {when}: {status}");
    }
}

/// VmRSS of `pid` in bytes.
pub fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Open descriptors of `pid`.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

pub const MIB: u64 = 1024 * 1024;

/// Samples a process's RSS every 20 ms in a thread and keeps the peak.
pub struct RssWatch {
    pub baseline: u64,
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RssWatch {
    pub fn start(pid: u32) -> RssWatch {
        let baseline = rss(pid);
        let peak = Arc::new(AtomicU64::new(baseline));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        RssWatch {
            baseline,
            peak,
            stop,
            thread: Some(thread),
        }
    }

    /// The peak so far.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// Stops sampling (after one last sample) and returns the growth of the
    /// peak over the baseline, printed with `what`.
    pub fn finish(mut self, pid: u32, what: &str) -> u64 {
        self.peak.fetch_max(rss(pid), Ordering::Relaxed);
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        let peak = self.peak();
        let growth = peak.saturating_sub(self.baseline);
        println!(
            "{what}: appliance RSS {} MiB before, peak {} MiB (+{} MiB), now {} MiB",
            self.baseline / MIB,
            peak / MIB,
            growth / MIB,
            rss(pid) / MIB
        );
        growth
    }
}

impl Drop for RssWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------- libzmq peers

/// Connects `s` and waits (at most `within`) for its handshake to succeed.
pub fn connect_within(
    ctx: &zmq::Context,
    s: &zmq::Socket,
    endpoint: &str,
    within: Duration,
) -> Result<(), String> {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let mon = format!("inproc://raw-mon-{}-{n}", std::process::id());
    s.monitor(&mon, zmq::SocketEvent::HANDSHAKE_SUCCEEDED as i32)
        .unwrap();
    let m = ctx.socket(zmq::PAIR).unwrap();
    m.set_rcvtimeo(within.as_millis() as i32).unwrap();
    m.connect(&mon).unwrap();
    s.connect(endpoint).unwrap();
    let event = m
        .recv_bytes(0)
        .map_err(|e| format!("no handshake with {endpoint} within {within:?}: {e}"))?;
    let _ = m.recv_bytes(0);
    let id = u16::from_le_bytes([event[0], event[1]]);
    assert_eq!(id, zmq::SocketEvent::HANDSHAKE_SUCCEEDED as u16);
    Ok(())
}

/// A publisher that speaks raw ZMTP and reads (and discards) everything the
/// box sends it in a thread: what the box forwards upstream cannot pile up
/// in the test. It records the subscriptions it sees whose topic starts with
/// "tick", and counts the others.
pub struct RawPublisher {
    w: TcpStream,
    pub ticks: Arc<std::sync::Mutex<std::collections::HashSet<Vec<u8>>>>,
    pub subscriptions: Arc<AtomicU64>,
    /// CANCEL commands (or 0x00 messages) received.
    pub cancellations: Arc<AtomicU64>,
    pub longest_topic: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl RawPublisher {
    pub fn connect(endpoint: &str) -> RawPublisher {
        let w = handshake(endpoint, "PUB", Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("raw publisher on {endpoint}: {e}"));
        let r = w.try_clone().unwrap();
        r.set_read_timeout(None).unwrap();
        let ticks = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
        let subscriptions = Arc::new(AtomicU64::new(0));
        let cancellations = Arc::new(AtomicU64::new(0));
        let longest_topic = Arc::new(AtomicU64::new(0));
        let (t, s, c, l) = (
            ticks.clone(),
            subscriptions.clone(),
            cancellations.clone(),
            longest_topic.clone(),
        );
        let thread = std::thread::spawn(move || {
            let mut r = io::BufReader::with_capacity(256 * 1024, r);
            while let Ok(f) = read_frame(&mut r) {
                let topic = if f.command_name() == b"SUBSCRIBE" {
                    &f.body[10..]
                } else if !f.is_command() && f.body.first() == Some(&1) {
                    &f.body[1..]
                } else {
                    if f.command_name() == b"CANCEL"
                        || (!f.is_command() && f.body.first() == Some(&0))
                    {
                        c.fetch_add(1, Ordering::Relaxed);
                    }
                    continue;
                };
                s.fetch_add(1, Ordering::Relaxed);
                l.fetch_max(topic.len() as u64, Ordering::Relaxed);
                if topic.starts_with(b"tick") {
                    t.lock().unwrap().insert(topic.to_vec());
                }
            }
        });
        RawPublisher {
            w,
            ticks,
            subscriptions,
            cancellations,
            longest_topic,
            thread: Some(thread),
        }
    }

    pub fn send(&mut self, msg: &[u8]) {
        self.w
            .write_all(&data_frame(false, msg))
            .expect("the raw publisher's write");
    }
}

impl Drop for RawPublisher {
    fn drop(&mut self) {
        let _ = self.w.shutdown(std::net::Shutdown::Both);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

enum Publisher {
    Zmq(zmq::Socket),
    Raw(RawPublisher),
}

/// Well-behaved peers kept across a test: on the market-data service a
/// publisher (libzmq XPUB, or a [`RawPublisher`] where the test floods
/// subscriptions) and libzmq SUBs, each on its own topic; on the requests
/// service one libzmq DEALER worker (it answers each request
/// as REP would) and libzmq REQ clients. `check` has each
/// of them served once.
pub struct Served {
    pub ctx: zmq::Context,
    publisher: Publisher,
    subs: Vec<(zmq::Socket, Vec<u8>)>,
    worker: zmq::Socket,
    clients: Vec<zmq::Socket>,
    n: u64,
    md: (String, String),
    rq: (String, String),
}

fn zsock(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    crate::common::zsock(ctx, kind)
}

impl Served {
    /// One SUB and one REQ client, a libzmq publisher and worker, served once.
    pub fn new(app: &App) -> Served {
        Served::build(app, false)
    }

    /// As `new` with a [`RawPublisher`].
    pub fn with_raw_publisher(app: &App) -> Served {
        Served::build(app, true)
    }

    fn build(app: &App, raw: bool) -> Served {
        let ctx = zmq::Context::new();
        let md = (
            app.endpoint("market-data", "frontend"),
            app.endpoint("market-data", "backend"),
        );
        let rq = (
            app.endpoint("requests", "frontend"),
            app.endpoint("requests", "backend"),
        );
        let publisher = if raw {
            Publisher::Raw(RawPublisher::connect(&md.0))
        } else {
            let p = zsock(&ctx, zmq::XPUB);
            connect_within(&ctx, &p, &md.0, Duration::from_secs(10)).unwrap();
            Publisher::Zmq(p)
        };
        let worker = zsock(&ctx, zmq::DEALER);
        connect_within(&ctx, &worker, &rq.1, Duration::from_secs(10)).unwrap();
        let mut s = Served {
            ctx,
            publisher,
            subs: Vec::new(),
            worker,
            clients: Vec::new(),
            n: 0,
            md,
            rq,
        };
        s.add_subscriber(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("at start: {e}"));
        s.add_client(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("at start: {e}"));
        s.check("at start");
        s
    }

    /// A new libzmq SUB on a topic of its own, handshaken within `within`,
    /// whose subscription the publisher has seen (within 10 s more).
    pub fn add_subscriber(&mut self, within: Duration) -> Result<(), String> {
        static TOPIC: AtomicU64 = AtomicU64::new(0);
        let topic = format!("tick{}-", TOPIC.fetch_add(1, Ordering::Relaxed)).into_bytes();
        let sub = zsock(&self.ctx, zmq::SUB);
        sub.set_subscribe(&topic).unwrap();
        connect_within(&self.ctx, &sub, &self.md.1, within)
            .map_err(|e| format!("new subscriber: {e}"))?;
        self.subs.push((sub, topic));
        self.await_subscriptions()
    }

    /// Waits until the publisher has seen every subscriber's topic.
    fn await_subscriptions(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let wanted: Vec<Vec<u8>> = self.subs.iter().map(|(_, t)| t.clone()).collect();
        match &mut self.publisher {
            Publisher::Raw(p) => loop {
                if wanted.iter().all(|t| p.ticks.lock().unwrap().contains(t)) {
                    return Ok(());
                }
                if Instant::now() > deadline {
                    return Err("the subscription did not reach the publisher in 10 s".into());
                }
                std::thread::sleep(Duration::from_millis(5));
            },
            Publisher::Zmq(p) => {
                let mut seen = std::collections::HashSet::new();
                // A libzmq XPUB passes each topic once, so topics already
                // passed are not repeated: only wait for the newest.
                let newest = wanted.last().unwrap().clone();
                while !seen.contains(&newest) {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err("the subscription did not reach the publisher in 10 s".into());
                    }
                    p.set_rcvtimeo(left.as_millis().max(1) as i32).unwrap();
                    if let Ok(m) = p.recv_bytes(0) {
                        if m.first() == Some(&1) {
                            seen.insert(m[1..].to_vec());
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Replaces the publisher with a new libzmq XPUB, which must see (the
    /// box replays them) every current subscriber's topic.
    pub fn use_new_zmq_publisher(&mut self) -> Result<(), String> {
        let p = zsock(&self.ctx, zmq::XPUB);
        connect_within(&self.ctx, &p, &self.md.0, Duration::from_secs(10))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = std::collections::HashSet::new();
        while !self.subs.iter().all(|(_, t)| seen.contains(t)) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("the new publisher was not told the subscriptions in 10 s".into());
            }
            p.set_rcvtimeo(left.as_millis().max(1) as i32).unwrap();
            if let Ok(m) = p.recv_bytes(0) {
                if m.first() == Some(&1) && m[1..].starts_with(b"tick") {
                    seen.insert(m[1..].to_vec());
                }
            }
        }
        self.publisher = Publisher::Zmq(p);
        Ok(())
    }

    /// A new libzmq REQ client, handshaken within `within`.
    pub fn add_client(&mut self, within: Duration) -> Result<(), String> {
        let c = zsock(&self.ctx, zmq::REQ);
        connect_within(&self.ctx, &c, &self.rq.0, within)
            .map_err(|e| format!("new client: {e}"))?;
        self.clients.push(c);
        Ok(())
    }

    /// Every subscriber gets a message of its topic, every client a reply,
    /// each within 10 s.
    pub fn check(&mut self, when: &str) {
        for i in 0..self.subs.len() {
            self.n += 1;
            let mut msg = self.subs[i].1.clone();
            msg.extend_from_slice(self.n.to_string().as_bytes());
            let sent = Instant::now();
            match &mut self.publisher {
                Publisher::Zmq(p) => p.send(&msg, 0).unwrap(),
                Publisher::Raw(p) => p.send(&msg),
            }
            let got = recv_or_explain(&self.subs[i].0)
                .unwrap_or_else(|e| panic!("{when}: subscriber {i} got nothing: {e}"));
            assert_eq!(got, [msg], "{when}: subscriber {i}");
            let took = sent.elapsed();
            if took > Duration::from_secs(1) {
                println!("{when}: subscriber {i} served in {took:?}");
            }
        }
        for i in 0..self.clients.len() {
            self.n += 1;
            let req = format!("request {}", self.n);
            self.clients[i].send(req.as_str(), 0).unwrap();
            let mut got = recv_or_explain(&self.worker)
                .unwrap_or_else(|e| panic!("{when}: the worker got no request of client {i}: {e}"));
            // [routing id..., "", request]
            assert!(got.len() >= 3, "{when}: {got:?}");
            assert_eq!(
                got[got.len() - 2..],
                [b"".to_vec(), req.into_bytes()],
                "{when}"
            );
            let reply = format!("reply {}", self.n).into_bytes();
            *got.last_mut().unwrap() = reply.clone();
            self.worker.send_multipart(got, 0).unwrap();
            let got = recv_or_explain(&self.clients[i])
                .unwrap_or_else(|e| panic!("{when}: client {i} got no reply: {e}"));
            assert_eq!(got, [reply], "{when}");
        }
    }

    /// The worker answers one request ["", "hello"] with ["", "world"]
    /// within `within`; returns the routing id the box gave the requester.
    pub fn answer_hello(&mut self, within: Duration) -> Option<Vec<u8>> {
        self.worker.set_rcvtimeo(within.as_millis() as i32).unwrap();
        let got = self.worker.recv_multipart(0);
        self.worker.set_rcvtimeo(10_000).unwrap();
        let got = got.ok()?;
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[1..], [b"".to_vec(), b"hello".to_vec()]);
        self.worker
            .send_multipart([&got[0][..], b"", b"world"], 0)
            .unwrap();
        Some(got[0].clone())
    }
}

/// A message within the socket's receive timeout (10 s); if none came,
/// whether one came in the next 20 s (late) or not (lost), as the error.
fn recv_or_explain(s: &zmq::Socket) -> Result<Vec<Vec<u8>>, String> {
    match s.recv_multipart(0) {
        Ok(m) => Ok(m),
        Err(e) => {
            let t = Instant::now();
            s.set_rcvtimeo(20_000).unwrap();
            let late = s.recv_multipart(0);
            s.set_rcvtimeo(10_000).unwrap();
            Err(match late {
                Ok(_) => format!("{e} within 10 s (it came {:?} later)", t.elapsed()),
                Err(_) => format!("{e} within 10 s, nor in 20 s more"),
            })
        }
    }
}
