//! The runtime handle and its builder.

use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use crate::driver::DriverKind;
use crate::error::{Error, Result};
use crate::executor::JoinHandle;
use crate::reactor::{self, Reactor};
use crate::wait_strategy::WaitStrategy;

/// Settings for a reactor. See [`Runtime::builder`].
#[derive(Debug, Clone)]
pub struct RuntimeBuilder {
    core: Option<usize>,
    wait: WaitStrategy,
    ring_entries: u32,
    recv_buffers: u16,
    recv_buffer_size: usize,
    recv_buffers_lent: Option<u16>,
    send_zc_threshold: Option<usize>,
    registered_buffers: Option<(u16, usize)>,
    spin_before_park: Duration,
}

/// The longest [`RuntimeBuilder::spin_before_park`]: past this, spinning is
/// busy-polling, which [`WaitStrategy::BusyPoll`] says plainly.
pub const MAX_SPIN_BEFORE_PARK: Duration = Duration::from_millis(10);

/// One reactor, on the thread that built it: a driver (io_uring or epoll), a
/// local executor and timers. `!Send`: thread-per-core means a runtime never
/// leaves its thread. Start more with [`RuntimeBuilder::spawn_thread`].
///
/// ```
/// use monocoque_runtime::{Runtime, WaitStrategy};
/// let rt = Runtime::builder().wait_strategy(WaitStrategy::Park).build().unwrap();
/// let answer = rt.block_on(async {
///     let task = monocoque_runtime::spawn(async { 6 * 7 });
///     task.await
/// });
/// assert_eq!(answer, 42);
/// ```
pub struct Runtime {
    reactor: Rc<Reactor>,
    wait: WaitStrategy,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("driver", &self.driver())
            .field("wait", &self.wait)
            .finish()
    }
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        RuntimeBuilder {
            core: None,
            wait: WaitStrategy::Park,
            ring_entries: 256,
            recv_buffers: crate::recv_pool::DEFAULT_RECV_BUFFERS,
            recv_buffer_size: crate::recv_pool::DEFAULT_RECV_BUFFER_SIZE,
            recv_buffers_lent: None,
            send_zc_threshold: None,
            registered_buffers: None,
            spin_before_park: Duration::ZERO,
        }
    }
}

impl RuntimeBuilder {
    /// Pins the reactor's thread to this CPU (default: not pinned).
    pub fn core(mut self, core: usize) -> Self {
        self.core = Some(core);
        self
    }

    /// How the reactor waits (default [`WaitStrategy::Park`]).
    pub fn wait_strategy(mut self, wait: WaitStrategy) -> Self {
        self.wait = wait;
        self
    }

    /// Submission queue size: a power of two from 2 to 32768 (default 256).
    pub fn ring_entries(mut self, entries: u32) -> Self {
        self.ring_entries = entries;
        self
    }

    /// The receive pool: `count` buffers (a power of two, 1 to 32768) of `size`
    /// bytes (default 256 x 16 KiB = 4 MiB per reactor). Received data lives only
    /// there while it is free; when the application holds every buffer, reads
    /// go on into heap buffers (see [`Runtime::heap_fallback_reads`]).
    pub fn recv_buffers(mut self, count: u16, size: usize) -> Self {
        self.recv_buffers = count;
        self.recv_buffer_size = size;
        self
    }

    /// How many of the receive pool's free buffers the kernel holds at once
    /// (io_uring; 1 to the pool's count, default all of them); the others
    /// wait in the pool, the most recently used first. The kernel fills
    /// the buffers it holds in turn: with a pool larger than the cache all
    /// lent, each buffer it writes has long left the cache. A few lent
    /// keep the ones in use warm, for a reactor with a few busy
    /// connections; one serving thousands of peers at once wants them all
    /// lent (when the kernel runs out, a receive stops and starts again).
    ///
    /// ```
    /// let rt = monocoque_runtime::Runtime::builder()
    ///     .recv_buffers(64, 64 * 1024)
    ///     .recv_buffers_lent(8)
    ///     .build();
    /// assert!(rt.is_ok());
    /// let too_many = monocoque_runtime::Runtime::builder()
    ///     .recv_buffers(8, 4096)
    ///     .recv_buffers_lent(9)
    ///     .build();
    /// assert!(too_many.unwrap_err().to_string().contains("recv_buffers_lent"));
    /// ```
    pub fn recv_buffers_lent(mut self, count: u16) -> Self {
        self.recv_buffers_lent = Some(count);
        self
    }

    /// Sends of at least `bytes` use SEND_ZC (zero-copy) instead of SEND, on
    /// io_uring where the kernel offers it (default: never; see the `send_path`
    /// benchmark in docs/BENCHMARKS.md for why). On epoll it has no effect, and
    /// says so in one log line.
    pub fn send_zc_threshold(mut self, bytes: Option<usize>) -> Self {
        self.send_zc_threshold = bytes;
        self
    }

