//! `monocoque-bench`: Monocoque beside libzmq and the kernel's floor, in one run.
//!
//! ```sh
//! cargo run --release -p monocoque-benches --bin monocoque-bench -- lat --size 64
//! cargo run --release -p monocoque-benches --bin monocoque-bench -- thr --pattern pub-sub --runs 3
//! cargo run --release -p monocoque-benches --bin monocoque-bench -- floor --json floor.json
//! ```
//!
//! Each run's two ends are separate processes (this binary re-executed with the
//! hidden `peer` subcommand), pinned to `--cores` (default 0 and 1). The
//! measuring end binds; the peer connects. Every implementation gets the same
//! count, size, warm-up and placement; each message is built from a byte slice
//! (one copy) on every side, as libzmq's perf tools do.

mod cli;
mod impls;
mod placement;
mod record;

use clap::Parser;

use cli::{Cli, Common, Impl, Pattern, Scenario, Transport};
use placement::Setup;
use record::{Figures, Record};

fn main() {
    let cli = Cli::parse();
    let result = match cli.scenario {
        Scenario::Peer(p) => match p.imp {
            Impl::Monocoque => impls::monocoque::peer(&p),
            Impl::Libzmq => impls::libzmq::peer(&p),
            Impl::Raw => impls::raw::peer(&p),
        },
        Scenario::Lat(c) => run("lat", &c, Pattern::PushPull),
        Scenario::Thr { common, pattern } => run("thr", &common, pattern),
        Scenario::Floor(c) => run("floor", &c, Pattern::PushPull),
    };
    if let Err(e) = result {
        eprintln!("monocoque-bench: {e}");
        std::process::exit(1);
    }
}

/// Runs `scenario` for each implementation `runs` times, then prints the
/// table and writes the JSON file.
fn run(scenario: &str, c: &Common, pattern: Pattern) -> Result<(), String> {
    if c.cores.len() != 2 {
        return Err(format!(
            "--cores takes two cores (the measuring end's and the peer's), got {:?}",
            c.cores
        ));
    }
    if c.size == 0 || c.count == 0 {
        return Err("--size and --count must be at least 1".into());
    }
    if c.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    let impls: Vec<Impl> = if scenario == "floor" {
        vec![Impl::Raw]
    } else {
        c.impls.clone()
    };
    let mut records = Vec::new();
    for run in 1..=c.runs {
        for &imp in &impls {
            if imp == Impl::Raw && c.transport == Transport::Inproc {
                eprintln!("raw: no inproc transport; skipped");
                continue;
            }
            let setup = Setup {
                imp,
                transport: c.transport,
                size: c.size,
                count: c.count,
                warmup: c.warmup,
                main_core: c.cores[0],
                peer_core: c.cores[1],
                profile: c.profile,
                pattern,
            };
            for (label, figures) in measure(scenario, &setup)? {
                let mut r = Record {
                    scenario: scenario.into(),
                    imp: label.into(),
                    profile: (imp == Impl::Monocoque).then(|| c.profile.name().to_string()),
                    transport: c.transport.name().into(),
                    pattern: (scenario == "thr").then(|| pattern.name().to_string()),
                    size: c.size,
                    count: c.count,
                    run,
                    ..Record::default()
                };
                figures.fill(&mut r);
                eprintln!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
                records.push(r);
            }
        }
    }
    println!(
        "\n{scenario}: {} bytes, {} measured after {} warm-up, {} run(s), {} on cores {:?}{}",
        c.size,
        c.count,
        c.warmup,
        c.runs,
        c.transport.name(),
        c.cores,
        if scenario == "thr" {
            format!(", {}", pattern.name())
        } else {
            String::new()
        }
    );
    record::print_table(&records);
    if let Some(path) = &c.json {
        record::write_json(path, &records)?;
    }
    Ok(())
}

/// An implementation's name and what its run measured.
type Measured = (&'static str, Box<dyn Figures>);

/// One run of one implementation: the records it yields (the floor yields
/// two: blocking and busy-polling).
fn measure(scenario: &str, s: &Setup) -> Result<Vec<Measured>, String> {
    let one = |f: Box<dyn Figures>| vec![(s.imp.name(), f)];
    Ok(match (scenario, s.imp) {
        ("lat", Impl::Monocoque) => one(Box::new(impls::monocoque::lat(s)?)),
        ("lat", Impl::Libzmq) => one(Box::new(impls::libzmq::lat(s)?)),
        ("lat" | "floor", Impl::Raw) => vec![
            ("raw", Box::new(impls::raw::lat(s, false)?)),
            ("raw-busy-poll", Box::new(impls::raw::lat(s, true)?)),
        ],
        ("thr", Impl::Monocoque) => one(Box::new(impls::monocoque::thr(s)?)),
        ("thr", Impl::Libzmq) => one(Box::new(impls::libzmq::thr(s)?)),
        ("thr", Impl::Raw) => one(Box::new(impls::raw::thr(s)?)),
        (other, imp) => return Err(format!("{other} has no {} variant", imp.name())),
    })
}
