//! The `--svg` plot: round-trip percentiles per implementation (left) and
//! one-way throughput by message size (right), from the runs' records.

use std::path::Path;

use plotters::prelude::*;

use crate::record::{median, Record};

/// Reads one figure of a record.
type Figure = fn(&Record) -> Option<f64>;

/// The quantiles the left panel shows, in order.
const PERCENTILES: [(&str, Figure); 4] = [
    ("p50", |r| r.rtt_p50_us),
    ("p99", |r| r.rtt_p99_us),
    ("p99.9", |r| r.rtt_p999_us),
    ("max", |r| r.rtt_max_us),
];

/// "impl (profile)", as the table names a line.
fn label(r: &Record) -> String {
    match &r.profile {
        Some(p) => format!("{} ({p})", r.imp),
        None => r.imp.clone(),
    }
}

/// Labels in first-seen order.
fn labels<'a>(records: impl Iterator<Item = &'a Record>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in records {
        let l = label(r);
        if !out.contains(&l) {
            out.push(l);
        }
    }
    out
}

/// Prefers tcp, then whatever transport the records have.
fn transport_of<'a>(records: impl Iterator<Item = &'a Record> + Clone) -> Option<String> {
    if records.clone().any(|r| r.transport == "tcp") {
        return Some("tcp".into());
    }
    records.map(|r| r.transport.clone()).next()
}

fn draw_err(e: impl std::fmt::Display) -> String {
    format!("plot: {e}")
}

/// Writes the two panels into `path`.
pub fn write_svg(path: &Path, records: &[Record]) -> Result<(), String> {
    let root = SVGBackend::new(path, (1280, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_err)?;
    let (left, right) = root.split_horizontally(640);
    latency_panel(&left, records)?;
    throughput_panel(&right, records)?;
    root.present()
        .map_err(|e| format!("{}: {e}", path.display()))
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn empty(area: &Area<'_>, what: &str) -> Result<(), String> {
    area.draw(&Text::new(
        format!("no {what} runs"),
        (60, 60),
        ("sans-serif", 18),
    ))
    .map_err(draw_err)
}

/// Round-trip percentiles of `lat` runs: 64-byte messages when there are
/// some (else the smallest size), tcp when there is tcp.
fn latency_panel(area: &Area<'_>, records: &[Record]) -> Result<(), String> {
    let lat = records.iter().filter(|r| r.rtt_p50_us.is_some());
    let Some(transport) = transport_of(lat.clone()) else {
        return empty(area, "latency");
    };
    let lat = lat.filter(|r| r.transport == transport);
    let size = if lat.clone().any(|r| r.size == 64) {
        64
    } else {
        lat.clone().map(|r| r.size).min().expect("some")
    };
    let lat: Vec<&Record> = lat.filter(|r| r.size == size).collect();
    let names = labels(lat.iter().copied());
    let lines: Vec<(String, Vec<(f64, f64)>)> = names
        .into_iter()
        .map(|name| {
            let points = PERCENTILES
                .iter()
                .enumerate()
                .filter_map(|(i, (_, f))| {
                    let v: Vec<f64> = lat
                        .iter()
                        .filter(|r| label(r) == name)
                        .filter_map(|r| f(r))
                        .collect();
                    median(v).map(|m| (i as f64, m))
                })
                .collect();
            (name, points)
        })
        .collect();
    let (lo, hi) = bounds(lines.iter().flat_map(|(_, p)| p.iter().map(|(_, y)| *y)));
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("REQ/REP round trip, {size} B, {transport}"),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.2f64..3.2f64, (lo..hi).log_scale())
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_labels(4)
        .x_label_formatter(&|x| {
            let i = x.round() as usize;
            PERCENTILES
                .get(i)
                .filter(|_| (x - i as f64).abs() < 0.01)
                .map(|(n, _)| n.to_string())
                .unwrap_or_default()
        })
        .y_desc("microseconds (log)")
        .draw()
        .map_err(draw_err)?;
    series(&mut chart, lines)
}

/// Messages per second of one-way `thr` runs (push-pull when there is
/// push-pull) by message size.
fn throughput_panel(area: &Area<'_>, records: &[Record]) -> Result<(), String> {
    let thr = records
        .iter()
        .filter(|r| r.scenario == "thr" && r.msgs_per_s.is_some());
    let Some(transport) = transport_of(thr.clone()) else {
        return empty(area, "throughput");
    };
    let pattern = if thr
        .clone()
        .any(|r| r.pattern.as_deref() == Some("push-pull"))
    {
        "push-pull"
    } else {
        "pub-sub"
    };
    let thr: Vec<&Record> = thr
        .filter(|r| r.transport == transport && r.pattern.as_deref() == Some(pattern))
        .collect();
    let mut sizes: Vec<usize> = thr.iter().map(|r| r.size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let lines: Vec<(String, Vec<(f64, f64)>)> = labels(thr.iter().copied())
        .into_iter()
        .map(|name| {
            let points = sizes
                .iter()
                .filter_map(|&size| {
                    let v: Vec<f64> = thr
                        .iter()
                        .filter(|r| label(r) == name && r.size == size)
                        .filter_map(|r| r.msgs_per_s)
                        .collect();
                    median(v).map(|m| (size as f64, m))
                })
                .collect();
            (name, points)
        })
        .collect();
    let (lo, hi) = bounds(lines.iter().flat_map(|(_, p)| p.iter().map(|(_, y)| *y)));
    let (x_lo, x_hi) = (
        *sizes.first().expect("some") as f64 / 2.0,
        *sizes.last().expect("some") as f64 * 2.0,
    );
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{pattern} throughput by size, {transport}"),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d((x_lo..x_hi).log_scale(), (lo..hi).log_scale())
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .x_desc("message size, bytes (log)")
        .y_desc("messages per second (log)")
        .draw()
        .map_err(draw_err)?;
    series(&mut chart, lines)
}

/// A log axis from a little under the smallest value to a little over the largest.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (1.0, 10.0);
    }
    ((lo / 1.5).max(1e-3), hi * 1.5)
}

