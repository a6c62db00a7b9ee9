//! `monocoque run`: starts every service, reports what it bound, and waits
//! for signals.
//!
//! - SIGTERM, SIGINT: every service stops accepting, drains, lingers; exit 0.
//! - SIGHUP: the config is read again. If it is bad, the error is logged and
//!   nothing changes. Otherwise services that are gone stop, services that
//!   changed restart, new ones start, and the others are not touched.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::config::{self, Config};
use crate::placement::{self, Placement};
use crate::service::Running;
use monocoque_tuning::Profile;

/// Where the config comes from.
pub struct Source {
    /// The file (`None`: the embedded default).
    pub path: Option<PathBuf>,
    /// `--profile`.
    pub profile: Option<Profile>,
    /// The sysfs/procfs root the host is read from (`/`).
    pub host_root: PathBuf,
}

impl Source {
    /// Reads, checks and places the config; also the CPU for the
    /// appliance's own threads, when services are pinned.
    pub fn load(&self) -> Result<(Config, Vec<Placement>, Option<usize>), String> {
        let config = match &self.path {
            Some(p) => config::load(p),
            None => config::parse(config::DEFAULT_NAME, config::DEFAULT),
        }
        .map_err(|e| e.to_string())?;
        let host = placement::this_host(&self.host_root)?;
        let (placements, housekeeping) = placement::place(&config, self.profile, &host)?;
        Ok((config, placements, housekeeping))
    }
}

/// Runs until SIGTERM or SIGINT.
pub fn run(source: Source) -> Result<(), String> {
    // Registered before anything starts: a signal during start-up is not lost.
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])
        .map_err(|e| format!("installing signal handlers: {e}"))?;
    let (config, placements, housekeeping) = source.load()?;
    let mut running: HashMap<String, Running> = HashMap::new();
    let mut order = Vec::new();
    for (spec, placement) in config.services.iter().zip(placements) {
        match Running::start(spec.clone(), placement) {
            Ok(r) => {
                report(&r);
                order.push(r.spec.name.clone());
                running.insert(r.spec.name.clone(), r);
            }
            Err(e) => {
                stop_all(running.into_values().collect());
                return Err(e);
            }
        }
    }
    // With services pinned, this thread and the metrics thread (started
    // below, inheriting the mask) keep to the plan's housekeeping CPUs.
    if let Some(cpu) = housekeeping {
        if core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
            println!("housekeeping: the main and metrics threads on CPU {cpu}");
        }
    }
    let live = crate::metrics_http::Live::default();
    live.set(running.values().map(|r| r.metrics.clone()).collect());
    if let Some(addr) = config.metrics {
        match crate::metrics_http::serve(addr, live.clone()) {
            Ok(bound) => println!("metrics on http://{bound}/metrics"),
            Err(e) => {
                stop_all(running.into_values().collect());
                return Err(e);
            }
        }
    }
    println!(
        "monocoque {}: {} service(s) running; SIGTERM or SIGINT stops, SIGHUP reloads",
        env!("CARGO_PKG_VERSION"),
        running.len()
    );
    let _ = std::io::stdout().flush();

    for signal in signals.forever() {
        match signal {
            SIGHUP => {
                reload(&source, config.metrics, &mut running, &mut order);
                live.set(running.values().map(|r| r.metrics.clone()).collect());
            }
            _ => {
                tracing::info!(signal, "stopping");
                break;
            }
        }
    }
    let in_order = order.iter().filter_map(|n| running.remove(n)).collect();
    stop_all(in_order);
    println!("monocoque: stopped");
    Ok(())
}

/// One line per service: what it is, what it bound, where it runs.
fn report(r: &Running) {
    let side = |which: &str, spec: &crate::config::SocketSpec| {
        let bound: Vec<&str> = r
            .bound
            .iter()
            .filter(|(s, _)| *s == which)
            .map(|(_, ep)| ep.as_str())
            .collect();
        let mut parts = Vec::new();
        if !bound.is_empty() {
            parts.push(format!("bound {}", bound.join(" ")));
        }
        if !spec.connect.is_empty() {
            parts.push(format!("connecting {}", spec.connect.join(" ")));
        }
        if let Some(security) = &spec.security {
            parts.push(security.describe());
        }
        format!("{which} {} {}", spec.socket_type.as_str(), parts.join(", "))
    };
    println!(
        "service {} ({}): {}; {}; {}",
        r.spec.name,
        r.spec.kind.name(),
        side("frontend", &r.spec.frontend),
        side("backend", &r.spec.backend),
        r.placement.describe()
    );
    let _ = std::io::stdout().flush();
}

/// Stops every service at once (each drains on its own thread), then waits.
fn stop_all(mut services: Vec<Running>) {
    for s in &mut services {
        s.request_stop();
    }
    for s in services {
        s.join();
    }
}

/// SIGHUP: apply the new config to what runs, or refuse it whole.
fn reload(
    source: &Source,
    metrics: Option<std::net::SocketAddr>,
    running: &mut HashMap<String, Running>,
    order: &mut Vec<String>,
) {
    // The appliance's own threads stay where they were placed at start.
    let loaded = source.load().and_then(|(c, p, _)| {
        if c.metrics == metrics {
            Ok((c, p))
        } else {
            Err("metrics.listen changed: that takes a restart".to_string())
        }
    });
    let (config, placements) = match loaded {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("reload refused, the running services carry on: {e}");
            println!("reload refused: {e}");
            let _ = std::io::stdout().flush();
            return;
        }
    };
    let wanted: HashMap<&str, (&crate::config::ServiceSpec, &Placement)> = config
        .services
        .iter()
        .zip(&placements)
        .map(|(s, p)| (s.name.as_str(), (s, p)))
        .collect();
    // Stop what is gone or changed first: a changed service may keep its ports.
    let stale: Vec<String> = running
        .iter()
        .filter(|(name, r)| match wanted.get(name.as_str()) {
            None => true,
            Some((spec, placement)) => r.spec != **spec || r.placement != **placement,
        })
        .map(|(name, _)| name.clone())
        .collect();
    let mut old_specs = HashMap::new();
    let stopping: Vec<Running> = stale
        .iter()
        .filter_map(|n| running.remove(n))
        .inspect(|r| {
            old_specs.insert(r.spec.name.clone(), (r.spec.clone(), r.placement.clone()));
        })
        .collect();
    stop_all(stopping);
    for name in &stale {
        if !wanted.contains_key(name.as_str()) {
            println!("service {name}: removed");
        }
    }
    order.clear();
    for (spec, placement) in config.services.iter().zip(&placements) {
        order.push(spec.name.clone());
        if running.contains_key(&spec.name) {
            continue;
        }
        match Running::start(spec.clone(), placement.clone()) {
            Ok(r) => {
                report(&r);
                running.insert(spec.name.clone(), r);
            }
            Err(e) => {
                tracing::error!("reload: {e}");
                println!("reload: {e}");
                // A changed service that cannot start as changed goes back
                // to how it was.
                if let Some((old, p)) = old_specs.remove(&spec.name) {
                    match Running::start(old, p) {
                        Ok(r) => {
                            println!("service {}: kept as it was", spec.name);
                            running.insert(spec.name.clone(), r);
                        }
                        Err(e) => tracing::error!("reload: restoring: {e}"),
                    }
                }
            }
        }
    }
    println!("reloaded: {} service(s) running", running.len());
    let _ = std::io::stdout().flush();
}
