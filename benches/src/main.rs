//! `monocoque-bench`: Monocoque beside libzmq, zmq.rs and the kernel's floor,
//! in one run.
//!
//! ```sh
//! cargo run --release -p monocoque-benches --bin monocoque-bench -- lat --size 64
//! cargo run --release -p monocoque-benches --bin monocoque-bench -- thr --pattern pub-sub --runs 3
//! cargo run --release -p monocoque-benches --bin monocoque-bench -- fanout --subscribers 8
//! cargo run --release -p monocoque-benches --bin monocoque-bench -- floor --json floor.json
//! cargo run --release -p monocoque-benches --bin monocoque-bench -- suite
//! cargo run --release -p monocoque-benches --bin monocoque-bench -- soak --connections 10000
//! cargo run --release -p monocoque-benches --bin monocoque-bench -- box --profile latency,balanced
//! ```
//!
//! Each run's two ends are separate processes (this binary re-executed with the
//! hidden `peer` subcommand), pinned to `--cores` (default 0 and 1). The
//! measuring end binds (fanout: the peer's publisher binds and the measuring
//! process's subscribers connect). Every implementation gets the same count,
//! size, warm-up and placement; each message is built from a byte slice (one
//! copy) on every side, as libzmq's perf tools do. Every table is preceded
//! by the machine, the profiles and the placement it was measured with.

mod broker;
mod cli;
mod delivery;
mod impls;
mod machine;
mod placement;
mod plot;
mod record;
mod soak;
mod suite;

use clap::Parser;

use cli::{Cli, Common, Impl, Pattern, Profile, Scenario};
use machine::Machine;
use placement::Setup;
use record::{Figures, Record};

/// A scenario and its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Lat,
    Thr(Pattern),
    /// One PUB to this many SUBs, at this rate (0: flat out).
    Fanout(usize, u64),
    /// This many DEALERs into one ROUTER.
    Lb(usize),
    Floor,
    /// libzmq clients through a broker box: round trips and a stream.
    Broker,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Lat => "lat",
            Kind::Thr(_) => "thr",
            Kind::Fanout(..) => "fanout",
            Kind::Lb(_) => "lb",
            Kind::Floor => "floor",
            Kind::Broker => "box",
        }
    }

    fn peers(self) -> usize {
        match self {
            Kind::Fanout(n, _) | Kind::Lb(n) => n,
            _ => 1,
        }
    }

    fn rate(self) -> u64 {
        match self {
            Kind::Fanout(_, rate) => rate,
            _ => 0,
        }
    }

    fn pattern(self) -> Pattern {
        match self {
            Kind::Thr(p) => p,
            Kind::Fanout(..) => Pattern::PubSub,
            _ => Pattern::PushPull,
        }
    }

    /// What the table's heading says about the run's shape.
    pub fn describe(self) -> String {
        match self {
            // Flat out, libzmq's PUB learns that its pipe has room only when
            // it next reads its mailbox (at most every ~1 ms while sending),
            // and drops what comes before: the figure is what gets through
            // an overloaded PUB, not the pattern's capacity.
            Kind::Thr(Pattern::PubSub) => {
                ", pub-sub, flat out (default HWM: PUB drops)".to_string()
            }
            Kind::Thr(p) => format!(", {}", p.name()),
            Kind::Fanout(n, 0) => format!(", 1 PUB to {n} SUBs, flat out (default HWM: PUB drops)"),
            Kind::Fanout(n, rate) => format!(", 1 PUB to {n} SUBs, paced at {rate} msgs/s"),
            Kind::Lb(n) => format!(", {n} DEALERs into 1 ROUTER"),
            Kind::Broker => ", libzmq clients: REQ -> queue -> REP round trips, \
                             XPUB (NODROP) -> forwarder -> SUB stream"
                .into(),
            _ => String::new(),
        }
    }
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.scenario {
        // The libzmq box is the same process whichever implementation runs.
        Scenario::Peer(p) if matches!(p.role, cli::Role::Queue | cli::Role::Forwarder) => {
            broker::proxy::peer(&p)
        }
        Scenario::Peer(p) => match p.imp {
            Impl::Monocoque => impls::monocoque::peer(&p),
            Impl::Libzmq => impls::libzmq::peer(&p),
            Impl::Zeromq => impls::zeromq::peer(&p),
            Impl::Raw => impls::raw::peer(&p),
        },
        Scenario::Lat(c) => single(Kind::Lat, &c),
        Scenario::Thr { common, pattern } => single(Kind::Thr(pattern), &common),
        Scenario::Fanout {
            common,
            subscribers,
            rate,
        } => single(Kind::Fanout(subscribers, rate), &common),
        Scenario::Lb { common, dealers } => single(Kind::Lb(dealers), &common),
        Scenario::Floor(c) => single(Kind::Floor, &c),
        Scenario::Broker(b) => single(Kind::Broker, &b.common()),
        Scenario::Suite(s) => suite::run(&s),
        Scenario::Soak(s) => soak::run(&s),
    };
    if let Err(e) = result {
        eprintln!("monocoque-bench: {e}");
        std::process::exit(1);
    }
}

