//! From a host and the services' profiles to a placement plan.
//!
//! Rules:
//! - **latency**: each service busy-polls on a physical core of its own. Its
//!   SMT siblings are left idle (two busy-polling threads never share a
//!   core), isolated cores are taken first, and the first core that is not
//!   isolated stays for the OS, interrupts and the metrics thread. A kernel
//!   SQPOLL thread is added only where a spare isolated core is left for it.
//! - **throughput**: pinned, parks when idle, a 4096-entry ring and 256
//!   receive buffers of 64 KiB;
//!   services spread over the cores busy-pollers do not hold.
//! - **balanced**: parks when idle, not pinned, the runtime's defaults.
//! - **auto**: latency if the host has a core for each service and one to
//!   spare, balanced otherwise.
//!
//! A service pinned by the config keeps its CPU; a latency service pinned to
//! a core another busy-poller holds is refused.

use serde::Serialize;

use crate::cpu_list::{self, CpuSet};
use crate::host::Host;
use crate::profile::Profile;

/// What a service asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRequest {
    /// Its name.
    pub name: String,
    /// Its own profile (`None`: the plan's default).
    pub profile: Option<Profile>,
    /// The CPU the config pins it to.
    pub cpu: Option<usize>,
}

/// How a service's reactor waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Wait {
    /// Spins on completions.
    BusyPoll,
    /// A kernel thread on `cpu` polls the submission ring.
    SqPoll {
        /// Where the kernel thread runs.
        cpu: usize,
    },
    /// Sleeps in the kernel when idle.
    Park,
}

/// One service's place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// The service.
    pub name: String,
    /// Its profile, resolved (never `auto`).
    pub profile: Profile,
    /// The CPU its thread is pinned to (`None`: not pinned).
    pub cpu: Option<usize>,
    /// The NUMA node its memory should come from (its CPU's).
    pub node: Option<usize>,
    /// How it waits.
    pub wait: Wait,
    /// io_uring submission ring entries.
    pub ring_entries: u32,
    /// Receive buffers: how many, and bytes each.
    pub recv_buffers: (u16, usize),
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The default profile, resolved.
    pub profile: Profile,
    /// One per service, in order.
    pub services: Vec<Placement>,
    /// CPUs left for the OS, interrupts and the appliance's other threads.
    pub housekeeping: CpuSet,
}

/// A plan that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("service {service:?}: {reason}")]
pub struct PlanError {
    /// The service.
    pub service: String,
    /// Why.
    pub reason: String,
}

/// The runtime's ring size by default.
pub const DEFAULT_RING_ENTRIES: u32 = 256;
/// The throughput profile's ring: room for a turn's worth of gathered sends
/// and multishot receives across many connections.
pub const THROUGHPUT_RING_ENTRIES: u32 = 4096;

/// The runtime's receive pool by default: 256 buffers of 16 KiB (4 MiB).
pub const DEFAULT_RECV_BUFFERS: (u16, usize) = (256, 16 * 1024);
/// The throughput profile's pool.
pub const THROUGHPUT_RECV_BUFFERS: (u16, usize) = (256, 64 * 1024);

