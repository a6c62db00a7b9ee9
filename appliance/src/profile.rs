//! The execution profiles a service can run under.

use serde::Deserialize;

/// How a service's thread waits and where it runs (docs/PERFORMANCE_TUNING.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Busy-polls on a pinned core: the lowest latency, a whole core each.
    Latency,
    /// Parks when idle, pinned, with more and larger receive buffers.
    Throughput,
    /// Parks when idle, not pinned: the default, kind to shared machines.
    #[default]
    Balanced,
    /// Latency where the host has a core to spare for each service, else balanced.
    Auto,
}

impl Profile {
    /// The config's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Latency => "latency",
            Profile::Throughput => "throughput",
            Profile::Balanced => "balanced",
            Profile::Auto => "auto",
        }
    }
}
