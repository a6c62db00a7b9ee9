//! The runtime's one error type.

use std::io;

/// What can go wrong building or running a runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A builder setting is out of range; the setting is named.
    #[error("invalid runtime setting {setting}: {reason}")]
    InvalidSetting {
        /// The builder setting.
        setting: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The chosen wait strategy needs something this kernel does not offer.
    #[error("wait strategy {strategy} is not supported here: {missing}")]
    UnsupportedWaitStrategy {
        /// The strategy asked for.
        strategy: &'static str,
        /// What the kernel lacks.
        missing: String,
    },
    /// `MONOCOQUE_DRIVER=uring` was forced but io_uring cannot be used.
    #[error("io_uring was required (MONOCOQUE_DRIVER=uring) but cannot be used: {0}")]
    UringUnavailable(io::Error),
    /// `MONOCOQUE_DRIVER` holds something other than `uring` or `epoll`.
    #[error("MONOCOQUE_DRIVER={0:?} is not a driver; use \"uring\" or \"epoll\"")]
    UnknownDriver(String),
    /// Pinning a reactor thread to its core failed.
    #[error("could not pin the reactor thread to core {0}")]
    Pinning(usize),
    /// A system call failed while setting up.
    #[error("runtime setup failed: {0}")]
    Io(#[from] io::Error),
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
