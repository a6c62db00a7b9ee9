//! Monocoque's ends: the async `Socket` on a reactor pinned as the profile says.

use std::time::Instant;

use bytes::Bytes;
use monocoque_patterns::{Error, MonitorEvent, Socket, SocketOption};
use monocoque_runtime::{sleep_until, spawn};
use monocoque_zmtp::SocketType;

use crate::cli::{Pattern, PeerArgs, Role, Transport};
use crate::delivery::{stamp, Delivery, Pacer, Receipts};
use crate::placement::{runtime, Setup};
use crate::record::{Figures, Latency, Throughput};

fn err(e: impl std::fmt::Display) -> String {
    format!("monocoque: {e}")
}

/// REQ (bound, measuring) against a REP echo in the peer process (or, for
/// inproc, a task on the same reactor: inproc is per thread here).
pub fn lat(s: &Setup) -> Result<Latency, String> {
    let rt = runtime(s.profile, s.main_core)?;
    rt.block_on(async {
        let req = Socket::new(SocketType::Req).map_err(err)?;
        req.bind(&s.bind_endpoint()).map_err(err)?;
        let ep = req.last_endpoint().expect("bound");
        let mut peer = None;
        let mut local = None;
        if s.transport == Transport::Inproc {
            let rep = Socket::new(SocketType::Rep).map_err(err)?;
            rep.connect(&ep).map_err(err)?;
            let total = s.total();
            local = Some(spawn(async move { echo(&rep, total).await }));
        } else {
            peer = Some(s.spawn_peer(Role::Echo, &ep)?);
        }
        let payload = vec![0u8; s.size];
        for _ in 0..s.warmup {
            req.send(Bytes::copy_from_slice(&payload))
                .await
                .map_err(err)?;
            req.recv().await.map_err(err)?;
        }
        let mut lat = Latency::new(s.count);
        let start = Instant::now();
        for _ in 0..s.count {
            let t = Instant::now();
            req.send(Bytes::copy_from_slice(&payload))
                .await
                .map_err(err)?;
            req.recv().await.map_err(err)?;
            lat.record(t.elapsed());
        }
        lat.total = start.elapsed();
        if let Some(p) = peer {
            p.finish()?;
        }
        if let Some(l) = local {
            l.await?;
        }
        Ok(lat)
    })
}

async fn echo(rep: &Socket, total: u64) -> Result<(), String> {
    for _ in 0..total {
        let m = rep.recv().await.map_err(err)?;
        rep.send(m).await.map_err(err)?;
    }
    Ok(())
}

