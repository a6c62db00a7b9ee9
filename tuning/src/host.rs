//! What the host is, read from a sysfs/procfs root (`/` on a real machine,
//! a fixture tree in tests).
//!
//! | fact | read from (under the root) |
//! |---|---|
//! | online CPUs | `sys/devices/system/cpu/online` |
//! | SMT siblings, core, package | `sys/devices/system/cpu/cpuN/topology/{thread_siblings_list,core_id,physical_package_id}` |
//! | NUMA nodes | `sys/devices/system/node/nodeN/cpulist` (none: one node) |
//! | isolcpus, nohz_full | `sys/devices/system/cpu/{isolated,nohz_full}` |
//! | frequency governor | `sys/devices/system/cpu/cpuN/cpufreq/scaling_governor` (none on most VMs) |
//! | NIC interrupts and their CPUs | `sys/class/net/*`, `proc/interrupts`, `proc/irq/N/smp_affinity_list` |
//! | transparent huge pages | `sys/kernel/mm/transparent_hugepage/enabled` |
//! | RLIMIT_MEMLOCK | `proc/self/limits` |
//! | io_uring | `proc/sys/kernel/io_uring_disabled` (absent: allowed) |

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cpu_list::{self, CpuSet};

/// One online logical CPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cpu {
    /// Its number.
    pub id: usize,
    /// The physical package (socket) it is on.
    pub package: usize,
    /// The NUMA node it is on.
    pub node: usize,
    /// The logical CPUs of its physical core, itself included (SMT siblings).
    pub siblings: CpuSet,
}

/// A NIC interrupt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Irq {
    /// Its number.
    pub number: u32,
    /// Its name in /proc/interrupts.
    pub name: String,
    /// The CPUs it may run on.
    pub affinity: CpuSet,
}

/// Whether io_uring may be used (kernel.io_uring_disabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IoUring {
    /// 0 (or no such sysctl): anyone.
    Allowed,
    /// 1: only root and the kernel.io_uring_group.
    Restricted,
    /// 2: nobody.
    Disabled,
}

/// The host as it matters to placement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Host {
    /// Online CPUs, by number.
    pub cpus: Vec<Cpu>,
    /// NUMA node -> its online CPUs.
    pub nodes: BTreeMap<usize, CpuSet>,
    /// CPUs isolated from the scheduler (isolcpus=).
    pub isolated: CpuSet,
    /// CPUs without the scheduler tick when one task runs (nohz_full=).
    pub nohz_full: CpuSet,
    /// CPU -> frequency governor, where cpufreq exists.
    pub governors: BTreeMap<usize, String>,
    /// Interrupts of the network interfaces.
    pub nic_irqs: Vec<Irq>,
    /// The transparent huge page mode (`always`, `madvise`, `never`), if known.
    pub thp: Option<String>,
    /// RLIMIT_MEMLOCK's soft limit in bytes (`None`: unlimited).
    pub memlock: Option<u64>,
    /// io_uring's availability.
    pub io_uring: IoUring,
}

/// A host file that could not be read or understood.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct HostError {
    /// The file.
    pub path: PathBuf,
    /// What was wrong.
    pub reason: String,
}

struct Root<'a>(&'a Path);

impl Root<'_> {
    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }

    fn read(&self, rel: &str) -> Result<Option<String>, HostError> {
        let path = self.path(rel);
        match std::fs::read_to_string(&path) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HostError {
                path,
                reason: e.to_string(),
            }),
        }
    }

    fn cpus(&self, rel: &str) -> Result<Option<CpuSet>, HostError> {
        self.read(rel)?
            .map(|s| {
                cpu_list::parse(&s).map_err(|reason| HostError {
                    path: self.path(rel),
                    reason,
                })
            })
            .transpose()
    }

    fn number(&self, rel: &str) -> Result<Option<usize>, HostError> {
        self.read(rel)?
            .map(|s| {
                s.trim().parse().map_err(|_| HostError {
                    path: self.path(rel),
                    reason: format!("{:?} is not a number", s.trim()),
                })
            })
            .transpose()
    }

    fn entries(&self, rel: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path(rel))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

