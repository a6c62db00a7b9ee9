//! The machine a run measured on: printed above every table and written into
//! every record, because a figure means little without the CPU and kernel
//! that produced it.

use std::sync::OnceLock;

use serde::Serialize;

/// CPU model, logical CPU count and kernel release, read from /proc.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Machine {
    /// The first `model name` of /proc/cpuinfo ("unknown CPU" where it has none).
    pub cpu: String,
    /// Logical CPUs the kernel lists (not this process's affinity mask).
    pub cpus: usize,
    /// /proc/sys/kernel/osrelease, as `uname -r` prints it.
    pub kernel: String,
}

impl Machine {
    /// This machine, read once per process (it does not change under a run).
    pub fn this() -> &'static Machine {
        static THIS: OnceLock<Machine> = OnceLock::new();
        THIS.get_or_init(|| {
            let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
            let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
            Machine::parse(&cpuinfo, &kernel)
        })
    }

    /// The machine /proc's two files describe.
    fn parse(cpuinfo: &str, osrelease: &str) -> Machine {
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']))
            })
            .unwrap_or("unknown CPU")
            .to_string();
        let cpus = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let kernel = match osrelease.trim() {
            "" => "unknown".to_string(),
            k => k.to_string(),
        };
        Machine { cpu, cpus, kernel }
    }

    /// One line: "AMD EPYC 7B13, 2 cores, Linux 6.18.0".
    pub fn describe(&self) -> String {
        format!("{}, {} cores, Linux {}", self.cpu, self.cpus, self.kernel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_count_and_kernel_from_proc() {
        let cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\n\
                       model name\t: AMD EPYC 7B13\n";
        let m = Machine::parse(cpuinfo, "6.18.0-generic\n");
        assert_eq!(m.describe(), "AMD EPYC 7B13, 2 cores, Linux 6.18.0-generic");
        let bare = Machine::parse("processor : 0\n", "");
        assert_eq!(bare.describe(), "unknown CPU, 1 cores, Linux unknown");
    }

    #[test]
    fn this_machine_has_a_cpu_and_a_kernel() {
        let m = Machine::this();
        assert!(m.cpus >= 1, "{m:?}");
        assert_ne!(m.kernel, "unknown", "{m:?}");
    }
}