/// One scenario from the command line: the table, then the files asked for.
fn single(kind: Kind, c: &Common) -> Result<(), String> {
    let records = run(kind, c)?;
    if let Some(path) = &c.json {
        record::write_json(path, &records)?;
    }
    if let Some(path) = &c.svg {
        plot::write_svg(path, &records)?;
    }
    Ok(())
}

/// Checks what every scenario needs of its settings.
fn validate(kind: Kind, c: &Common) -> Result<(), String> {
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
    if c.profiles.is_empty() {
        return Err("--profile needs at least one profile".into());
    }
    if kind.peers() == 0 {
        return Err(format!("{} needs at least one peer socket", kind.name()));
    }
    Ok(())
}

/// Runs `kind` for each implementation (Monocoque once per profile) `runs`
/// times, prints the table, and returns every run's record.
pub fn run(kind: Kind, c: &Common) -> Result<Vec<Record>, String> {
    validate(kind, c)?;
    let impls: Vec<Impl> = if kind == Kind::Floor {
        vec![Impl::Raw]
    } else {
        c.impls.clone()
    };
    let mut records = Vec::new();
    for run in 1..=c.runs {
        for &imp in &impls {
            if let Some(why) = impls::unsupported(kind, imp, c.transport) {
                if run == 1 {
                    eprintln!("{}: skipped ({why})", imp.name());
                }
                continue;
            }
            let profiles: &[Profile] = if imp == Impl::Monocoque {
                &c.profiles
            } else {
                &c.profiles[..1]
            };
            for &profile in profiles {
                let setup = Setup {
                    imp,
                    transport: c.transport,
                    size: c.size,
                    count: c.count,
                    warmup: c.warmup,
                    main_core: c.cores[0],
                    peer_core: c.cores[1],
                    profile,
                    pattern: kind.pattern(),
                    peers: kind.peers(),
                    rate: kind.rate(),
                    serial: SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                };
                let measured = measure(kind, &setup);
                if c.transport == cli::Transport::Ipc {
                    // Not every implementation removes its socket file.
                    let _ = std::fs::remove_file(setup.ipc_path());
                }
                for (label, figures) in measured? {
                    let mut r = Record {
                        scenario: kind.name().into(),
                        imp: label.into(),
                        profile: (imp == Impl::Monocoque).then(|| profile.name().to_string()),
                        transport: c.transport.name().into(),
                        pattern: matches!(kind, Kind::Thr(_))
                            .then(|| kind.pattern().name().to_string()),
                        size: c.size,
                        count: c.count,
                        peers: matches!(kind, Kind::Fanout(..) | Kind::Lb(_)).then(|| kind.peers()),
                        run,
                        machine: Some(Machine::this().clone()),
                        cores: Some([c.cores[0], c.cores[1]]),
                        ..Record::default()
                    };
                    figures.fill(&mut r);
                    eprintln!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
                    records.push(r);
                }
            }
        }
    }
    println!("\nmachine: {}", Machine::this().describe());
    println!("{}", placement_line(kind, c, &impls));
    println!("{}", heading(kind, c));
    record::print_table(&records);
    Ok(records)
}

