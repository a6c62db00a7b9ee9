//! `monocoque tune check`: every host setting that hurts a plan, how much,
//! and the exact command or kernel parameter that fixes it.

use serde::Serialize;

use crate::cpu_list::{self, CpuSet};
use crate::host::{Host, IoUring};
use crate::plan::Plan;
use crate::profile::Profile;

/// How much a setting hurts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Costs the profile its point (milliseconds where microseconds were planned).
    High,
    /// Costs tail latency or throughput.
    Medium,
    /// Worth fixing on a dedicated box.
    Low,
}

impl Severity {
    fn label(self) -> &'static str {
        match self {
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
        }
    }
}

/// One setting that hurts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How much.
    pub severity: Severity,
    /// The setting, and what the host has.
    pub setting: String,
    /// Why it hurts this plan.
    pub why: String,
    /// The command or kernel parameter that fixes it.
    pub fix: String,
}

/// What hurts `plan` on `host`, most severe first.
pub fn check(host: &Host, plan: &Plan) -> Vec<Finding> {
    let busy = plan.busy_cpus();
    let latency = plan.services.iter().any(|p| p.profile == Profile::Latency);
    let pinned: CpuSet = plan.services.iter().filter_map(|p| p.cpu).collect();
    let mut out: Vec<Finding> = [
        io_uring_finding(host),
        governor_finding(host, &pinned, &busy),
        nic_irq_finding(host, plan, &pinned, latency),
    ]
    .into_iter()
    .flatten()
    .collect();
    if latency {
        out.extend(busy_core_findings(host, &busy));
    }
    out.extend(memlock_finding(host, plan));
    // Stable: findings of one severity keep the order above.
    out.sort_by_key(|f| f.severity);
    out
}

/// io_uring restricted or off: the runtime falls back to epoll.
fn io_uring_finding(host: &Host) -> Option<Finding> {
    match host.io_uring {
        IoUring::Allowed => None,
        IoUring::Restricted => Some(Finding {
            severity: Severity::Medium,
            setting: "kernel.io_uring_disabled = 1".into(),
            why: "only root and kernel.io_uring_group may use io_uring; for others Monocoque falls back to epoll".into(),
            fix: "sysctl -w kernel.io_uring_disabled=0 (or add the service's user to kernel.io_uring_group)".into(),
        }),
        IoUring::Disabled => Some(Finding {
            severity: Severity::High,
            setting: "kernel.io_uring_disabled = 2".into(),
            why: "io_uring is off: Monocoque falls back to epoll, one syscall per operation".into(),
            fix: "sysctl -w kernel.io_uring_disabled=0".into(),
        }),
    }
}

/// Pinned CPUs whose cpufreq governor is not `performance` (worse when a
/// busy-poller is among them).
fn governor_finding(host: &Host, pinned: &CpuSet, busy: &CpuSet) -> Option<Finding> {
    let slow: CpuSet = pinned
        .iter()
        .copied()
        .filter(|c| host.governors.get(c).is_some_and(|g| g != "performance"))
        .collect();
    let governor = &host.governors[slow.first()?];
    Some(Finding {
        severity: if slow.is_disjoint(busy) {
            Severity::Medium
        } else {
            Severity::High
        },
        setting: format!(
            "cpufreq governor {governor:?} on CPUs {}",
            cpu_list::format(&slow)
        ),
        why: "the clock drops between messages and climbs back while one is handled".into(),
        fix: format!(
            "cpupower -c {} frequency-set -g performance",
            cpu_list::format(&slow)
        ),
    })
}

