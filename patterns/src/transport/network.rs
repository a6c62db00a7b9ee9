//! tcp:// and ipc://: the listener task of a bind and the connecter task of a
//! connect. Both hand each connection to an [`engine`](super::engine).

use std::rc::Rc;
use std::time::{Duration, Instant};

use monocoque_runtime::net::{TcpListener, TcpStream, TcpTuning, UnixListener, UnixStream};
use monocoque_runtime::{sleep_until, spawn, timeout};

use super::reconnect::Backoff;
use super::tcp_address;
use crate::close_reason::CloseReason;
use crate::endpoint::Endpoint;
use crate::engine::{self, EngineEnd, EngineOwner};
use crate::host::{ConnectionTerms, NetStream, SocketHost};
use crate::log_limit;
use crate::monitor::MonitorEvent;
use crate::options::{
    RECONNECT_STOP_AFTER_DISCONNECT, RECONNECT_STOP_CONN_REFUSED, RECONNECT_STOP_HANDSHAKE_FAILED,
};
use crate::pipe::{FarEnd, PipeEvent};

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
///
/// The accept filters (TCP_ACCEPT_FILTER, IPC_FILTER_*) are those of
/// `bound_terms`, the terms read when the bind was made (not when this task
/// first runs, which may be after the application's next option), as
/// libzmq copies them into its listener: setting them afterwards changes
/// later binds only.
pub(crate) async fn listen(
    host: Rc<dyn SocketHost>,
    bound_terms: Rc<ConnectionTerms>,
    listener: Listener,
    endpoint: String,
) {
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let accepted = match &listener {
            Listener::Tcp(l) => match l.accept().await {
                Ok((_, peer)) if !accepts(&bound_terms.tcp_accept_filters, peer.ip()) => {
                    // Closed as it was taken, before a byte is read.
                    tracing::debug!(%endpoint, %peer, "connection outside TCP_ACCEPT_FILTER closed");
                    refused(&*host, &endpoint, "outside TCP_ACCEPT_FILTER");
                    continue;
                }
                accepted => accepted.map(|(s, a)| (NetStream::Tcp(s), Some(a.to_string()))),
            },
            Listener::Ipc(l) => match l.accept().await {
                Ok(s) if !bound_terms.ipc_filters.admits(|| s.peer_credentials()) => {
                    // Closed as it was taken, before a byte is read.
                    tracing::debug!(%endpoint, "connection outside IPC_FILTER_UID/GID/PID closed");
                    refused(&*host, &endpoint, "outside IPC_FILTER_UID/GID/PID");
                    continue;
                }
                accepted => accepted.map(|s| (NetStream::Ipc(s), None)),
            },
        };
        if host.lifecycle().is_closing() {
            return;
        }
        match accepted {
            Ok((stream, remote)) => {
                backoff = ACCEPT_BACKOFF_MIN;
                host.post(MonitorEvent::Accepted {
                    endpoint: endpoint.clone(),
                    remote,
                });
                apply_stream_options(&*host, &stream);
                if let Some(stream) = host.hand_off(stream, &endpoint) {
                    let setup = host.engine_setup(&endpoint, None, None);
                    let owner: Rc<dyn EngineOwner> = host.clone();
                    spawn(async move {
                        run_engine(stream, setup, owner).await;
                    })
                    .detach();
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
                host.post(MonitorEvent::AcceptFailed {
                    endpoint: endpoint.clone(),
                    error: e.to_string(),
                });
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

/// Reports a connection an accept filter closed as libzmq's listener
/// does: ZMQ_EVENT_ACCEPT_FAILED on the bound endpoint.
fn refused(host: &dyn SocketHost, endpoint: &str, why: &str) {
    if host.lifecycle().is_closing() {
        return;
    }
    host.post(MonitorEvent::AcceptFailed {
        endpoint: endpoint.to_string(),
        error: why.to_string(),
    });
}

/// Runs an engine over whichever stream it is: a STREAM socket's raw
/// engine, or the ZMTP one.
async fn run_engine(
    stream: NetStream,
    setup: engine::EngineSetup,
    owner: Rc<dyn EngineOwner>,
) -> EngineEnd {
    match (stream, setup.raw) {
        (NetStream::Tcp(s), false) => engine::run(s, setup, owner).await,
        (NetStream::Ipc(s), false) => engine::run(s, setup, owner).await,
        (NetStream::Tcp(s), true) => engine::raw::run(s, setup, owner).await,
        (NetStream::Ipc(s), true) => engine::raw::run(s, setup, owner).await,
    }
}

/// Whether an accept error means only that the peer went away first.
fn peer_gone(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionReset, NotConnected};
    matches!(e.kind(), ConnectionAborted | ConnectionReset | NotConnected)
}

/// Whether TCP_ACCEPT_FILTER lets a peer at `peer` in: any when none is
/// set, else one that is in some filter's network.
fn accepts(filters: &[crate::AcceptFilter], peer: std::net::IpAddr) -> bool {
    filters.is_empty() || filters.iter().any(|f| f.matches(peer))
}

/// SNDBUF and RCVBUF, and for tcp the keepalive options, on a new
/// connection; a failure is logged and the connection kept.
fn apply_stream_options(host: &dyn SocketHost, stream: &NetStream) {
    let terms = host.terms();
    let (send, recv) = (terms.sndbuf, terms.rcvbuf);
    if send.is_some() || recv.is_some() {
        let set = match stream {
            NetStream::Tcp(s) => s.set_buffer_sizes(send, recv),
            NetStream::Ipc(s) => s.set_buffer_sizes(send, recv),
        };
        if let Err(e) = set {
            tracing::warn!(error = %e, "SNDBUF/RCVBUF could not be applied");
        }
    }
    let NetStream::Tcp(stream) = stream else {
        return;
    };
    let keepalive = terms.tcp_keepalive;
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
    host: Rc<dyn SocketHost>,
    endpoint: Endpoint,
    shown: String,
    persistent: Option<FarEnd>,
    seed: u64,
    peer_routing_id: Option<bytes::Bytes>,
) {
    let (ivl, max) = reconnect_options(&*host);
    let mut backoff = Backoff::new(ivl.unwrap_or_default(), max, seed);
    // A host that does not resolve is said once, not silently retried.
    let mut unresolved_said = false;
    loop {
        if done(&*host, &persistent) {
            return;
        }
        host.post(MonitorEvent::ConnectDelayed {
            endpoint: shown.clone(),
        });
        let result = match &endpoint {
            Endpoint::Tcp {
                host: name,
                port,
                source,
            } => {
                let terms = host.terms();
                let attempt = match &terms.socks {
                    Some(route) => {
                        connect_via_proxy(route, name, *port, source.as_ref(), &terms).await
                    }
                    None => connect_tcp(name, *port, source.as_ref(), &terms).await,
                };
                match attempt {
                    Ok(s) => {
                        let remote = s.peer_addr().ok().map(|a| a.to_string());
                        Ok((NetStream::Tcp(s), remote))
                    }
                    Err(TcpConnectFailure::Unresolved(e)) => {
                        if !std::mem::replace(&mut unresolved_said, true) {
                            tracing::warn!(endpoint = %shown, error = %e, "host does not resolve; retrying every RECONNECT_IVL");
                        }
                        Err(e)
                    }
                    Err(TcpConnectFailure::Failed(e)) => Err(e),
                }
            }
            Endpoint::Ipc(path) => match Endpoint::abstract_name(path) {
                Some(name) => UnixStream::connect_abstract(name).await,
                None => UnixStream::connect(path).await,
            }
            .map(|s| (NetStream::Ipc(s), None)),
            Endpoint::Inproc(_) => unreachable!("inproc is not a network transport"),
        };
        match result {
            Ok((stream, remote)) => {
                host.post(MonitorEvent::Connected {
                    endpoint: shown.clone(),
                    remote,
                });
                backoff.reset();
                apply_stream_options(&*host, &stream);
                let setup = host.engine_setup(&shown, persistent.clone(), peer_routing_id.clone());
                let end = run_engine(stream, setup, host.clone()).await;
                if end == EngineEnd::Released {
                    return;
                }
                if stops_after(&*host, &end) || ends_for_good(&end) {
                    return give_up(&*host, persistent);
                }
            }
            Err(e) => {
                tracing::debug!(endpoint = %shown, error = %e, "connect failed");
                if e.kind() == std::io::ErrorKind::ConnectionRefused
                    && host.terms().reconnect_stop & RECONNECT_STOP_CONN_REFUSED != 0
                {
                    tracing::info!(endpoint = %shown, "connection refused: not reconnecting (RECONNECT_STOP)");
                    return give_up(&*host, persistent);
                }
            }
        }
        let (ivl, max) = reconnect_options(&*host);
        let Some(ivl) = ivl else {
            tracing::info!(endpoint = %shown, "RECONNECT_IVL is -1: not reconnecting");
            return give_up(&*host, persistent);
        };
        backoff.configure(ivl, max);
        let delay = backoff.next_delay();
        host.post(MonitorEvent::ConnectRetried {
            endpoint: shown.clone(),
            after: delay,
        });
        let mut wake_at = Instant::now() + delay;
        if let Some(d) = host.lifecycle().deadline() {
            wake_at = wake_at.min(d);
        }
        sleep_until(wake_at).await;
    }
}

/// The connecter stops for good: its pipe goes too, with what it held, as
/// libzmq ends the session's pipe. A socket that takes one peer (PAIR) is
/// then free for the next connect.
fn give_up(host: &dyn SocketHost, persistent: Option<FarEnd>) {
    if let Some(far) = persistent {
        host.signals().event(PipeEvent::Detached(far.peer));
    }
}

/// Why a tcp connect attempt failed.
enum TcpConnectFailure {
    /// The host name gave no address (said once per connecter).
    Unresolved(std::io::Error),
    /// Every address was tried; the last one's error.
    Failed(std::io::Error),
}

/// One connect attempt to `name:port`: each of its addresses in turn (a
/// name is looked up off the reactor), from `source` when given, with the
/// socket's tcp options set before connecting and CONNECT_TIMEOUT bounding
/// each address's attempt.
async fn connect_tcp(
    name: &str,
    port: u16,
    source: Option<&(String, u16)>,
    terms: &ConnectionTerms,
) -> Result<TcpStream, TcpConnectFailure> {
    let addresses = tcp_address::lookup(name, port)
        .await
        .map_err(TcpConnectFailure::Unresolved)?;
    connect_any(&addresses, source, &terms.tcp_tuning, terms.connect_timeout)
        .await
        .map_err(TcpConnectFailure::Failed)
}

/// One connect attempt to `name:port` through the SOCKS5 proxy of `route`:
/// a connection to the proxy (each of its addresses in turn, from the
/// proxy's source address, else the endpoint's), then the exchange, within
/// HANDSHAKE_IVL. The target's name goes to the proxy unresolved.
async fn connect_via_proxy(
    route: &crate::socks_proxy::SocksRoute,
    name: &str,
    port: u16,
    source: Option<&(String, u16)>,
    terms: &ConnectionTerms,
) -> Result<TcpStream, TcpConnectFailure> {
    use super::socks_client::{negotiate, SocksClient};
    let (client, greeting) = SocksClient::new(name, port, &route.username, &route.password)
        .map_err(|e| TcpConnectFailure::Failed(e.into()))?;
    let proxy = &route.proxy;
    let addresses = tcp_address::lookup(&proxy.host, proxy.port)
        .await
        .map_err(TcpConnectFailure::Unresolved)?;
    let source = proxy.source.as_ref().or(source);
    let stream = connect_any(&addresses, source, &terms.tcp_tuning, terms.connect_timeout)
        .await
        .map_err(TcpConnectFailure::Failed)?;
    let exchange = negotiate(&stream, client, greeting);
    let exchanged = match route.exchange_limit {
        Some(limit) => timeout(limit, exchange).await.unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the SOCKS proxy did not connect within HANDSHAKE_IVL ({limit:?})"),
            ))
        }),
        None => exchange.await,
    };
    match exchanged {
        Ok(()) => Ok(stream),
        Err(e) => {
            tracing::debug!(proxy = %proxy.text, error = %e, "SOCKS exchange failed");
            Err(TcpConnectFailure::Failed(e))
        }
    }
}

