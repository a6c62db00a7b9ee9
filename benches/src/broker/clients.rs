//! The box's clients: libzmq sockets on the clients' core, the same for
//! every box.

use crate::delivery::{stamp, Delivery};
use crate::impls::libzmq::{echo, ping_pong, set_xpub_nodrop, subscribers};
use crate::placement::{pin, Setup};
use crate::record::Latency;

fn err(e: impl std::fmt::Display) -> String {
    format!("box client: {e}")
}

/// REQ -> box -> REP round trips: the REQ (this thread) connects to the
/// queue's frontend, the REP worker (a thread) to its backend. The first
/// request waits in the box until the worker is connected, so nothing needs
/// to wait for the connections; the warm-up absorbs that first wait.
pub fn round_trips(s: &Setup, frontend: &str, backend: &str) -> Result<Latency, String> {
    pin(s.main_core)?;
    let ctx = zmq::Context::new();
    let rep = ctx.socket(zmq::REP).map_err(err)?;
    rep.connect(backend).map_err(err)?;
    let total = s.total();
    // Started from this pinned thread, the worker runs on the same core.
    let worker = std::thread::spawn(move || echo(&rep, total));
    let req = ctx.socket(zmq::REQ).map_err(err)?;
    req.connect(frontend).map_err(err)?;
    let lat = ping_pong(&req, s)?;
    worker
        .join()
        .map_err(|_| err("the REP worker panicked"))??;
    Ok(lat)
}

/// PUB -> box -> SUB: a publisher (a thread) connects to the forwarder's
/// frontend, the SUB (this thread, subscribed to everything) to its backend.
///
/// The publisher is an XPUB, which publishes as a PUB does but also reads
/// the subscription that reaches it. That subscription arrives only after
/// the box's XPUB side has registered the SUB's and its XSUB side has passed
/// it on, so everything published after it reaches the SUB: readiness with
/// neither sleeps nor probe messages. It also sets XPUB_NODROP: it waits at
/// its HWM instead of dropping, so the stream goes at the pace the box takes
/// it. A publisher dropping on the clients' core would otherwise measure how
/// often its own IO thread, on the same core, gets to run, and not the box.
/// What the box drops towards the SUB (its own XPUB's HWM) counts as lost.
pub fn stream(s: &Setup, frontend: &str, backend: &str) -> Result<Delivery, String> {
    pin(s.main_core)?;
    let ctx = zmq::Context::new();
    let sub = ctx.socket(zmq::SUB).map_err(err)?;
    sub.set_subscribe(b"").map_err(err)?;
    sub.connect(backend).map_err(err)?;
    let mut publisher = ctx.socket(zmq::XPUB).map_err(err)?;
    set_xpub_nodrop(&mut publisher)?;
    publisher.connect(frontend).map_err(err)?;
    let (size, total) = (s.size, s.total());
    let publishing = std::thread::spawn(move || -> Result<(), String> {
        publisher.recv_bytes(0).map_err(err)?;
        let mut payload = vec![0u8; size];
        for seq in 0..total {
            stamp(&mut payload, seq);
            publisher.send(&payload[..], 0).map_err(err)?;
        }
        Ok(())
    });
    let receipts = subscribers(std::slice::from_ref(&sub), s.warmup, s.total())?;
    publishing
        .join()
        .map_err(|_| err("the publisher panicked"))??;
    Ok(Delivery {
        count: s.count,
        size: s.size,
        subscribers: 1,
        receipts,
    })
}
