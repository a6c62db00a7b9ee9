//! How a reactor waits when it has nothing to run.

use std::time::Duration;

/// How a reactor waits for completions.
///
/// | strategy | costs | pick it when |
/// |---|---|---|
/// | `Park` | a syscall and a wake-up per idle period; no CPU when idle | the default; shared or oversubscribed cores |
/// | `BusyPoll` | one core at 100 % forever | a dedicated, isolated core and latency is all that matters |
/// | `SqPoll` | a kernel thread spinning on `cpu` | only with a spare isolated core for that thread; on a 2-core box it makes p99.9 jump to milliseconds |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Submit and sleep in the kernel until a completion, a timer or a wake-up.
    /// With io_uring the ring is SINGLE_ISSUER + DEFER_TASKRUN where the
    /// kernel has them (6.1+), so completions never interrupt a running
    /// reactor; older kernels get a plain ring.
    Park,
    /// Never sleep: spin on completions. With io_uring the ring is set up
    /// SINGLE_ISSUER + DEFER_TASKRUN and each spin enters the kernel with
    /// GETEVENTS (the only way deferred completions are posted).
    BusyPoll,
    /// A kernel thread polls the submission queue (io_uring only).
    SqPoll {
        /// The CPU the kernel thread is pinned to, if any.
        cpu: Option<u32>,
        /// How long the kernel thread spins idle before it sleeps.
        idle: Duration,
    },
}

impl WaitStrategy {
    /// The setting's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            WaitStrategy::Park => "park",
            WaitStrategy::BusyPoll => "busy-poll",
            WaitStrategy::SqPoll { .. } => "sqpoll",
        }
    }
}