/// PULL or SUB (bound, measuring) fed by a PUSH or XPUB in the peer process
/// (inproc: a task on the same reactor).
pub fn thr(s: &Setup) -> Result<Box<dyn Figures>, String> {
    let rt = runtime(s.profile, s.main_core)?;
    rt.block_on(async {
        let kind = match s.pattern {
            Pattern::PushPull => SocketType::Pull,
            Pattern::PubSub => SocketType::Sub,
        };
        let sock = Socket::new(kind).map_err(err)?;
        if kind == SocketType::Sub {
            sock.set_option(SocketOption::Subscribe(Bytes::new()))
                .map_err(err)?;
        }
        sock.bind(&s.bind_endpoint()).map_err(err)?;
        let ep = sock.last_endpoint().expect("bound");
        let mut peer = None;
        let mut local = None;
        if s.transport == Transport::Inproc {
            let (pattern, size, total) = (s.pattern, s.size, s.total());
            let ep = ep.clone();
            local = Some(spawn(
                async move { send_all(&ep, pattern, size, total).await },
            ));
        } else {
            peer = Some(s.spawn_peer(Role::Send, &ep)?);
        }
        let figures: Box<dyn Figures> = if kind == SocketType::Sub {
            let receipts = subscriber(&sock, s.warmup, s.total()).await?;
            Box::new(Delivery {
                count: s.count,
                size: s.size,
                subscribers: 1,
                receipts: vec![receipts],
            })
        } else {
            for _ in 0..s.warmup {
                sock.recv().await.map_err(err)?;
            }
            sock.recv().await.map_err(err)?;
            let start = Instant::now();
            for _ in 1..s.count {
                sock.recv().await.map_err(err)?;
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
            l.await?;
        }
        Ok(figures)
    })
}

/// Receives until the last message (or silence: the rest was dropped).
/// RCVTIMEO bounds the wait; it arms a timer only when a recv would block.
async fn subscriber(sock: &Socket, warmup: u64, total: u64) -> Result<Receipts, String> {
    let mut r = Receipts::new(warmup, total);
    sock.set_option(SocketOption::RcvTimeo(Some(r.patience())))
        .map_err(err)?;
    let mut first = true;
    loop {
        match sock.recv().await {
            Ok(m) => {
                if r.on_message(&m.frames()[0]) {
                    return Ok(r);
                }
                if first {
                    first = false;
                    sock.set_option(SocketOption::RcvTimeo(Some(r.patience())))
                        .map_err(err)?;
                }
            }
            Err(Error::WouldBlock(_)) => return Ok(r),
            Err(e) => return Err(err(e)),
        }
    }
}

/// N SUBs in this process, connected to a PUB the peer process binds.
pub fn fanout(s: &Setup) -> Result<Delivery, String> {
    let rt = runtime(s.profile, s.main_core)?;
    rt.block_on(async {
        let (peer, ep) = s.spawn_binding_peer(Role::Publish)?;
        let mut tasks = Vec::new();
        for _ in 0..s.peers {
            let sub = Socket::new(SocketType::Sub).map_err(err)?;
            sub.set_option(SocketOption::Subscribe(Bytes::new()))
                .map_err(err)?;
            sub.connect(&ep).map_err(err)?;
            let (warmup, total) = (s.warmup, s.total());
            tasks.push(spawn(async move { subscriber(&sub, warmup, total).await }));
        }
        let mut receipts = Vec::new();
        for t in tasks {
            receipts.push(t.await?);
        }
        peer.finish()?;
        Ok(Delivery {
            count: s.count,
            size: s.size,
            subscribers: s.peers,
            receipts,
        })
    })
}

/// A ROUTER (bound, measuring) fed by N DEALERs in the peer process.
pub fn lb(s: &Setup) -> Result<Throughput, String> {
    let rt = runtime(s.profile, s.main_core)?;
    rt.block_on(async {
        let router = Socket::new(SocketType::Router).map_err(err)?;
        router.bind(&s.bind_endpoint()).map_err(err)?;
        let ep = router.last_endpoint().expect("bound");
        let peer = s.spawn_peer(Role::Dealers, &ep)?;
        let n = s.peers as u64;
        for _ in 0..s.warmup * n {
            router.recv().await.map_err(err)?;
        }
        router.recv().await.map_err(err)?;
        let start = Instant::now();
        for _ in 1..s.count * n {
            router.recv().await.map_err(err)?;
        }
        let elapsed = start.elapsed();
        peer.finish()?;
        Ok(Throughput {
            count: s.count * n,
            size: s.size,
            elapsed,
        })
    })
}

/// Connects a PUSH (or an XPUB, which waits for the subscription) and sends
/// `total` messages, each built from a byte slice as libzmq's are.
async fn send_all(ep: &str, pattern: Pattern, size: usize, total: u64) -> Result<(), String> {
    let kind = match pattern {
        Pattern::PushPull => SocketType::Push,
        Pattern::PubSub => SocketType::XPub,
    };
    let sock = Socket::new(kind).map_err(err)?;
    sock.connect(ep).map_err(err)?;
    if kind == SocketType::XPub {
        sock.recv().await.map_err(err)?;
    }
    let mut payload = vec![0u8; size];
    for seq in 0..total {
        if kind == SocketType::XPub {
            stamp(&mut payload, seq);
        }
        sock.send(Bytes::copy_from_slice(&payload))
            .await
            .map_err(err)?;
    }
    close_delivered(sock).await;
    Ok(())
}

/// Binds an XPUB (verbose: every subscriber's subscription is reported),
/// prints its endpoint, waits for `subscribers`, then publishes `total`.
async fn publish(p: &PeerArgs) -> Result<(), String> {
    let xpub = Socket::new(SocketType::XPub).map_err(err)?;
    xpub.set_option(SocketOption::XpubVerbose(true))
        .map_err(err)?;
    xpub.bind(&p.endpoint).map_err(err)?;
    println!("{}", xpub.last_endpoint().expect("bound"));
    std::io::Write::flush(&mut std::io::stdout()).map_err(err)?;
    for _ in 0..p.peers {
        xpub.recv().await.map_err(err)?;
    }
    let mut payload = vec![0u8; p.size];
    let pacer = Pacer::new(p.rate);
    for seq in 0..p.total {
        if let Some(at) = pacer.as_ref().and_then(|p| p.due(seq)) {
            sleep_until(at).await;
        }
        stamp(&mut payload, seq);
        xpub.send(Bytes::copy_from_slice(&payload))
            .await
            .map_err(err)?;
    }
    close_delivered(xpub).await;
    Ok(())
}

/// soak's server: a REP bound where told, echoing until the stop message.
async fn serve(p: &PeerArgs) -> Result<(), String> {
    monocoque_runtime::raise_open_files_limit().map_err(err)?;
    let rep = Socket::new(SocketType::Rep).map_err(err)?;
    rep.bind(&p.endpoint).map_err(err)?;
    println!("{}", rep.last_endpoint().expect("bound"));
    std::io::Write::flush(&mut std::io::stdout()).map_err(err)?;
    loop {
        let m = rep.recv().await.map_err(err)?;
        let stop = m.len() == 1 && &m[0][..] == crate::soak::STOP;
        rep.send(m).await.map_err(err)?;
        if stop {
            close_delivered(rep).await;
            return Ok(());
        }
    }
}

/// `peers` DEALERs, one task each, each sending `total` messages.
async fn dealers(p: &PeerArgs) -> Result<(), String> {
    let mut tasks = Vec::new();
    for _ in 0..p.peers {
        let dealer = Socket::new(SocketType::Dealer).map_err(err)?;
        dealer.connect(&p.endpoint).map_err(err)?;
        let (size, total) = (p.size, p.total);
        tasks.push(spawn(async move {
            let payload = vec![0u8; size];
            for _ in 0..total {
                dealer
                    .send(Bytes::copy_from_slice(&payload))
                    .await
                    .map_err(err)?;
            }
            close_delivered(dealer).await;
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await?;
    }
    Ok(())
}

/// Closes `sock` once what it queued has been written: LINGER (infinite by
/// default) delivers while the runtime runs, so wait for the monitor's last event.
async fn close_delivered(sock: Socket) {
    let monitor = sock.monitor();
    drop(sock);
    while monitor.recv().await != MonitorEvent::Stopped {}
}

/// The peer process's side.
pub fn peer(p: &PeerArgs) -> Result<(), String> {
    let rt = runtime(p.profile, p.core)?;
    rt.block_on(async {
        match p.role {
            Role::Echo => {
                let rep = Socket::new(SocketType::Rep).map_err(err)?;
                rep.connect(&p.endpoint).map_err(err)?;
                echo(&rep, p.total).await?;
                close_delivered(rep).await;
                Ok(())
            }
            Role::Send => send_all(&p.endpoint, p.pattern, p.size, p.total).await,
            Role::Publish => publish(p).await,
            Role::Dealers => dealers(p).await,
            Role::Serve => serve(p).await,
            Role::BusyEcho => Err("monocoque has no busy-echo role".into()),
            // Monocoque's box is the appliance binary, not a peer of this one.
            Role::Queue | Role::Forwarder => Err("monocoque's box is the appliance".into()),
        }
    })
}
