//! The receive buffer pool: a fixed number of fixed-size buffers, the only memory
//! received data lives in.
//!
//! A received chunk is handed up as a `Bytes` that borrows its pool buffer (no
//! copy). When the last `Bytes` (or slice of it) is dropped, on whatever thread,
//! the buffer's id goes back on the pool's free list, and the reactor gives it
//! back to the kernel (io_uring) or reads into it again (epoll).
//!
//! The pool is shared by every connection of the reactor, so running dry must
//! never stop anyone reading (an earlier version paused reads then, and about
//! 256 idle peers whose metadata pinned a buffer each wedged the box): a read
//! that finds no free buffer reads into an ordinary heap buffer instead
//! (`io/recv.rs`), and EOFs and resets are always seen. Keeping the pool
//! free is the job of the layers above: small and long-lived data is copied
//! out at decode, and queued messages are copied out under pressure
//! ([`recv_pool_pressure`](crate::recv_pool_pressure)), and the io_uring
//! driver stops a socket's multishot RECV once 16 of its chunks wait untaken
//! (`MULTISHOT_BACKLOG`), so a reader that stopped reading does not drain it.
//!
//! Free buffers are reused most recently given back first, and the io_uring
//! driver lends the kernel only [`lent_max`](BufPool::lent_max) of them at a
//! time: the kernel fills the buffers it holds in turn, so with a whole
//! 4 MiB pool lent every buffer was written once a lap, long after the cache
//! had let it go, and both the kernel's copy into it and the decoder's first
//! look at each frame waited for memory (a third of the receiving thread at
//! 1 KiB a message; docs/BENCHMARKS.md, attempt 20). The rest wait here,
//! warm ones on top.

use std::alloc::{alloc, dealloc, Layout};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

/// Default number of receive buffers per reactor.
pub const DEFAULT_RECV_BUFFERS: u16 = 256;
/// Default size of each receive buffer.
pub const DEFAULT_RECV_BUFFER_SIZE: usize = 16 * 1024;

/// The buffers' memory and the queue of free buffer ids.
pub(crate) struct BufPool {
    base: *mut u8,
    layout: Layout,
    size: usize,
    count: u16,
    /// Free buffer ids, the most recently given back last (taken first):
    /// at most `count`, so a push never allocates. A lock, not a lock-free
    /// queue: it is taken once a buffer (tens of messages), and a queue
    /// is first in, first out.
    free: Mutex<Vec<u16>>,
    /// How many free buffers the kernel may hold at once.
    lent_max: u16,
    /// Buffers handed up as `Bytes` and not yet dropped (held by sockets'
    /// queues or the application), as opposed to free or lent to the kernel.
    held: AtomicUsize,
    /// Reads that found no buffer and used the heap.
    heap_reads: AtomicU64,
}

// SAFETY: the raw memory is only reached through buffer ids, and each id is owned
// by exactly one party at a time (the free list, the kernel, or one RecvBuf), so
// no two threads ever touch the same buffer; the queue is itself thread-safe.
unsafe impl Send for BufPool {}
// SAFETY: as for Send: shared access is only to the free list, behind its lock.
unsafe impl Sync for BufPool {}

impl std::fmt::Debug for BufPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufPool")
            .field("size", &self.size)
            .field("count", &self.count)
            .field("free", &self.free_count())
            .finish()
    }
}

