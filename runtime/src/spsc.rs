//! Bounded single-producer single-consumer channels between reactors, and from
//! threads outside the runtime.
//!
//! The ring is `rtrb` (a true SPSC ring): the `spsc_handoff` benchmark measured it
//! at about 1.8x crossbeam-queue's `ArrayQueue` across two cores (docs/BENCHMARKS.md).
//!
//! Wake-ups cost nothing while both sides are busy: after a push the producer
//! reads one flag, and wakes the consumer only if it is waiting (it found the ring
//! empty and registered its waker). The waker itself goes through the consumer
//! reactor's remote queue, which notifies the reactor only if it is parked in the
//! kernel; a busy-polling consumer is never notified. The same holds the other way
//! for a producer waiting on a full ring.

use std::future::poll_fn;
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Wake, Waker};

/// The channel could not take the item; it is handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TrySendError<T> {
    /// The ring holds `capacity` items.
    #[error("the channel is full")]
    Full(T),
    /// The receiver is gone.
    #[error("the receiver is gone")]
    Closed(T),
}

/// The receiver is gone; the item is handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the receiver is gone")]
pub struct Closed<T>(pub T);

/// One side's waiting slot: a flag read on the fast path, a waker behind a lock
/// touched only when someone waits.
#[derive(Debug, Default)]
pub(crate) struct WaitSlot {
    waiting: AtomicBool,
    waker: Mutex<Option<Waker>>,
    /// The CPU the other side ran on when it last woke this one, plus one
    /// (0: never). Written on the waking path only, never on the fast one.
    woken_from: AtomicUsize,
}

impl WaitSlot {
    pub(crate) fn register(&self, waker: &Waker) {
        let mut slot = self.waker.lock().expect("waker slot poisoned");
        match &*slot {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
        drop(slot);
        self.waiting.store(true, Ordering::SeqCst);
        // Pairs with the fence in `wake`: either the other side sees `waiting`,
        // or this side's re-check sees the other side's update.
        fence(Ordering::SeqCst);
    }

    /// Inlined, the waking itself apart: a call here made the item just
    /// pushed or popped go through the stack around it, and stall on store
    /// forwarding there (docs/BENCHMARKS.md, attempt 8).
    #[inline]
    pub(crate) fn wake(&self) {
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) {
            self.wake_waiter();
        }
    }

    #[cold]
    #[inline(never)]
    fn wake_waiter(&self) {
        if self.waiting.swap(false, Ordering::SeqCst) {
            if let Some(cpu) = crate::thread_cpu::current_cpu() {
                self.woken_from.store(cpu + 1, Ordering::Relaxed);
            }
            let w = self.waker.lock().expect("waker slot poisoned").take();
            if let Some(w) = w {
                w.wake();
            }
        }
    }
}

impl WaitSlot {
    /// Withdraws a registration whose wait is over (it timed out, or
    /// found what it waited for by itself): the other side's next
    /// [`wake`](Self::wake) then finds nobody waiting, instead of
    /// unparking a thread that has moved on to wait for something else.
    pub(crate) fn cancel(&self) {
        if self.waiting.swap(false, Ordering::SeqCst) {
            drop(self.waker.lock().expect("waker slot poisoned").take());
        }
    }

    /// Whether a registration waits to be woken.
    #[cfg(test)]
    pub(crate) fn is_waiting(&self) -> bool {
        self.waiting.load(Ordering::SeqCst)
    }

    /// The CPU the other side ran on when it last woke this one.
    pub(crate) fn woken_from(&self) -> Option<usize> {
        self.woken_from.load(Ordering::Relaxed).checked_sub(1)
    }
}

#[derive(Debug, Default)]
struct Shared {
    rx: WaitSlot,
    tx: WaitSlot,
    tx_closed: AtomicBool,
    rx_closed: AtomicBool,
}

