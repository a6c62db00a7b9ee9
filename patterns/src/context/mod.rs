//! The blocking API: a [`Context`] and its [`BlockingSocket`]s, usable from
//! any thread, as with libzmq's `zmq_ctx_new` and `zmq_socket`.
//!
//! A context is one runtime thread (a reactor, optionally pinned) that owns
//! every socket made from it. A user thread reaches its socket through two
//! SPSC rings (commands one way, replies the other) and parks while it waits;
//! the context's thread runs the command against an ordinary async
//! [`Socket`](crate::Socket), so both APIs share every rule, option and
//! transport. A stream of messages skips the round trip where the socket
//! type allows it: blocking sends go through a third ring, receives take
//! what is queued in one go (`lanes.rs`). inproc names are per context, as in libzmq, because the
//! registry is per thread and a context is one thread.
//!
//! ```text
//!  user thread                     context thread (one reactor)
//!  BlockingSocket ──commands──▶  serve task ── async Socket ── engines, timers
//!                 ◀──replies───
//!                 ──send lane─▶
//!  Context ───────control─────▶  main task: opens sockets, shutdown,
//!                                  waits for lingering sockets at the end
//! ```
//!
//! The context's thread ends when the last handle (a [`Context`] clone or a
//! socket) is dropped and every closed socket has finished lingering; that
//! last drop waits for it, as zmq_ctx_term does.

mod blocking_monitor;
mod blocking_proxy;
mod blocking_socket;
mod command;
mod follow_sender;
mod lane_backlog;
mod lane_properties;
mod lanes;
mod live_set;
mod poll;
mod receive_lane;
mod send_credit;
mod serve;
mod shutdown;

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use monocoque_runtime::{spsc, RuntimeBuilder, ThreadSettings};
use monocoque_zmtp::SocketType;

pub use blocking_monitor::BlockingMonitor;
pub use blocking_proxy::{blocking_proxy, blocking_proxy_steerable};
pub use blocking_socket::BlockingSocket;
use command::{expect_reply, Control, Reply};
use lane_backlog::Backlog;
use live_set::LiveSet;
pub use poll::{poll, PollItem};
use shutdown::Shutdown;

use crate::{Error, Result};

/// Requests from user threads that can be waiting to reach the context's
/// thread at once; more make `socket()` wait for room.
const CONTROL_CAPACITY: usize = 64;

/// How long [`Context::new`]'s thread polls on when idle before it parks
/// ([`RuntimeBuilder::spin_before_park`]): long enough for the next message
/// of a request-reply exchange between threads (libzmq's `inproc_lat` and
/// `local_lat` measured it, docs/BENCHMARKS.md), short enough that an idle
/// context costs nothing.
pub const CONTEXT_SPIN_BEFORE_PARK: Duration = Duration::from_micros(50);

/// The receive pool of [`Context::new`]'s thread: this many buffers of
/// [`CONTEXT_RECV_BUFFER_SIZE`] (4 MiB, as the runtime's default of 256 x
/// 16 KiB), in fewer, larger buffers: a context's thread serves its
/// process's sockets, typically a few connections, not the thousands of
/// peers an appliance's reactor does, and over loopback a stream comes in
/// 64 KiB at a time, which a 16 KiB buffer took in four completions, each
/// with its share of the kernel's receive path. At 1 KiB
/// (`local_thr`/`remote_thr`), the receiving context's thread cost 416-489
/// ns a message against 556-558 (docs/BENCHMARKS.md, attempt 18).
/// Pass your own with [`Context::with_runtime`].
pub const CONTEXT_RECV_BUFFERS: u16 = 64;

/// The size of each of [`CONTEXT_RECV_BUFFERS`]: 64 KiB.
pub const CONTEXT_RECV_BUFFER_SIZE: usize = 64 * 1024;

/// How many of [`CONTEXT_RECV_BUFFERS`] the kernel holds at once
/// ([`RuntimeBuilder::recv_buffers_lent`]): 512 KiB, what a core's cache
/// holds here. With all 4 MiB lent, the kernel wrote each buffer once a lap,
/// long after the cache had let it go; a few lent, the warmest first, cut
/// the receiving thread's copy from the kernel by a third at 1 KiB a
/// message (docs/BENCHMARKS.md, attempt 20). The others still take bursts
/// and what the application holds.
pub const CONTEXT_RECV_BUFFERS_LENT: u16 = 8;