/// Connects to the first of `addresses` that takes the connection; the last
/// one's error if none does.
async fn connect_any(
    addresses: &[std::net::SocketAddr],
    source: Option<&(String, u16)>,
    tuning: &TcpTuning,
    connect_timeout: Option<Duration>,
) -> std::io::Result<TcpStream> {
    let mut last = None;
    for &address in addresses {
        let attempt = async {
            let from = match source {
                Some((host, port)) => Some(tcp_address::source_address(host, *port, address)?),
                None => None,
            };
            let connecting = TcpStream::connect_with(address, from, tuning);
            match connect_timeout {
                Some(limit) => timeout(limit, connecting).await.unwrap_or_else(|_| {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no connection within CONNECT_TIMEOUT ({limit:?})"),
                    ))
                }),
                None => connecting.await,
            }
        };
        match attempt.await.and_then(refuse_self_connection) {
            Ok(stream) => return Ok(stream),
            Err(e) => {
                tracing::debug!(%address, error = %e, "connect attempt failed");
                last = Some(e);
            }
        }
    }
    Err(last
        .unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address to try")))
}

/// Refuses a connection that met itself. A connect to a port of this host
/// that nothing listens on can draw that same port as its source, and TCP's
/// simultaneous open then connects the socket to itself: it would talk to
/// its own handshake and hold the port the server is about to bind. The
/// connection is dropped and counted as a failed attempt, so the connecter
/// retries after its interval as after a refusal.
fn refuse_self_connection(stream: TcpStream) -> std::io::Result<TcpStream> {
    match (stream.local_addr(), stream.peer_addr()) {
        (Ok(local), Ok(peer)) if local == peer => Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            format!("connected to itself ({local}): nothing listens there"),
        )),
        _ => Ok(stream),
    }
}

