//! The metrics endpoint: every running service's counters in the
//! Prometheus/OpenMetrics text format (the `prometheus-client` crate),
//! served over HTTP/1.1 by hyper on a current-thread tokio runtime that
//! runs on a thread of its own.
//!
//! The endpoint faces whoever can reach the port, so it is bounded every way
//! a client could hold it:
//!
//! - each connection is a task of its own: a slow, idle or pipelining client
//!   never delays another one's scrape;
//! - a request head (line and headers) must arrive within
//!   [`HEADER_READ_TIMEOUT`] and fit in [`MAX_HEAD_BYTES`]; a request body is
//!   never read (at most what arrived with the head is drained);
//! - a connection that moves no byte either way for [`IDLE_TIMEOUT`] is closed
//!   (an idle keep-alive, a client that stopped reading its responses);
//! - at most [`MAX_CONNECTIONS`] are open: a new one closes the least recently
//!   active, so a pile of idle connections cannot lock a scraper out and the
//!   memory held stays bounded;
//! - accept errors (EMFILE, ENFILE, ENOBUFS...) are logged at most once per
//!   [`ACCEPT_ERROR_LOG_INTERVAL`] with a count; the least recently active
//!   connection is closed to give its descriptor back, the loop backs off for
//!   [`ACCEPT_BACKOFF`] and keeps accepting: it never stops.
//!
//! Metric families (labels `service` and `socket` = frontend | backend):
//! `monocoque_messages_in_total`, `monocoque_bytes_in_total`,
//! `monocoque_messages_out_total`, `monocoque_bytes_out_total`,
//! `monocoque_drops_total`, `monocoque_peers`, `monocoque_reconnects_total`,
//! `monocoque_handshake_failures_total`; and per service
//! `monocoque_latency_seconds{quantile="0.5"|"0.99"|"0.999"|"1"}` with
//! `monocoque_latency_messages` (how many were timed).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::metrics::{ServiceMetrics, SideMetrics};

/// The services whose metrics are served; the supervisor keeps it current.
#[derive(Debug, Default, Clone)]
pub struct Live(Arc<Mutex<Vec<Arc<ServiceMetrics>>>>);

impl Live {
    /// Replaces the list (after a start or a reload).
    pub fn set(&self, services: Vec<Arc<ServiceMetrics>>) {
        *self.0.lock().expect("not poisoned") = services;
    }
}

