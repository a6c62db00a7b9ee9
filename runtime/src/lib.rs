//! # monocoque-runtime
//!
//! The engine Monocoque's sockets run on: one reactor per thread, optionally
//! pinned to a core, each with its own io_uring (an epoll driver where io_uring
//! cannot be used), a local executor for `!Send` futures, and timers.
//!
//! Every syscall and every `unsafe` block of the project lives in this crate;
//! each `unsafe` block says why it holds in a `// SAFETY:` comment.
//!
//! It holds the reactor loop and its three wait strategies, TCP and Unix
//! sockets over io_uring (multishot accept, multishot recv into a provided
//! buffer ring, gathered writes, SendZc, registered buffers) or epoll, timers,
//! cross-thread SPSC rings, and a safe ownership model for buffers the kernel
//! is using (see the crate README).
#![warn(missing_docs)]

mod after_io_turn;
pub mod byte_lane;
mod driver;
mod error;
mod event_fd;
mod executor;
mod fd_poll;
mod idle_spin;
mod io;
pub mod net;
mod process_limits;
mod reactor;
mod recv_pool;
mod runtime;
pub mod spsc;
pub mod thread_cpu;
mod thread_settings;
mod timer;
mod timer_queue;
mod wait_strategy;
mod wake;
mod yield_now;

pub use after_io_turn::{after_io_turn, AfterIoTurn};
pub use driver::DriverKind;
pub use error::{Error, Result};
pub use event_fd::EventFd;
pub use executor::{wake_behind_remote, JoinHandle};
pub use fd_poll::{poll_fds, PollFd};
pub use process_limits::{physical_memory, raise_open_files_limit, OpenFilesLimit};
pub use recv_pool::{DEFAULT_RECV_BUFFERS, DEFAULT_RECV_BUFFER_SIZE};
pub use runtime::{
    in_recv_pool, in_runtime, recv_pool_mostly_held, recv_pool_pressure, spawn, PoolPressure,
    Runtime, RuntimeBuilder, MAX_SPIN_BEFORE_PARK,
};
pub use thread_settings::ThreadSettings;
pub use timer::{sleep, sleep_until, timeout, Elapsed, Sleep};
pub use wait_strategy::WaitStrategy;
pub use yield_now::{yield_behind_remote, yield_now, YieldNow};