/// The sending half. `Send`: move it to the producing thread or reactor.
#[derive(Debug)]
pub struct Sender<T> {
    ring: rtrb::Producer<T>,
    shared: Arc<Shared>,
}

/// The receiving half. `Send`: move it to the consuming thread or reactor.
#[derive(Debug)]
pub struct Receiver<T> {
    ring: rtrb::Consumer<T>,
    shared: Arc<Shared>,
}

/// A bounded channel holding at most `capacity` items (its high-water mark).
///
/// ```
/// let (mut tx, mut rx) = monocoque_runtime::spsc::channel::<u32>(4);
/// let producer = std::thread::spawn(move || for i in 0..100 { tx.send_blocking(i).unwrap() });
/// let rt = monocoque_runtime::Runtime::builder().build().unwrap();
/// let sum = rt.block_on(async move {
///     let mut sum = 0;
///     while let Some(i) = rx.recv().await { sum += i }
///     sum
/// });
/// producer.join().unwrap();
/// assert_eq!(sum, 4950);
/// ```
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let (p, c) = rtrb::RingBuffer::new(capacity);
    let shared = Arc::new(Shared::default());
    (
        Sender {
            ring: p,
            shared: shared.clone(),
        },
        Receiver { ring: c, shared },
    )
}

impl<T> Sender<T> {
    /// Pushes `item` if there is room. Never waits. A push ends with
    /// [`wake_receiver`](Self::wake_receiver), a full fence.
    pub fn try_send(&mut self, item: T) -> Result<(), TrySendError<T>> {
        self.try_send_quietly(item)?;
        self.wake_receiver();
        Ok(())
    }

    /// Pushes `item` if there is room, like [`try_send`](Self::try_send),
    /// but without waking a waiting consumer: for a producer that pushes a
    /// run of items and then calls [`wake_receiver`](Self::wake_receiver)
    /// once, before it does anything else. Each wake is a full fence (the
    /// consumer's registration pairs with it); a run pays one instead of
    /// one per item. A consumer left waiting by a push not followed by
    /// `wake_receiver` waits until the next wake.
    ///
    /// ```
    /// let (mut tx, mut rx) = monocoque_runtime::spsc::channel::<u32>(8);
    /// for i in 0..3 {
    ///     tx.try_send_quietly(i).unwrap();
    /// }
    /// tx.wake_receiver();
    /// assert_eq!(rx.try_recv(), Some(0));
    /// ```
    #[inline]
    pub fn try_send_quietly(&mut self, item: T) -> Result<(), TrySendError<T>> {
        if self.shared.rx_closed.load(Ordering::Acquire) {
            return Err(TrySendError::Closed(item));
        }
        self.ring
            .push(item)
            .map_err(|rtrb::PushError::Full(item)| TrySendError::Full(item))
    }

    /// Pushes up to `n` of the items `items` gives at once, as many as
    /// there is room for, without waking a waiting consumer (as
    /// [`try_send_quietly`](Self::try_send_quietly): end the run with
    /// [`wake_receiver`](Self::wake_receiver)). Returns how many went in;
    /// none once the consumer is gone. What is not pushed stays in
    /// `items`.
    ///
    /// Each item is moved from `items` into its slot with no look at it
    /// on the way (the counterpart of
    /// [`Receiver::recv_run_quietly`]).
    ///
    /// ```
    /// let (mut tx, mut rx) = monocoque_runtime::spsc::channel::<u32>(4);
    /// let mut items = 0..6;
    /// assert_eq!(tx.send_run_quietly(&mut items, 6), 4, "room for four");
    /// assert_eq!(items.next(), Some(4), "the rest stays");
    /// assert_eq!(rx.try_recv(), Some(0));
    /// ```
    #[inline]
    pub fn send_run_quietly(&mut self, items: &mut impl Iterator<Item = T>, n: usize) -> usize {
        if self.shared.rx_closed.load(Ordering::Acquire) {
            return 0;
        }
        let n = n.min(self.ring.slots());
        if n == 0 {
            return 0;
        }
        // `slots` said there is room, and only this side fills it.
        let Ok(chunk) = self.ring.write_chunk_uninit(n) else {
            return 0;
        };
        chunk.fill_from_iter(items)
    }