/// Whether RECONNECT_STOP ends the connecter after a connection that ended so.
fn stops_after(host: &dyn SocketHost, end: &EngineEnd) -> bool {
    let stop = host.terms().reconnect_stop;
    let why = match end {
        EngineEnd::HandshakeFailed(_) if stop & RECONNECT_STOP_HANDSHAKE_FAILED != 0 => {
            "the handshake failed"
        }
        EngineEnd::Disconnected(_) if stop & RECONNECT_STOP_AFTER_DISCONNECT != 0 => {
            "the connection ended"
        }
        _ => return false,
    };
    tracing::info!(reason = why, "not reconnecting (RECONNECT_STOP)");
    true
}

/// A protocol error ends a connecter for good, as libzmq's session ends
/// on one (`engine_error` with `protocol_error`): a peer that broke ZMTP,
/// refused us in the handshake (ERROR, a mechanism or socket type that
/// does not match, keys that do not open) or whose ZAP handler answered
/// wrongly would do it again. Timeouts and closed connections reconnect.
fn ends_for_good(end: &EngineEnd) -> bool {
    use monocoque_zmtp::Error as Zmtp;
    let (EngineEnd::HandshakeFailed(CloseReason::Protocol(e))
    | EngineEnd::Disconnected(CloseReason::Protocol(e))) = end
    else {
        return false;
    };
    if matches!(
        e,
        Zmtp::HandshakeTimeout(_) | Zmtp::HeartbeatTimeout(_) | Zmtp::HeartbeatTtlExpired(_)
    ) {
        return false;
    }
    tracing::info!(reason = %e, "protocol error: not reconnecting (as libzmq)");
    true
}

