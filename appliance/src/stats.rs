//! `monocoque stats`: scrapes a running appliance's metrics endpoint and
//! prints them as a table.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Fetches `http://host:port/metrics` (a plain HTTP/1.0 GET: the response
/// is read to its end, no chunking to decode).
pub fn fetch(addr: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| {
        format!(
            "connecting to {addr}: {e} (is `monocoque run` running, with its metrics on {addr}? \
             --metrics gives another address: the config's metrics.listen)"
        )
    })?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n")
        .map_err(|e| format!("asking {addr}: {e}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| format!("reading from {addr}: {e}"))?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{addr} sent no HTTP response"))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(format!(
            "{addr}: {}",
            head.lines().next().unwrap_or("no status line")
        ));
    }
    Ok(body.to_string())
}

/// One sample: the family name, its labels, the value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parses the samples of an OpenMetrics text (comments skipped).
pub fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let value: f64 = value.parse().ok()?;
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    Some((k.to_string(), v.trim_matches('"').to_string()))
                })
                .collect();
            Some((name.to_string(), labels, value))
        })
        .collect()
}

/// The table `monocoque stats` prints.
pub fn table(text: &str) -> String {
    let samples = samples(text);
    let get = |name: &str, service: &str, socket: &str| -> f64 {
        samples
            .iter()
            .find(|(n, l, _)| {
                n == name
                    && l.get("service").map(String::as_str) == Some(service)
                    && l.get("socket").map(String::as_str) == Some(socket)
            })
            .map_or(0.0, |s| s.2)
    };
    // By name, once each: the same order on every run.
    let services: std::collections::BTreeSet<String> = samples
        .iter()
        .filter_map(|(_, l, _)| l.get("service").cloned())
        .collect();
    let mut out = format!(
        "{:<16} {:<9} {:>12} {:>12} {:>14} {:>14} {:>8} {:>6} {:>10} {:>10}\n",
        "service",
        "socket",
        "msgs in",
        "msgs out",
        "bytes in",
        "bytes out",
        "drops",
        "peers",
        "reconnects",
        "hs failed"
    );
    for s in &services {
        for socket in ["frontend", "backend"] {
            out += &format!(
                "{:<16} {:<9} {:>12} {:>12} {:>14} {:>14} {:>8} {:>6} {:>10} {:>10}\n",
                s,
                socket,
                get("monocoque_messages_in_total", s, socket),
                get("monocoque_messages_out_total", s, socket),
                get("monocoque_bytes_in_total", s, socket),
                get("monocoque_bytes_out_total", s, socket),
                get("monocoque_drops_total", s, socket),
                get("monocoque_peers", s, socket),
                get("monocoque_reconnects_total", s, socket),
                get("monocoque_handshake_failures_total", s, socket),
            );
        }
    }
    out += &format!(
        "\n{:<16} {:>12} {:>10} {:>10} {:>10} {:>10}\n",
        "service", "timed", "p50 us", "p99 us", "p99.9 us", "max us"
    );
    for s in &services {
        let q = |q: &str| {
            samples
                .iter()
                .find(|(n, l, _)| {
                    n == "monocoque_latency_seconds"
                        && l.get("service") == Some(s)
                        && l.get("quantile").map(String::as_str) == Some(q)
                })
                .map_or(0.0, |x| x.2 * 1e6)
        };
        let timed = samples
            .iter()
            .find(|(n, l, _)| {
                n == "monocoque_latency_messages_total" && l.get("service") == Some(s)
            })
            .map_or(0.0, |x| x.2);
        out += &format!(
            "{:<16} {:>12} {:>10.1} {:>10.1} {:>10.1} {:>10.1}\n",
            s,
            timed,
            q("0.5"),
            q("0.99"),
            q("0.999"),
            q("1")
        );
    }
    out += "\ntimed: the messages the latency columns cover, each timed from its arrival on one\n\
            side of the service to its departure on the other (counted in batches, so it\n\
            can trail msgs out a little); p50 to max are over all of them since the start.\n";
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::metrics::ServiceMetrics;
    use crate::metrics_http::{render, Live};

    #[test]
    fn services_come_in_name_order_and_timed_is_explained() {
        let live = Live::default();
        live.set(vec![
            Arc::new(ServiceMetrics::new("zulu")),
            Arc::new(ServiceMetrics::new("alpha")),
        ]);
        let table = super::table(&render(&live));
        let alpha = table.find("\nalpha ").expect("alpha row");
        let zulu = table.find("\nzulu ").expect("zulu row");
        assert!(alpha < zulu, "{table}");
        assert!(table.contains("timed: the messages the latency columns cover"));
    }

    #[test]
    fn nothing_answering_gets_a_hint() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        // The listener is dropped: nothing answers on that port now.
        let e = super::fetch(&port.to_string()).unwrap_err();
        assert!(e.contains("is `monocoque run` running"), "{e}");
    }

    #[test]
    fn the_table_has_one_row_per_service_and_socket() {
        let live = Live::default();
        let a = Arc::new(ServiceMetrics::new("alpha"));
        a.frontend.received(10);
        a.backend.sent(10);
        live.set(vec![a, Arc::new(ServiceMetrics::new("beta"))]);
        let text = render(&live);
        assert!(
            text.contains("monocoque_messages_in_total{service=\"alpha\",socket=\"frontend\"} 1"),
            "{text}"
        );
        let table = super::table(&text);
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(
            rows.iter().filter(|l| l.starts_with("alpha ")).count(),
            3,
            "{table}"
        );
        assert_eq!(
            rows.iter().filter(|l| l.starts_with("beta ")).count(),
            3,
            "{table}"
        );
        let front: Vec<&str> = rows[1].split_whitespace().collect();
        assert_eq!(
            front[..6],
            ["alpha", "frontend", "1", "0", "10", "0"],
            "{table}"
        );
    }
}
