//! The floor: plain kernel sockets (TCP_NODELAY, or Unix domain for ipc).
//! Ping-pong writes and reads `size` bytes, no framing at all. The one-way
//! stream is a ZMTP 3.1 data stream with no handshake (both ends are the
//! harness): the sender writes pre-framed single-frame messages in big
//! writes, the receiver walks the frames and counts messages.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Instant;

use super::zmtp_frames::{frame_len, Prebuilt, Walker};
use crate::cli::{PeerArgs, Role, Transport};
use crate::placement::{pin, Setup};
use crate::record::{Latency, Throughput};

fn err(e: impl std::fmt::Display) -> String {
    format!("raw: {e}")
}

/// A connected stream of either family.
enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Conn::Tcp(s) => s,
            Conn::Unix(s) => s,
        }
    }

    fn set_nonblocking(&self) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => s.set_nonblocking(true),
            Conn::Unix(s) => s.set_nonblocking(true),
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Listens, starts the peer (`role`) and accepts its connection.
fn accept_peer(s: &Setup, role: Role) -> Result<(Conn, crate::placement::Peer), String> {
    match s.transport {
        Transport::Tcp => {
            let l = TcpListener::bind("127.0.0.1:0").map_err(err)?;
            let ep = format!("tcp://{}", l.local_addr().map_err(err)?);
            let peer = s.spawn_peer(role, &ep)?;
            let (c, _) = l.accept().map_err(err)?;
            c.set_nodelay(true).map_err(err)?;
            Ok((Conn::Tcp(c), peer))
        }
        Transport::Ipc => {
            let path = s.bind_endpoint()["ipc://".len()..].to_string();
            let _ = std::fs::remove_file(&path);
            let l = UnixListener::bind(&path).map_err(err)?;
            let peer = s.spawn_peer(role, &format!("ipc://{path}"))?;
            let (c, _) = l.accept().map_err(err)?;
            let _ = std::fs::remove_file(&path);
            Ok((Conn::Unix(c), peer))
        }
        Transport::Inproc => Err("raw sockets have no inproc transport".into()),
    }
}

fn connect(ep: &str) -> Result<Conn, String> {
    if let Some(addr) = ep.strip_prefix("tcp://") {
        let c = TcpStream::connect(addr).map_err(err)?;
        c.set_nodelay(true).map_err(err)?;
        Ok(Conn::Tcp(c))
    } else if let Some(path) = ep.strip_prefix("ipc://") {
        Ok(Conn::Unix(UnixStream::connect(path).map_err(err)?))
    } else {
        Err(err(format!("unknown endpoint {ep}")))
    }
}

/// Reads exactly `buf.len()` bytes, spinning on WouldBlock if non-blocking.
fn read_full(c: &mut dyn ReadWrite, buf: &mut [u8]) -> Result<(), String> {
    let mut got = 0;
    while got < buf.len() {
        match c.read(&mut buf[got..]) {
            Ok(0) => return Err(err("peer closed")),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(err(e)),
        }
    }
    Ok(())
}