/// Draws one line with points per implementation, and the legend.
fn series<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    lines: Vec<(String, Vec<(f64, f64)>)>,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (i, (name, points)) in lines.into_iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(draw_err)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        chart
            .draw_series(PointSeries::of_element(
                points,
                4,
                color.filled(),
                &|c, s, st| Circle::new(c, s, st),
            ))
            .map_err(draw_err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()
        .map_err(draw_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(imp: &str, scenario: &str, size: usize) -> Record {
        Record {
            scenario: scenario.into(),
            imp: imp.into(),
            transport: "tcp".into(),
            pattern: (scenario == "thr").then(|| "push-pull".into()),
            size,
            count: 1,
            run: 1,
            ..Record::default()
        }
    }

    #[test]
    fn both_panels_name_every_implementation() {
        let mut records = Vec::new();
        for (i, imp) in ["monocoque", "libzmq"].into_iter().enumerate() {
            let mut r = rec(imp, "lat", 64);
            r.rtt_p50_us = Some(10.0 + i as f64);
            r.rtt_p99_us = Some(20.0);
            r.rtt_p999_us = Some(30.0);
            r.rtt_max_us = Some(400.0);
            records.push(r);
            for size in [64, 1024] {
                let mut r = rec(imp, "thr", size);
                r.msgs_per_s = Some(1e6 / (i + 1) as f64);
                records.push(r);
            }
        }
        let path = std::env::temp_dir().join(format!("monocoque-plot-{}.svg", std::process::id()));
        write_svg(&path, &records).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
        // plotters writes each text on a line of its own.
        let texts = |name: &str| svg.lines().filter(|l| l.trim() == name).count();
        assert_eq!(texts("monocoque"), 2, "one legend entry per panel");
        assert_eq!(texts("libzmq"), 2);
        assert!(svg.contains("REQ/REP round trip, 64 B, tcp"));
    }

    #[test]
    fn nothing_to_plot_says_so() {
        let path =
            std::env::temp_dir().join(format!("monocoque-plot-e-{}.svg", std::process::id()));
        write_svg(&path, &[]).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(svg.contains("no latency runs") && svg.contains("no throughput runs"));
    }
}
