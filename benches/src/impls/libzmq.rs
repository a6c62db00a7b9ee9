//! libzmq's ends, through the `zmq` crate with its defaults (one IO thread,
//! pinned with the thread that creates the context, as `taskset` would).

use std::time::Instant;

use crate::cli::{Pattern, PeerArgs, Role, Transport};
use crate::placement::{pin, Setup};
use crate::record::{Latency, Throughput};

fn err(e: impl std::fmt::Display) -> String {
    format!("libzmq: {e}")
}

/// libzmq wants `*` for a kernel-chosen port.
fn bindable(ep: &str) -> String {
    ep.replace("127.0.0.1:0", "127.0.0.1:*")
}

fn last_endpoint(s: &zmq::Socket) -> Result<String, String> {
    s.get_last_endpoint()
        .map_err(err)?
        .map_err(|_| err("last endpoint is not UTF-8"))
}

/// REQ (bound, measuring) against a REP echo in the peer process (inproc: a
/// thread on the peer's core sharing the context).
pub fn lat(s: &Setup) -> Result<Latency, String> {
    pin(s.main_core)?;
    let ctx = zmq::Context::new();
    let req = ctx.socket(zmq::REQ).map_err(err)?;
    req.bind(&bindable(&s.bind_endpoint())).map_err(err)?;
    let ep = last_endpoint(&req)?;
    let mut peer = None;
    let mut local = None;
    if s.transport == Transport::Inproc {
        let (ctx, ep, total, core) = (ctx.clone(), ep.clone(), s.total(), s.peer_core);
        local = Some(std::thread::spawn(move || {
            pin(core)?;
            let rep = ctx.socket(zmq::REP).map_err(err)?;
            rep.connect(&ep).map_err(err)?;
            echo(&rep, total)
        }));
    } else {
        peer = Some(s.spawn_peer(Role::Echo, &ep)?);
    }
    let payload = vec![0u8; s.size];
    let mut msg = zmq::Message::new();
    for _ in 0..s.warmup {
        req.send(&payload[..], 0).map_err(err)?;
        req.recv(&mut msg, 0).map_err(err)?;
    }
    let mut lat = Latency::new(s.count);
    let start = Instant::now();
    for _ in 0..s.count {
        let t = Instant::now();
        req.send(&payload[..], 0).map_err(err)?;
        req.recv(&mut msg, 0).map_err(err)?;
        lat.record(t.elapsed());
    }
    lat.total = start.elapsed();
    if let Some(p) = peer {
        p.finish()?;
    }
    if let Some(l) = local {
        l.join().map_err(|_| err("echo thread panicked"))??;
    }
    Ok(lat)
}

fn echo(rep: &zmq::Socket, total: u64) -> Result<(), String> {
    let mut msg = zmq::Message::new();
    for _ in 0..total {
        rep.recv(&mut msg, 0).map_err(err)?;
        rep.send(std::mem::replace(&mut msg, zmq::Message::new()), 0)
            .map_err(err)?;
    }
    Ok(())
}

/// PULL or SUB (bound, measuring) fed by a PUSH or XPUB in the peer process.
pub fn thr(s: &Setup) -> Result<Throughput, String> {
    pin(s.main_core)?;
    let ctx = zmq::Context::new();
    let sock = match s.pattern {
        Pattern::PushPull => ctx.socket(zmq::PULL).map_err(err)?,
        Pattern::PubSub => {
            let sub = ctx.socket(zmq::SUB).map_err(err)?;
            sub.set_subscribe(b"").map_err(err)?;
            sub
        }
    };
    sock.bind(&bindable(&s.bind_endpoint())).map_err(err)?;
    let ep = last_endpoint(&sock)?;
    let mut peer = None;
    let mut local = None;
    if s.transport == Transport::Inproc {
        let (ctx, ep, core) = (ctx.clone(), ep.clone(), s.peer_core);
        let (pattern, size, total) = (s.pattern, s.size, s.total());
        local = Some(std::thread::spawn(move || {
            pin(core)?;
            send_all(&ctx, &ep, pattern, size, total)
        }));
    } else {
        peer = Some(s.spawn_peer(Role::Send, &ep)?);
    }
    let mut msg = zmq::Message::new();
    for _ in 0..s.warmup {
        sock.recv(&mut msg, 0).map_err(err)?;
    }
    sock.recv(&mut msg, 0).map_err(err)?;
    let start = Instant::now();
    for _ in 1..s.count {
        sock.recv(&mut msg, 0).map_err(err)?;
    }
    let elapsed = start.elapsed();
    if let Some(p) = peer {
        p.finish()?;
    }
    if let Some(l) = local {
        l.join().map_err(|_| err("sender thread panicked"))??;
    }
    Ok(Throughput {
        count: s.count,
        size: s.size,
        elapsed,
    })
}

/// Connects a PUSH (or an XPUB, which waits for the subscription) and sends
/// `total` messages; the context's end waits for delivery (LINGER -1).
fn send_all(
    ctx: &zmq::Context,
    ep: &str,
    pattern: Pattern,
    size: usize,
    total: u64,
) -> Result<(), String> {
    let sock = match pattern {
        Pattern::PushPull => ctx.socket(zmq::PUSH).map_err(err)?,
        Pattern::PubSub => ctx.socket(zmq::XPUB).map_err(err)?,
    };
    sock.connect(ep).map_err(err)?;
    if pattern == Pattern::PubSub {
        sock.recv_bytes(0).map_err(err)?;
    }
    let payload = vec![0u8; size];
    for _ in 0..total {
        sock.send(&payload[..], 0).map_err(err)?;
    }
    Ok(())
}

/// The peer process's side.
pub fn peer(p: &PeerArgs) -> Result<(), String> {
    pin(p.core)?;
    let ctx = zmq::Context::new();
    match p.role {
        Role::Echo => {
            let rep = ctx.socket(zmq::REP).map_err(err)?;
            rep.connect(&p.endpoint).map_err(err)?;
            echo(&rep, p.total)
        }
        Role::Send => send_all(&ctx, &p.endpoint, p.pattern, p.size, p.total),
        Role::BusyEcho => Err("libzmq has no busy-echo role".into()),
    }
}
