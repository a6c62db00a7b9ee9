//! libzmq's ends, through the `zmq` crate with its defaults (one IO thread,
//! pinned with the thread that creates the context, as `taskset` would).

use std::time::Instant;

use crate::cli::{Pattern, PeerArgs, Role, Transport};
use crate::delivery::{stamp, Delivery, Pacer, Receipts};
use crate::placement::{hold_until_released, pin, Setup};
use crate::record::{Figures, Latency, Throughput};

fn err(e: impl std::fmt::Display) -> String {
    format!("libzmq: {e}")
}

/// libzmq wants `*` for a kernel-chosen port.
pub fn bindable(ep: &str) -> String {
    ep.replace("127.0.0.1:0", "127.0.0.1:*")
}

/// Sets XPUB_NODROP: the XPUB waits at its HWM instead of dropping. The
/// `zmq` crate does not wrap this option, so it is set through `zmq-sys`.
pub fn set_xpub_nodrop(s: &mut zmq::Socket) -> Result<(), String> {
    let on: std::ffi::c_int = 1;
    // SAFETY: `s` is a live socket for the whole call (borrowed), and the
    // option reads an int through the pointer, of the size given.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            s.as_mut_ptr(),
            zmq_sys::ZMQ_XPUB_NODROP as std::ffi::c_int,
            (&on as *const std::ffi::c_int).cast(),
            std::mem::size_of::<std::ffi::c_int>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        // SAFETY: reads this thread's errno as libzmq left it; no arguments.
        Err(err(zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() })))
    }
}

/// The endpoint `s` bound last, resolved (the kernel's port).
pub fn last_endpoint(s: &zmq::Socket) -> Result<String, String> {
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
    let lat = ping_pong(&req, s)?;
    if let Some(p) = peer {
        p.finish()?;
    }
    if let Some(l) = local {
        l.join().map_err(|_| err("echo thread panicked"))??;
    }
    Ok(lat)
}

/// Echoes `total` requests on a REP.
pub fn echo(rep: &zmq::Socket, total: u64) -> Result<(), String> {
    let mut msg = zmq::Message::new();
    for _ in 0..total {
        rep.recv(&mut msg, 0).map_err(err)?;
        rep.send(std::mem::replace(&mut msg, zmq::Message::new()), 0)
            .map_err(err)?;
    }
    Ok(())
}

/// PULL or SUB (bound, measuring) fed by a PUSH or XPUB in the peer process.
pub fn thr(s: &Setup) -> Result<Box<dyn Figures>, String> {
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
            send_all(&ctx, &ep, pattern, size, total).map(drop)
        }));
    } else {
        peer = Some(s.spawn_peer(Role::Send, &ep)?);
    }
    let figures: Box<dyn Figures> = if s.pattern == Pattern::PubSub {
        let receipts = subscribers(std::slice::from_ref(&sock), s.warmup, s.total())?;
        Box::new(Delivery {
            count: s.count,
            size: s.size,
            subscribers: 1,
            receipts,
        })
    } else {
        let mut msg = zmq::Message::new();
        for _ in 0..s.warmup {
            sock.recv(&mut msg, 0).map_err(err)?;
        }
        sock.recv(&mut msg, 0).map_err(err)?;
        let start = Instant::now();
        for _ in 1..s.count {
            sock.recv(&mut msg, 0).map_err(err)?;
        }
        Box::new(Throughput {
            count: s.count,
            size: s.size,
            elapsed: start.elapsed(),
        })
    };
    if let Some(p) = peer {
        p.finish()?;
    }
    if let Some(l) = local {
        l.join().map_err(|_| err("sender thread panicked"))??;
    }
    Ok(figures)
}

/// Serves every SUB from one thread, as a libzmq user would: zmq_poll, then
/// drain each readable socket without blocking. Ends when every subscriber
/// has its last message, or on silence (the rest was dropped).
pub fn subscribers(
    socks: &[zmq::Socket],
    warmup: u64,
    total: u64,
) -> Result<Vec<Receipts>, String> {
    let mut receipts: Vec<Receipts> = socks.iter().map(|_| Receipts::new(warmup, total)).collect();
    let mut done = vec![false; socks.len()];
    let mut msg = zmq::Message::new();
    while done.contains(&false) {
        let patience = receipts
            .iter()
            .zip(&done)
            .filter(|(_, d)| !**d)
            .map(|(r, _)| r.patience())
            .max()
            .expect("one is not done");
        let mut items: Vec<zmq::PollItem> =
            socks.iter().map(|s| s.as_poll_item(zmq::POLLIN)).collect();
        if zmq::poll(&mut items, patience.as_millis() as i64).map_err(err)? == 0 {
            break;
        }
        for (i, item) in items.iter().enumerate() {
            if done[i] || !item.is_readable() {
                continue;
            }
            loop {
                match socks[i].recv(&mut msg, zmq::DONTWAIT) {
                    Ok(()) => {
                        if receipts[i].on_message(&msg) {
                            done[i] = true;
                            break;
                        }
                    }
                    Err(zmq::Error::EAGAIN) => break,
                    Err(e) => return Err(err(e)),
                }
            }
        }
    }
    Ok(receipts)
}

/// N SUBs in this process, connected to an XPUB the peer process binds.
pub fn fanout(s: &Setup) -> Result<Delivery, String> {
    pin(s.main_core)?;
    let ctx = zmq::Context::new();
    let (peer, ep) = s.spawn_binding_peer(Role::Publish)?;
    let mut socks = Vec::new();
    for _ in 0..s.peers {
        let sub = ctx.socket(zmq::SUB).map_err(err)?;
        sub.set_subscribe(b"").map_err(err)?;
        sub.connect(&ep).map_err(err)?;
        socks.push(sub);
    }
    let receipts = subscribers(&socks, s.warmup, s.total())?;
    peer.finish()?;
    Ok(Delivery {
        count: s.count,
        size: s.size,
        subscribers: s.peers,
        receipts,
    })
}

