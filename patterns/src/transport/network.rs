//! tcp:// and ipc://: the listener task of a bind and the connecter task of a
//! connect. Both hand each connection to an [`engine`](super::engine).

use std::rc::Rc;
use std::time::{Duration, Instant};

use monocoque_runtime::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use monocoque_runtime::{sleep_until, spawn};

use super::engine::{self, EngineEnd, PersistentPipe};
use super::reconnect::Backoff;
use crate::endpoint::{resolve, Endpoint};
use crate::fanout;
use crate::log_limit;
use crate::monitor::MonitorEvent;
use crate::socket::shared::{random_seed, SocketShared};

/// A bound network listener.
pub(crate) enum Listener {
    Tcp(TcpListener),
    Ipc(UnixListener),
}

/// First pause after an accept that failed for want of descriptors or memory.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
/// Longest pause between accepts while they keep failing.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Accepts connections until the task is dropped (unbind, close).
pub(crate) async fn listen(shared: Rc<SocketShared>, listener: Listener, endpoint: String) {
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let accepted = match &listener {
            Listener::Tcp(l) => l.accept().await.map(|(s, _)| Accepted::Tcp(s)),
            Listener::Ipc(l) => l.accept().await.map(Accepted::Ipc),
        };
        if shared.lifecycle.is_closing() {
            return;
        }
        match accepted {
            Ok(stream) => {
                backoff = ACCEPT_BACKOFF_MIN;
                shared.monitor.borrow().post(MonitorEvent::Accepted {
                    endpoint: endpoint.clone(),
                });
                let (sh, ep) = (shared.clone(), endpoint.clone());
                match stream {
                    Accepted::Tcp(s) => {
                        apply_keepalive(&shared, &s);
                        let Some(s) = fanout::hand_off(&shared, s, &endpoint) else {
                            continue;
                        };
                        spawn(async move {
                            engine::run(s, sh, ep, None).await;
                        })
                        .detach();
                    }
                    Accepted::Ipc(s) => {
                        let Some(s) = fanout::hand_off(&shared, s, &endpoint) else {
                            continue;
                        };
                        spawn(async move {
                            engine::run(s, sh, ep, None).await;
                        })
                        .detach()
                    }
                }
            }
            Err(e) if peer_gone(&e) => {
                // The peer reset or aborted before we took the connection:
                // its doing, not ours; take the next one at once.
                tracing::debug!(%endpoint, error = %e, "connection gone before accept");
            }
            Err(e) => {
                // EMFILE, ENFILE, ENOBUFS, ENOMEM: the process or the system
                // is out of something that only time (connections closing)
                // gives back. Back off without spinning, doubling up to a
                // second, and say so at most a few times per interval.
                if let Some(suppressed) = log_limit::ACCEPT_FAILED.admit() {
                    tracing::warn!(
                        %endpoint,
                        error = %e,
                        suppressed,
                        retry_in_ms = backoff.as_millis() as u64,
                        "accept failed"
                    );
                }
                monocoque_runtime::sleep(backoff).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
            }
        }
    }
}

/// Whether an accept error means only that the peer went away first.
fn peer_gone(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionReset, NotConnected};
    matches!(e.kind(), ConnectionAborted | ConnectionReset | NotConnected)
}

enum Accepted {
    Tcp(TcpStream),
    Ipc(UnixStream),
}

fn apply_keepalive(shared: &SocketShared, stream: &TcpStream) {
    let keepalive = shared.core.borrow().options.tcp_keepalive;
    if keepalive != Default::default() {
        if let Err(e) = stream.set_keepalive(&keepalive) {
            tracing::warn!(error = %e, "TCP keepalive options could not be applied");
        }
    }
}

/// Connects, runs the connection, and reconnects after RECONNECT_IVL (with
/// jitter and backoff) until the task is dropped or the socket has closed and
/// has nothing left to deliver.
pub(crate) async fn connect(
    shared: Rc<SocketShared>,
    endpoint: Endpoint,
    shown: String,
    persistent: Option<PersistentPipe>,
) {
    let seed = (u64::from(random_seed()) << 32) | shared.allocate_peer().0;
    let (ivl, max) = reconnect_options(&shared);
    let mut backoff = Backoff::new(ivl.unwrap_or_default(), max, seed);
    loop {
        if done(&shared, &persistent) {
            return;
        }
        let result = match &endpoint {
            Endpoint::Tcp { host, port } => match resolve(host, *port) {
                Ok(addr) => TcpStream::connect(addr).await.map(Accepted::Tcp),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            },
            Endpoint::Ipc(path) => UnixStream::connect(path).await.map(Accepted::Ipc),
            Endpoint::Inproc(_) => unreachable!("inproc is not a network transport"),
        };
        match result {
            Ok(stream) => {
                shared.monitor.borrow().post(MonitorEvent::Connected {
                    endpoint: shown.clone(),
                });
                backoff.reset();
                let end = match stream {
                    Accepted::Tcp(s) => {
                        apply_keepalive(&shared, &s);
                        engine::run(s, shared.clone(), shown.clone(), persistent.clone()).await
                    }
                    Accepted::Ipc(s) => {
                        engine::run(s, shared.clone(), shown.clone(), persistent.clone()).await
                    }
                };
                if end == EngineEnd::Released {
                    return;
                }
            }
            Err(e) => {
                tracing::debug!(endpoint = %shown, error = %e, "connect failed");
            }
        }
        let (ivl, max) = reconnect_options(&shared);
        let Some(ivl) = ivl else {
            tracing::info!(endpoint = %shown, "RECONNECT_IVL is -1: not reconnecting");
            return;
        };
        backoff.configure(ivl, max);
        let delay = backoff.next_delay();
        shared.monitor.borrow().post(MonitorEvent::ConnectRetried {
            endpoint: shown.clone(),
            after: delay,
        });
        let mut wake_at = Instant::now() + delay;
        if let Some(d) = shared.lifecycle.deadline() {
            wake_at = wake_at.min(d);
        }
        sleep_until(wake_at).await;
    }
}

fn reconnect_options(shared: &SocketShared) -> (Option<Duration>, Duration) {
    let core = shared.core.borrow();
    (core.options.reconnect_ivl, core.options.reconnect_ivl_max)
}

/// After close, a connecter keeps trying only while it has messages to deliver
/// and the linger allows.
fn done(shared: &SocketShared, persistent: &Option<PersistentPipe>) -> bool {
    let l = &shared.lifecycle;
    if !l.is_closing() {
        return false;
    }
    l.expired(Instant::now())
        || persistent
            .as_ref()
            .is_none_or(|p| p.outbound.borrow().is_empty())
}