/// Makes the plan for `services` on `host`, `default` being the profile of
/// the services without their own.
pub fn plan(host: &Host, default: Profile, services: &[ServiceRequest]) -> Result<Plan, PlanError> {
    let cores = host.cores();
    let resolve = |p: Profile| match p {
        Profile::Auto if cores.len() > services.len() => Profile::Latency,
        Profile::Auto => Profile::Balanced,
        p => p,
    };
    let default = resolve(default);
    let profiles: Vec<Profile> = services
        .iter()
        .map(|s| s.profile.map_or(default, resolve))
        .collect();

    // The OS keeps the first core that is not isolated (or the first core).
    let os_core = cores
        .iter()
        .find(|c| c.is_disjoint(&host.isolated))
        .or(cores.first())
        .cloned()
        .unwrap_or_default();
    let mut held: Vec<CpuSet> = Vec::new(); // cores held by busy-pollers
    let core_of = |cpu: usize| cores.iter().find(|c| c.contains(&cpu)).cloned();
    let mut cpus: Vec<Option<usize>> = vec![None; services.len()];

    // Pinned latency services first: they claim their cores.
    for (i, s) in services.iter().enumerate() {
        if let Some(cpu) = s.cpu {
            let Some(core) = core_of(cpu) else {
                return Err(PlanError {
                    service: s.name.clone(),
                    reason: format!("CPU {cpu} is not online on this host ({})", host.summary()),
                });
            };
            if profiles[i] == Profile::Latency {
                if held.contains(&core) {
                    return Err(PlanError {
                        service: s.name.clone(),
                        reason: format!(
                            "CPU {cpu} is on core {} which another busy-polling service holds; \
                             two would take turns and both lose",
                            cpu_list::format(&core)
                        ),
                    });
                }
                held.push(core);
            }
            cpus[i] = Some(cpu);
        }
    }
    // Then the other latency services, isolated cores first, never the OS's.
    let mut free_cores: Vec<CpuSet> = cores.iter().filter(|c| **c != os_core).cloned().collect();
    free_cores.sort_by_key(|c| (!c.is_subset(&host.isolated), c.first().copied()));
    for (i, s) in services.iter().enumerate() {
        if profiles[i] != Profile::Latency || cpus[i].is_some() {
            continue;
        }
        let Some(core) = free_cores.iter().find(|c| !held.contains(c)).cloned() else {
            let wanted = profiles.iter().filter(|p| **p == Profile::Latency).count();
            return Err(PlanError {
                service: s.name.clone(),
                reason: format!(
                    "the latency profile needs a core of its own for each of {wanted} service(s) \
                     and one for the OS; this host has {} ({}). Use balanced or throughput, \
                     or fewer services",
                    cores.len(),
                    host.summary()
                ),
            });
        };
        cpus[i] = core.first().copied();
        held.push(core);
    }
    // Throughput services spread over the cores busy-pollers do not hold.
    let shared: Vec<usize> = cores
        .iter()
        .filter(|c| !held.contains(c))
        .filter_map(|c| c.first().copied())
        .collect();
    let mut next = 0;
    for (i, s) in services.iter().enumerate() {
        if profiles[i] != Profile::Throughput || cpus[i].is_some() {
            continue;
        }
        if shared.is_empty() {
            return Err(PlanError {
                service: s.name.clone(),
                reason: "every core is held by a busy-polling service".into(),
            });
        }
        // Prefer cores other than the OS's when there are any.
        let choices: Vec<usize> = shared
            .iter()
            .copied()
            .filter(|c| !os_core.contains(c))
            .collect();
        let choices = if choices.is_empty() {
            shared.clone()
        } else {
            choices
        };
        cpus[i] = Some(choices[next % choices.len()]);
        next += 1;
    }
    // SQPOLL only on a spare isolated core: no service pinned on it.
    let mut spare_isolated: Vec<usize> = free_cores
        .iter()
        .filter(|c| !held.contains(c) && c.is_subset(&host.isolated))
        .filter(|c| !cpus.iter().flatten().any(|cpu| c.contains(cpu)))
        .filter_map(|c| c.first().copied())
        .collect();
    spare_isolated.reverse();
    let placements = services
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let profile = profiles[i];
            let cpu = cpus[i];
            let wait = match profile {
                Profile::Latency => match spare_isolated.pop() {
                    Some(sq) => Wait::SqPoll { cpu: sq },
                    None => Wait::BusyPoll,
                },
                _ => Wait::Park,
            };
            Placement {
                name: s.name.clone(),
                profile,
                cpu,
                node: cpu.and_then(|c| host.cpu(c)).map(|c| c.node),
                wait,
                ring_entries: if profile == Profile::Throughput {
                    THROUGHPUT_RING_ENTRIES
                } else {
                    DEFAULT_RING_ENTRIES
                },
                recv_buffers: if profile == Profile::Throughput {
                    THROUGHPUT_RECV_BUFFERS
                } else {
                    DEFAULT_RECV_BUFFERS
                },
            }
        })
        .collect::<Vec<_>>();
    // Housekeeping: every CPU outside the cores the pinned services and the
    // SQPOLL threads run on (all CPUs when nothing is pinned).
    let mut housekeeping: CpuSet = host.cpus.iter().map(|c| c.id).collect();
    let taken = placements.iter().flat_map(|p| {
        let sq = match p.wait {
            Wait::SqPoll { cpu } => Some(cpu),
            _ => None,
        };
        p.cpu.into_iter().chain(sq)
    });
    for cpu in taken {
        for c in core_of(cpu).unwrap_or_default() {
            housekeeping.remove(&c);
        }
    }
    if housekeeping.is_empty() {
        // Every core runs a service: the OS shares the first one.
        housekeeping = os_core.clone();
    }
    Ok(Plan {
        profile: default,
        services: placements,
        housekeeping,
    })
}

impl Plan {
    /// The plan as `monocoque tune plan` prints it.
    pub fn render(&self, host: &Host) -> String {
        let mut out = format!("host: {}\nprofile: {}\n", host.summary(), self.profile);
        for p in &self.services {
            let cpu = match (p.cpu, p.node) {
                (Some(c), Some(n)) => format!("CPU {c} (node {n})"),
                (Some(c), None) => format!("CPU {c}"),
                _ => "not pinned".into(),
            };
            let wait = match p.wait {
                Wait::BusyPoll => "busy-polls".to_string(),
                Wait::SqPoll { cpu } => format!("SQPOLL thread on CPU {cpu}"),
                Wait::Park => "parks when idle".to_string(),
            };
            let memory = match p.node {
                Some(n) => format!(", memory on node {n} (first touch)"),
                None => String::new(),
            };
            out += &format!(
                "service {}: {}, {cpu}, {wait}, ring of {}, {} x {} KiB receive buffers{memory}\n",
                p.name,
                p.profile,
                p.ring_entries,
                p.recv_buffers.0,
                p.recv_buffers.1 / 1024
            );
        }
        out += &format!(
            "housekeeping (OS, interrupts, metrics): CPUs {}\n",
            cpu_list::format(&self.housekeeping)
        );
        out
    }

    /// CPUs that busy-poll (a service's, or an SQPOLL thread's).
    pub fn busy_cpus(&self) -> CpuSet {
        let mut set = CpuSet::new();
        for p in &self.services {
            match p.wait {
                Wait::BusyPoll => set.extend(p.cpu),
                Wait::SqPoll { cpu } => {
                    set.extend(p.cpu);
                    set.insert(cpu);
                }
                Wait::Park => {}
            }
        }
        set
    }
}