    /// Wakes the consumer if it waits: ends a run of
    /// [`try_send_quietly`](Self::try_send_quietly) pushes.
    ///
    /// It is a full (sequentially consistent) fence whether or not the
    /// consumer waits: what this thread reads after it is read after the
    /// pushes before it, which a caller's own handshake with the consumer's
    /// side may count on (pairing it with a fence there).
    #[inline]
    pub fn wake_receiver(&self) {
        self.shared.rx.wake();
    }

    /// Pushes `item`, waiting for room (on a reactor).
    pub async fn send(&mut self, item: T) -> Result<(), Closed<T>> {
        let mut item = Some(item);
        poll_fn(|cx| {
            let it = item.take().expect("polled after completion");
            match self.try_send(it) {
                Ok(()) => Poll::Ready(Ok(())),
                Err(TrySendError::Closed(it)) => Poll::Ready(Err(Closed(it))),
                Err(TrySendError::Full(it)) => {
                    self.shared.tx.register(cx.waker());
                    // Re-check after registering: the consumer may have made room.
                    match self.try_send(it) {
                        Ok(()) => Poll::Ready(Ok(())),
                        Err(TrySendError::Closed(it)) => Poll::Ready(Err(Closed(it))),
                        Err(TrySendError::Full(it)) => {
                            item = Some(it);
                            Poll::Pending
                        }
                    }
                }
            }
        })
        .await
    }

    /// `Ready` when the ring has room for one item or the receiver is gone;
    /// otherwise registers `cx`'s waker to be woken when the consumer makes room.
    pub fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if !self.is_full() || self.is_closed() {
            return Poll::Ready(());
        }
        self.shared.tx.register(cx.waker());
        // Re-check after registering: the consumer may have made room.
        if !self.is_full() || self.is_closed() {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Whether the ring holds `capacity` items.
    pub fn is_full(&self) -> bool {
        self.ring.is_full()
    }

    /// Registers `cx`'s waker to be woken when the consumer next takes an
    /// item (or goes), full ring or not: for a producer that acts on what
    /// the consumer took (a credit to give back), not only on room.
    pub fn wake_on_take(&mut self, cx: &mut std::task::Context<'_>) {
        self.shared.tx.register(cx.waker());
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.shared.rx_closed.load(Ordering::Acquire)
    }

    /// Pushes `item`, parking this (non-runtime) thread while the ring is
    /// full. The push is [`try_send`](Self::try_send)'s, fence included.
    pub fn send_blocking(&mut self, item: T) -> Result<(), Closed<T>> {
        block_on_thread(self.send(item), false)
    }

    /// Items queued and not yet received.
    pub fn len(&self) -> usize {
        self.ring.buffer().capacity() - self.ring.slots()
    }

    /// The most items the ring holds.
    pub fn capacity(&self) -> usize {
        self.ring.buffer().capacity()
    }

    /// Whether the ring is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.tx_closed.store(true, Ordering::Release);
        self.shared.rx.wake();
    }
}

impl<T> Receiver<T> {
    /// The CPU the producer ran on when it last woke this consumer, which
    /// had found the ring empty (`None`: it never did). Read off the
    /// waking path, which a producer takes only when the consumer waits:
    /// for a consumer that wants to run near its producer
    /// (`thread_cpu`).
    ///
    /// ```
    /// let (mut tx, rx) = monocoque_runtime::spsc::channel::<u32>(4);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.woken_from_cpu(), None, "the consumer was not waiting");
    /// ```
    pub fn woken_from_cpu(&self) -> Option<usize> {
        self.shared.rx.woken_from()
    }

    /// Pops an item if there is one. Never waits.
    #[inline]
    pub fn try_recv(&mut self) -> Option<T> {
        let item = self.try_recv_quietly()?;
        self.wake_sender();
        Some(item)
    }