/// NIC interrupts allowed on the pinned services' cores, when there are
/// housekeeping CPUs to move them to.
fn nic_irq_finding(host: &Host, plan: &Plan, pinned: &CpuSet, latency: bool) -> Option<Finding> {
    let service_cores: CpuSet = pinned
        .iter()
        .filter_map(|&c| host.cpu(c))
        .flat_map(|c| c.siblings.iter().copied())
        .collect();
    let noisy: Vec<&crate::host::Irq> = host
        .nic_irqs
        .iter()
        .filter(|irq| !irq.affinity.is_disjoint(&service_cores))
        .collect();
    if noisy.is_empty() || plan.housekeeping.is_empty() {
        return None;
    }
    let housekeeping = cpu_list::format(&plan.housekeeping);
    let numbers: Vec<String> = noisy.iter().map(|i| i.number.to_string()).collect();
    Some(Finding {
        severity: if latency {
            Severity::High
        } else {
            Severity::Medium
        },
        setting: format!(
            "NIC interrupts {} may run on the services' CPUs {}",
            numbers.join(" "),
            cpu_list::format(&service_cores)
        ),
        why: "an interrupt on a service's core stalls it for the length of the handler and \
              softirq"
            .into(),
        fix: format!(
            "for irq in {}; do echo {housekeeping} > /proc/irq/$irq/smp_affinity_list; done \
             (and the kernel parameter irqaffinity={housekeeping}; stop irqbalance)",
            numbers.join(" ")
        ),
    })
}

/// What disturbs busy-polling cores: no isolation, the scheduler tick, THP
/// compaction.
fn busy_core_findings(host: &Host, busy: &CpuSet) -> Vec<Finding> {
    // The whole physical cores of the busy CPUs: their siblings must stay quiet too.
    let busy_cores: CpuSet = busy
        .iter()
        .filter_map(|&c| host.cpu(c))
        .flat_map(|c| c.siblings.iter().copied())
        .collect();
    let mut out = Vec::new();
    if busy_cores.is_empty() {
        return out;
    }
    let not_isolated: CpuSet = busy_cores.difference(&host.isolated).copied().collect();
    if !not_isolated.is_empty() {
        out.push(Finding {
            severity: Severity::Medium,
            setting: format!("CPUs {} are not isolated", cpu_list::format(&not_isolated)),
            why: "the scheduler may put other tasks on a busy-polling core".into(),
            fix: format!(
                "kernel parameter isolcpus=managed_irq,domain,{}",
                cpu_list::format(&busy_cores)
            ),
        });
    }
    let ticking: CpuSet = busy_cores.difference(&host.nohz_full).copied().collect();
    if !ticking.is_empty() {
        out.push(Finding {
            severity: Severity::Medium,
            setting: format!(
                "CPUs {} keep the scheduler tick (no nohz_full)",
                cpu_list::format(&ticking)
            ),
            why: "the tick interrupts a busy-polling core up to 1000 times a second".into(),
            fix: format!(
                "kernel parameters nohz_full={0} rcu_nocbs={0}",
                cpu_list::format(&busy_cores)
            ),
        });
    }
    if host.thp.as_deref() == Some("always") {
        out.push(Finding {
            severity: Severity::Low,
            setting: "transparent huge pages: always".into(),
            why: "khugepaged compacts memory behind the application's back: rare \
                  millisecond stalls"
                .into(),
            fix: "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled".into(),
        });
    }
    out
}

/// A low RLIMIT_MEMLOCK, for the profiles that register ring memory.
fn memlock_finding(host: &Host, plan: &Plan) -> Option<Finding> {
    let limit = host.memlock?;
    if limit >= 64 << 20 || plan.services.iter().all(|p| p.profile == Profile::Balanced) {
        return None;
    }
    Some(Finding {
        severity: Severity::Low,
        setting: format!("RLIMIT_MEMLOCK {} KiB", limit / 1024),
        why: "io_uring rings (before Linux 5.12) and registered buffers count against it; \
              past it the runtime falls back to plain buffers"
            .into(),
        fix: "LimitMEMLOCK=infinity in the systemd unit (deploy/monocoque.service), or \
              ulimit -l unlimited"
            .into(),
    })
}

/// The findings as `monocoque tune check` prints them.
pub fn render(findings: &[Finding], profile: Profile) -> String {
    if findings.is_empty() {
        return format!("nothing on this host hurts the {profile} profile\n");
    }
    let mut out = String::new();
    for f in findings {
        out += &format!(
            "{:<6} {}\n       why: {}\n       fix: {}\n",
            f.severity.label(),
            f.setting,
            f.why,
            f.fix
        );
    }
    out
}