fn write_full(c: &mut dyn ReadWrite, buf: &[u8]) -> Result<(), String> {
    let mut sent = 0;
    while sent < buf.len() {
        match c.write(&buf[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(err(e)),
        }
    }
    Ok(())
}

/// Ping-pong of `size` bytes; `busy` makes both ends spin on non-blocking
/// sockets instead of sleeping in the kernel.
pub fn lat(s: &Setup, busy: bool) -> Result<Latency, String> {
    pin(s.main_core)?;
    let role = if busy { Role::BusyEcho } else { Role::Echo };
    let (mut conn, peer) = accept_peer(s, role)?;
    if busy {
        conn.set_nonblocking().map_err(err)?;
    }
    let c = conn.io();
    let mut buf = vec![0u8; s.size];
    for _ in 0..s.warmup {
        write_full(c, &buf)?;
        read_full(c, &mut buf)?;
    }
    let mut lat = Latency::new(s.count);
    let start = Instant::now();
    for _ in 0..s.count {
        let t = Instant::now();
        write_full(c, &buf)?;
        read_full(c, &mut buf)?;
        lat.record(t.elapsed());
    }
    lat.total = start.elapsed();
    peer.finish()?;
    Ok(lat)
}

/// Bytes per write on the sending side, and at most per read on the
/// receiving side: big, so that the floor pays for the kernel's copy, not
/// for system calls.
const STREAM_CHUNK: usize = 256 * 1024;
/// The receiving side's reads are also at most a 64th of the stream, so that
/// a short run still arrives in many reads and has an interval to time.
const READS_AT_LEAST: usize = 64;
/// ...and at least this, however short the run.
const MIN_READ: usize = 4 * 1024;

/// One-way stream: what a ZMTP receiver cannot avoid doing, as a floor for
/// `thr` beside the implementations. The peer writes `total` pre-framed
/// messages from one buffer built once (`zmtp_frames::Prebuilt`); this side reads
/// it in big reads and walks the frame headers, counting messages, and does
/// nothing else: no handshake, no allocation or copy per message, no queue,
/// no wake-up of another task. pub-sub is the same stream (a floor has no
/// subscriptions to match).
///
/// Timed, as the others are, from the first measured message's arrival to
/// the last's. Messages arrive a read at a time, so the clock starts after
/// the read that completes the first measured message, and the rate counts
/// the messages completed after that read, over the time since.
pub fn thr(s: &Setup) -> Result<Throughput, String> {
    pin(s.main_core)?;
    let (mut conn, peer) = accept_peer(s, Role::Send)?;
    let c = conn.io();
    let stream_len = s.total() as usize * frame_len(s.size);
    let read_len = (stream_len / READS_AT_LEAST).clamp(MIN_READ, STREAM_CHUNK);
    let mut buf = vec![0u8; read_len];
    let mut walker = Walker::default();
    // When the clock started, and the messages complete by then.
    let mut start: Option<(Instant, u64)> = None;
    while walker.messages < s.total() {
        let n = match c.read(&mut buf) {
            Ok(0) => return Err(err("peer closed early")),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(err(e)),
        };
        walker.feed(&buf[..n]);
        if start.is_none() && walker.messages > s.warmup {
            start = Some((Instant::now(), walker.messages));
        }
    }
    let end = Instant::now();
    peer.finish()?;
    let (started, before) = start.expect("the loop ran past the warm-up");
    let count = s.total() - before;
    if count == 0 {
        return Err(err(format!(
            "the {} measured messages arrived in one read: nothing to time (use a larger --count)",
            s.count
        )));
    }
    Ok(Throughput {
        count,
        size: s.size,
        elapsed: end - started,
    })
}

/// Writes `total` pre-framed messages of `size` in writes of whole frames.
fn send_stream(c: &mut dyn ReadWrite, size: usize, total: u64) -> Result<(), String> {
    let stream = Prebuilt::new(size, STREAM_CHUNK);
    let per_write = stream.messages() as u64;
    let mut left = total;
    while left > 0 {
        let n = per_write.min(left);
        write_full(c, &stream.bytes[..n as usize * stream.frame_len])?;
        left -= n;
    }
    Ok(())
}

/// The peer process's side.
pub fn peer(p: &PeerArgs) -> Result<(), String> {
    pin(p.core)?;
    let mut conn = connect(&p.endpoint)?;
    if p.role == Role::BusyEcho {
        conn.set_nonblocking().map_err(err)?;
    }
    let c = conn.io();
    match p.role {
        Role::Echo | Role::BusyEcho => {
            let mut buf = vec![0u8; p.size];
            for _ in 0..p.total {
                read_full(c, &mut buf)?;
                write_full(c, &buf)?;
            }
        }
        Role::Send => send_stream(c, p.size, p.total)?,
        Role::Publish | Role::Dealers | Role::Serve | Role::Queue | Role::Forwarder => {
            return Err("raw sockets have no fanout, lb, soak or box role".into());
        }
    }
    Ok(())
}