impl Host {
    /// Reads the host under `root`.
    pub fn read(root: &Path) -> Result<Host, HostError> {
        let r = Root(root);
        let online_rel = "sys/devices/system/cpu/online";
        let online = r.cpus(online_rel)?.ok_or_else(|| HostError {
            path: r.path(online_rel),
            reason: "missing: is this a Linux sysfs?".into(),
        })?;
        let mut nodes: BTreeMap<usize, CpuSet> = BTreeMap::new();
        for name in r.entries("sys/devices/system/node") {
            let Some(n) = name.strip_prefix("node").and_then(|n| n.parse().ok()) else {
                continue;
            };
            let cpus = r
                .cpus(&format!("sys/devices/system/node/{name}/cpulist"))?
                .unwrap_or_default();
            nodes.insert(n, cpus.intersection(&online).copied().collect());
        }
        if nodes.is_empty() {
            nodes.insert(0, online.clone());
        }
        let mut cpus = Vec::new();
        let mut governors = BTreeMap::new();
        for &id in &online {
            let base = format!("sys/devices/system/cpu/cpu{id}");
            let siblings = r
                .cpus(&format!("{base}/topology/thread_siblings_list"))?
                .unwrap_or_else(|| [id].into_iter().collect());
            let package = r
                .number(&format!("{base}/topology/physical_package_id"))?
                .unwrap_or(0);
            let node = nodes
                .iter()
                .find(|(_, c)| c.contains(&id))
                .map_or(0, |(n, _)| *n);
            cpus.push(Cpu {
                id,
                package,
                node,
                siblings: siblings.intersection(&online).copied().collect(),
            });
            if let Some(g) = r.read(&format!("{base}/cpufreq/scaling_governor"))? {
                governors.insert(id, g.trim().to_string());
            }
        }
        let interfaces: Vec<String> = r
            .entries("sys/class/net")
            .into_iter()
            .filter(|n| n != "lo")
            .collect();
        let mut nic_irqs = Vec::new();
        for line in r.read("proc/interrupts")?.unwrap_or_default().lines() {
            let Some((number, rest)) = line.trim_start().split_once(':') else {
                continue;
            };
            let Ok(number) = number.parse::<u32>() else {
                continue;
            };
            let Some(name) = rest.split_whitespace().last() else {
                continue;
            };
            let virtio_queue =
                name.starts_with("virtio") && (name.contains("-input") || name.contains("-output"));
            if virtio_queue || interfaces.iter().any(|i| name.contains(i.as_str())) {
                let affinity = r
                    .cpus(&format!("proc/irq/{number}/smp_affinity_list"))?
                    .unwrap_or_else(|| online.clone());
                nic_irqs.push(Irq {
                    number,
                    name: name.to_string(),
                    affinity,
                });
            }
        }
        let thp = r
            .read("sys/kernel/mm/transparent_hugepage/enabled")?
            .and_then(|s| {
                let start = s.find('[')?;
                let end = s[start..].find(']')?;
                Some(s[start + 1..start + end].to_string())
            });
        let memlock = match r.read("proc/self/limits")? {
            None => None,
            Some(limits) => limits
                .lines()
                .find(|l| l.starts_with("Max locked memory"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|soft| soft.parse().ok()),
        };
        let io_uring = match r.number("proc/sys/kernel/io_uring_disabled")? {
            None | Some(0) => IoUring::Allowed,
            Some(1) => IoUring::Restricted,
            Some(_) => IoUring::Disabled,
        };
        Ok(Host {
            cpus,
            nodes,
            isolated: r
                .cpus("sys/devices/system/cpu/isolated")?
                .unwrap_or_default(),
            nohz_full: r
                .cpus("sys/devices/system/cpu/nohz_full")?
                .unwrap_or_default(),
            governors,
            nic_irqs,
            thp,
            memlock,
            io_uring,
        })
    }

    /// The host as a process restricted to `allowed` sees it (its CPU
    /// affinity mask: taskset, systemd's CPUAffinity=).
    pub fn restricted_to(&self, allowed: &CpuSet) -> Host {
        let mut h = self.clone();
        h.cpus.retain(|c| allowed.contains(&c.id));
        for c in &mut h.cpus {
            c.siblings = c.siblings.intersection(allowed).copied().collect();
        }
        for cpus in h.nodes.values_mut() {
            *cpus = cpus.intersection(allowed).copied().collect();
        }
        h.nodes.retain(|_, cpus| !cpus.is_empty());
        h
    }

    /// The physical cores: each one's logical CPUs, lowest first.
    pub fn cores(&self) -> Vec<CpuSet> {
        let mut cores: Vec<CpuSet> = Vec::new();
        for c in &self.cpus {
            if !cores.contains(&c.siblings) {
                cores.push(c.siblings.clone());
            }
        }
        cores.sort_by_key(|c| c.first().copied());
        cores
    }

    /// The CPU `id`, if online.
    pub fn cpu(&self, id: usize) -> Option<&Cpu> {
        self.cpus.iter().find(|c| c.id == id)
    }

    /// One line: CPUs, cores, SMT, nodes.
    pub fn summary(&self) -> String {
        let cores = self.cores().len();
        let smt = self.cpus.len().checked_div(cores).unwrap_or(1);
        format!(
            "{} CPU(s), {cores} core(s), SMT {smt}, {} NUMA node(s)",
            self.cpus.len(),
            self.nodes.len()
        )
    }
}