    /// The item [`try_recv`](Self::try_recv) would pop next, left in the
    /// ring: for a consumer that takes it only if it is of a kind it
    /// handles in place.
    ///
    /// ```
    /// let (mut tx, mut rx) = monocoque_runtime::spsc::channel::<u32>(4);
    /// assert_eq!(rx.peek(), None);
    /// tx.try_send(7).unwrap();
    /// assert_eq!(rx.peek(), Some(&7));
    /// assert_eq!(rx.try_recv(), Some(7));
    /// ```
    #[inline]
    pub fn peek(&self) -> Option<&T> {
        self.ring.peek().ok()
    }

    /// Pops an item if there is one, like [`try_recv`](Self::try_recv), but
    /// without waking a producer waiting for room or for a take: for a
    /// consumer that takes a run of items and then calls
    /// [`wake_sender`](Self::wake_sender) once, before it does anything
    /// else (one full fence a run instead of one an item).
    #[inline]
    pub fn try_recv_quietly(&mut self) -> Option<T> {
        self.ring.pop().ok()
    }

    /// Takes up to `max` items at once, oldest first, handing each to
    /// `take`, without waking the producer (as
    /// [`try_recv_quietly`](Self::try_recv_quietly): end the run with
    /// [`wake_sender`](Self::wake_sender)). Returns how many were taken.
    ///
    /// Each item is moved from its slot to `take` with no look at it on
    /// the way: a consumer that popped item by item and tested each
    /// `Option` moved a 32-byte message through the stack in parts of the
    /// wrong widths, a store-forwarding stall on every one
    /// (docs/BENCHMARKS.md, attempt 13).
    ///
    /// ```
    /// let (mut tx, mut rx) = monocoque_runtime::spsc::channel::<u32>(8);
    /// for i in 0..5 {
    ///     tx.try_send(i).unwrap();
    /// }
    /// let mut got = Vec::new();
    /// assert_eq!(rx.recv_run_quietly(3, |i| got.push(i)), 3);
    /// assert_eq!(rx.recv_run_quietly(10, |i| got.push(i)), 2);
    /// assert_eq!(got, [0, 1, 2, 3, 4]);
    /// assert_eq!(rx.recv_run_quietly(10, |i| got.push(i)), 0);
    /// ```
    #[inline]
    pub fn recv_run_quietly(&mut self, max: usize, mut take: impl FnMut(T)) -> usize {
        let n = self.ring.slots().min(max);
        if n == 0 {
            return 0;
        }
        // `slots` said they are there, and only this side takes them.
        let Ok(chunk) = self.ring.read_chunk(n) else {
            return 0;
        };
        chunk.into_iter().for_each(&mut take);
        n
    }

    /// Wakes the producer if it waits: ends a run of
    /// [`try_recv_quietly`](Self::try_recv_quietly) takes.
    #[inline]
    pub fn wake_sender(&self) {
        self.shared.tx.wake();
    }

    /// Items queued and not yet received.
    pub fn len(&self) -> usize {
        self.ring.slots()
    }