    /// Registers `count` buffers of `size` bytes with the ring (io_uring only);
    /// sends of at most `size` bytes are copied into one and written with
    /// WRITE_FIXED. Fewer are registered if RLIMIT_MEMLOCK is small; if none can
    /// be, one log line says why and sends use plain SEND. Default: none (see
    /// the pingpong benchmark's `uring-busy-poll-fixed` row).
    pub fn registered_buffers(mut self, buffers: Option<(u16, usize)>) -> Self {
        self.registered_buffers = buffers;
        self
    }

    /// With [`WaitStrategy::Park`] (or `SqPoll`): how long an idle reactor
    /// goes on polling, yielding the CPU between polls, before it parks
    /// (default zero: park at once; at most [`MAX_SPIN_BEFORE_PARK`]).
    /// A message that arrives within it costs no wake-up: a request-reply
    /// exchange between threads gains most (see docs/BENCHMARKS.md, the C
    /// API); the price is CPU time after each burst of work, up to this
    /// long. Refused with `BusyPoll`, which never parks.
    ///
    /// ```
    /// use std::time::Duration;
    /// use monocoque_runtime::Runtime;
    /// let rt = Runtime::builder()
    ///     .spin_before_park(Duration::from_micros(50))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
    /// ```
    pub fn spin_before_park(mut self, spin: Duration) -> Self {
        self.spin_before_park = spin;
        self
    }

    fn validate(&self) -> Result<()> {
        if self.spin_before_park > MAX_SPIN_BEFORE_PARK {
            return Err(Error::InvalidSetting {
                setting: "spin_before_park",
                reason: format!(
                    "{:?} is longer than {:?}: use the busy-poll wait strategy",
                    self.spin_before_park, MAX_SPIN_BEFORE_PARK
                ),
            });
        }
        if !self.spin_before_park.is_zero() && self.wait == WaitStrategy::BusyPoll {
            return Err(Error::InvalidSetting {
                setting: "spin_before_park",
                reason: "the busy-poll wait strategy never parks".into(),
            });
        }
        if let Some((count, size)) = self.registered_buffers {
            if count == 0 || size == 0 || size > u32::MAX as usize {
                return Err(Error::InvalidSetting {
                    setting: "registered_buffers",
                    reason: format!("{count} buffers of {size} bytes: both must be at least 1, size under 4 GiB"),
                });
            }
        }
        if self.recv_buffers == 0
            || !self.recv_buffers.is_power_of_two()
            || self.recv_buffers > 32768
        {
            return Err(Error::InvalidSetting {
                setting: "recv_buffers",
                reason: format!(
                    "count {} is not a power of two from 1 to 32768",
                    self.recv_buffers
                ),
            });
        }
        if let Some(lent) = self.recv_buffers_lent {
            if !(1..=self.recv_buffers).contains(&lent) {
                return Err(Error::InvalidSetting {
                    setting: "recv_buffers_lent",
                    reason: format!(
                        "{lent} is not from 1 to the pool's {} buffers",
                        self.recv_buffers
                    ),
                });
            }
        }
        if self.recv_buffer_size == 0 || self.recv_buffer_size > u32::MAX as usize {
            return Err(Error::InvalidSetting {
                setting: "recv_buffers",
                reason: format!("size {} is not from 1 byte to 4 GiB", self.recv_buffer_size),
            });
        }
        if !(2..=32768).contains(&self.ring_entries) || !self.ring_entries.is_power_of_two() {
            return Err(Error::InvalidSetting {
                setting: "ring_entries",
                reason: format!(
                    "{} is not a power of two from 2 to 32768",
                    self.ring_entries
                ),
            });
        }
        if let Some(core) = self.core {
            // Not core_affinity::get_core_ids(): from a pinned thread it lists only
            // that thread's core.
            let configured = std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .max(cpus_configured());
            if core >= configured {
                return Err(Error::InvalidSetting {
                    setting: "core",
                    reason: format!("CPU {core} does not exist (this machine has {configured})"),
                });
            }
        }
        Ok(())
    }

