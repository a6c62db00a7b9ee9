//! `soak`: many idle connections held on one server while a well-behaved
//! client keeps being served; what the server process costs and how the
//! client fares before, during and after.
//!
//! ```text
//!   measuring process (core 0)                 server process (core 1)
//!   ┌────────────────────────────┐             ┌──────────────────────┐
//!   │ libzmq REQ ── ping-pong ───┼────────────▶│ REP echo (--impl)    │
//!   │ N idle DEALER sessions ────┼────────────▶│  (binds 127.0.0.1:0) │
//!   │  (monocoque-zmtp Session,  │             └──────────────────────┘
//!   │   handshaken, then silent) │   /proc/PID: RSS, fds, CPU
//!   └────────────────────────────┘
//! ```
//!
//! Phases: `before` (the client alone), `during` (N idle connections open,
//! held for `--duration-secs` while the client ping-pongs), `after` (the idle
//! connections closed and their descriptors gone from the server). The client
//! is libzmq for every server implementation, so the figures compare servers,
//! not clients. The idle connections handshake with the project's own sans-IO
//! [`Session`], as a DEALER would, and then say nothing.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use monocoque_zmtp::{Event, Session, SessionConfig, SocketType};

use crate::cli::{Impl, Role, SoakArgs};
use crate::placement::{pin, Setup};
use crate::record::Latency;

/// Connections handshaken at a time: the server's listen backlog is about
/// 100 (libzmq's default BACKLOG; std's 128), and connects beyond it wait on
/// SYN retries.
const BATCH: usize = 100;
/// How long one handshake may take before the run fails.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(20);
/// How long the server may take to close the idle connections' descriptors.
const CLOSE_LIMIT: Duration = Duration::from_secs(30);
/// The message that ends a serving peer.
pub const STOP: &[u8] = b"monocoque-bench: stop";

/// What one phase measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Phase {
    pub implementation: String,
    pub phase: &'static str,
    pub connections: usize,
    pub rss_mib: f64,
    pub fds: usize,
    pub cpu_percent: f64,
    pub round_trips: u64,
    pub rtt_p50_us: f64,
    pub rtt_p99_us: f64,
    pub rtt_max_us: f64,
}

