//! One run's figures, the JSON file, and the table with ratios.

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::machine::Machine;

/// One implementation's run of one scenario, as written to `--json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Record {
    pub scenario: String,
    #[serde(rename = "impl")]
    pub imp: String,
    /// Monocoque's profile; `null` for the others.
    pub profile: Option<String>,
    pub transport: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    pub size: usize,
    pub count: u64,
    /// Subscribers (fanout) or dealers (lb).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peers: Option<usize>,
    pub run: u32,
    /// Where it ran: CPU, logical CPUs, kernel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<Machine>,
    /// The measuring side's core and the peer's (box: the clients' and the box's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cores: Option<[usize; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_p50_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_p99_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_p999_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_max_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msgs_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mbit_per_s: Option<f64>,
    /// Measured messages a subscriber never got (PUB drops at the HWM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<u64>,
    /// Publisher's send to subscriber's receipt, from the payload's timestamp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_p50_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_p99_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_p999_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_max_us: Option<f64>,
}

/// Round trips: each one's duration (ns) and the whole run's time.
pub struct Latency {
    pub rtt_ns: Histogram<u64>,
    pub total: std::time::Duration,
    pub count: u64,
}

impl Latency {
    pub fn new(count: u64) -> Latency {
        Latency {
            rtt_ns: Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds"),
            total: std::time::Duration::ZERO,
            count,
        }
    }

    /// Records one round trip, clamped into the histogram's range.
    pub fn record(&mut self, rtt: std::time::Duration) {
        let ns = (rtt.as_nanos() as u64).clamp(1, 60_000_000_000);
        self.rtt_ns.record(ns).expect("clamped into range");
    }
}

/// What a run measured, written into its record.
pub trait Figures {
    /// Sets the record's figures that apply.
    fn fill(&self, r: &mut Record);
}

impl Figures for Latency {
    fn fill(&self, r: &mut Record) {
        let us = |ns: u64| ns as f64 / 1000.0;
        r.latency_us = Some(self.total.as_secs_f64() * 1e6 / (2.0 * self.count as f64));
        r.rtt_p50_us = Some(us(self.rtt_ns.value_at_quantile(0.5)));
        r.rtt_p99_us = Some(us(self.rtt_ns.value_at_quantile(0.99)));
        r.rtt_p999_us = Some(us(self.rtt_ns.value_at_quantile(0.999)));
        r.rtt_max_us = Some(us(self.rtt_ns.max()));
    }
}

/// Messages received over the time from the first to the last.
pub struct Throughput {
    pub count: u64,
    pub size: usize,
    pub elapsed: std::time::Duration,
}

impl Figures for Throughput {
    fn fill(&self, r: &mut Record) {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let rate = self.count as f64 / secs;
        r.msgs_per_s = Some(rate);
        r.mbit_per_s = Some(rate * self.size as f64 * 8.0 / 1e6);
    }
}

/// The median, min and max of `values`.
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    (median, values[0], values[n - 1])
}

/// The median of `values`, if there are any.
pub fn median(values: Vec<f64>) -> Option<f64> {
    (!values.is_empty()).then(|| spread(values).0)
}

/// Reads one figure of a record.
type Figure = fn(&Record) -> Option<f64>;

/// The figures a scenario may report.
const FIGURES: [(&str, Figure); 12] = [
    ("latency us", |r| r.latency_us),
    ("rtt p50 us", |r| r.rtt_p50_us),
    ("rtt p99 us", |r| r.rtt_p99_us),
    ("rtt p99.9 us", |r| r.rtt_p999_us),
    ("rtt max us", |r| r.rtt_max_us),
    ("msgs/s", |r| r.msgs_per_s),
    ("Mb/s", |r| r.mbit_per_s),
    ("lost", |r| r.lost.map(|l| l as f64)),
    ("delivery p50 us", |r| r.delivery_p50_us),
    ("delivery p99 us", |r| r.delivery_p99_us),
    ("delivery p99.9 us", |r| r.delivery_p999_us),
    ("delivery max us", |r| r.delivery_max_us),
];

/// One line of the table: an implementation's figure across runs.
pub struct Row {
    /// "impl (profile)".
    pub label: String,
    pub figure: &'static str,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Ratios of the median to libzmq's, raw's and raw-busy-poll's ("-" when absent).
    pub ratios: [String; 3],
}

