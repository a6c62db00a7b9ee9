//! Where each service runs and how its thread waits, from its profile and
//! the cores this process may use.
//!
//! The rules: a busy-polling (latency) service gets a core of its own, never
//! shared with another service; throughput services are pinned and park when
//! idle; balanced services park and float unless the config pins them; `auto`
//! is latency when every service can have its own core and one core is left
//! for everything else, balanced otherwise.

use monocoque_runtime::{Runtime, RuntimeBuilder, WaitStrategy};

use crate::config::Config;
use crate::profile::Profile;

/// One service's placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The profile in force (never `Auto`: that is resolved here).
    pub profile: Profile,
    /// Where the profile came from, for the start-up report.
    pub profile_from: &'static str,
    /// The core its thread is pinned to (`None`: the scheduler decides).
    pub core: Option<usize>,
    /// How its reactor waits for work.
    pub wait: WaitStrategy,
    /// Receive buffers (count, bytes each), when the profile wants other
    /// than the runtime's default.
    pub recv_buffers: Option<(u16, usize)>,
}

impl Placement {
    /// The service's reactor.
    pub fn runtime(&self) -> Result<Runtime, String> {
        let mut b = RuntimeBuilder::default().wait_strategy(self.wait);
        if let Some(core) = self.core {
            b = b.core(core);
        }
        if let Some((count, size)) = self.recv_buffers {
            b = b.recv_buffers(count, size);
        }
        b.build().map_err(|e| format!("its runtime: {e}"))
    }

    /// One line for the start-up report.
    pub fn describe(&self) -> String {
        let core = match self.core {
            Some(c) => format!("pinned to core {c}"),
            None => "not pinned".into(),
        };
        let wait = match self.wait {
            WaitStrategy::BusyPoll => "busy-polls",
            _ => "parks when idle",
        };
        format!(
            "profile {} ({}), {core}, {wait}",
            self.profile.name(),
            self.profile_from
        )
    }
}

/// Places every service of `config`; `cli` is `--profile`, which overrides
/// the file's profile (a service's own still wins). `cores` are the cores
/// this process may run on.
pub fn plan(
    config: &Config,
    cli: Option<Profile>,
    cores: &[usize],
) -> Result<Vec<Placement>, String> {
    let (default, default_from) = match cli {
        Some(p) => (p, "--profile"),
        None => (config.profile, "the config"),
    };
    let default = match default {
        Profile::Auto if cores.len() > config.services.len() => Profile::Latency,
        Profile::Auto => Profile::Balanced,
        p => p,
    };
    for s in &config.services {
        if let Some(c) = s.core {
            if !cores.contains(&c) {
                return Err(format!(
                    "service {:?}: core {c} is not one this process may use ({cores:?})",
                    s.name
                ));
            }
        }
    }
    let mut taken_by_busy: Vec<usize> = Vec::new();
    let mut next = 0usize;
    let mut placements = Vec::new();
    for s in &config.services {
        let (profile, from) = match s.profile {
            Some(Profile::Auto) => (default, "auto"),
            Some(p) => (p, "the service"),
            None => (default, default_from),
        };
        let pinned = matches!(profile, Profile::Latency | Profile::Throughput);
        let core = match s.core {
            Some(c) => Some(c),
            None if pinned => {
                // The next core no busy-polling service holds.
                let free: Vec<usize> = cores
                    .iter()
                    .copied()
                    .filter(|c| !taken_by_busy.contains(c))
                    .collect();
                if free.is_empty() {
                    return Err(format!(
                        "service {:?}: no core left for it ({} cores, all held by busy-polling services)",
                        s.name,
                        cores.len()
                    ));
                }
                let c = free[next % free.len()];
                next += 1;
                Some(c)
            }
            None => None,
        };
        if profile == Profile::Latency {
            let c = core.expect("latency services are pinned");
            if taken_by_busy.contains(&c) {
                return Err(format!(
                    "service {:?}: core {c} already has a busy-polling service; \
                     two would take turns and both lose",
                    s.name
                ));
            }
            taken_by_busy.push(c);
        }
        placements.push(Placement {
            profile,
            profile_from: from,
            core,
            wait: if profile == Profile::Latency {
                WaitStrategy::BusyPoll
            } else {
                WaitStrategy::Park
            },
            recv_buffers: (profile == Profile::Throughput).then_some((256, 64 * 1024)),
        });
    }
    Ok(placements)
}

/// The cores this process may run on.
pub fn usable_cores() -> Vec<usize> {
    core_affinity::get_core_ids()
        .map(|ids| ids.into_iter().map(|c| c.id).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn cfg(extra: &str) -> Config {
        config::parse(
            "t.toml",
            &format!(
                "{extra}\n[[service]]\nname = \"a\"\nkind = \"streamer\"\n\
                 frontend = {{ bind = [\"tcp://*:0\"] }}\nbackend = {{ bind = [\"tcp://*:0\"] }}\n\
                 [[service]]\nname = \"b\"\nkind = \"streamer\"\n\
                 frontend = {{ bind = [\"tcp://*:0\"] }}\nbackend = {{ bind = [\"tcp://*:0\"] }}\n"
            ),
        )
        .unwrap()
    }

    #[test]
    fn balanced_floats_and_parks() {
        let p = plan(&cfg(""), None, &[0, 1]).unwrap();
        assert!(p
            .iter()
            .all(|p| p.core.is_none() && p.wait == WaitStrategy::Park));
        assert_eq!(
            p[0].describe(),
            "profile balanced (the config), not pinned, parks when idle"
        );
    }

    #[test]
    fn latency_gives_each_service_its_own_core() {
        let p = plan(&cfg(""), Some(Profile::Latency), &[0, 1]).unwrap();
        assert_eq!(p[0].core, Some(0));
        assert_eq!(p[1].core, Some(1));
        assert!(p.iter().all(|p| p.wait == WaitStrategy::BusyPoll));
        let e = plan(&cfg(""), Some(Profile::Latency), &[0]).unwrap_err();
        assert!(e.contains("no core left"), "{e}");
    }

    #[test]
    fn auto_is_latency_only_with_a_core_to_spare() {
        let p = plan(&cfg("profile = \"auto\""), None, &[0, 1]).unwrap();
        assert!(p.iter().all(|p| p.profile == Profile::Balanced));
        let p = plan(&cfg("profile = \"auto\""), None, &[0, 1, 2]).unwrap();
        assert!(p.iter().all(|p| p.profile == Profile::Latency));
    }

    #[test]
    fn a_core_outside_the_process_mask_is_refused() {
        let mut c = cfg("");
        c.services[0].core = Some(7);
        let e = plan(&c, None, &[0, 1]).unwrap_err();
        assert!(e.contains("core 7 is not one this process may use"), "{e}");
    }
}