fn reconnect_options(host: &dyn SocketHost) -> (Option<Duration>, Duration) {
    let terms = host.terms();
    (terms.reconnect_ivl, terms.reconnect_ivl_max)
}

/// After close, a connecter keeps trying only while it has messages to deliver
/// and the linger allows: queued ones, or ones its writer may still queue (a
/// socket lets go of its pipes as it starts closing; an IO core's connect
/// waits for the socket's core to pass its queue on).
fn done(host: &dyn SocketHost, persistent: &Option<FarEnd>) -> bool {
    let l = host.lifecycle();
    if !l.is_closing() {
        return false;
    }
    l.expired(Instant::now())
        || persistent.as_ref().is_none_or(|p| {
            let out = p.outbound.borrow();
            out.is_empty() && out.writer_gone()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_is_tried_until_one_takes_the_connection() {
        let rt = monocoque_runtime::Runtime::builder().build().unwrap();
        rt.block_on(async {
            let live = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let dead = {
                let l = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
                l.local_addr().unwrap()
            };
            let addresses = [dead, live.local_addr().unwrap()];
            let tuning = TcpTuning::default();
            let s = connect_any(&addresses, None, &tuning, None).await.unwrap();
            assert_eq!(s.peer_addr().unwrap(), live.local_addr().unwrap());
            // None takes it: the last address's error.
            let e = connect_any(&[dead, dead], None, &tuning, None)
                .await
                .unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
            let source = ("127.0.0.2".to_string(), 0);
            let s = connect_any(&addresses, Some(&source), &tuning, None)
                .await
                .unwrap();
            assert_eq!(s.local_addr().unwrap().ip().to_string(), "127.0.0.2");
        });
    }
}