/// The line above a table: what was run, and where.
pub fn heading(kind: Kind, c: &Common) -> String {
    format!(
        "{}: {} bytes, {} measured after {} warm-up, {} run(s), {} on cores {:?}{}",
        kind.name(),
        c.size,
        c.count,
        c.warmup,
        c.runs,
        c.transport.name(),
        c.cores,
        kind.describe()
    )
}

/// The profiles run and where each side ran.
fn placement_line(kind: Kind, c: &Common, impls: &[Impl]) -> String {
    let profiles = if impls.contains(&Impl::Monocoque) {
        let names: Vec<&str> = c.profiles.iter().map(|p| p.name()).collect();
        format!("monocoque profile(s) {}", names.join(", "))
    } else {
        "no monocoque profile (monocoque not run)".into()
    };
    let (main, peer) = match kind {
        Kind::Broker => ("the clients", "the box"),
        Kind::Fanout(..) => ("the subscribers", "the publisher"),
        _ => ("the measuring side", "the peer"),
    };
    let peer_core = if c.transport == cli::Transport::Inproc {
        format!(
            "{peer} in the same process (inproc: libzmq's a thread on core {}, \
             monocoque's a task on the same reactor)",
            c.cores[1]
        )
    } else {
        format!("{peer} on core {}", c.cores[1])
    };
    format!(
        "placement: {profiles}; {main} on core {}, {peer_core}",
        c.cores[0]
    )
}

/// Counts runs in this process (see `Setup::serial`).
static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// An implementation's name and what its run measured.
type Measured = (&'static str, Box<dyn Figures>);

/// One run of one implementation: the records it yields (the floor yields
/// two: blocking and busy-polling).
fn measure(kind: Kind, s: &Setup) -> Result<Vec<Measured>, String> {
    let one = |f: Box<dyn Figures>| vec![(s.imp.name(), f)];
    Ok(match (kind, s.imp) {
        (Kind::Lat | Kind::Floor, Impl::Raw) => vec![
            ("raw", Box::new(impls::raw::lat(s, false)?)),
            ("raw-busy-poll", Box::new(impls::raw::lat(s, true)?)),
        ],
        (Kind::Lat, Impl::Monocoque) => one(Box::new(impls::monocoque::lat(s)?)),
        (Kind::Lat, Impl::Libzmq) => one(Box::new(impls::libzmq::lat(s)?)),
        (Kind::Lat, Impl::Zeromq) => one(Box::new(impls::zeromq::lat(s)?)),
        (Kind::Thr(_), Impl::Monocoque) => one(impls::monocoque::thr(s)?),
        (Kind::Thr(_), Impl::Libzmq) => one(impls::libzmq::thr(s)?),
        (Kind::Thr(_), Impl::Zeromq) => one(impls::zeromq::thr(s)?),
        (Kind::Thr(_), Impl::Raw) => one(Box::new(impls::raw::thr(s)?)),
        (Kind::Fanout(..), Impl::Monocoque) => one(Box::new(impls::monocoque::fanout(s)?)),
        (Kind::Fanout(..), Impl::Libzmq) => one(Box::new(impls::libzmq::fanout(s)?)),
        (Kind::Fanout(..), Impl::Zeromq) => one(Box::new(impls::zeromq::fanout(s)?)),
        (Kind::Lb(_), Impl::Monocoque) => one(Box::new(impls::monocoque::lb(s)?)),
        (Kind::Lb(_), Impl::Libzmq) => one(Box::new(impls::libzmq::lb(s)?)),
        (Kind::Lb(_), Impl::Zeromq) => one(Box::new(impls::zeromq::lb(s)?)),
        (Kind::Broker, Impl::Monocoque | Impl::Libzmq) => one(Box::new(broker::measure(s)?)),
        (kind, imp) => return Err(format!("{} has no {} variant", kind.name(), imp.name())),
    })
}
