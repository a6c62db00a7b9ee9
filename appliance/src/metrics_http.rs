//! The metrics endpoint: every running service's counters in the
//! Prometheus/OpenMetrics text format (the `prometheus-client` crate),
//! served over HTTP by `tiny_http` on a thread of its own.
//!
//! Metric families (labels `service` and `socket` = frontend | backend):
//! `monocoque_messages_in_total`, `monocoque_bytes_in_total`,
//! `monocoque_messages_out_total`, `monocoque_bytes_out_total`,
//! `monocoque_drops_total`, `monocoque_peers`, `monocoque_reconnects_total`,
//! `monocoque_handshake_failures_total`; and per service
//! `monocoque_latency_seconds{quantile="0.5"|"0.99"|"0.999"|"1"}` with
//! `monocoque_latency_messages` (how many were timed).

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

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

/// Serves `GET /metrics` on `addr` from a thread; returns the bound address.
pub fn serve(addr: SocketAddr, live: Live) -> Result<SocketAddr, String> {
    let server =
        tiny_http::Server::http(addr).map_err(|e| format!("metrics.listen {addr}: {e}"))?;
    let bound = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| format!("metrics.listen {addr}: not an IP address"))?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for request in server.incoming_requests() {
                let response = if request.url() == "/metrics" {
                    let header = tiny_http::Header::from_bytes(
                        &b"Content-Type"[..],
                        &b"application/openmetrics-text; version=1.0.0; charset=utf-8"[..],
                    )
                    .expect("a valid header");
                    tiny_http::Response::from_string(render(&live)).with_header(header)
                } else {
                    tiny_http::Response::from_string("see /metrics\n").with_status_code(404)
                };
                if let Err(e) = request.respond(response) {
                    tracing::debug!(error = %e, "metrics: the scraper went away");
                }
            }
        })
        .map_err(|e| format!("metrics: starting its thread: {e}"))?;
    Ok(bound)
}