/// The scenario: each implementation in turn, a table at the end.
pub fn run(a: &SoakArgs) -> Result<(), String> {
    if a.cores.len() != 2 {
        return Err(format!("--cores takes two cores, got {:?}", a.cores));
    }
    if a.samples == 0 || a.size == 0 {
        return Err("--samples and --size must be at least 1".into());
    }
    let limit = monocoque_runtime::raise_open_files_limit().map_err(|e| e.to_string())?;
    if (limit.after as usize) < a.connections + 64 {
        return Err(format!(
            "{} connections need more descriptors than the hard limit allows ({}): raise it \
             (ulimit -Hn, LimitNOFILE)",
            a.connections, limit.after
        ));
    }
    pin(a.cores[0])?;
    let mut phases = Vec::new();
    for &imp in &a.impls {
        if matches!(imp, Impl::Raw | Impl::Zeromq) {
            eprintln!(
                "{}: skipped (soak compares ZeroMQ servers: monocoque, libzmq)",
                imp.name()
            );
            continue;
        }
        phases.extend(soak_one(imp, a)?);
    }
    println!("\nmachine: {}", crate::machine::Machine::this().describe());
    println!(
        "soak: {} idle connections held {} s, {} B round trips ({} per phase before and after), \
         cores {:?}, monocoque profile {}",
        a.connections,
        a.duration_secs,
        a.size,
        a.samples,
        a.cores,
        a.profile.name()
    );
    println!("{}", table(&phases));
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&phases).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn soak_one(imp: Impl, a: &SoakArgs) -> Result<Vec<Phase>, String> {
    let setup = Setup {
        imp,
        transport: crate::cli::Transport::Tcp,
        size: a.size,
        count: 0,
        warmup: 0,
        main_core: a.cores[0],
        peer_core: a.cores[1],
        profile: a.profile,
        pattern: crate::cli::Pattern::PushPull,
        peers: 1,
        rate: 0,
        serial: 0,
    };
    let (server, endpoint) = setup.spawn_binding_peer(Role::Serve)?;
    let pid = server.pid();
    let address = endpoint
        .strip_prefix("tcp://")
        .ok_or_else(|| format!("the server bound {endpoint}, not tcp"))?
        .to_string();
    let ctx = zmq::Context::new();
    let client = ctx.socket(zmq::REQ).map_err(|e| e.to_string())?;
    client.set_linger(0).map_err(|e| e.to_string())?;
    client.connect(&endpoint).map_err(|e| e.to_string())?;
    let payload = vec![0u8; a.size];
    let name = imp.name().to_string();
    let mut phases = Vec::new();

    // Warm up, then the client alone.
    ping_pong(&client, &payload, a.samples / 10 + 1)?;
    let usage = Usage::start(pid)?;
    let lat = ping_pong(&client, &payload, a.samples)?;
    phases.push(usage.phase(&name, "before", 0, &lat)?);

    // The idle crowd arrives (each batch handshaken before the next), then
    // is held while the client goes on.
    let mut idle = Vec::with_capacity(a.connections);
    let opening = Instant::now();
    while idle.len() < a.connections {
        let n = BATCH.min(a.connections - idle.len());
        idle.extend(handshake_batch(&address, n)?);
    }
    eprintln!(
        "{name}: {} idle connections handshaken in {:.1} s",
        idle.len(),
        opening.elapsed().as_secs_f64()
    );
    let usage = Usage::start(pid)?;
    let held = Instant::now() + Duration::from_secs(a.duration_secs);
    let mut lat = Latency::new(a.samples);
    let mut trips = 0u64;
    while Instant::now() < held {
        let t = Instant::now();
        round_trip(&client, &payload)?;
        lat.record(t.elapsed());
        trips += 1;
    }
    lat.total = Duration::from_secs(a.duration_secs);
    let mut during = usage.phase(&name, "during", idle.len(), &lat)?;
    during.round_trips = trips;
    phases.push(during);

    // They leave; the server must notice every one of them.
    let baseline = phases[0].fds;
    drop(idle);
    let deadline = Instant::now() + CLOSE_LIMIT;
    while fds(pid)? > baseline + 16 {
        if Instant::now() > deadline {
            return Err(format!(
                "{name}: the server still holds {} descriptors {} s after the idle peers left \
                 (before: {baseline})",
                fds(pid)?,
                CLOSE_LIMIT.as_secs()
            ));
        }
        round_trip(&client, &payload)?;
    }
    let usage = Usage::start(pid)?;
    let lat = ping_pong(&client, &payload, a.samples)?;
    phases.push(usage.phase(&name, "after", 0, &lat)?);

    client.send(STOP, 0).map_err(|e| e.to_string())?;
    client.recv_bytes(0).map_err(|e| e.to_string())?;
    server.finish()?;
    Ok(phases)
}

fn round_trip(client: &zmq::Socket, payload: &[u8]) -> Result<(), String> {
    client.send(payload, 0).map_err(|e| e.to_string())?;
    client.recv_bytes(0).map_err(|e| e.to_string())?;
    Ok(())
}

fn ping_pong(client: &zmq::Socket, payload: &[u8], n: u64) -> Result<Latency, String> {
    let mut lat = Latency::new(n);
    let start = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        round_trip(client, payload)?;
        lat.record(t.elapsed());
    }
    lat.total = start.elapsed();
    Ok(lat)
}

/// `n` connections to `address`, each taken through a ZMTP handshake as an
/// idle DEALER; returned once all of them are handshaken.
fn handshake_batch(address: &str, n: usize) -> Result<Vec<TcpStream>, String> {
    let now = Instant::now();
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let stream = TcpStream::connect(address).map_err(|e| format!("connect: {e}"))?;
        let mut session =
            Session::new(SessionConfig::new(SocketType::Dealer), now).map_err(|e| e.to_string())?;
        flush(&stream, &mut session).map_err(|e| format!("greeting: {e}"))?;
        stream
            .set_read_timeout(Some(HANDSHAKE_LIMIT))
            .map_err(|e| e.to_string())?;
        conns.push((stream, session));
    }
    let mut buf = vec![0u8; 4096];
    let mut done = Vec::with_capacity(n);
    for (stream, mut session) in conns {
        loop {
            match session.poll_event() {
                Some(Event::HandshakeSucceeded(_)) => break,
                Some(Event::Closed(e)) => return Err(format!("handshake refused: {e}")),
                Some(_) => continue,
                None => {}
            }
            // The next stage of our greeting (or READY), released by what
            // was read: the greeting goes out in libzmq's stages.
            flush(&stream, &mut session).map_err(|e| format!("greeting: {e}"))?;
            let k = match (&stream).read(&mut buf) {
                Ok(0) => return Err("the server closed a connection during its handshake".into()),
                Ok(k) => k,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("handshake: {e}")),
            };
            session.handle_input(bytes::Bytes::copy_from_slice(&buf[..k]), Instant::now());
        }
        // Our READY, if it is still queued.
        flush(&stream, &mut session).map_err(|e| format!("READY: {e}"))?;
        done.push(stream);
    }
    Ok(done)
}

