//! Where each service runs and how its thread waits: the tuning crate's plan
//! for this host, turned into runtime settings.

use std::path::Path;
use std::time::Duration;

use monocoque_patterns::IoCores;
use monocoque_runtime::{Runtime, RuntimeBuilder, WaitStrategy};
use monocoque_tuning::cpu_list::CpuSet;
use monocoque_tuning::plan::{self, Plan, ServiceRequest, Wait};
use monocoque_tuning::{Host, Profile};

use crate::config::Config;

/// How long an SQPOLL kernel thread spins idle before it sleeps.
const SQPOLL_IDLE: Duration = Duration::from_secs(1);

/// One service's placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The plan's decision.
    pub planned: plan::Placement,
    /// Where the profile came from, for the start-up report.
    pub profile_from: &'static str,
}

impl Placement {
    /// The runtime's wait strategy for the plan's.
    pub fn wait(&self) -> WaitStrategy {
        match self.planned.wait {
            Wait::BusyPoll => WaitStrategy::BusyPoll,
            Wait::Park => WaitStrategy::Park,
            Wait::SqPoll { cpu } => WaitStrategy::SqPoll {
                cpu: u32::try_from(cpu).ok(),
                idle: SQPOLL_IDLE,
            },
        }
    }

    /// The service's reactor.
    pub fn runtime(&self) -> Result<Runtime, String> {
        self.builder(self.planned.cpu)
            .build()
            .map_err(|e| format!("its runtime: {e}"))
    }

    /// Its IO cores' reactors, each waiting as the service does; `None` if
    /// the plan gives it none.
    pub fn io_cores(&self) -> Result<Option<IoCores>, String> {
        if self.planned.io_cores.is_empty() {
            return Ok(None);
        }
        // An IO core busy-polls where the service does; an SQPOLL kernel
        // thread is the service's alone.
        let builders = self
            .planned
            .io_cores
            .iter()
            .map(|&cpu| {
                let b = self.builder(cpu);
                match self.planned.wait {
                    Wait::SqPoll { .. } => b.wait_strategy(WaitStrategy::BusyPoll),
                    _ => b,
                }
            })
            .collect();
        IoCores::start(builders)
            .map(Some)
            .map_err(|e| format!("its IO cores: {e}"))
    }

    /// A reactor as the plan sets this service's, pinned to `cpu`.
    fn builder(&self, cpu: Option<usize>) -> RuntimeBuilder {
        let mut b = RuntimeBuilder::default()
            .wait_strategy(self.wait())
            .ring_entries(self.planned.ring_entries);
        if let Some(cpu) = cpu {
            b = b.core(cpu);
        }
        let (count, size) = self.planned.recv_buffers;
        if (count, size) != plan::DEFAULT_RECV_BUFFERS {
            b = b.recv_buffers(count, size);
        }
        b
    }

    /// One line for the start-up report.
    pub fn describe(&self) -> String {
        let p = &self.planned;
        let cpu = match (p.cpu, p.node) {
            (Some(c), Some(n)) => format!("pinned to CPU {c} (node {n})"),
            (Some(c), None) => format!("pinned to CPU {c}"),
            _ => "not pinned".into(),
        };
        let wait = match p.wait {
            Wait::BusyPoll => "busy-polls".to_string(),
            Wait::SqPoll { cpu } => format!("SQPOLL thread on CPU {cpu}"),
            Wait::Park => "parks when idle".to_string(),
        };
        let io = if p.io_cores.is_empty() {
            String::new()
        } else {
            format!("; {}", p.describe_io_cores())
        };
        format!(
            "profile {} ({}), {cpu}, {wait}{io}",
            p.profile, self.profile_from
        )
    }
}

/// The service requests of a config.
pub fn requests(config: &Config) -> Vec<ServiceRequest> {
    config
        .services
        .iter()
        .map(|s| ServiceRequest {
            name: s.name.clone(),
            profile: s.profile,
            cpu: s.core,
            io_cores: s.io_cores,
        })
        .collect()
}

/// The plan for `config` on `host`; `cli` is `--profile`, which overrides
/// the file's profile (a service's own still wins).
pub fn plan_for(config: &Config, cli: Option<Profile>, host: &Host) -> Result<Plan, String> {
    plan::plan(host, cli.unwrap_or(config.profile), &requests(config)).map_err(|e| e.to_string())
}

