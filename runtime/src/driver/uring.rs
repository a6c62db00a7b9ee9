//! The io_uring driver.
//!
//! Ownership rule: the kernel may read or write an operation's memory (buffers,
//! socket addresses, iovecs) from submission until its completion arrives. An
//! operation's memory therefore lives in its `Op` (io/op.rs) future, and if
//! the future is dropped first, it moves into the driver's slot as `Abandoned`
//! and is freed only when the completion (normal or cancelled) comes back.
//!
//! ```text
//!  submit ─▶ Waiting(waker) ─completion─▶ Completed(res) ─poll─▶ freed
//!               │ future dropped
//!               ▼
//!          Abandoned(memory) + ASYNC_CANCEL ─completion─▶ freed
//! ```

use std::any::Any;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use io_uring::{opcode, squeue, types, IoUring};
use slab::Slab;

use super::provided_ring::ProvidedRing;
use super::registered_buffers::FixedPool;
use crate::recv_pool::BufPool;
use crate::wait_strategy::WaitStrategy;
use crate::wake::Notifier;
use crate::wake::ParkFlag;

const EVENTFD_TOKEN: u64 = u64::MAX;
const CANCEL_TOKEN: u64 = u64::MAX - 1;
/// io_uring_enter flag: reap completions (and run deferred task work).
const IORING_ENTER_GETEVENTS: u32 = 1;

/// Why a ring could not be set up.
#[derive(Debug)]
pub(crate) enum SetupError {
    /// io_uring itself is not usable here (disabled, seccomp, old kernel).
    Unavailable(io::Error),
    /// The ring works but not with the requested strategy's flags.
    Strategy(String),
}

enum OpSlot {
    Waiting(Option<Waker>),
    /// A zero-copy send reported its result; its memory stays with the kernel
    /// until the notification completion.
    Notifying {
        result: i32,
        flags: u32,
        waker: Option<Waker>,
    },
    Completed {
        result: i32,
        flags: u32,
    },
    Abandoned(#[allow(dead_code)] Box<dyn Any>),
    /// A multishot operation: completions queue up until the owner takes them.
    Multi {
        kind: MultiKind,
        results: std::collections::VecDeque<(i32, u32)>,
        waker: Option<Waker>,
        /// A cancel was sent because too many completions waited (RECV only).
        stopping: bool,
    },
    /// A multishot operation whose owner is gone: what late completions carry
    /// (a buffer, a new descriptor) is released; the last completion frees the slot.
    AbandonedMulti(MultiKind),
}

/// What a multishot operation's completions carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MultiKind {
    /// RECV with provided buffers: a buffer id in the flags.
    Recv,
    /// ACCEPT: a new descriptor in the result.
    Accept,
}

impl OpSlot {
    /// Whether the kernel may still post completions (and touch memory) for it.
    fn kernel_owns(&self) -> bool {
        match self {
            OpSlot::Completed { .. } => false,
            OpSlot::Multi { results, .. } => results
                .back()
                .is_none_or(|(_, flags)| io_uring::cqueue::more(*flags)),
            _ => true,
        }
    }
}

/// Releases what an untaken multishot completion carries.
fn release(pool: &BufPool, kind: MultiKind, res: i32, flags: u32) {
    match kind {
        MultiKind::Recv => {
            if res > 0 {
                if let Some(id) = io_uring::cqueue::buffer_select(flags) {
                    pool.give_back(id);
                }
            }
        }
        MultiKind::Accept => {
            if res >= 0 {
                // SAFETY: an accepted descriptor nobody else has seen.
                unsafe { libc::close(res) };
            }
        }
    }
}

/// Completed receives a socket's multishot RECV may hold untaken before it is
/// cancelled. The pool is shared by every socket of the reactor: a socket
/// whose reader has stopped (its queue is at RCVHWM) must not go on filling
/// buffers until the pool is dry. Past this many, the RECV is cancelled, the
/// rest stays in the kernel (TCP pushes back on that peer alone), and the
/// reader's next `recv` re-arms it.
pub(crate) const MULTISHOT_BACKLOG: usize = 16;

