//! The execution profiles.

use serde::{Deserialize, Serialize};

/// How a service's thread waits and where it runs (docs/PERFORMANCE_TUNING.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Busy-polls on a physical core of its own (its SMT siblings left idle).
    Latency,
    /// Parks when idle, pinned, with more and larger receive buffers.
    Throughput,
    /// Parks when idle, not pinned: the default, kind to shared machines.
    #[default]
    Balanced,
    /// Latency where the host has a core for each service and one to spare,
    /// balanced otherwise.
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

impl std::str::FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Profile, String> {
        match s {
            "latency" => Ok(Profile::Latency),
            "throughput" => Ok(Profile::Throughput),
            "balanced" => Ok(Profile::Balanced),
            "auto" => Ok(Profile::Auto),
            _ => Err(format!(
                "no profile {s:?} (latency, throughput, balanced or auto)"
            )),
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
