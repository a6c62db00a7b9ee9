//! Scheduling settings a thread applies to itself: policy, priority, the
//! CPUs it may run on, its name. libzmq's context thread options
//! (ZMQ_THREAD_SCHED_POLICY, _PRIORITY, _AFFINITY_CPU_ADD/_REMOVE,
//! _NAME_PREFIX) are these, applied by the context's thread.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::io;

/// What [`apply_to_current_thread`](ThreadSettings::apply_to_current_thread)
/// sets; `None` and an empty CPU set leave that part as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadSettings {
    /// A scheduling policy (`SCHED_OTHER` 0, `SCHED_FIFO` 1, `SCHED_RR` 2,
    /// `SCHED_BATCH` 3, `SCHED_IDLE` 5).
    pub sched_policy: Option<i32>,
    /// Under `SCHED_FIFO` or `SCHED_RR`, the static priority (1 to 99);
    /// under the other policies, which have only priority 0, any value
    /// raises the thread's nice value to the highest (-20), as libzmq does.
    pub priority: Option<i32>,
    /// The CPUs the thread may run on (empty: any).
    pub cpus: BTreeSet<usize>,
    /// The thread's name (the kernel keeps 15 bytes).
    pub name: Option<String>,
}

/// The longest thread name the kernel keeps, in bytes.
const NAME_MAX: usize = 15;

impl ThreadSettings {
    /// Applies the settings to the calling thread. An error says which
    /// part failed (EPERM for a real-time policy or a raised priority
    /// without the privilege, EINVAL for a CPU that does not exist).
    ///
    /// ```
    /// use monocoque_runtime::ThreadSettings;
    /// std::thread::spawn(|| {
    ///     let settings = ThreadSettings { name: Some("worker-7".into()), ..Default::default() };
    ///     settings.apply_to_current_thread().unwrap();
    ///     assert_eq!(std::fs::read_to_string("/proc/thread-self/comm").unwrap(), "worker-7\n");
    /// })
    /// .join()
    /// .unwrap();
    /// ```
    pub fn apply_to_current_thread(&self) -> io::Result<()> {
        if self.sched_policy.is_some() || self.priority.is_some() {
            self.apply_scheduling()?;
        }
        if !self.cpus.is_empty() {
            self.apply_cpus()?;
        }
        if let Some(name) = &self.name {
            apply_name(name)?;
        }
        Ok(())
    }

    fn apply_scheduling(&self) -> io::Result<()> {
        let mut policy: libc::c_int = 0;
        // SAFETY: sched_param is plain data; all-zero is a valid value.
        let mut param: libc::sched_param = unsafe { std::mem::zeroed() };
        // SAFETY: pthread_self() is this live thread; both pointers are to
        // writable locals of the right types.
        let rc =
            unsafe { libc::pthread_getschedparam(libc::pthread_self(), &mut policy, &mut param) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        if let Some(p) = self.sched_policy {
            policy = p;
        }
        let real_time = policy == libc::SCHED_FIFO || policy == libc::SCHED_RR;
        if let Some(priority) = self.priority {
            param.sched_priority = if real_time { priority } else { 0 };
        }
        // SAFETY: as above; `param` is initialised.
        let rc = unsafe { libc::pthread_setschedparam(libc::pthread_self(), policy, &param) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        if !real_time && self.priority.is_some() {
            // The nice value of this thread only (Linux keeps one per thread).
            // SAFETY: no pointer arguments.
            let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, -20) };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    fn apply_cpus(&self) -> io::Result<()> {
        let cpus: Vec<usize> = self.cpus.iter().copied().collect();
        crate::thread_cpu::set_allowed_cpus(&cpus)
    }
}

/// Names the calling thread, cut to what the kernel keeps (on a character
/// boundary).
fn apply_name(name: &str) -> io::Result<()> {
    let mut end = name.len().min(NAME_MAX);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    let name =
        CString::new(&name[..end]).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: pthread_self() is this live thread; `name` is NUL-terminated
    // and at most 15 bytes before the NUL.
    let rc = unsafe { libc::pthread_setname_np(libc::pthread_self(), name.as_ptr()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_a_thread(settings: ThreadSettings) -> (io::Result<()>, String) {
        std::thread::spawn(move || {
            let applied = settings.apply_to_current_thread();
            let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
            (applied, status)
        })
        .join()
        .unwrap()
    }

    #[test]
    fn cpus_and_name_reach_the_kernel() {
        let settings = ThreadSettings {
            cpus: BTreeSet::from([0]),
            name: Some("a-name-longer-than-fifteen".into()),
            ..Default::default()
        };
        let (applied, status) = on_a_thread(settings);
        applied.unwrap();
        assert!(status.contains("Name:\ta-name-longer-t\n"), "{status}");
        assert!(status.contains("Cpus_allowed_list:\t0\n"), "{status}");
    }

    #[test]
    fn the_default_policy_applies_and_bad_values_are_errors() {
        let other = ThreadSettings {
            sched_policy: Some(libc::SCHED_OTHER),
            ..Default::default()
        };
        on_a_thread(other).0.unwrap();
        let no_such_cpu = ThreadSettings {
            cpus: BTreeSet::from([1 << 20]),
            ..Default::default()
        };
        assert_eq!(
            on_a_thread(no_such_cpu).0.unwrap_err().raw_os_error(),
            Some(libc::EINVAL)
        );
        let no_such_policy = ThreadSettings {
            sched_policy: Some(77),
            ..Default::default()
        };
        assert!(on_a_thread(no_such_policy).0.is_err());
    }
}