/// One reactor's ring and its in-flight operations.
pub(crate) struct UringDriver {
    ring: IoUring,
    ops: Slab<OpSlot>,
    eventfd: Arc<OwnedFd>,
    eventfd_buf: Box<u64>,
    eventfd_armed: bool,
    strategy: WaitStrategy,
    /// The receive pool's buffers, lent to the kernel for multishot RECV (`None`
    /// where the kernel lacks provided-buffer rings: single-shot RECV is used).
    recv_ring: Option<ProvidedRing>,
    pool: Arc<BufPool>,
    /// Whether the kernel offers SEND_ZC.
    send_zc: bool,
    /// Registered buffers for WRITE_FIXED, if configured and registration worked.
    fixed: Option<std::rc::Rc<FixedPool>>,
    /// Multishot RECVs found over [`MULTISHOT_BACKLOG`] in this reap, to cancel
    /// once the completion queue is released (kept to reuse its allocation).
    to_stop: Vec<usize>,
    /// Multishot RECVs stopped so far for [`MULTISHOT_BACKLOG`].
    stopped_receives: u64,
}

impl std::fmt::Debug for UringDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringDriver")
            .field("in_flight", &self.ops.len())
            .field("strategy", &self.strategy)
            .finish()
    }
}

/// Opcodes every driver operation needs.
const REQUIRED: [(u8, &str); 7] = [
    (opcode::Accept::CODE, "ACCEPT"),
    (opcode::Connect::CODE, "CONNECT"),
    (opcode::Recv::CODE, "RECV"),
    (opcode::Send::CODE, "SEND"),
    (opcode::SendMsg::CODE, "SENDMSG"),
    (opcode::Read::CODE, "READ"),
    (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
];

impl UringDriver {
    pub(crate) fn new(
        strategy: WaitStrategy,
        entries: u32,
        pool: Arc<BufPool>,
        fixed: Option<(u16, usize)>,
    ) -> Result<Self, SetupError> {
        let ring = match strategy {
            WaitStrategy::Park => {
                // SINGLE_ISSUER + DEFER_TASKRUN: completion work runs only when
                // this thread enters the kernel, never by interrupting it. The
                // plain ring interrupts a running reactor (a reschedule IPI)
                // for every completion a peer's write posts: at 8 x 50 k
                // deliveries a second that was 12 % of the subscribers' core
                // and the fan-out tail (docs/BENCHMARKS.md, attempt 4).
                // Kernels before 6.1 refuse the flags: the plain ring then.
                let mut deferred = IoUring::builder();
                deferred
                    .setup_single_issuer()
                    .setup_defer_taskrun()
                    .setup_taskrun_flag();
                deferred
                    .build(entries)
                    .or_else(|_| IoUring::builder().build(entries))
            }
            WaitStrategy::BusyPoll => {
                // A plain ring first, so that "no io_uring at all" is told apart
                // from "no DEFER_TASKRUN".
                IoUring::new(2).map_err(SetupError::Unavailable)?;
                Ok(IoUring::builder()
                    .setup_single_issuer()
                    .setup_defer_taskrun()
                    .build(entries)
                    .map_err(|e| {
                        SetupError::Strategy(format!(
                            "io_uring SINGLE_ISSUER + DEFER_TASKRUN (Linux 6.1+) refused: {e}"
                        ))
                    })?)
            }
            WaitStrategy::SqPoll { cpu, idle } => {
                IoUring::new(2).map_err(SetupError::Unavailable)?;
                let mut b = IoUring::builder();
                b.setup_sqpoll(idle.as_millis().min(u32::MAX as u128) as u32);
                if let Some(cpu) = cpu {
                    b.setup_sqpoll_cpu(cpu);
                }
                Ok(b.build(entries).map_err(|e| {
                    SetupError::Strategy(format!(
                        "io_uring SQPOLL refused (needs Linux 5.11+, and CAP_SYS_NICE for a pinned CPU): {e}"
                    ))
                })?)
            }
        }
        .map_err(SetupError::Unavailable)?;
        let mut probe = io_uring::Probe::new();
        ring.submitter()
            .register_probe(&mut probe)
            .map_err(SetupError::Unavailable)?;
        let send_zc = probe.is_supported(opcode::SendZc::CODE);
        for (code, name) in REQUIRED {
            if !probe.is_supported(code) {
                return Err(SetupError::Unavailable(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("the kernel's io_uring lacks {name}"),
                )));
            }
        }
        // SAFETY: eventfd(2) returns a new descriptor or -1; we take ownership only on success.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if efd < 0 {
            return Err(SetupError::Unavailable(io::Error::last_os_error()));
        }
        // SAFETY: `efd` is a fresh descriptor owned by nobody else.
        let eventfd = Arc::new(unsafe { OwnedFd::from_raw_fd(efd) });
        let recv_ring = match ProvidedRing::new(&ring, pool.clone(), 0) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::info!(
                    "io_uring provided-buffer rings unavailable ({e}); using single-shot RECV"
                );
                None
            }
        };
        let fixed = match fixed {
            Some((count, size)) => {
                match FixedPool::register(&ring, count, size) {
                    Ok(p) => Some(p),
                    Err(why) => {
                        tracing::info!("registered buffers unavailable: {why}; sending from unregistered memory");
                        None
                    }
                }
            }
            None => None,
        };
        Ok(UringDriver {
            ring,
            ops: Slab::with_capacity(256),
            eventfd,
            eventfd_buf: Box::new(0),
            eventfd_armed: false,
            strategy,
            recv_ring,
            pool,
            send_zc,
            fixed,
            to_stop: Vec::new(),
            stopped_receives: 0,
        })
    }

    pub(crate) fn notifier(&self) -> Notifier {
        Notifier::EventFd(self.eventfd.clone())
    }

    /// Pushes an entry, submitting first if the queue is full.
    ///
    /// # Safety
    /// Every pointer in `entry` must stay valid until its completion is reaped.
    unsafe fn push(&mut self, entry: &squeue::Entry) {
        loop {
            // SAFETY: the caller guarantees the entry's memory outlives the operation.
            if unsafe { self.ring.submission().push(entry) }.is_ok() {
                return;
            }
            // Queue full: hand what is queued to the kernel and retry.
            let _ = self.ring.submit();
        }
    }

    /// Submits an operation whose memory the caller keeps alive until completion
    /// (or hands to [`abandon`](Self::abandon)).
    ///
    /// # Safety
    /// As for [`push`](Self::push).
    pub(crate) unsafe fn submit_op(&mut self, entry: squeue::Entry) -> usize {
        let key = self.ops.insert(OpSlot::Waiting(None));
        // SAFETY: forwarded from the caller.
        unsafe { self.push(&entry.user_data(key as u64)) };
        key
    }

    /// The operation's result once its completion has arrived.
    pub(crate) fn poll_op(&mut self, key: usize, cx: &mut Context<'_>) -> Poll<(i32, u32)> {
        match &mut self.ops[key] {
            OpSlot::Completed { result, flags } => {
                let out = (*result, *flags);
                self.ops.remove(key);
                Poll::Ready(out)
            }
            OpSlot::Waiting(w) | OpSlot::Notifying { waker: w, .. } => {
                match w {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *w = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            _ => unreachable!("not a single-shot operation"),
        }
    }

    /// Submits a multishot operation; its completions queue in its slot.
    ///
    /// # Safety
    /// As for [`push`](Self::push) (multishot RECV carries no pointers: the kernel
    /// picks buffers from the provided ring).
    pub(crate) unsafe fn submit_multi(&mut self, kind: MultiKind, entry: squeue::Entry) -> usize {
        let key = self.ops.insert(OpSlot::Multi {
            kind,
            results: std::collections::VecDeque::new(),
            waker: None,
            stopping: false,
        });
        // SAFETY: forwarded from the caller.
        unsafe { self.push(&entry.user_data(key as u64)) };
        key
    }

    /// The next completion of a multishot operation. After one without MORE the
    /// slot is freed and `key` must not be used again.
    pub(crate) fn poll_multi(&mut self, key: usize, cx: &mut Context<'_>) -> Poll<(i32, u32)> {
        let OpSlot::Multi { results, waker, .. } = &mut self.ops[key] else {
            unreachable!("not a multishot operation")
        };
        match results.pop_front() {
            Some((res, flags)) => {
                if !io_uring::cqueue::more(flags) {
                    self.ops.remove(key);
                }
                Poll::Ready((res, flags))
            }
            None => {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }

    /// The owner of a multishot operation is gone: cancel it, and give back the
    /// buffers of completions it never took.
    pub(crate) fn cancel_multi(&mut self, key: usize) {
        let Some(OpSlot::Multi { kind, results, .. }) = self.ops.get_mut(key) else {
            return;
        };
        let kind = *kind;
        let mut finished = false;
        let results: Vec<(i32, u32)> = results.drain(..).collect();
        for (res, flags) in results {
            release(&self.pool, kind, res, flags);
            finished |= !io_uring::cqueue::more(flags);
        }
        if finished {
            self.ops.remove(key);
            return;
        }
        self.ops[key] = OpSlot::AbandonedMulti(kind);
        let cancel = opcode::AsyncCancel::new(key as u64)
            .build()
            .user_data(CANCEL_TOKEN);
        // SAFETY: ASYNC_CANCEL carries no pointers.
        unsafe { self.push(&cancel) };
        self.flush_submissions();
    }

    /// The buffer group multishot RECV should use, if rings are available.
    pub(crate) fn recv_group(&self) -> Option<u16> {
        self.recv_ring.as_ref().map(ProvidedRing::bgid)
    }

    /// The registered buffers, if any.
    pub(crate) fn fixed_pool(&self) -> Option<&std::rc::Rc<FixedPool>> {
        self.fixed.as_ref()
    }

    /// Whether SEND_ZC can be used.
    pub(crate) fn supports_send_zc(&self) -> bool {
        self.send_zc
    }

    /// The receive pool.
    pub(crate) fn pool(&self) -> &Arc<BufPool> {
        &self.pool
    }

    /// Gives returned buffers back to the kernel now; how many.
    pub(crate) fn refill(&mut self) -> usize {
        self.recv_ring.as_mut().map_or(0, ProvidedRing::refill)
    }

    /// After ENOBUFS: whether the ring holds buffers again (returned ones are
    /// given back first), so a RECV can be re-armed at once.
    pub(crate) fn ring_has_buffers(&mut self) -> bool {
        self.refill();
        self.recv_ring
            .as_ref()
            .is_some_and(ProvidedRing::has_buffers)
    }

    /// The future was dropped before completion: keep its memory until the
    /// kernel is done, and ask the kernel to cancel.
    pub(crate) fn abandon(&mut self, key: usize, memory: Box<dyn Any>) {
        match self.ops.get(key) {
            Some(OpSlot::Completed { .. }) => {
                self.ops.remove(key);
            }
            Some(OpSlot::Notifying { .. }) => {
                // The send is done; only the notification is outstanding.
                self.ops[key] = OpSlot::Abandoned(memory);
            }
            Some(OpSlot::Waiting(_)) => {
                self.ops[key] = OpSlot::Abandoned(memory);
                let cancel = opcode::AsyncCancel::new(key as u64)
                    .build()
                    .user_data(CANCEL_TOKEN);
                // SAFETY: ASYNC_CANCEL carries no pointers.
                unsafe { self.push(&cancel) };
                self.flush_submissions();
            }
            _ => {}
        }
    }

    /// Hands every queued entry to the kernel now. Called when an operation is
    /// abandoned: its descriptor may be closed right after and the number reused
    /// by a new socket, and an entry still in our queue would then be applied to
    /// the new socket when submitted. Once submitted, the kernel holds its own
    /// reference to the original file.
    fn flush_submissions(&mut self) {
        for _ in 0..1000 {
            let _ = self.ring.submit();
            let mut sq = self.ring.submission();
            sq.sync();
            // With SQPOLL the kernel thread consumes the queue on its own time.
            if sq.is_empty() {
                return;
            }
            drop(sq);
            std::hint::spin_loop();
        }
        tracing::warn!("io_uring submission queue not drained after cancelling an operation");
    }

    /// Hands what is queued to the kernel before a descriptor closes: a send
    /// another task queued earlier in this run (to a peer on this thread,
    /// say) then reaches the kernel before the close can reset the peer's
    /// connection, as it would have on the epoll driver, which writes at
    /// once. Nothing to do (no syscall) when the queue is empty.
    pub(crate) fn submit_before_close(&mut self) {
        if !self.ring.submission().is_empty() {
            self.flush_submissions();
        }
    }

    /// Submits what is queued and runs pending completion work without waiting
    /// (GETEVENTS with min_complete 0: a DEFER_TASKRUN ring posts completions
    /// only then).
    fn enter_nowait(&mut self) -> io::Result<usize> {
        let len = self.ring.submission().len();
        // SAFETY: a plain io_uring_enter; no argument pointer.
        unsafe {
            self.ring.submitter().enter::<libc::sigset_t>(
                len as u32,
                0,
                IORING_ENTER_GETEVENTS,
                None,
            )
        }
    }

    fn arm_eventfd(&mut self) {
        if self.eventfd_armed {
            return;
        }
        let read = opcode::Read::new(
            types::Fd(self.eventfd.as_raw_fd()),
            (&mut *self.eventfd_buf as *mut u64).cast(),
            8,
        )
        .build()
        .user_data(EVENTFD_TOKEN);
        // SAFETY: the 8-byte buffer is boxed in the driver, which outlives the
        // ring's operations (the ring is dropped first, see `Drop`).
        unsafe { self.push(&read) };
        self.eventfd_armed = true;
    }

    /// One turn of the loop (see [`Driver::turn`](super::Driver::turn)).
    pub(crate) fn turn(
        &mut self,
        wait: Option<Duration>,
        parked: &ParkFlag,
        has_work: &dyn Fn() -> bool,
    ) -> io::Result<()> {
        // Buffers the application dropped go back to the kernel. Nobody waits
        // for them (a reader finding the ring dry reads into the heap), and
        // refilling is a store to shared memory, not a syscall, so the park
        // below stays the only enter of this turn.
        self.refill();
        let result = match self.strategy {
            WaitStrategy::BusyPoll => {
                // Deferred completions are posted only by an enter with
                // GETEVENTS; min_complete 0 so the spin never sleeps.
                self.enter_nowait()
            }
            WaitStrategy::Park | WaitStrategy::SqPoll { .. } => {
                if wait == Some(Duration::ZERO) {
                    // With nothing to submit and no deferred completion work
                    // flagged (IORING_SQ_TASKRUN), the enter would be a
                    // syscall that does nothing (strace showed one per
                    // received message).
                    if self.ring.submission().is_empty() && !self.ring.submission().taskrun() {
                        Ok(0)
                    } else {
                        self.enter_nowait()
                    }
                } else {
                    self.arm_eventfd();
                    parked.set(true);
                    let r = if has_work() {
                        self.enter_nowait()
                    } else {
                        match wait {
                            Some(d) => {
                                let ts = types::Timespec::from(d);
                                let args = types::SubmitArgs::new().timespec(&ts);
                                self.ring.submitter().submit_with_args(1, &args)
                            }
                            None => self.ring.submitter().submit_and_wait(1),
                        }
                    };
                    parked.set(false);
                    r
                }
            }
        };
        match result {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)
                ) => {}
            Err(e) => return Err(e),
        }
        self.reap();
        Ok(())
    }

    fn reap(&mut self) {
        for cqe in self.ring.completion() {
            if io_uring::cqueue::buffer_select(cqe.flags()).is_some() {
                if let Some(r) = self.recv_ring.as_mut() {
                    r.consumed();
                }
            }
            match cqe.user_data() {
                EVENTFD_TOKEN => self.eventfd_armed = false,
                CANCEL_TOKEN => {}
                key => {
                    let key = key as usize;
                    match self.ops.get_mut(key) {
                        Some(slot @ OpSlot::Waiting(_)) => {
                            let OpSlot::Waiting(waker) =
                                std::mem::replace(slot, OpSlot::Waiting(None))
                            else {
                                unreachable!()
                            };
                            if io_uring::cqueue::more(cqe.flags()) {
                                // SEND_ZC: the notification follows.
                                *slot = OpSlot::Notifying {
                                    result: cqe.result(),
                                    flags: cqe.flags(),
                                    waker,
                                };
                            } else {
                                *slot = OpSlot::Completed {
                                    result: cqe.result(),
                                    flags: cqe.flags(),
                                };
                                if let Some(w) = waker {
                                    w.wake();
                                }
                            }
                        }
                        Some(slot @ OpSlot::Notifying { .. }) => {
                            let OpSlot::Notifying {
                                result,
                                flags,
                                waker,
                            } = std::mem::replace(slot, OpSlot::Waiting(None))
                            else {
                                unreachable!()
                            };
                            *slot = OpSlot::Completed { result, flags };
                            if let Some(w) = waker {
                                w.wake();
                            }
                        }
                        Some(OpSlot::Abandoned(_)) if !io_uring::cqueue::more(cqe.flags()) => {
                            self.ops.remove(key);
                        }
                        Some(OpSlot::Abandoned(_)) => {}
                        Some(OpSlot::Multi {
                            kind,
                            results,
                            waker,
                            stopping,
                        }) => {
                            results.push_back((cqe.result(), cqe.flags()));
                            if *kind == MultiKind::Recv
                                && !*stopping
                                && results.len() >= MULTISHOT_BACKLOG
                                && io_uring::cqueue::more(cqe.flags())
                            {
                                *stopping = true;
                                self.to_stop.push(key);
                            }
                            if let Some(w) = waker.take() {
                                w.wake();
                            }
                        }
                        Some(OpSlot::AbandonedMulti(kind)) => {
                            let kind = *kind;
                            release(&self.pool, kind, cqe.result(), cqe.flags());
                            if !io_uring::cqueue::more(cqe.flags()) {
                                self.ops.remove(key);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        // Cancelled, not abandoned: the owner takes what completed, then the
        // cancel's completion (no MORE), and re-arms on its next `recv`. The
        // cancels reach the kernel now, before any task runs: a task could
        // free a slot and another operation take its key, which a cancel
        // submitted later would hit instead.
        if !self.to_stop.is_empty() {
            let mut to_stop = std::mem::take(&mut self.to_stop);
            self.stopped_receives += to_stop.len() as u64;
            for key in to_stop.drain(..) {
                let cancel = opcode::AsyncCancel::new(key as u64)
                    .build()
                    .user_data(CANCEL_TOKEN);
                // SAFETY: ASYNC_CANCEL carries no pointers.
                unsafe { self.push(&cancel) };
            }
            self.to_stop = to_stop;
            self.flush_submissions();
        }
    }

    /// Multishot RECVs stopped so far because their completions piled up.
    pub(crate) fn stopped_receives(&self) -> u64 {
        self.stopped_receives
    }

    /// Operations the kernel still owns memory for.
    pub(crate) fn in_flight(&self) -> usize {
        self.ops.len()
    }

    /// Cancels everything in flight and waits for the kernel to give the memory back.
    pub(crate) fn shutdown(&mut self) {
        let cancel_all = opcode::AsyncCancel2::new(types::CancelBuilder::any())
            .build()
            .user_data(CANCEL_TOKEN);
        // SAFETY: carries no pointers.
        unsafe { self.push(&cancel_all) };
        for _ in 0..1000 {
            let outstanding = self
                .ops
                .iter()
                .filter(|(_, s)| !matches!(s, OpSlot::Completed { .. }))
                .count()
                + self.eventfd_armed as usize;
            if outstanding == 0 {
                break;
            }
            if self.eventfd_armed {
                Notifier::EventFd(self.eventfd.clone()).notify();
            }
            let ts = types::Timespec::new().nsec(1_000_000);
            let args = types::SubmitArgs::new().timespec(&ts);
            let _ = self.ring.submitter().submit_with_args(1, &args);
            self.reap();
        }
    }
}

impl Drop for UringDriver {
    fn drop(&mut self) {
        self.shutdown();
        if let Some(r) = &self.recv_ring {
            r.unregister(&self.ring);
        }
        let outstanding =
            self.ops.iter().filter(|(_, s)| s.kernel_owns()).count() + self.eventfd_armed as usize;
        if outstanding > 0 {
            // The kernel did not hand everything back in time: leak that memory
            // rather than free what it may still write.
            tracing::warn!(
                "{outstanding} io_uring operations outlived shutdown; their buffers are leaked"
            );
            std::mem::forget(std::mem::take(&mut self.ops));
            std::mem::forget(std::mem::replace(&mut self.eventfd_buf, Box::new(0)));
            // Receive buffers too: a RECV still armed may write into them.
            std::mem::forget(self.pool.clone());
            if let Some(ring) = self.recv_ring.take() {
                std::mem::forget(ring);
            }
        }
    }
}

impl UringDriver {
    /// Takes the wakers of waiting operations (shutdown: dropping them lets the
    /// tasks that own the operations be dropped).
    pub(crate) fn take_wakers(&mut self) -> Vec<Waker> {
        self.ops
            .iter_mut()
            .filter_map(|(_, s)| match s {
                OpSlot::Waiting(w) => w.take(),
                OpSlot::Notifying { waker, .. } => waker.take(),
                OpSlot::Multi { waker, .. } => waker.take(),
                _ => None,
            })
            .collect()
    }
}