    /// Builds the reactor on the calling thread (pinning it if a core was set).
    pub fn build(&self) -> Result<Runtime> {
        self.validate()?;
        if let Some(core) = self.core {
            if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
                return Err(Error::Pinning(core));
            }
        }
        Ok(Runtime {
            reactor: Reactor::new(
                self.wait,
                self.ring_entries,
                crate::recv_pool::BufPool::new(
                    self.recv_buffers,
                    self.recv_buffer_size,
                    self.recv_buffers_lent.unwrap_or(self.recv_buffers),
                ),
                self.send_zc_threshold,
                self.registered_buffers,
                self.spin_before_park,
            )?,
            wait: self.wait,
        })
    }

    /// Starts a thread with its own reactor built from these settings (pinned if a
    /// core was set) and runs `f()`'s future on it to completion.
    pub fn spawn_thread<F, Fut>(
        &self,
        name: &str,
        f: F,
    ) -> Result<std::thread::JoinHandle<Fut::Output>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        self.validate()?;
        let builder = self.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let rt = match builder.build() {
                    Ok(rt) => {
                        let _ = tx.send(Ok(()));
                        rt
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        panic!("runtime thread failed to start");
                    }
                };
                rt.block_on(f())
            })?;
        match rx.recv() {
            Ok(Ok(())) => Ok(handle),
            Ok(Err(e)) => {
                let _ = handle.join();
                Err(e)
            }
            Err(_) => Err(Error::Io(std::io::Error::other(
                "runtime thread died while starting",
            ))),
        }
    }
}

/// CPUs the kernel was configured with.
fn cpus_configured() -> usize {
    // SAFETY: sysconf has no pointer arguments.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
    if n > 0 {
        n as usize
    } else {
        1
    }
}

impl Runtime {
    /// A builder with the defaults: not pinned, [`WaitStrategy::Park`], 256 ring entries.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// Runs `future` to completion on this thread, driving IO, timers and spawned tasks.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.reactor.block_on(future)
    }

    /// Spawns a task on this runtime; it runs whenever `block_on` is running.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.reactor.spawn(future)
    }

    /// The driver in use (io_uring unless unavailable or `MONOCOQUE_DRIVER=epoll`).
    pub fn driver(&self) -> DriverKind {
        self.reactor.kind()
    }

    /// The wait strategy in use.
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.wait
    }

    /// Buffers registered with the ring for WRITE_FIXED (0: none, or the epoll driver).
    pub fn registered_buffer_count(&self) -> usize {
        self.reactor.driver.borrow().registered_buffer_count()
    }

    /// Receive buffers not held by the application or lent to the kernel's ring
    /// (for tests of the memory bound).
    pub fn free_recv_buffers(&self) -> usize {
        self.reactor.pool.free_count()
    }

    /// Reads that found every receive buffer taken and read into the heap
    /// instead (the pool ran dry; nobody stopped reading).
    pub fn heap_fallback_reads(&self) -> u64 {
        self.reactor.pool.heap_reads()
    }

    /// Multishot receives the io_uring driver stopped because 16 completed
    /// chunks waited untaken (a reader that stopped reading must not drain the
    /// shared pool); each resumes when its reader reads again. Always 0 on epoll.
    pub fn stopped_receives(&self) -> u64 {
        self.reactor.driver.borrow().stopped_receives()
    }

    /// Operations (io_uring) or descriptors (epoll) the driver is tracking; for tests
    /// that check nothing leaks.
    pub fn driver_load(&self) -> usize {
        self.reactor.driver.borrow().load()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.reactor.shutdown();
    }
}

/// Whether at least three quarters of this thread's receive buffers are held
/// as `Bytes` (queued in sockets or by the application): the point where a
/// backlog should stop pinning more of them and copy instead. `false` outside
/// a runtime.
pub fn recv_pool_mostly_held() -> bool {
    recv_pool_pressure() >= PoolPressure::High
}

/// How much of this thread's receive pool is held as `Bytes` (queued in
/// sockets or by the application).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PoolPressure {
    /// Under three quarters: loans are cheap, keep them.
    Low,
    /// Three quarters or more: a backlog should copy instead of pinning more.
    High,
    /// Seven eighths or more: anything queued should copy.
    NearlyDry,
}

/// This thread's [`PoolPressure`]; `Low` outside a runtime.
pub fn recv_pool_pressure() -> PoolPressure {
    reactor::peek_pool(|pool| {
        let (held, count) = (pool.held_count(), pool.count() as usize);
        if held * 8 >= count * 7 {
            PoolPressure::NearlyDry
        } else if held * 4 >= count * 3 {
            PoolPressure::High
        } else {
            PoolPressure::Low
        }
    })
    .unwrap_or(PoolPressure::Low)
}

/// Whether `bytes` is a loan from this thread's receive pool (so holding it
/// holds a pool buffer). `false` outside a runtime.
pub fn in_recv_pool(bytes: &[u8]) -> bool {
    reactor::peek_pool(|pool| pool.contains(bytes)).unwrap_or(false)
}

/// Whether this thread is inside [`Runtime::block_on`] (so that IO, timers
/// and [`spawn`] work here).
pub fn in_runtime() -> bool {
    reactor::try_with(|_| ()).is_some()
}

/// Spawns a `!Send` task on the current thread's runtime.
///
/// # Panics
/// Outside [`Runtime::block_on`].
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    reactor::with(|r| crate::executor::spawn_local(&r.shared, future))
}
