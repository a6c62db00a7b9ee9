//! zmq.rs's ends: the `zeromq` crate on a current-thread tokio runtime on the
//! pinned thread (its tasks run there too).
//!
//! zmq.rs has no inproc transport and no XPUB, so its publishers cannot wait
//! for subscriptions: they wait until the subscribers are connected, and the
//! warm-up absorbs any message sent before a subscription landed. Its PUB
//! writes with a no-op waker ("hope that it flushes eventually"), so the tail
//! of a run can stay in its buffer; the subscribers' silence timeout ends the
//! run and the table counts those messages as lost.

use std::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;
use zeromq::{Socket, SocketEvent, SocketRecv, SocketSend, ZmqMessage};

use crate::cli::{Pattern, PeerArgs, Role};
use crate::delivery::{stamp, Delivery, Pacer, Receipts};
use crate::placement::{pin, Setup};
use crate::record::{Figures, Latency, Throughput};

fn err(e: impl std::fmt::Display) -> String {
    format!("zeromq: {e}")
}

/// A current-thread runtime on `core`.
fn runtime(core: usize) -> Result<tokio::runtime::Runtime, String> {
    pin(core)?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(err)
}

fn message(payload: &[u8]) -> ZmqMessage {
    ZmqMessage::from(Bytes::copy_from_slice(payload))
}

/// Waits for `n` accepted connections: zmq.rs refuses to send with no peer.
async fn accepted(
    events: &mut futures_channel::mpsc::Receiver<SocketEvent>,
    n: usize,
) -> Result<(), String> {
    let mut seen = 0;
    while seen < n {
        match events.next().await {
            Some(SocketEvent::Accepted(..)) => seen += 1,
            Some(_) => {}
            None => return Err(err("the monitor closed before the peers connected")),
        }
    }
    Ok(())
}

/// REQ (bound, measuring) against a REP echo in the peer process.
pub fn lat(s: &Setup) -> Result<Latency, String> {
    runtime(s.main_core)?.block_on(async {
        let mut req = zeromq::ReqSocket::new();
        let mut events = req.monitor();
        let ep = req.bind(&s.bind_endpoint()).await.map_err(err)?;
        let peer = s.spawn_peer(Role::Echo, &ep.to_string())?;
        accepted(&mut events, 1).await?;
        let payload = vec![0u8; s.size];
        for _ in 0..s.warmup {
            req.send(message(&payload)).await.map_err(err)?;
            req.recv().await.map_err(err)?;
        }
        let mut lat = Latency::new(s.count);
        let start = Instant::now();
        for _ in 0..s.count {
            let t = Instant::now();
            req.send(message(&payload)).await.map_err(err)?;
            req.recv().await.map_err(err)?;
            lat.record(t.elapsed());
        }
        lat.total = start.elapsed();
        peer.finish()?;
        Ok(lat)
    })
}

/// PULL or SUB (bound, measuring) fed by a PUSH or PUB in the peer process.
pub fn thr(s: &Setup) -> Result<Box<dyn Figures>, String> {
    runtime(s.main_core)?.block_on(async {
        if s.pattern == Pattern::PubSub {
            let mut sub = zeromq::SubSocket::new();
            sub.subscribe("").await.map_err(err)?;
            let ep = sub.bind(&s.bind_endpoint()).await.map_err(err)?;
            let peer = s.spawn_peer(Role::Send, &ep.to_string())?;
            let receipts = subscriber(sub, s.warmup, s.total()).await?;
            peer.finish()?;
            return Ok(Box::new(Delivery {
                count: s.count,
                size: s.size,
                subscribers: 1,
                receipts: vec![receipts],
            }) as Box<dyn Figures>);
        }
        let mut pull = zeromq::PullSocket::new();
        let ep = pull.bind(&s.bind_endpoint()).await.map_err(err)?;
        let peer = s.spawn_peer(Role::Send, &ep.to_string())?;
        for _ in 0..s.warmup {
            pull.recv().await.map_err(err)?;
        }
        pull.recv().await.map_err(err)?;
        let start = Instant::now();
        for _ in 1..s.count {
            pull.recv().await.map_err(err)?;
        }
        let elapsed = start.elapsed();
        peer.finish()?;
        Ok(Box::new(Throughput {
            count: s.count,
            size: s.size,
            elapsed,
        }))
    })
}