/// Places every service of `config` on `host`; also returns the CPU for
/// the appliance's own threads when any service is pinned.
pub fn place(
    config: &Config,
    cli: Option<Profile>,
    host: &Host,
) -> Result<(Vec<Placement>, Option<usize>), String> {
    let plan = plan_for(config, cli, host)?;
    let housekeeping = if plan.services.iter().any(|p| p.cpu.is_some()) {
        plan.housekeeping.first().copied()
    } else {
        None
    };
    let placements = plan
        .services
        .into_iter()
        .zip(&config.services)
        .map(|(planned, s)| Placement {
            planned,
            profile_from: match (s.profile, cli) {
                (Some(Profile::Auto), _) => "auto, the service",
                (Some(_), _) => "the service",
                (None, Some(Profile::Auto)) => "auto, --profile",
                (None, Some(_)) => "--profile",
                (None, None) if config.profile == Profile::Auto => "auto, the config",
                (None, None) => "the config",
            },
        })
        .collect();
    Ok((placements, housekeeping))
}

/// This host, as this process may use it (`root` is `/` but for tests).
pub fn this_host(root: &Path) -> Result<Host, String> {
    let host = Host::read(root).map_err(|e| format!("reading the host: {e}"))?;
    if root != Path::new("/") {
        return Ok(host);
    }
    let allowed: CpuSet = core_affinity::get_core_ids()
        .map(|ids| ids.into_iter().map(|c| c.id).collect())
        .unwrap_or_default();
    Ok(if allowed.is_empty() {
        host
    } else {
        host.restricted_to(&allowed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn fixture(name: &str) -> Host {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tuning/tests/fixtures")
            .join(name);
        Host::read(&root).unwrap()
    }

    fn cfg(extra: &str) -> Config {
        config::parse(
            "t.toml",
            &format!(
                "{extra}\n[[service]]\nname = \"a\"\nkind = \"streamer\"\n\
                 frontend = {{ bind = [\"tcp://*:0\"] }}\nbackend = {{ bind = [\"tcp://*:0\"] }}\n\
                 [[service]]\nname = \"b\"\nkind = \"streamer\"\nprofile = \"throughput\"\n\
                 frontend = {{ bind = [\"tcp://*:0\"] }}\nbackend = {{ bind = [\"tcp://*:0\"] }}\n"
            ),
        )
        .unwrap()
    }

    #[test]
    fn the_config_profile_applies_and_a_service_profile_wins() {
        let (p, housekeeping) = place(&cfg(""), None, &fixture("two-socket-smt")).unwrap();
        assert_eq!(housekeeping, Some(0));
        assert_eq!(
            p[0].describe(),
            "profile balanced (the config), not pinned, parks when idle"
        );
        assert_eq!(
            p[1].describe(),
            "profile throughput (the service), pinned to CPU 1 (node 0), parks when idle"
        );
        assert_eq!(p[0].wait(), WaitStrategy::Park);
    }

    #[test]
    fn the_command_line_profile_overrides_the_file() {
        let (p, _) = place(&cfg(""), Some(Profile::Latency), &fixture("isolated")).unwrap();
        assert_eq!(
            p[0].describe(),
            "profile latency (--profile), pinned to CPU 1 (node 0), SQPOLL thread on CPU 3"
        );
        assert!(matches!(
            p[0].wait(),
            WaitStrategy::SqPoll { cpu: Some(3), .. }
        ));
    }

    #[test]
    fn a_plan_the_host_cannot_hold_is_refused_with_the_reason() {
        let mut c = cfg("");
        c.services[1].profile = Some(Profile::Latency);
        let e = place(&c, Some(Profile::Latency), &fixture("vm-2vcpu")).unwrap_err();
        assert!(e.contains("needs a core of its own"), "{e}");
    }

    #[test]
    fn the_plans_default_pool_is_the_runtimes() {
        // The tuning crate depends on no project crate, so it repeats it.
        assert_eq!(
            plan::DEFAULT_RECV_BUFFERS,
            (
                monocoque_runtime::DEFAULT_RECV_BUFFERS,
                monocoque_runtime::DEFAULT_RECV_BUFFER_SIZE
            )
        );
    }

    #[test]
    fn the_process_affinity_mask_limits_the_host() {
        let h = fixture("two-socket-smt").restricted_to(&[0, 1, 8, 9].into_iter().collect());
        assert_eq!(h.cores().len(), 2);
        assert_eq!(h.nodes.len(), 1);
    }
}