impl BufPool {
    /// `count` buffers of `size` bytes, all free, at most `lent_max` of them
    /// lent to the kernel at once.
    pub(crate) fn new(count: u16, size: usize, lent_max: u16) -> Arc<BufPool> {
        assert!(
            count > 0 && size > 0 && (1..=count).contains(&lent_max),
            "validated by the builder"
        );
        let layout = Layout::from_size_align(count as usize * size, 4096).expect("pool layout");
        // SAFETY: the layout has a non-zero size.
        let base = unsafe { alloc(layout) };
        if base.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        // Buffer 0 on top: taken first.
        let free = Mutex::new((0..count).rev().collect::<Vec<u16>>());
        Arc::new(BufPool {
            base,
            layout,
            size,
            count,
            free,
            lent_max,
            held: AtomicUsize::new(0),
            heap_reads: AtomicU64::new(0),
        })
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn count(&self) -> u16 {
        self.count
    }

    /// How many free buffers the kernel may hold at once (io_uring's
    /// provided ring).
    pub(crate) fn lent_max(&self) -> u16 {
        self.lent_max
    }

    fn free_ids(&self) -> std::sync::MutexGuard<'_, Vec<u16>> {
        // Nothing panics while holding it: the list's data stays whole.
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `bytes` lies in this pool's memory.
    pub(crate) fn contains(&self, bytes: &[u8]) -> bool {
        let start = self.base as usize;
        let p = bytes.as_ptr() as usize;
        !bytes.is_empty() && p >= start && p < start + self.count as usize * self.size
    }

    /// Start of buffer `id`.
    pub(crate) fn addr(&self, id: u16) -> *mut u8 {
        assert!(id < self.count);
        // SAFETY: id < count, so the offset stays inside the allocation.
        unsafe { self.base.add(id as usize * self.size) }
    }

    /// Takes a free buffer id, if any: the one given back last.
    pub(crate) fn take_free(&self) -> Option<u16> {
        self.free_ids().pop()
    }

    /// Gives a buffer id back (it must be owned by the caller).
    pub(crate) fn give_back(&self, id: u16) {
        // Never grows the list: there are exactly `count` ids, and it has
        // room for `count`.
        self.free_ids().push(id);
    }

    /// Free buffers right now.
    pub(crate) fn free_count(&self) -> usize {
        self.free_ids().len()
    }

    /// Buffers held as `Bytes` right now.
    pub(crate) fn held_count(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Counts a read that found the pool dry and used the heap.
    pub(crate) fn count_heap_read(&self) {
        self.heap_reads.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads so far that found the pool dry.
    pub(crate) fn heap_reads(&self) -> u64 {
        self.heap_reads.load(Ordering::Relaxed)
    }

    /// Takes a free buffer with a guard that gives it back unless converted.
    pub(crate) fn take_guard(self: &Arc<Self>) -> Option<BufGuard> {
        self.take_free().map(|id| BufGuard {
            pool: self.clone(),
            id: Some(id),
        })
    }

    /// Hands up the first `len` bytes of buffer `id` as `Bytes`, without a copy.
    /// The caller gives up its ownership of `id`; the `Bytes` returns it when dropped.
    pub(crate) fn into_bytes(self: &Arc<Self>, id: u16, len: usize) -> Bytes {
        assert!(len <= self.size);
        self.held.fetch_add(1, Ordering::Relaxed);
        Bytes::from_owner(RecvBuf {
            pool: self.clone(),
            id,
            len,
        })
    }
}

impl Drop for BufPool {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout; no RecvBuf is alive (each holds an Arc).
        unsafe { dealloc(self.base, self.layout) };
    }
}

/// A buffer owned by an in-flight read; returns it to the pool if dropped unconverted.
pub(crate) struct BufGuard {
    pool: Arc<BufPool>,
    id: Option<u16>,
}

impl BufGuard {
    pub(crate) fn addr(&self) -> *mut u8 {
        self.pool.addr(self.id.expect("guard holds a buffer"))
    }

    pub(crate) fn size(&self) -> usize {
        self.pool.size()
    }

    /// The first `len` bytes as `Bytes` (the buffer now belongs to the `Bytes`).
    pub(crate) fn into_bytes(mut self, len: usize) -> Bytes {
        let id = self.id.take().expect("guard holds a buffer");
        self.pool.into_bytes(id, len)
    }
}

impl Drop for BufGuard {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.pool.give_back(id);
        }
    }
}

/// One received chunk; returns its buffer to the pool when dropped.
struct RecvBuf {
    pool: Arc<BufPool>,
    id: u16,
    len: usize,
}

impl AsRef<[u8]> for RecvBuf {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: this RecvBuf owns buffer `id` (nobody writes it until it is given
        // back in Drop), and the kernel or recv(2) initialised its first `len` bytes.
        unsafe { std::slice::from_raw_parts(self.pool.addr(self.id), self.len) }
    }
}

impl Drop for RecvBuf {
    fn drop(&mut self) {
        self.pool.held.fetch_sub(1, Ordering::Relaxed);
        self.pool.give_back(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_when_the_last_slice_drops() {
        let pool = BufPool::new(2, 64, 2);
        let a = pool.take_free().unwrap();
        let b = pool.take_free().unwrap();
        assert_eq!(pool.take_free(), None);
        // SAFETY: we own `a`; write 3 bytes into it.
        unsafe { std::ptr::copy_nonoverlapping(b"abc".as_ptr(), pool.addr(a), 3) };
        let bytes = pool.into_bytes(a, 3);
        let slice = bytes.slice(1..);
        drop(bytes);
        assert_eq!(pool.free_count(), 0, "a slice still holds the buffer");
        assert_eq!(&slice[..], b"bc");
        let moved = std::thread::spawn(move || drop(slice));
        moved.join().unwrap();
        assert_eq!(pool.free_count(), 1);
        pool.give_back(b);
        assert_eq!(pool.free_count(), 2);
    }

    #[test]
    fn the_buffer_given_back_last_is_taken_first() {
        let pool = BufPool::new(4, 64, 1);
        assert_eq!(pool.lent_max(), 1);
        let taken: Vec<u16> = (0..4).map(|_| pool.take_free().unwrap()).collect();
        assert_eq!(taken, [0, 1, 2, 3], "in order at first");
        pool.give_back(2);
        pool.give_back(0);
        assert_eq!(pool.take_free(), Some(0), "warmest first");
        assert_eq!(pool.take_free(), Some(2));
        assert_eq!(pool.take_free(), None);
    }
}