/// The table's rows: one per implementation and figure, the median across
/// runs (min-max), and its ratio to libzmq's median and to the floor's (raw:
/// blocking sockets; raw-busy-poll: spinning ones).
pub fn rows(records: &[Record]) -> Vec<Row> {
    let mut impls: Vec<(String, Option<String>)> = Vec::new();
    for r in records {
        let key = (r.imp.clone(), r.profile.clone());
        if !impls.contains(&key) {
            impls.push(key);
        }
    }
    let median_of = |imp: &str, f: Figure| -> Option<f64> {
        let v: Vec<f64> = records
            .iter()
            .filter(|r| r.imp == imp)
            .filter_map(f)
            .collect();
        (!v.is_empty()).then(|| spread(v).0)
    };
    let mut out = Vec::new();
    for (imp, profile) in &impls {
        let label = match profile {
            Some(p) => format!("{imp} ({p})"),
            None => imp.clone(),
        };
        for (figure, f) in FIGURES {
            let v: Vec<f64> = records
                .iter()
                .filter(|r| &r.imp == imp && &r.profile == profile)
                .filter_map(f)
                .collect();
            if v.is_empty() {
                continue;
            }
            let (median, min, max) = spread(v);
            let ratio = |other: &str| match median_of(other, f) {
                Some(o) if o > 0.0 && other != imp && figure != "lost" => {
                    format!("{:.2}x", median / o)
                }
                _ => "-".into(),
            };
            out.push(Row {
                label: label.clone(),
                figure,
                median,
                min,
                max,
                ratios: [ratio("libzmq"), ratio("raw"), ratio("raw-busy-poll")],
            });
        }
    }
    out
}

/// Prints the table to stdout.
pub fn print_table(records: &[Record]) {
    println!(
        "{:<24} {:<18} {:>14} {:>24} {:>9} {:>9} {:>9}",
        "impl (profile)", "figure", "median", "min - max", "/ libzmq", "/ raw", "/ busy"
    );
    for r in rows(records) {
        println!(
            "{:<24} {:<18} {:>14.2} {:>24} {:>9} {:>9} {:>9}",
            r.label,
            r.figure,
            r.median,
            format!("{:.2} - {:.2}", r.min, r.max),
            r.ratios[0],
            r.ratios[1],
            r.ratios[2],
        );
    }
}

/// The same table in Markdown (for docs/BENCHMARKS.md).
pub fn markdown_table(records: &[Record]) -> String {
    let mut s = String::from(
        "| impl (profile) | figure | median | min - max | / libzmq | / raw | / raw-busy-poll |\n\
         |---|---|---:|---:|---:|---:|---:|\n",
    );
    for r in rows(records) {
        s += &format!(
            "| {} | {} | {:.2} | {:.2} - {:.2} | {} | {} | {} |\n",
            r.label, r.figure, r.median, r.min, r.max, r.ratios[0], r.ratios[1], r.ratios[2]
        );
    }
    s
}

/// Writes every record as one JSON array.
pub fn write_json(path: &std::path::Path, records: &[Record]) -> Result<(), String> {
    let text = serde_json::to_string_pretty(records).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn blank() -> Record {
        Record {
            scenario: "lat".into(),
            imp: "libzmq".into(),
            transport: "tcp".into(),
            size: 64,
            count: 4,
            run: 1,
            ..Record::default()
        }
    }

    #[test]
    fn latency_is_round_trip_over_two_as_libzmq_reports_it() {
        let mut l = Latency::new(4);
        for us in [10, 20, 30, 40] {
            l.record(Duration::from_micros(us));
        }
        l.total = Duration::from_micros(100);
        let mut r = blank();
        l.fill(&mut r);
        assert_eq!(r.latency_us, Some(12.5));
        assert!((r.rtt_p50_us.unwrap() - 20.0).abs() < 0.1);
        assert!((r.rtt_max_us.unwrap() - 40.0).abs() < 0.1);
    }

    #[test]
    fn throughput_counts_messages_and_megabits() {
        let t = Throughput {
            count: 1_000_000,
            size: 125,
            elapsed: Duration::from_millis(500),
        };
        let mut r = blank();
        t.fill(&mut r);
        assert_eq!(r.msgs_per_s, Some(2_000_000.0));
        assert_eq!(r.mbit_per_s, Some(2_000.0));
    }

    #[test]
    fn median_min_max_across_runs() {
        assert_eq!(spread(vec![3.0, 1.0, 2.0]), (2.0, 1.0, 3.0));
        assert_eq!(spread(vec![4.0, 1.0, 2.0, 3.0]), (2.5, 1.0, 4.0));
    }

    #[test]
    fn json_names_the_fields_as_documented() {
        let mut r = blank();
        r.latency_us = Some(1.0);
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        for key in [
            "scenario",
            "impl",
            "profile",
            "transport",
            "size",
            "count",
            "run",
            "latency_us",
        ] {
            assert!(v.get(key).is_some(), "{key} missing in {v}");
        }
        assert!(
            v.get("msgs_per_s").is_none(),
            "figures that do not apply are left out"
        );
    }
}