/// Writes everything `session` has queued.
fn flush(stream: &TcpStream, session: &mut Session) -> std::io::Result<()> {
    for chunk in session.transmit().take_chunks() {
        (&*stream).write_all(&chunk)?;
    }
    Ok(())
}

/// CPU time and wall time at a phase's start.
struct Usage {
    pid: u32,
    cpu_ticks: u64,
    at: Instant,
}

impl Usage {
    fn start(pid: u32) -> Result<Usage, String> {
        Ok(Usage {
            pid,
            cpu_ticks: cpu_ticks(pid)?,
            at: Instant::now(),
        })
    }

    fn phase(
        &self,
        implementation: &str,
        phase: &'static str,
        connections: usize,
        lat: &Latency,
    ) -> Result<Phase, String> {
        let wall = self.at.elapsed().as_secs_f64();
        let ticks = cpu_ticks(self.pid)?.saturating_sub(self.cpu_ticks);
        let q = |p: f64| lat.rtt_ns.value_at_quantile(p) as f64 / 1000.0;
        Ok(Phase {
            implementation: implementation.into(),
            phase,
            connections,
            rss_mib: rss_kib(self.pid)? as f64 / 1024.0,
            fds: fds(self.pid)?,
            // /proc counts in clock ticks of 10 ms (USER_HZ = 100 on Linux).
            cpu_percent: ticks as f64 / 100.0 / wall * 100.0,
            round_trips: lat.rtt_ns.len(),
            rtt_p50_us: q(0.5),
            rtt_p99_us: q(0.99),
            rtt_max_us: lat.rtt_ns.max() as f64 / 1000.0,
        })
    }
}

fn rss_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))
}

fn fds(pid: u32) -> Result<usize, String> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map_err(|e| format!("/proc/{pid}/fd: {e}"))?
        .count())
}

/// utime + stime of the whole process, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // The command name (field 2) may hold spaces: count from after its ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("malformed /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime 15.
    let get = |i: usize| -> Result<u64, String> {
        fields
            .get(i - 3)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("no field {i} in /proc/{pid}/stat"))
    };
    Ok(get(14)? + get(15)?)
}

/// The phases as a Markdown table.
pub fn table(phases: &[Phase]) -> String {
    let mut out = String::from(
        "| server | phase | idle connections | RSS MiB | fds | CPU % | round trips | RTT p50 us | RTT p99 us | RTT max us |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for p in phases {
        out.push_str(&format!(
            "| {} | {} | {} | {:.1} | {} | {:.1} | {} | {:.1} | {:.1} | {:.1} |\n",
            p.implementation,
            p.phase,
            p.connections,
            p.rss_mib,
            p.fds,
            p.cpu_percent,
            p.round_trips,
            p.rtt_p50_us,
            p.rtt_p99_us,
            p.rtt_max_us
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_reads_utime_and_stime_of_this_process() {
        // Spin a little so some CPU time is charged.
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(50) {
            x = x.wrapping_add(1);
        }
        assert!(x > 0);
        let pid = std::process::id();
        assert!(cpu_ticks(pid).unwrap() > 0);
        assert!(rss_kib(pid).unwrap() > 0);
        assert!(fds(pid).unwrap() >= 3);
    }

    #[test]
    fn the_table_has_a_row_per_phase() {
        let p = Phase {
            implementation: "monocoque".into(),
            phase: "during",
            connections: 10_000,
            rss_mib: 80.25,
            fds: 10_012,
            cpu_percent: 3.0,
            round_trips: 1000,
            rtt_p50_us: 50.0,
            rtt_p99_us: 90.0,
            rtt_max_us: 300.0,
        };
        let t = table(&[p]);
        assert!(
            t.contains(
                "| monocoque | during | 10000 | 80.2 | 10012 | 3.0 | 1000 | 50.0 | 90.0 | 300.0 |"
            ),
            "{t}"
        );
    }
}
