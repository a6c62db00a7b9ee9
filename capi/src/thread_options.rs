//! The context options that shape its thread, as libzmq 4.3 takes them:
//! ZMQ_THREAD_SCHED_POLICY, ZMQ_THREAD_PRIORITY, ZMQ_THREAD_AFFINITY_CPU_ADD
//! and _REMOVE, ZMQ_THREAD_NAME_PREFIX.
//!
//! libzmq applies them to its I/O threads when they start (at the first
//! socket); a context here has its one thread from `zmq_ctx_new`, so each
//! `zmq_ctx_set` of one of them applies the whole set to that thread at
//! once, and fails with the thread's errno if the system refuses (EPERM for
//! a real-time policy without the privilege; libzmq would abort the thread
//! then). The values are kept only when applied.

use std::ffi::c_int;

use monocoque_runtime::ThreadSettings;

use crate::boundary::Errno;

/// ZMQ_THREAD_PRIORITY.
pub(crate) const THREAD_PRIORITY: c_int = 3;
/// ZMQ_THREAD_SCHED_POLICY.
pub(crate) const THREAD_SCHED_POLICY: c_int = 4;
/// ZMQ_THREAD_AFFINITY_CPU_ADD.
pub(crate) const THREAD_AFFINITY_CPU_ADD: c_int = 7;
/// ZMQ_THREAD_AFFINITY_CPU_REMOVE.
pub(crate) const THREAD_AFFINITY_CPU_REMOVE: c_int = 8;
/// ZMQ_THREAD_NAME_PREFIX.
pub(crate) const THREAD_NAME_PREFIX: c_int = 9;

/// ZMQ_THREAD_SCHED_POLICY_DFLT and ZMQ_THREAD_PRIORITY_DFLT: not set.
const NOT_SET: c_int = -1;

/// The context thread's name without a prefix.
const THREAD_NAME: &str = "monocoque-ctx";

/// Whether `option` is one of the thread options.
pub(crate) fn is_thread_option(option: c_int) -> bool {
    matches!(
        option,
        THREAD_PRIORITY
            | THREAD_SCHED_POLICY
            | THREAD_AFFINITY_CPU_ADD
            | THREAD_AFFINITY_CPU_REMOVE
            | THREAD_NAME_PREFIX
    )
}

/// The thread options a context holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct ThreadOptions {
    settings: ThreadSettings,
    /// ZMQ_THREAD_NAME_PREFIX, as libzmq keeps it (the number's digits).
    prefix: Option<String>,
}

impl ThreadOptions {
    /// The options after `zmq_ctx_set (option, value)`, to apply and then
    /// keep; EINVAL where libzmq says it (a negative value, removing a CPU
    /// that was not added).
    pub(crate) fn with(&self, option: c_int, value: c_int) -> Result<ThreadOptions, Errno> {
        let mut next = self.clone();
        let value_at_least_0 = usize::try_from(value).map_err(|_| libc::EINVAL);
        match option {
            THREAD_SCHED_POLICY => {
                value_at_least_0?;
                next.settings.sched_policy = Some(value);
            }
            THREAD_PRIORITY => {
                value_at_least_0?;
                next.settings.priority = Some(value);
            }
            THREAD_AFFINITY_CPU_ADD => {
                next.settings.cpus.insert(value_at_least_0?);
            }
            THREAD_AFFINITY_CPU_REMOVE => {
                if !next.settings.cpus.remove(&value_at_least_0?) {
                    return Err(libc::EINVAL);
                }
            }
            THREAD_NAME_PREFIX => {
                let prefix = value.to_string();
                next.settings.name = Some(format!("{prefix}/{THREAD_NAME}"));
                next.prefix = Some(prefix);
            }
            _ => return Err(libc::EINVAL),
        }
        Ok(next)
    }

    /// What to apply to the context's thread.
    pub(crate) fn settings(&self) -> ThreadSettings {
        self.settings.clone()
    }

    /// `zmq_ctx_get`: the policy (-1 when not set) and the prefix (as
    /// libzmq's `atoi`); EINVAL for the others, which libzmq cannot read
    /// back either.
    pub(crate) fn get(&self, option: c_int) -> Result<c_int, Errno> {
        match option {
            THREAD_SCHED_POLICY => Ok(self.settings.sched_policy.unwrap_or(NOT_SET)),
            THREAD_NAME_PREFIX => Ok(self
                .prefix
                .as_deref()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0)),
            _ => Err(libc::EINVAL),
        }
    }
}
