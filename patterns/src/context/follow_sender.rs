//! The context's thread moves to the CPU of the thread that sends most
//! through it.
//!
//! A send crosses from the application's thread to the context's through
//! the send lane's rings. On one CPU the two take turns and the rings stay
//! in that CPU's cache; on two, every message's lines travel from one
//! cache to the other, and the sender, which stalls on them, is what
//! bounds a stream (libzmq's `inproc_thr` at 64 B: 4.8-7.6 M msg/s with
//! the threads where the scheduler put them, 9.0-10.7 M with the context's
//! thread on the sender's CPU, the receiver on the other;
//! docs/BENCHMARKS.md, attempt 18). libzmq's sender writes straight into
//! its receiver's pipe, one crossing; this makes ours one crossing too, the
//! context's thread to the receiver.
//!
//! How: a sending thread that wakes the lane's pump (which had taken all
//! there was) leaves the CPU it runs on in the lane's ring, on the waking
//! path, never on a send that finds the pump busy
//! (`spsc::Receiver::woken_from_cpu`): a note on every 256th send instead
//! cost `remote_thr` 4 ns a message. A sender on another CPU than the
//! context's thread wakes it often (the pump drains faster than the lane
//! fills); one on the same CPU seldom, and then its last note holds. The
//! context's thread counts what it takes from the lanes by that CPU. Every
//! [`WINDOW`] messages it
//! looks: when one CPU sent at least three quarters of them, and at least
//! [`MIN_RATE`] a second, the thread moves there (its allowed CPUs become
//! that one); otherwise it goes back to the CPUs it was allowed at first.
//! A thread allowed one CPU only (pinned by its builder or its process's
//! mask: `taskset`, the appliance's profiles) never moves.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use monocoque_runtime::thread_cpu;

/// Messages the context's thread takes between two looks.
const WINDOW: usize = 16 * 1024;

/// The rate below which the thread does not move (and moves back): a
/// window that took longer than this means a stream too slow to gain.
const MIN_RATE: u64 = 1_000_000;

/// What the context's thread counted since its last look, and where it
/// stands.
#[derive(Debug)]
struct Placement {
    /// The CPUs the thread was allowed when it first looked; `None` if it
    /// may not move (one CPU, or they could not be read).
    allowed: Option<Vec<usize>>,
    /// The CPU the thread moved to, while it is there.
    moved_to: Option<usize>,
    /// Messages taken since the last look, by the CPU their sender noted.
    by_cpu: Vec<(usize, usize)>,
    taken: usize,
    since: Instant,
}

impl Placement {
    fn new() -> Placement {
        let allowed = thread_cpu::allowed_cpus()
            .ok()
            .filter(|cpus| cpus.len() > 1);
        Placement {
            allowed,
            moved_to: None,
            by_cpu: Vec::new(),
            taken: 0,
            since: Instant::now(),
        }
    }

    fn count(&mut self, cpu: Option<usize>, n: usize) {
        self.taken += n;
        if let Some(cpu) = cpu {
            match self.by_cpu.iter_mut().find(|(c, _)| *c == cpu) {
                Some((_, count)) => *count += n,
                None => self.by_cpu.push((cpu, n)),
            }
        }
        if self.taken >= WINDOW {
            self.look();
        }
    }

    /// Moves the thread as the window just ended says.
    fn look(&mut self) {
        let target = choose(&self.by_cpu, self.taken, self.since.elapsed());
        if let Some(allowed) = &self.allowed {
            // A sender on a CPU this thread may not use is followed nowhere.
            let target = target.filter(|cpu| allowed.contains(cpu));
            if target != self.moved_to {
                let placed = match target {
                    Some(cpu) => thread_cpu::set_allowed_cpus(&[cpu]),
                    None => thread_cpu::set_allowed_cpus(allowed),
                };
                match placed {
                    Ok(()) => {
                        tracing::debug!(cpu = ?target, "context thread placed (None: any allowed CPU)");
                        self.moved_to = target;
                    }
                    Err(e) => tracing::debug!(error = %e, "context thread not placed"),
                }
            }
        }
        self.by_cpu.clear();
        self.taken = 0;
        self.since = Instant::now();
    }
}

/// Where the context's thread should run after a window of `taken`
/// messages that took `elapsed`, `by_cpu` of them by their sender's CPU:
/// on the CPU that sent three quarters of them, if they came at
/// [`MIN_RATE`] or faster; anywhere (`None`) otherwise.
fn choose(by_cpu: &[(usize, usize)], taken: usize, elapsed: Duration) -> Option<usize> {
    let slowest = Duration::from_nanos((taken as u64).saturating_mul(1_000_000_000) / MIN_RATE);
    if taken == 0 || elapsed > slowest {
        return None;
    }
    by_cpu
        .iter()
        .copied()
        .max_by_key(|&(_, n)| n)
        .filter(|&(_, n)| n.saturating_mul(4) >= taken.saturating_mul(3))
        .map(|(cpu, _)| cpu)
}

thread_local! {
    /// The placement of the thread taking from the lanes (the context's).
    static PLACEMENT: RefCell<Option<Placement>> = const { RefCell::new(None) };
}

/// The context's thread took `n` messages from a lane whose sender last
/// woke it from `sender_cpu`.
pub(super) fn taken(sender_cpu: Option<usize>, n: usize) {
    PLACEMENT.with(|p| {
        p.borrow_mut()
            .get_or_insert_with(Placement::new)
            .count(sender_cpu, n)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Duration = Duration::from_millis(10);

    #[test]
    fn a_fast_stream_mostly_from_one_cpu_moves_the_thread_there() {
        assert_eq!(choose(&[(3, WINDOW)], WINDOW, FAST), Some(3));
        let three_quarters = WINDOW * 3 / 4;
        assert_eq!(
            choose(
                &[(1, WINDOW - three_quarters), (0, three_quarters)],
                WINDOW,
                FAST
            ),
            Some(0)
        );
    }

    #[test]
    fn senders_spread_over_cpus_leave_the_thread_anywhere() {
        let half = WINDOW / 2;
        assert_eq!(choose(&[(0, half), (1, WINDOW - half)], WINDOW, FAST), None);
        // Senders that never noted a CPU count in the window, for none.
        assert_eq!(choose(&[(0, half)], WINDOW, FAST), None);
    }

    #[test]
    fn a_slow_stream_leaves_the_thread_anywhere() {
        let at_min_rate = Duration::from_nanos(WINDOW as u64 * 1_000_000_000 / MIN_RATE);
        assert_eq!(choose(&[(2, WINDOW)], WINDOW, at_min_rate), Some(2));
        let slower = at_min_rate + Duration::from_millis(1);
        assert_eq!(choose(&[(2, WINDOW)], WINDOW, slower), None);
        assert_eq!(choose(&[], 0, FAST), None);
    }

    #[test]
    fn a_thread_follows_its_sender_and_comes_back() {
        std::thread::spawn(|| {
            let allowed = thread_cpu::allowed_cpus().unwrap();
            if allowed.len() < 2 {
                return; // nowhere to move: nothing to check
            }
            let mut placement = Placement::new();
            placement.count(Some(allowed[1]), WINDOW);
            assert_eq!(placement.moved_to, Some(allowed[1]));
            assert_eq!(thread_cpu::allowed_cpus().unwrap(), vec![allowed[1]]);
            // A window from nobody in particular: back on every CPU.
            placement.count(None, WINDOW);
            assert_eq!(placement.moved_to, None);
            assert_eq!(thread_cpu::allowed_cpus().unwrap(), allowed);
        })
        .join()
        .unwrap();
    }
}
