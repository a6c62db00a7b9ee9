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
//! - **IO cores** (services that publish: a forwarder's subscribers): the
//!   cores left spare once services are placed (not the OS's, not held by a
//!   busy-poller, no service pinned there) are shared among the services
//!   that ask for IO cores "auto"; each IO core runs some of the service's
//!   subscriber connections, waiting as the service does (pinned and
//!   busy-polling on a core of its own under latency, pinned and parking
//!   under throughput, neither under balanced), at most two each. A service
//!   may ask for an exact number instead.
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
    /// The IO cores it wants for its subscribers' connections.
    pub io_cores: IoCoresRequest,
}

/// How many IO cores a service asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoCoresRequest {
    /// None: it has no subscriber connections to spread.
    #[default]
    None,
    /// Its share of the cores the plan leaves spare (none if none is).
    Auto,
    /// Exactly this many (0: none).
    Count(usize),
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
    /// Its IO cores: the CPU each is pinned to (`None`: not pinned). They
    /// wait as the service does.
    pub io_cores: Vec<Option<usize>>,
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

/// The most IO cores "auto" gives one service: two take a forwarder's
/// subscriber writes off its core on any box; more are asked for by number.
pub const AUTO_IO_CORES_MAX: usize = 2;

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
    let mut placer = Placer::new(host, services, cores, profiles);
    placer.claim_pinned()?;
    placer.place_latency()?;
    placer.place_throughput()?;
    let io_cores = placer.place_io_cores()?;
    let mut placements = placer.placements();
    for (p, cores) in placements.iter_mut().zip(io_cores) {
        p.io_cores = cores;
    }
    let housekeeping = placer.housekeeping(&placements);
    Ok(Plan {
        profile: default,
        services: placements,
        housekeeping,
    })
}

/// The plan in the making: which cores are taken and which CPU each service
/// has so far, the steps run in the order `plan` gives.
struct Placer<'a> {
    host: &'a Host,
    services: &'a [ServiceRequest],
    /// The host's physical cores, each the set of its SMT siblings.
    cores: Vec<CpuSet>,
    /// Each service's profile, resolved.
    profiles: Vec<Profile>,
    /// The OS keeps the first core that is not isolated (or the first core).
    os_core: CpuSet,
    /// The cores other than the OS's, isolated ones first.
    free_cores: Vec<CpuSet>,
    /// The cores held by busy-pollers.
    held: Vec<CpuSet>,
    /// Each service's CPU so far.
    cpus: Vec<Option<usize>>,
}