impl Collector for Live {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let services = self.0.lock().expect("not poisoned").clone();
        type Read = fn(&SideMetrics) -> u64;
        let counters: [(&str, &str, Read); 7] = [
            (
                "monocoque_messages_in",
                "Messages received from the socket's peers",
                |m| m.messages_in.load(Relaxed),
            ),
            (
                "monocoque_bytes_in",
                "Bytes received from the socket's peers",
                |m| m.bytes_in.load(Relaxed),
            ),
            (
                "monocoque_messages_out",
                "Messages sent to the socket's peers",
                |m| m.messages_out.load(Relaxed),
            ),
            (
                "monocoque_bytes_out",
                "Bytes sent to the socket's peers",
                |m| m.bytes_out.load(Relaxed),
            ),
            (
                "monocoque_drops",
                "Messages dropped on the way out (SNDHWM, SNDTIMEO, unroutable)",
                |m| m.all_drops(),
            ),
            (
                "monocoque_reconnects",
                "Connection attempts that failed and were retried",
                |m| m.reconnects.load(Relaxed),
            ),
            (
                "monocoque_handshake_failures",
                "ZMTP handshakes that failed",
                |m| m.handshake_failures.load(Relaxed),
            ),
        ];
        for (name, help, read) in counters {
            let mut family = encoder.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            for s in &services {
                for (socket, side) in [("frontend", &s.frontend), ("backend", &s.backend)] {
                    let labels = [("service", s.name.as_str()), ("socket", socket)];
                    ConstCounter::new(read(side)).encode(family.encode_family(&labels)?)?;
                }
            }
        }
        let mut family = encoder.encode_descriptor(
            "monocoque_peers",
            "Peers connected now",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for s in &services {
            for (socket, side) in [("frontend", &s.frontend), ("backend", &s.backend)] {
                let labels = [("service", s.name.as_str()), ("socket", socket)];
                ConstGauge::new(side.peers.load(Relaxed)).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "monocoque_io_core_connections",
            "Connections on each of a service's IO cores",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for s in &services {
            for (core, n) in s.io_core_connections().into_iter().enumerate() {
                let core = core.to_string();
                let labels = [("service", s.name.as_str()), ("core", core.as_str())];
                ConstGauge::new(n as i64).encode(family.encode_family(&labels)?)?;
            }
        }
        let latencies: Vec<_> = services
            .iter()
            .map(|s| (s.name.as_str(), s.latency()))
            .collect();
        let mut family = encoder.encode_descriptor(
            "monocoque_latency_seconds",
            "Time a message spends in the service, from leaving one socket's queue to being accepted by the other's (hdrhistogram; quantile 1 is the maximum)",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (name, p) in &latencies {
            for (q, ns) in [
                ("0.5", p.p50),
                ("0.99", p.p99),
                ("0.999", p.p999),
                ("1", p.max),
            ] {
                let labels = [("service", *name), ("quantile", q)];
                ConstGauge::new(ns as f64 / 1e9).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "monocoque_latency_messages",
            "Messages timed for monocoque_latency_seconds",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for (name, p) in &latencies {
            ConstCounter::new(p.count).encode(family.encode_family(&[("service", *name)])?)?;
        }
        Ok(())
    }
}

/// The text a scrape gets.
pub fn render(live: &Live) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(live.clone()));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry).expect("writing to a String");
    out
}

/// How long a client may take to send one request head (line and headers),
/// counted from when the server starts waiting for it.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection that moves no byte in either direction this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections open at once; a new one past it closes the least recently
/// active.
pub const MAX_CONNECTIONS: usize = 64;

/// The most bytes a request head may take; a longer one gets 431 and the
/// connection is closed. hyper's smallest read buffer, far above what a
/// scraper sends.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;

/// The most header fields a request may carry.
pub const MAX_HEADERS: usize = 32;

/// The pause after an accept error that is not about one connection (EMFILE,
/// ENFILE, ENOBUFS, ENOMEM): the pending connection stays queued, so
/// accepting again at once would only spin.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Accept errors are logged at most once per this interval.
pub const ACCEPT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The Content-Type of `/metrics`.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `GET /metrics` on `addr` from a thread of its own; returns the
/// bound address. The thread lives as long as the process.
pub fn serve(addr: SocketAddr, live: Live) -> Result<SocketAddr, String> {
    let listen_err = |e: io::Error| format!("metrics.listen {addr}: {e}");
    // Bound here, not on the thread, so that a taken port fails `run`.
    let std_listener = std::net::TcpListener::bind(addr).map_err(listen_err)?;
    let bound = std_listener.local_addr().map_err(listen_err)?;
    std_listener.set_nonblocking(true).map_err(listen_err)?;
    // Current-thread: no worker threads and no blocking pool is ever used
    // (nothing here blocks), so the endpoint costs one thread.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("metrics: starting its runtime: {e}"))?;
    let listener = {
        let _entered = runtime.enter();
        tokio::net::TcpListener::from_std(std_listener).map_err(listen_err)?
    };
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            // Connections are local tasks: they share the registry of open
            // connections through `Rc` without locks.
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, accept_loop(listener, live));
        })
        .map_err(|e| format!("metrics: starting its thread: {e}"))?;
    Ok(bound)
}

/// Accepts for ever.
async fn accept_loop(listener: tokio::net::TcpListener, live: Live) {
    let open = Rc::new(RefCell::new(Open::default()));
    let mut accept_errors = RateLimited::new(ACCEPT_ERROR_LOG_INTERVAL);
    let mut evictions = RateLimited::new(ACCEPT_ERROR_LOG_INTERVAL);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // That connection is gone already; the next one is fine.
            Err(e) if is_per_connection(&e) => continue,
            // A shortage (EMFILE, ENFILE, ENOBUFS, ENOMEM): the least
            // recently active connection gives its descriptor back to the
            // one waiting, and the pause lets its task close it (and keeps
            // the loop from spinning on a connection it cannot take yet).
            Err(e) => {
                let evicted = open.borrow_mut().evict_least_active();
                if let Some(suppressed) = accept_errors.tick() {
                    tracing::warn!(
                        error = %e,
                        suppressed,
                        evicted,
                        backoff_ms = ACCEPT_BACKOFF.as_millis() as u64,
                        "metrics: accept failed; backing off and accepting again"
                    );
                }
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let (id, activity, close) = {
            let mut open = open.borrow_mut();
            if open.len() >= MAX_CONNECTIONS && open.evict_least_active() {
                if let Some(suppressed) = evictions.tick() {
                    tracing::warn!(
                        max = MAX_CONNECTIONS,
                        suppressed,
                        "metrics: too many connections; closing the least recently active"
                    );
                }
            }
            open.insert()
        };
        let guard = Registered {
            open: open.clone(),
            id,
        };
        tokio::task::spawn_local(connection(
            stream,
            peer,
            activity,
            close,
            live.clone(),
            guard,
        ));
    }
}

/// Accept errors that concern only the connection being accepted: it was
/// reset or aborted before the accept, or Linux passed on that connection's
/// pending network error (accept(2)), or a firewall refused it.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::NetworkDown
            | io::ErrorKind::PermissionDenied
    )
}

