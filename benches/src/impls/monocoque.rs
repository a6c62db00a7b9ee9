//! Monocoque's ends: the async `Socket` on a reactor pinned as the profile says.

use std::time::Instant;

use bytes::Bytes;
use monocoque_patterns::{MonitorEvent, Socket, SocketOption};
use monocoque_runtime::spawn;
use monocoque_zmtp::SocketType;

use crate::cli::{Pattern, PeerArgs, Role, Transport};
use crate::placement::{runtime, Setup};
use crate::record::{Latency, Throughput};

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

/// PULL or SUB (bound, measuring) fed by a PUSH or XPUB in the peer process.
pub fn thr(s: &Setup) -> Result<Throughput, String> {
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
        for _ in 0..s.warmup {
            sock.recv().await.map_err(err)?;
        }
        sock.recv().await.map_err(err)?;
        let start = Instant::now();
        for _ in 1..s.count {
            sock.recv().await.map_err(err)?;
        }
        let elapsed = start.elapsed();
        if let Some(p) = peer {
            p.finish()?;
        }
        if let Some(l) = local {
            l.await?;
        }
        Ok(Throughput {
            count: s.count,
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
    let payload = vec![0u8; size];
    for _ in 0..total {
        sock.send(Bytes::copy_from_slice(&payload))
            .await
            .map_err(err)?;
    }
    close_delivered(sock).await;
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
            Role::BusyEcho => Err("monocoque has no busy-echo role".into()),
        }
    })
}
