//! Which CPU the calling thread runs on, which it may run on, and moving it.
//!
//! For a thread that places itself by what it serves: the blocking
//! context's thread moves next to the thread that sends most through it
//! (`monocoque_patterns`' `context/follow_sender.rs`).
//!
//! ```
//! use monocoque_runtime::thread_cpu;
//! std::thread::spawn(|| {
//!     let allowed = thread_cpu::allowed_cpus().unwrap();
//!     let cpu = thread_cpu::current_cpu().unwrap();
//!     assert!(allowed.contains(&cpu));
//!     // Onto one CPU, then back.
//!     thread_cpu::set_allowed_cpus(&[allowed[0]]).unwrap();
//!     assert_eq!(thread_cpu::allowed_cpus().unwrap(), vec![allowed[0]]);
//!     thread_cpu::set_allowed_cpus(&allowed).unwrap();
//!     assert_eq!(thread_cpu::allowed_cpus().unwrap(), allowed);
//! })
//! .join()
//! .unwrap();
//! ```

use std::io;

/// The CPU the calling thread is running on now (it may move at any
/// time); `None` where the kernel does not say. Cheap: glibc reads it from
/// the thread's rseq area, without a system call.
#[inline]
pub fn current_cpu() -> Option<usize> {
    // SAFETY: no arguments; returns -1 on failure.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).ok()
}

/// The CPUs the calling thread may run on, in increasing order.
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is the calling thread; `set` is writable and its size
    // is passed.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let capacity = 8 * std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: every index is below the set's capacity.
    Ok((0..capacity)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Lets the calling thread run only on `cpus` (EINVAL for an empty list
/// or a CPU beyond what a `cpu_set_t` holds).
pub fn set_allowed_cpus(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let capacity = 8 * std::mem::size_of::<libc::cpu_set_t>();
    if cpus.is_empty() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    for &cpu in cpus {
        if cpu >= capacity {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: `cpu` is below the set's capacity (checked above).
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: pid 0 is the calling thread; `set` is initialised and its
    // size is passed.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_set_or_a_cpu_out_of_range_is_refused() {
        assert_eq!(
            set_allowed_cpus(&[]).unwrap_err().raw_os_error(),
            Some(libc::EINVAL)
        );
        assert_eq!(
            set_allowed_cpus(&[1 << 20]).unwrap_err().raw_os_error(),
            Some(libc::EINVAL)
        );
    }

    #[test]
    fn a_thread_moved_to_one_cpu_runs_there() {
        std::thread::spawn(|| {
            let allowed = allowed_cpus().unwrap();
            let last = *allowed.last().unwrap();
            set_allowed_cpus(&[last]).unwrap();
            assert_eq!(current_cpu(), Some(last));
        })
        .join()
        .unwrap();
    }
}