/// A ROUTER (bound, measuring) fed by N DEALERs in the peer process.
pub fn lb(s: &Setup) -> Result<Throughput, String> {
    pin(s.main_core)?;
    let ctx = zmq::Context::new();
    let router = ctx.socket(zmq::ROUTER).map_err(err)?;
    router.bind(&bindable(&s.bind_endpoint())).map_err(err)?;
    let peer = s.spawn_peer(Role::Dealers, &last_endpoint(&router)?)?;
    let (mut id, mut body) = (zmq::Message::new(), zmq::Message::new());
    let mut recv = || -> Result<(), String> {
        router.recv(&mut id, 0).map_err(err)?;
        router.recv(&mut body, 0).map_err(err)
    };
    let n = s.peers as u64;
    for _ in 0..s.warmup * n {
        recv()?;
    }
    recv()?;
    let start = Instant::now();
    for _ in 1..s.count * n {
        recv()?;
    }
    let elapsed = start.elapsed();
    peer.finish()?;
    Ok(Throughput {
        count: s.count * n,
        size: s.size,
        elapsed,
    })
}

/// Connects a PUSH (or an XPUB, which waits for the subscription) and sends
/// `total` messages. Returns the socket: over ipc, closing it before the
/// receiver has read everything loses messages (see `hold_until_released`).
fn send_all(
    ctx: &zmq::Context,
    ep: &str,
    pattern: Pattern,
    size: usize,
    total: u64,
) -> Result<zmq::Socket, String> {
    let sock = match pattern {
        Pattern::PushPull => ctx.socket(zmq::PUSH).map_err(err)?,
        Pattern::PubSub => ctx.socket(zmq::XPUB).map_err(err)?,
    };
    sock.connect(ep).map_err(err)?;
    if pattern == Pattern::PubSub {
        sock.recv_bytes(0).map_err(err)?;
    }
    let mut payload = vec![0u8; size];
    for seq in 0..total {
        if pattern == Pattern::PubSub {
            stamp(&mut payload, seq);
        }
        sock.send(&payload[..], 0).map_err(err)?;
    }
    Ok(sock)
}

/// Binds an XPUB (verbose: every subscriber's subscription is reported),
/// prints its endpoint, waits for the subscribers, then publishes `total`.
fn publish(ctx: &zmq::Context, p: &PeerArgs) -> Result<(), String> {
    let xpub = ctx.socket(zmq::XPUB).map_err(err)?;
    xpub.set_xpub_verbose(true).map_err(err)?;
    xpub.bind(&bindable(&p.endpoint)).map_err(err)?;
    println!("{}", last_endpoint(&xpub)?);
    std::io::Write::flush(&mut std::io::stdout()).map_err(err)?;
    for _ in 0..p.peers {
        xpub.recv_bytes(0).map_err(err)?;
    }
    let mut payload = vec![0u8; p.size];
    let pacer = Pacer::new(p.rate);
    for seq in 0..p.total {
        if let Some(at) = pacer.as_ref().and_then(|p| p.due(seq)) {
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
        }
        stamp(&mut payload, seq);
        xpub.send(&payload[..], 0).map_err(err)?;
    }
    hold_until_released();
    Ok(())
}

/// `peers` DEALERs served from one thread in turn, each sending `total`.
fn dealers(ctx: &zmq::Context, p: &PeerArgs) -> Result<(), String> {
    let mut socks = Vec::new();
    for _ in 0..p.peers {
        let dealer = ctx.socket(zmq::DEALER).map_err(err)?;
        dealer.connect(&p.endpoint).map_err(err)?;
        socks.push(dealer);
    }
    let payload = vec![0u8; p.size];
    for _ in 0..p.total {
        for d in &socks {
            d.send(&payload[..], 0).map_err(err)?;
        }
    }
    hold_until_released();
    Ok(())
}

/// soak's server: a REP bound where told, echoing until the stop message.
fn serve(ctx: &zmq::Context, p: &PeerArgs) -> Result<(), String> {
    monocoque_runtime::raise_open_files_limit().map_err(err)?;
    let rep = ctx.socket(zmq::REP).map_err(err)?;
    rep.bind(&p.endpoint).map_err(err)?;
    let ep = rep
        .get_last_endpoint()
        .map_err(err)?
        .map_err(|_| err("endpoint is not UTF-8"))?;
    println!("{ep}");
    std::io::Write::flush(&mut std::io::stdout()).map_err(err)?;
    loop {
        let m = rep.recv_bytes(0).map_err(err)?;
        rep.send(&m, 0).map_err(err)?;
        if m == crate::soak::STOP {
            return Ok(());
        }
    }
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
        Role::Send => {
            let _sending = send_all(&ctx, &p.endpoint, p.pattern, p.size, p.total)?;
            hold_until_released();
            Ok(())
        }
        Role::Publish => publish(&ctx, p),
        Role::Dealers => dealers(&ctx, p),
        Role::Serve => serve(&ctx, p),
        Role::Queue | Role::Forwarder => Err("the box roles run in broker::proxy".into()),
        Role::BusyEcho => Err("libzmq has no busy-echo role".into()),
    }
}

/// `s.warmup` then `s.count` measured round trips of `s.size` bytes on a
/// connected REQ, each message built from a byte slice.
pub fn ping_pong(req: &zmq::Socket, s: &Setup) -> Result<Latency, String> {
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
    Ok(lat)
}