    /// Whether the ring is empty.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// The next item, waiting for one (on a reactor); `None` once the sender is
    /// gone and the ring is empty.
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next item if there is one; otherwise registers `cx`'s waker to be
    /// woken when one arrives (or the sender goes) and returns `Pending`.
    /// `Ready(None)` once the sender is gone and the ring is empty. For tasks
    /// that wait on several sources in one `poll`.
    pub fn poll_recv(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Option<T>> {
        if let Some(item) = self.try_recv() {
            return Poll::Ready(Some(item));
        }
        if self.shared.tx_closed.load(Ordering::Acquire) {
            return Poll::Ready(self.try_recv());
        }
        self.shared.rx.register(cx.waker());
        match self.try_recv() {
            Some(item) => Poll::Ready(Some(item)),
            None if self.shared.tx_closed.load(Ordering::Acquire) => Poll::Ready(self.try_recv()),
            None => Poll::Pending,
        }
    }

    /// The next item, parking this (non-runtime) thread while the ring is empty.
    pub fn recv_blocking(&mut self) -> Option<T> {
        block_on_thread(self.recv(), false)
    }

    /// Like [`recv_blocking`](Self::recv_blocking), but yielding before it
    /// parks even on a thread allowed a single CPU: for an answer that the
    /// other side produces while otherwise idle, such as a reply awaited
    /// from the network by a context's thread that spins (yielding) as it
    /// waits. Each yield then hands that thread the CPU, and the answer
    /// finds this thread awake, with no futex wake-up and wait: libzmq's
    /// `local_lat`, pinned, 64 B, 9.1-9.5 us one way against 9.9-10.4 us
    /// parking at once (docs/BENCHMARKS.md, attempt 12). Where the other
    /// side is busy producing the answer (a stream of messages), the
    /// yields would take turns from it: use `recv_blocking` there.
    pub fn recv_blocking_yielding(&mut self) -> Option<T> {
        block_on_thread(self.recv(), true)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.rx_closed.store(true, Ordering::Release);
        self.shared.tx.wake();
    }
}

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// How long a blocked plain thread keeps looking (yielding between looks)
/// before it parks, when it may run on more than one CPU: an answer due
/// within microseconds (the context's thread answering a command, a
/// message crossing inproc) then costs no futex wake-up. A thread allowed
/// one CPU parks at once: its yields would take turns from the thread
/// that is to answer it, if that one shares the CPU (docs/BENCHMARKS.md),
/// unless that thread is known to wait idle
/// ([`Receiver::recv_blocking_yielding`]).
const YIELD_BEFORE_PARK: std::time::Duration = std::time::Duration::from_micros(50);

thread_local! {
    /// This thread's waker, made once (a blocking call allocated one each).
    static THREAD_WAKER: Waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    /// Whether this thread may run on more than one CPU (its affinity, read
    /// once: `available_parallelism` asks the kernel).
    static MAY_YIELD: bool =
        std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
}

/// Drives a future on a plain thread: polls it, polls again while yielding
/// for up to [`YIELD_BEFORE_PARK`] (on a thread allowed several CPUs, or
/// always if `yield_pinned`), then parks between polls.
fn block_on_thread<F: std::future::Future>(future: F, yield_pinned: bool) -> F::Output {
    match block_on_thread_until(future, yield_pinned, None) {
        Some(v) => v,
        None => unreachable!("no deadline to pass"),
    }
}

/// [`block_on_thread`] that gives up at `deadline` (then `None`): the
/// future is dropped unfinished, so it must hold nothing it cannot drop
/// there (a wait for room, not a half-done send).
pub(crate) fn block_on_thread_until<F: std::future::Future>(
    future: F,
    yield_pinned: bool,
    deadline: Option<std::time::Instant>,
) -> Option<F::Output> {
    // During the thread's own teardown (a thread-local's destructor that
    // blocks) the cached values are gone: a fresh waker, and no yielding.
    let waker = THREAD_WAKER
        .try_with(Waker::clone)
        .unwrap_or_else(|_| Waker::from(Arc::new(ThreadWaker(std::thread::current()))));
    let may_yield = MAY_YIELD
        .try_with(|may| *may || yield_pinned)
        .unwrap_or(false);
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
        return Some(v);
    }
    if may_yield {
        let mut until = std::time::Instant::now() + YIELD_BEFORE_PARK;
        if let Some(deadline) = deadline {
            until = until.min(deadline);
        }
        while std::time::Instant::now() < until {
            std::thread::yield_now();
            if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                return Some(v);
            }
        }
    }
    loop {
        match deadline {
            None => std::thread::park(),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return None;
                }
                std::thread::park_timeout(left);
            }
        }
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return Some(v);
        }
    }
}