impl<'a> Placer<'a> {
    fn new(
        host: &'a Host,
        services: &'a [ServiceRequest],
        cores: Vec<CpuSet>,
        profiles: Vec<Profile>,
    ) -> Placer<'a> {
        let os_core = cores
            .iter()
            .find(|c| c.is_disjoint(&host.isolated))
            .or(cores.first())
            .cloned()
            .unwrap_or_default();
        let mut free_cores: Vec<CpuSet> =
            cores.iter().filter(|c| **c != os_core).cloned().collect();
        free_cores.sort_by_key(|c| (!c.is_subset(&host.isolated), c.first().copied()));
        Placer {
            host,
            services,
            cpus: vec![None; services.len()],
            cores,
            profiles,
            os_core,
            free_cores,
            held: Vec::new(),
        }
    }

    /// The core `cpu` is on, if it is online.
    fn core_of(&self, cpu: usize) -> Option<CpuSet> {
        self.cores.iter().find(|c| c.contains(&cpu)).cloned()
    }

    /// Pinned services keep their CPUs, and pinned latency services claim
    /// their cores, before anything else is placed.
    fn claim_pinned(&mut self) -> Result<(), PlanError> {
        for (i, s) in self.services.iter().enumerate() {
            let Some(cpu) = s.cpu else {
                continue;
            };
            let Some(core) = self.core_of(cpu) else {
                return Err(PlanError {
                    service: s.name.clone(),
                    reason: format!(
                        "CPU {cpu} is not online on this host ({})",
                        self.host.summary()
                    ),
                });
            };
            if self.profiles[i] == Profile::Latency {
                if self.held.contains(&core) {
                    return Err(PlanError {
                        service: s.name.clone(),
                        reason: format!(
                            "CPU {cpu} is on core {} which another busy-polling service holds; \
                             two would take turns and both lose",
                            cpu_list::format(&core)
                        ),
                    });
                }
                self.held.push(core);
            }
            self.cpus[i] = Some(cpu);
        }
        Ok(())
    }

    /// The other latency services each take a free core, isolated cores
    /// first, never the OS's.
    fn place_latency(&mut self) -> Result<(), PlanError> {
        for (i, s) in self.services.iter().enumerate() {
            if self.profiles[i] != Profile::Latency || self.cpus[i].is_some() {
                continue;
            }
            let free = self.free_cores.iter().find(|c| !self.held.contains(c));
            let Some(core) = free.cloned() else {
                let wanted = self
                    .profiles
                    .iter()
                    .filter(|p| **p == Profile::Latency)
                    .count();
                return Err(PlanError {
                    service: s.name.clone(),
                    reason: format!(
                        "the latency profile needs a core of its own for each of {wanted} \
                         service(s) and one for the OS; this host has {} ({}). Use balanced \
                         or throughput, or fewer services",
                        self.cores.len(),
                        self.host.summary()
                    ),
                });
            };
            self.cpus[i] = core.first().copied();
            self.held.push(core);
        }
        Ok(())
    }

    /// Throughput services spread, in turn, over the cores busy-pollers do
    /// not hold, preferring cores other than the OS's when there are any.
    fn place_throughput(&mut self) -> Result<(), PlanError> {
        let shared: Vec<usize> = self
            .cores
            .iter()
            .filter(|c| !self.held.contains(c))
            .filter_map(|c| c.first().copied())
            .collect();
        let not_os: Vec<usize> = shared
            .iter()
            .copied()
            .filter(|c| !self.os_core.contains(c))
            .collect();
        let choices = if not_os.is_empty() { &shared } else { &not_os };
        let mut next = 0;
        for (i, s) in self.services.iter().enumerate() {
            if self.profiles[i] != Profile::Throughput || self.cpus[i].is_some() {
                continue;
            }
            if choices.is_empty() {
                return Err(PlanError {
                    service: s.name.clone(),
                    reason: "every core is held by a busy-polling service".into(),
                });
            }
            self.cpus[i] = Some(choices[next % choices.len()]);
            next += 1;
        }
        Ok(())
    }

    /// Each service's IO cores, after every service has its CPU. The spare
    /// cores are those not the OS's, not held, with no service's CPU on them
    /// and not kept for the SQPOLL threads latency services will want. Exact
    /// counts are served first, then what is left is shared out among the
    /// services asking "auto", at most [`AUTO_IO_CORES_MAX`] each; latency
    /// services before throughput ones, whose overflow may then share a core
    /// no busy-poller holds. Balanced IO cores are not pinned and draw none.
    fn place_io_cores(&mut self) -> Result<Vec<Vec<Option<usize>>>, PlanError> {
        let mut spare: Vec<CpuSet> = self
            .free_cores
            .iter()
            .filter(|c| !self.held.contains(c))
            .filter(|c| !self.cpus.iter().flatten().any(|cpu| c.contains(cpu)))
            .cloned()
            .collect();
        let sqpoll_wanted = self
            .profiles
            .iter()
            .filter(|p| **p == Profile::Latency)
            .count();
        let mut kept = Vec::new();
        spare.retain(|c| {
            let keep = c.is_subset(&self.host.isolated) && kept.len() < sqpoll_wanted;
            if keep {
                kept.push(c.clone());
            }
            !keep
        });
        let requests: Vec<IoCoresRequest> = self.services.iter().map(|s| s.io_cores).collect();
        let mut out = vec![Vec::new(); self.services.len()];
        // Latency first (they hold their cores), then throughput, then balanced.
        let profiles = &self.profiles;
        let order: Vec<usize> = [Profile::Latency, Profile::Throughput, Profile::Balanced]
            .iter()
            .flat_map(|p| (0..profiles.len()).filter(move |&i| profiles[i] == *p))
            .collect();
        for &i in &order {
            if let IoCoresRequest::Count(n) = requests[i] {
                out[i] = self.io_cores_for(i, n, true, &mut spare, &kept)?;
            }
        }
        let auto: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| requests[i] == IoCoresRequest::Auto)
            .collect();
        let left = spare.len();
        for (rank, &i) in auto.iter().enumerate() {
            let share = left / auto.len() + usize::from(rank < left % auto.len());
            let wanted = share.min(AUTO_IO_CORES_MAX);
            out[i] = self.io_cores_for(i, wanted, false, &mut spare, &kept)?;
        }
        Ok(out)
    }

    /// `wanted` IO cores for service `i`. A pinned service takes spare cores
    /// (removed from `spare`) on its own NUMA node: an IO core on another
    /// node would pull every message across the interconnect. Unless the
    /// count is `exact`, it takes no more than its node has spare; an exact
    /// latency count the node cannot hold is refused, an exact throughput one
    /// shares cores no busy-poller holds (never those in `kept` for SQPOLL).
    fn io_cores_for(
        &mut self,
        i: usize,
        wanted: usize,
        exact: bool,
        spare: &mut Vec<CpuSet>,
        kept: &[CpuSet],
    ) -> Result<Vec<Option<usize>>, PlanError> {
        if !matches!(self.profiles[i], Profile::Latency | Profile::Throughput) {
            // Not pinned, as the service is not: the scheduler places them.
            return Ok(vec![None; wanted]);
        }
        let node_of = |cpu: usize| self.host.cpu(cpu).map(|c| c.node);
        let home = self.cpus[i].and_then(node_of);
        let mut local: Vec<CpuSet> = Vec::new();
        spare.retain(|c| {
            let here = home.is_none() || c.first().copied().and_then(node_of) == home;
            let take = here && local.len() < wanted;
            if take {
                local.push(c.clone());
            }
            !take
        });
        let wanted = if exact { wanted } else { local.len() };
        if self.profiles[i] == Profile::Latency {
            if local.len() < wanted {
                return Err(PlanError {
                    service: self.services[i].name.clone(),
                    reason: format!(
                        "{wanted} latency IO core(s) need a core of their own each on the \
                         service's NUMA node; this host has {} spare there ({})",
                        local.len(),
                        self.host.summary()
                    ),
                });
            }
            let cores = local.iter().map(|c| c.first().copied()).collect();
            self.held.extend(local);
            return Ok(cores);
        }
        let shared: Vec<usize> = self
            .cores
            .iter()
            .filter(|c| !self.held.contains(c) && !kept.contains(c) && **c != self.os_core)
            .filter_map(|c| c.first().copied())
            .filter(|&cpu| home.is_none() || node_of(cpu) == home)
            .collect();
        let mut local = local.into_iter();
        Ok((0..wanted)
            .map(|n| match local.next() {
                Some(core) => core.first().copied(),
                None if shared.is_empty() => None,
                None => Some(shared[n % shared.len()]),
            })
            .collect())
    }

    /// Each service's placement: latency services get an SQPOLL thread on a
    /// spare isolated core (one no service is pinned on) while any is left.
    fn placements(&self) -> Vec<Placement> {
        let mut spare_isolated: Vec<usize> = self
            .free_cores
            .iter()
            .filter(|c| !self.held.contains(c) && c.is_subset(&self.host.isolated))
            .filter(|c| !self.cpus.iter().flatten().any(|cpu| c.contains(cpu)))
            .filter_map(|c| c.first().copied())
            .collect();
        // Popped from the end: the lowest spare core goes to the first service.
        spare_isolated.reverse();
        let throughput = |profile: Profile| profile == Profile::Throughput;
        self.services
            .iter()
            .zip(self.profiles.iter().zip(&self.cpus))
            .map(|(s, (&profile, &cpu))| Placement {
                name: s.name.clone(),
                profile,
                cpu,
                node: cpu.and_then(|c| self.host.cpu(c)).map(|c| c.node),
                wait: match profile {
                    Profile::Latency => match spare_isolated.pop() {
                        Some(sq) => Wait::SqPoll { cpu: sq },
                        None => Wait::BusyPoll,
                    },
                    _ => Wait::Park,
                },
                ring_entries: if throughput(profile) {
                    THROUGHPUT_RING_ENTRIES
                } else {
                    DEFAULT_RING_ENTRIES
                },
                recv_buffers: if throughput(profile) {
                    THROUGHPUT_RECV_BUFFERS
                } else {
                    DEFAULT_RECV_BUFFERS
                },
                io_cores: Vec::new(),
            })
            .collect()
    }

    /// Housekeeping: every CPU outside the cores the pinned services and the
    /// SQPOLL threads run on (all CPUs when nothing is pinned).
    fn housekeeping(&self, placements: &[Placement]) -> CpuSet {
        let mut housekeeping: CpuSet = self.host.cpus.iter().map(|c| c.id).collect();
        let taken = placements.iter().flat_map(|p| {
            let sq = match p.wait {
                Wait::SqPoll { cpu } => Some(cpu),
                _ => None,
            };
            p.cpu
                .into_iter()
                .chain(sq)
                .chain(p.io_cores.iter().flatten().copied())
        });
        for cpu in taken {
            for c in self.core_of(cpu).unwrap_or_default() {
                housekeeping.remove(&c);
            }
        }
        if housekeeping.is_empty() {
            // Every core runs a service: the OS shares the first one.
            housekeeping = self.os_core.clone();
        }
        housekeeping
    }
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
            if !p.io_cores.is_empty() {
                out += &format!("  {}\n", p.describe_io_cores());
            }
        }
        out += &format!(
            "housekeeping (OS, interrupts, metrics): CPUs {}\n",
            cpu_list::format(&self.housekeeping)
        );
        out
    }

    /// CPUs that busy-poll (a service's or its IO cores', or an SQPOLL
    /// thread's).
    pub fn busy_cpus(&self) -> CpuSet {
        let mut set = CpuSet::new();
        for p in &self.services {
            if p.wait != Wait::Park {
                set.extend(p.io_cores.iter().flatten().copied());
            }
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

impl Placement {
    /// Its IO cores in a phrase: how many, where, and what for.
    pub fn describe_io_cores(&self) -> String {
        let n = self.io_cores.len();
        let pinned: Vec<usize> = self.io_cores.iter().flatten().copied().collect();
        let place = match pinned.len() {
            0 => "not pinned".to_string(),
            1 => format!("on CPU {}", pinned[0]),
            _ => format!(
                "on CPUs {}",
                cpu_list::format(&pinned.into_iter().collect())
            ),
        };
        format!("{n} IO core(s), {place}: its subscribers' connections are spread over them")
    }
}