/// A context: the thread that runs its sockets. Cheap to clone, `Send` and
/// `Sync`; share it between threads.
///
/// ```
/// use monocoque_patterns::Context;
/// use monocoque_zmtp::SocketType;
/// let ctx = Context::new().unwrap();
/// let rep = ctx.socket(SocketType::Rep).unwrap();
/// rep.bind("tcp://127.0.0.1:0").unwrap();
/// let endpoint = rep.last_endpoint().unwrap().unwrap();
/// let server = std::thread::spawn(move || {
///     let request = rep.recv().unwrap();
///     rep.send(request).unwrap();
/// });
/// let req = ctx.socket(SocketType::Req).unwrap();
/// req.connect(&endpoint).unwrap();
/// req.send("hello").unwrap();
/// assert_eq!(&req.recv().unwrap()[0][..], b"hello");
/// server.join().unwrap();
/// ```
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

struct Inner {
    /// One producer for all user threads, hence the lock; only `socket()`
    /// and `shutdown()` take it, never a send or recv.
    control: Mutex<Option<spsc::Sender<Control>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// `shutdown` was called: seen by the handles' send lanes and received
    /// messages, which do not ask the context's thread.
    shut_down: AtomicBool,
    /// What this context's send lanes hold (`lane_backlog.rs`).
    backlog: Arc<Backlog>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

impl Context {
    /// A context on a new, unpinned runtime thread that parks when idle,
    /// after polling on for [`CONTEXT_SPIN_BEFORE_PARK`] (a reply that
    /// comes within it costs no wake-up of the context's thread), receiving
    /// into [`CONTEXT_RECV_BUFFERS`] buffers of [`CONTEXT_RECV_BUFFER_SIZE`],
    /// [`CONTEXT_RECV_BUFFERS_LENT`] of them lent to the kernel at a time.
    pub fn new() -> Result<Context> {
        Context::with_runtime(
            monocoque_runtime::Runtime::builder()
                .spin_before_park(CONTEXT_SPIN_BEFORE_PARK)
                .recv_buffers(CONTEXT_RECV_BUFFERS, CONTEXT_RECV_BUFFER_SIZE)
                .recv_buffers_lent(CONTEXT_RECV_BUFFERS_LENT),
        )
    }

    /// A context whose thread is built from `runtime`: pin it with
    /// [`RuntimeBuilder::core`], busy-poll with
    /// [`RuntimeBuilder::wait_strategy`].
    pub fn with_runtime(runtime: RuntimeBuilder) -> Result<Context> {
        let (control, requests) = spsc::channel(CONTROL_CAPACITY);
        let backlog = Arc::new(Backlog::default());
        let pumps = backlog.clone();
        let thread = runtime
            .spawn_thread("monocoque-ctx", move || run(requests, pumps))
            .map_err(|e| Error::Io {
                context: "start the context's runtime thread".into(),
                message: e.to_string(),
                kind: std::io::ErrorKind::Other,
            })?;
        Ok(Context {
            inner: Arc::new(Inner {
                control: Mutex::new(Some(control)),
                thread: Mutex::new(Some(thread)),
                shut_down: AtomicBool::new(false),
                backlog,
            }),
        })
    }

    fn control(&self, request: Control) -> Result<()> {
        let mut control = self
            .inner
            .control
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(control) = control.as_mut() else {
            return Err(Error::Terminated);
        };
        control
            .send_blocking(request)
            .map_err(|_| Error::Terminated)
    }

    /// A new socket of `kind` with libzmq's default options (note LINGER: -1,
    /// so the context's last drop waits until queued messages are sent).
    /// [`Error::Terminated`] after [`shutdown`](Self::shutdown).
    pub fn socket(&self, kind: SocketType) -> Result<BlockingSocket> {
        let (commands_tx, commands_rx) = spsc::channel(1);
        let (replies_tx, mut replies_rx) = spsc::channel(1);
        let (lane_tx, lane_rx) = match lanes::has_send_lane(kind) {
            true => {
                let (tx, rx) = lanes::send_lane(self.inner.backlog.clone(), kind);
                (Some(tx), Some(rx))
            }
            false => (None, None),
        };
        let (recv_lane_rx, recv_lane_tx) = match receive_lane::has_recv_lane(kind) {
            true => {
                let (rx, tx) = receive_lane::recv_lane();
                (Some(rx), Some(tx))
            }
            false => (None, None),
        };
        self.control(Control::Open {
            kind,
            commands: commands_rx,
            replies: replies_tx,
            lane: lane_rx,
            recv_lane: recv_lane_tx,
        })?;
        let reply = replies_rx.recv_blocking().ok_or(Error::Terminated)?;
        expect_reply!(reply, Done)?;
        Ok(BlockingSocket::new(
            kind,
            commands_tx,
            replies_rx,
            lane_tx,
            recv_lane_rx,
            self.clone(),
        ))
    }

