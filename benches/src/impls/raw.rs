//! The floor: plain kernel sockets (TCP_NODELAY, or Unix domain for ipc)
//! with no framing at all. Ping-pong writes and reads `size` bytes; the
//! one-way stream writes messages back to back in 64 KiB writes.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Instant;

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

/// One-way stream: timed from the first byte of the first measured message
/// to the last byte.
pub fn thr(s: &Setup) -> Result<Throughput, String> {
    pin(s.main_core)?;
    let (mut conn, peer) = accept_peer(s, Role::Send)?;
    let c = conn.io();
    let warm = s.warmup as usize * s.size;
    let total = s.total() as usize * s.size;
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0usize;
    let mut start = None;
    while got < total {
        let n = match c.read(&mut buf) {
            Ok(0) => return Err(err("peer closed early")),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(err(e)),
        };
        got += n;
        if start.is_none() && got > warm {
            start = Some(Instant::now());
        }
    }
    let elapsed = start.map(|t| t.elapsed()).unwrap_or_default();
    peer.finish()?;
    Ok(Throughput {
        count: s.count,
        size: s.size,
        elapsed,
    })
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
        Role::Send => {
            let total = p.total as usize * p.size;
            // Whole messages per write, as a ZeroMQ sender batches them.
            let per_write = (64 * 1024 / p.size.max(1)).max(1) * p.size.max(1);
            let chunk = vec![0u8; per_write];
            let mut sent = 0;
            while sent < total {
                let n = per_write.min(total - sent);
                write_full(c, &chunk[..n])?;
                sent += n;
            }
        }
        Role::Publish | Role::Dealers | Role::Serve => {
            return Err("raw sockets have no fanout, lb or soak role".into());
        }
    }
    Ok(())
}