/// Serves one connection until the client closes it, an error, the idle
/// timeout, or an eviction.
async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    activity: Rc<Cell<Instant>>,
    close: Rc<Notify>,
    live: Live,
    _registered: Registered,
) {
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let response = respond(&request, &live);
        async move { Ok::<_, Infallible>(response) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_header_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS)
        .serve_connection(io, service);
    // Dropping the connection closes the socket: nothing else is owed to a
    // client that was evicted or went quiet.
    tokio::select! {
        result = conn => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "metrics: connection ended");
            }
        }
        () = close.notified() => {
            tracing::debug!(%peer, "metrics: connection closed to make room for a new one");
        }
        () = idle(&activity) => {
            tracing::debug!(%peer, "metrics: connection idle; closed");
        }
    }
}

/// The answer to one request.
fn respond(request: &Request<Incoming>, live: &Live) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r
    };
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut r = reply(StatusCode::METHOD_NOT_ALLOWED, "GET /metrics\n".into());
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    if request.uri().path() != "/metrics" {
        return reply(StatusCode::NOT_FOUND, "see /metrics\n".into());
    }
    let mut r = reply(StatusCode::OK, render(live));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS));
    r
}

/// Completes once the connection has moved no byte for [`IDLE_TIMEOUT`].
async fn idle(activity: &Cell<Instant>) {
    loop {
        let deadline = activity.get() + IDLE_TIMEOUT;
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline.into()).await;
    }
}

/// The open connections: when each last moved a byte, and how to close it.
#[derive(Default)]
struct Open {
    next_id: u64,
    connections: HashMap<u64, (Rc<Cell<Instant>>, Rc<Notify>)>,
}

impl Open {
    fn len(&self) -> usize {
        self.connections.len()
    }

    /// Registers a new connection: its id, its activity clock, its close
    /// signal.
    fn insert(&mut self) -> (u64, Rc<Cell<Instant>>, Rc<Notify>) {
        let id = self.next_id;
        self.next_id += 1;
        let activity = Rc::new(Cell::new(Instant::now()));
        let close = Rc::new(Notify::new());
        self.connections
            .insert(id, (activity.clone(), close.clone()));
        (id, activity, close)
    }

    /// Closes the connection that moved a byte least recently (a linear scan:
    /// there are at most [`MAX_CONNECTIONS`]). It leaves the registry at
    /// once, so the count is right before its task has run.
    fn evict_least_active(&mut self) -> bool {
        let Some(id) = self
            .connections
            .iter()
            .min_by_key(|(_, (activity, _))| activity.get())
            .map(|(id, _)| *id)
        else {
            return false;
        };
        let (_, close) = self.connections.remove(&id).expect("just found");
        // A stored permit: the task sees it even if it is not waiting yet.
        close.notify_one();
        true
    }
}

/// Removes a connection from [`Open`] when its task ends, however it ends.
struct Registered {
    open: Rc<RefCell<Open>>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.open.borrow_mut().connections.remove(&self.id);
    }
}

/// A TCP stream that notes when it last moved a byte, for [`idle`] and for
/// choosing whom to evict.
struct Watched {
    inner: tokio::net::TcpStream,
    activity: Rc<Cell<Instant>>,
}

impl Watched {
    fn moved<T>(&self, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Ok(_)) = &r {
            self.activity.set(Instant::now());
        }
        r
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.moved(r)
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.moved(r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.moved(r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Lets one event in per interval through and counts the rest.
struct RateLimited {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimited {
    fn new(interval: Duration) -> RateLimited {
        RateLimited {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(how many were suppressed since the last one let through)` if
    /// this event is to be logged, `None` if it is suppressed.
    fn tick(&mut self) -> Option<u64> {
        let now = Instant::now();
        match self.last {
            Some(last) if now.duration_since(last) < self.interval => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limited_lets_one_through_per_interval_and_counts_the_rest() {
        let mut r = RateLimited::new(Duration::from_secs(3600));
        assert_eq!(r.tick(), Some(0));
        assert_eq!(r.tick(), None);
        assert_eq!(r.tick(), None);
        r.last = Some(Instant::now() - Duration::from_secs(3601));
        assert_eq!(r.tick(), Some(2));
        assert_eq!(r.tick(), None);
    }

    #[test]
    fn eviction_closes_the_least_recently_active() {
        let mut open = Open::default();
        let (a, activity_a, close_a) = open.insert();
        let (b, activity_b, close_b) = open.insert();
        activity_b.set(activity_a.get() - Duration::from_secs(1));
        assert!(open.evict_least_active());
        assert!(open.connections.contains_key(&a));
        assert!(!open.connections.contains_key(&b));
        // The evicted one's task finds a stored permit; the other's does not.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let soon = Duration::from_millis(1);
            assert!(tokio::time::timeout(soon, close_b.notified()).await.is_ok());
            assert!(tokio::time::timeout(soon, close_a.notified())
                .await
                .is_err());
        });
    }
}