    /// Applies `settings` (scheduling policy, priority, CPUs, name) to the
    /// context's thread now; libzmq's ZMQ_THREAD_* context options. The
    /// error is the thread's own (EPERM for a real-time policy without
    /// the privilege, EINVAL for a CPU that does not exist).
    ///
    /// ```
    /// use monocoque_patterns::Context;
    /// use monocoque_runtime::ThreadSettings;
    /// let ctx = Context::new().unwrap();
    /// let named = ThreadSettings { name: Some("feed/ctx".into()), ..Default::default() };
    /// ctx.apply_thread_settings(named).unwrap();
    /// ```
    pub fn apply_thread_settings(&self, settings: ThreadSettings) -> Result<()> {
        let (done, answer) = std::sync::mpsc::sync_channel(1);
        self.control(Control::ThreadSettings { settings, done })?;
        let applied = answer.recv().map_err(|_| Error::Terminated)?;
        applied.map_err(|e| Error::io("apply the context thread's settings", &e))
    }

    /// Whether a send lane of this context may hold a message its pump
    /// has not taken yet (see `lane_backlog.rs`).
    fn lanes_have_unlooked(&self) -> bool {
        self.inner.backlog.has_unlooked()
    }

    /// The counts of this context's send lanes (see `lane_backlog.rs`).
    fn backlog(&self) -> &Backlog {
        &self.inner.backlog
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    #[inline]
    fn is_shut_down(&self) -> bool {
        self.inner.shut_down.load(Ordering::Acquire)
    }

    /// zmq_ctx_shutdown: every blocking `send` and `recv` in progress on this
    /// context's sockets returns [`Error::Terminated`] at once, and so does
    /// every later operation but close, and `socket()`. Sockets stay open
    /// until dropped (then they linger as usual).
    pub fn shutdown(&self) -> Result<()> {
        self.inner.shut_down.store(true, Ordering::Release);
        self.control(Control::Shutdown)
    }
}

impl Drop for Inner {
    /// The last handle is gone: close the control ring, which lets the
    /// context's thread finish once every socket has lingered, and wait for it
    /// (zmq_ctx_term).
    fn drop(&mut self) {
        let control = self.control.get_mut().unwrap_or_else(|p| p.into_inner());
        drop(control.take());
        let thread = self.thread.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(thread) = thread.take() {
            // Joining from the context's own thread would wait for itself.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

/// The context thread's main task.
async fn run(mut requests: spsc::Receiver<Control>, backlog: Arc<Backlog>) {
    let live = Rc::new(LiveSet::default());
    let shutdown = Rc::new(Shutdown::default());
    while let Some(request) = requests.recv().await {
        match request {
            Control::Open {
                kind,
                commands,
                replies,
                lane,
                recv_lane,
            } => {
                let rings = serve::HandleRings {
                    commands,
                    replies,
                    lane,
                    recv_lane,
                };
                let task = serve::socket(
                    kind,
                    rings,
                    backlog.clone(),
                    live.token(),
                    shutdown.clone(),
                    live.clone(),
                );
                monocoque_runtime::spawn(task).detach();
            }
            Control::Shutdown => shutdown.trigger(),
            Control::ThreadSettings { settings, done } => {
                // The caller waits on the other end (room for one answer).
                let _ = done.send(settings.apply_to_current_thread());
            }
        }
    }
    // Every handle is gone; closed sockets may still be lingering.
    live.all_gone().await;
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use bytes::Bytes;

    use super::*;

    /// Once every message sent has been taken, the context's count of
    /// lanes with unlooked messages comes back to zero by itself (no
    /// further send or command): otherwise every ZMQ_DONTWAIT receive of
    /// the context would ask its thread from then on.
    #[test]
    fn the_unlooked_count_falls_to_zero_once_the_lanes_are_taken() {
        let ctx = Context::new().unwrap();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.bind("tcp://127.0.0.1:0").unwrap();
        let endpoint = pull.last_endpoint().unwrap().unwrap();
        let push = ctx.socket(SocketType::Push).unwrap();
        push.connect(&endpoint).unwrap();
        for round in 0..50 {
            // Both rings: encoded single frames, and two-frame messages.
            for i in 0..20 {
                if !push.offer_single_frame(b"one") {
                    push.send("one").unwrap();
                }
                if i % 5 == 0 {
                    let two = vec![Bytes::from_static(b"two"), Bytes::from_static(b"frames")];
                    push.send(two).unwrap();
                }
            }
            for i in 0..20 {
                pull.recv().unwrap();
                if i % 5 == 0 {
                    pull.recv().unwrap();
                }
            }
            let start = Instant::now();
            while ctx.lanes_have_unlooked() {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "round {round}: the count stayed up with nothing in the lanes"
                );
                std::thread::yield_now();
            }
        }
    }
}
