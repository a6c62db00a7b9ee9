//! A provided-buffer ring: the pool's free buffers, handed to the kernel so that a
//! multishot RECV picks one per completion (io_uring only).
//!
//! The ring memory (16 bytes an entry) is shared with the kernel: we write entries
//! at our tail and publish the tail with a release store; the kernel consumes from
//! its head. A buffer id is in exactly one place at a time: the pool's free list,
//! this ring (the kernel's), or a `Bytes` handed to the application.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::io;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use io_uring::types::BufRingEntry;
use io_uring::IoUring;

use crate::recv_pool::BufPool;

pub(crate) struct ProvidedRing {
    pool: Arc<BufPool>,
    entries: *mut BufRingEntry,
    layout: Layout,
    mask: u16,
    tail: u16,
    bgid: u16,
    /// Buffers lent to the kernel and not yet returned in a completion.
    in_ring: usize,
}

impl std::fmt::Debug for ProvidedRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvidedRing")
            .field("bgid", &self.bgid)
            .field("tail", &self.tail)
            .finish()
    }
}

impl ProvidedRing {
    /// Registers a ring for group `bgid` and fills it with free buffers (up
    /// to the pool's `lent_max`).
    pub(crate) fn new(ring: &IoUring, pool: Arc<BufPool>, bgid: u16) -> io::Result<ProvidedRing> {
        let n = pool.count().next_power_of_two();
        let layout =
            Layout::from_size_align(n as usize * std::mem::size_of::<BufRingEntry>(), 4096)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: non-zero size; zeroed memory is a valid (empty) ring.
        let entries = unsafe { alloc_zeroed(layout) }.cast::<BufRingEntry>();
        if entries.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        // SAFETY: `entries` holds `n` entries and lives until `unregister` (called
        // by the driver before the ring is dropped) and then `Drop`.
        let registered = unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(entries as u64, n, bgid, 0)
        };
        if let Err(e) = registered {
            // SAFETY: allocated just above with this layout and never shared.
            unsafe { dealloc(entries.cast(), layout) };
            return Err(e);
        }
        let mut this = ProvidedRing {
            pool,
            entries,
            layout,
            mask: n - 1,
            tail: 0,
            bgid,
            in_ring: 0,
        };
        this.refill();
        Ok(this)
    }

    pub(crate) fn bgid(&self) -> u16 {
        self.bgid
    }

    /// Tops the kernel's buffers up from those the application has
    /// returned, the most recently returned first, to the pool's
    /// `lent_max` (the kernel fills them in turn: fewer lent means the
    /// ones it writes are still in the cache, `recv_pool`). Returns how
    /// many were added.
    pub(crate) fn refill(&mut self) -> usize {
        let mut added = 0;
        let lent_max = usize::from(self.pool.lent_max());
        while self.in_ring + added < lent_max {
            let Some(id) = self.pool.take_free() else {
                break;
            };
            // SAFETY: the index is masked into the `mask + 1` entries allocated; the
            // kernel reads only entries before the published tail, and this one is at it.
            let entry = unsafe { &mut *self.entries.add((self.tail & self.mask) as usize) };
            entry.set_addr(self.pool.addr(id) as u64);
            entry.set_len(self.pool.size() as u32);
            entry.set_bid(id);
            self.tail = self.tail.wrapping_add(1);
            added += 1;
        }
        self.in_ring += added;
        if added > 0 {
            // SAFETY: the tail field lives in the first entry, which is allocated and
            // aligned for a u16; the kernel reads it, so publish it atomically.
            let tail = unsafe { &*(BufRingEntry::tail(self.entries).cast::<AtomicU16>()) };
            tail.store(self.tail, Ordering::Release);
        }
        added
    }

    /// A completion carried one of the ring's buffers.
    pub(crate) fn consumed(&mut self) {
        self.in_ring -= 1;
    }

    /// Whether the kernel has buffers to receive into right now.
    pub(crate) fn has_buffers(&self) -> bool {
        self.in_ring > 0
    }

    /// Unregisters the ring; after this the kernel no longer reads the entries.
    pub(crate) fn unregister(&self, ring: &IoUring) {
        let _ = ring.submitter().unregister_buf_ring(self.bgid);
    }
}

impl Drop for ProvidedRing {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout; the driver unregistered the
        // ring (or dropped the io_uring) before dropping this.
        unsafe { dealloc(self.entries.cast(), self.layout) };
    }
}