/// Receives until the last message (or silence: the rest was dropped).
async fn subscriber(
    mut sub: zeromq::SubSocket,
    warmup: u64,
    total: u64,
) -> Result<Receipts, String> {
    let mut r = Receipts::new(warmup, total);
    while let Ok(m) = tokio::time::timeout(r.patience(), sub.recv()).await {
        let m = m.map_err(err)?;
        let first = m.get(0).map(|b| &b[..]).unwrap_or(&[]);
        if r.on_message(first) {
            break;
        }
    }
    Ok(r)
}

/// N SUBs in this process (a task each), connected to a PUB the peer binds.
pub fn fanout(s: &Setup) -> Result<Delivery, String> {
    runtime(s.main_core)?.block_on(async {
        let (peer, ep) = s.spawn_binding_peer(Role::Publish)?;
        let mut tasks = Vec::new();
        for _ in 0..s.peers {
            let mut sub = zeromq::SubSocket::new();
            sub.subscribe("").await.map_err(err)?;
            sub.connect(&ep).await.map_err(err)?;
            let (warmup, total) = (s.warmup, s.total());
            tasks.push(tokio::spawn(subscriber(sub, warmup, total)));
        }
        let mut receipts = Vec::new();
        for t in tasks {
            receipts.push(t.await.map_err(err)??);
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
    runtime(s.main_core)?.block_on(async {
        let mut router = zeromq::RouterSocket::new();
        let ep = router.bind(&s.bind_endpoint()).await.map_err(err)?;
        let peer = s.spawn_peer(Role::Dealers, &ep.to_string())?;
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

/// The peer process's side.
pub fn peer(p: &PeerArgs) -> Result<(), String> {
    runtime(p.core)?.block_on(async {
        match p.role {
            Role::Echo => {
                let mut rep = zeromq::RepSocket::new();
                rep.connect(&p.endpoint).await.map_err(err)?;
                for _ in 0..p.total {
                    let m = rep.recv().await.map_err(err)?;
                    rep.send(m).await.map_err(err)?;
                }
                Ok(())
            }
            Role::Send if p.pattern == Pattern::PushPull => {
                let mut push = zeromq::PushSocket::new();
                push.connect(&p.endpoint).await.map_err(err)?;
                let payload = vec![0u8; p.size];
                for _ in 0..p.total {
                    push.send(message(&payload)).await.map_err(err)?;
                }
                Ok(())
            }
            Role::Send => {
                let mut publisher = zeromq::PubSocket::new();
                publisher.connect(&p.endpoint).await.map_err(err)?;
                publish(&mut publisher, p).await
            }
            Role::Publish => {
                let mut publisher = zeromq::PubSocket::new();
                let mut events = publisher.monitor();
                let ep = publisher.bind(&p.endpoint).await.map_err(err)?;
                println!("{ep}");
                std::io::Write::flush(&mut std::io::stdout()).map_err(err)?;
                accepted(&mut events, p.peers).await?;
                publish(&mut publisher, p).await
            }
            Role::Dealers => {
                let mut tasks = Vec::new();
                for _ in 0..p.peers {
                    let mut dealer = zeromq::DealerSocket::new();
                    dealer.connect(&p.endpoint).await.map_err(err)?;
                    let (size, total) = (p.size, p.total);
                    tasks.push(tokio::spawn(async move {
                        let payload = vec![0u8; size];
                        for _ in 0..total {
                            dealer.send(message(&payload)).await.map_err(err)?;
                        }
                        Ok::<(), String>(())
                    }));
                }
                for t in tasks {
                    t.await.map_err(err)??;
                }
                Ok(())
            }
            Role::BusyEcho => Err("zeromq has no busy-echo role".into()),
            Role::Queue | Role::Forwarder => {
                Err("zeromq has no box (box compares the appliance and zmq_proxy)".into())
            }
            Role::Serve => {
                Err("zeromq has no soak server (soak compares monocoque and libzmq)".into())
            }
        }
    })
}

async fn publish(publisher: &mut zeromq::PubSocket, p: &PeerArgs) -> Result<(), String> {
    let mut payload = vec![0u8; p.size];
    let pacer = Pacer::new(p.rate);
    for seq in 0..p.total {
        if let Some(at) = pacer.as_ref().and_then(|p| p.due(seq)) {
            tokio::time::sleep_until(at.into()).await;
        }
        stamp(&mut payload, seq);
        publisher.send(message(&payload)).await.map_err(err)?;
    }
    Ok(())
}
