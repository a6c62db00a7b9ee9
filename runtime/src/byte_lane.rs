//! A bounded single-producer single-consumer ring of bytes between a plain
//! thread and a reactor (or two reactors), written a record at a time and
//! lent out in whole spans.
//!
//! Made for a send lane carrying encoded messages: the application's
//! thread writes each message's bytes (its frame header and body) as one
//! record, and the context's thread takes everything written so far at
//! once, as a [`Bytes`] that borrows the ring's memory: the connection
//! writes it from there, and its space comes back to the writer when the
//! last handle on it is dropped. A stream of sends so costs that thread
//! one take a batch, and no copy (docs/BENCHMARKS.md, attempt 19: the copy
//! a take made, into memory the allocator mapped anew for each large one,
//! was a fifth of the sending CPU at 1 KiB a message).
//!
//! ```text
//!              freed          taken            written
//!   ... free ... | lent out     | not taken yet  | free ...
//!                 (Bytes alive)   (the next take)
//! ```
//!
//! - A record is published whole or not at all, and never wraps: one that
//!   does not fit before the ring's end starts the next lap, and the rest
//!   of this one is skipped (`lap_end` tells the reader where the lap's
//!   bytes ended). So a take ends at a record's end, and at most at the
//!   ring's end; what lies past it is the next take's.
//! - Space comes back in order: a loan dropped before an older one waits
//!   for it (`Releases`). One long-held loan so stops the writer: it waits
//!   for room a bounded time at most ([`ByteWriter::write_waiting`]), once
//!   until the ring moves again, and its send then goes another way (the
//!   lane's message ring).
//!
//! The wake-up protocol is [`spsc`](crate::spsc)'s: the writer wakes the
//! reader only when it waits, and space given back wakes the writer only
//! when it waits for room.
//!
//! ```
//! use monocoque_runtime::byte_lane;
//! let (mut w, mut r) = byte_lane::channel(16);
//! assert!(w.try_write(&[b"ab", b"cd"]));
//! assert!(w.try_write(&[b"efghijkl"]));
//! assert!(!w.try_write(&[&[0; 8][..]]), "4 bytes of room");
//! w.wake_reader();
//! let lent = r.take_all().unwrap();
//! assert_eq!(&lent[..], b"abcdefghijkl");
//! assert!(r.take_all().is_none());
//! assert!(w.is_empty(), "the reader took everything");
//! assert!(!w.try_write(&[&[0; 8][..]]), "still lent out");
//! drop(lent);
//! assert!(w.try_write(&[&[0; 8][..]]), "given back: at the ring's start");
//! ```

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;

use bytes::Bytes;

use crate::spsc::WaitSlot;

/// A value alone on its cache line: the writer's and the reader's
/// positions are stored by different threads.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Line<T>(T);

/// The ring's memory and what both sides share besides it.
#[derive(Debug)]
struct Shared {
    /// `capacity` bytes, a power of two (a position's index is a mask,
    /// not a division). Owned: freed in `Drop`.
    buf: *mut u8,
    capacity: usize,
    /// Bytes written so far, as a running count (a position): stored by
    /// the writer after the record's bytes (Release).
    written: Line<AtomicUsize>,
    /// Where the writer's last skip began: the end of that lap's bytes.
    /// Stored before the `written` that passes the skip.
    lap_end: AtomicUsize,
    /// Bytes the reader has taken so far.
    taken: Line<AtomicUsize>,
    /// Bytes given back so far: the writer may reuse everything below
    /// `freed + capacity`.
    freed: Line<AtomicUsize>,
    releases: Mutex<Releases>,
    reader: WaitSlot,
    /// A writer waiting for room ([`ByteWriter::write_waiting`]): woken
    /// as space comes back.
    writer: WaitSlot,
    writer_gone: AtomicBool,
    reader_gone: AtomicBool,
}

// SAFETY: `buf` is plain memory owned by `Shared` (allocated in `channel`,
// freed in `Drop` when every side and loan is gone); the positions decide
// who touches which bytes: the writer only [written, freed + capacity),
// which no loan covers, and loans only what was written before their take
// and is not given back yet. Every other field is Sync.
unsafe impl Send for Shared {}
// SAFETY: as for Send.
unsafe impl Sync for Shared {}

impl Drop for Shared {
    fn drop(&mut self) {
        // SAFETY: `buf` came from `Box::into_raw` of a boxed slice of
        // `capacity` bytes in `channel`, and is freed only here, once.
        unsafe {
            drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                self.buf,
                self.capacity,
            )))
        };
    }
}

/// Loans given back out of order, waiting for the older ones.
#[derive(Debug, Default)]
struct Releases {
    /// The position everything below has been given back.
    freed: usize,
    /// `(start, end)` of loans given back before an older one: as many as
    /// there are loans out at most.
    early: Vec<(usize, usize)>,
}

impl Shared {
    /// The ring's byte at `position`.
    fn at(&self, position: usize) -> *mut u8 {
        // SAFETY: the mask keeps the index below `capacity`, within `buf`.
        unsafe { self.buf.add(position & (self.capacity - 1)) }
    }

    /// Gives back `[start, end)`: at once if every byte below `start` is
    /// back, else when the last of them is.
    fn release(&self, start: usize, end: usize) {
        let mut releases = self.releases.lock().unwrap_or_else(PoisonError::into_inner);
        if releases.freed != start {
            releases.early.push((start, end));
            return;
        }
        let mut freed = end;
        while let Some(i) = releases.early.iter().position(|&(s, _)| s == freed) {
            freed = releases.early.swap_remove(i).1;
        }
        releases.freed = freed;
        self.freed.0.store(freed, Ordering::Release);
        drop(releases);
        self.writer.wake();
    }
}

/// What a taken span's [`Bytes`] owns: its place in the ring, given back
/// when dropped.
struct Loan {
    shared: Arc<Shared>,
    /// The bytes lent: `[start, data_end)` of the ring, contiguous.
    data: *const u8,
    len: usize,
    /// What is given back: the bytes and a skipped lap end behind them.
    start: usize,
    end: usize,
}

// SAFETY: `data` points into `shared`'s memory, which this loan keeps
// alive, and which nobody writes until the loan is given back (its
// range stays below `freed + capacity` for the writer).
unsafe impl Send for Loan {}

impl AsRef<[u8]> for Loan {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `data` holds `len` bytes the writer wrote before the take
        // (their `written` read with Acquire), not rewritten while lent.
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }
}

impl Drop for Loan {
    fn drop(&mut self) {
        self.shared.release(self.start, self.end);
    }
}

/// The writing half: one thread at a time.
#[derive(Debug)]
pub struct ByteWriter {
    shared: Arc<Shared>,
    /// This side's copy of `written`.
    written: usize,
    /// `freed` as last read: room is looked up again only when this
    /// says there is too little.
    freed: usize,
    /// `freed` when a wait for room last timed out: a ring that has not
    /// moved since is not waited on again.
    stalled_at: Option<usize>,
}

/// The reading half, on a reactor.
#[derive(Debug)]
pub struct ByteReader {
    shared: Arc<Shared>,
    /// This side's copy of `taken`.
    taken: usize,
}

/// A ring of `capacity` bytes (rounded up to a power of two): its writer
/// and its reader.
///
/// # Panics
/// If `capacity` rounded up does not fit a `usize`.
pub fn channel(capacity: usize) -> (ByteWriter, ByteReader) {
    let capacity = capacity
        .max(1)
        .checked_next_power_of_two()
        .expect("a byte lane's capacity is at most half the address space");
    let buf = Box::into_raw(vec![0u8; capacity].into_boxed_slice()).cast::<u8>();
    let shared = Arc::new(Shared {
        buf,
        capacity,
        written: Line::default(),
        lap_end: AtomicUsize::new(0),
        taken: Line::default(),
        freed: Line::default(),
        releases: Mutex::default(),
        reader: WaitSlot::default(),
        writer: WaitSlot::default(),
        writer_gone: AtomicBool::new(false),
        reader_gone: AtomicBool::new(false),
    });
    (
        ByteWriter {
            shared: shared.clone(),
            written: 0,
            freed: 0,
            stalled_at: None,
        },
        ByteReader { shared, taken: 0 },
    )
}

impl ByteWriter {
    /// Writes the concatenation of `parts` as one record if the ring has
    /// room for all of it (then `true`), else nothing. The reader is not
    /// woken: call [`wake_reader`](Self::wake_reader) after.
    ///
    /// A record needs its bytes free in one piece, before the ring's end
    /// or from its start (then with the rest of the lap skipped): one of
    /// at most half the capacity always fits once the reader has taken
    /// and given back everything; a longer one may not, and one longer
    /// than the ring never does. An empty record writes nothing.
    #[inline]
    pub fn try_write(&mut self, parts: &[&[u8]]) -> bool {
        let Some((start, end)) = self.place(parts) else {
            return false;
        };
        if start != self.written {
            // Published by the `written` store below.
            self.shared.lap_end.store(self.written, Ordering::Relaxed);
        }
        let to = self.shared.at(start);
        let mut at = 0;
        for part in parts {
            // SAFETY: [start, end) is free (below `freed + capacity`, at or
            // past `written`) and contiguous in the ring (it does not pass
            // its end); `at + part.len() <= end - start` (`place` added the
            // parts' lengths up without overflow); ring memory never
            // overlaps `part`.
            unsafe { copy_small(part, to.add(at)) };
            at += part.len();
        }
        self.written = end;
        self.shared.written.0.store(end, Ordering::Release);
        true
    }

    /// [`try_write`](Self::try_write), and when the ring has no room,
    /// waits up to `patience` for the reader to take and give back enough
    /// (yielding, then parked: call it on a plain thread, never a
    /// reactor's); `false` with nothing written if none came, the record
    /// can never fit, or the reader is gone. The reader is woken before
    /// the wait. A ring whose wait timed out is not waited on again until
    /// some of its space has come back since: one loan held for long (a
    /// peer that does not read) costs its writer one `patience`, not one
    /// a write.
    ///
    /// For a writer that shares a CPU with its reader, the wait is what
    /// lets the reader run; a writer that went another way instead would
    /// keep the CPU and make more work for the reader (docs/BENCHMARKS.md,
    /// attempt 20).
    ///
    /// ```
    /// use monocoque_runtime::byte_lane;
    /// use std::time::Duration;
    /// let (mut w, mut r) = byte_lane::channel(8);
    /// assert!(w.try_write(&[b"abcdefgh"]));
    /// let lent = r.take_all().unwrap();
    /// let reader = std::thread::spawn(move || drop(lent));
    /// assert!(w.write_waiting(&[b"ijkl"], Duration::from_secs(10)));
    /// reader.join().unwrap();
    /// ```
    #[inline]
    pub fn write_waiting(&mut self, parts: &[&[u8]], patience: std::time::Duration) -> bool {
        // The write inlined, the wait apart: at 64 B a message, a call
        // here cost the sending thread a tenth more.
        self.try_write(parts) || (self.wait_for_room(parts, patience) && self.try_write(parts))
    }

    /// Waits up to `patience` until a record of `parts` fits, as
    /// [`write_waiting`](Self::write_waiting) does, writing nothing: then
    /// `true`, and this writer's next [`try_write`](Self::try_write) of
    /// `parts` succeeds (nobody else writes). For a writer that must not
    /// count the record as sent while it waits.
    #[cold]
    #[inline(never)]
    pub fn wait_for_room(&mut self, parts: &[&[u8]], patience: std::time::Duration) -> bool {
        if self.place(parts).is_some() {
            return true;
        }
        if patience.is_zero() {
            return false;
        }
        let freed = self.shared.freed.0.load(Ordering::Acquire);
        if self.stalled_at == Some(freed) || self.is_abandoned() {
            return false;
        }
        self.wake_reader();
        // A patience past the clock's range waits as long as it takes.
        let deadline = std::time::Instant::now().checked_add(patience);
        let room = std::future::poll_fn(|cx| self.poll_room(parts, cx));
        let fits = crate::spsc::block_on_thread_until(room, true, deadline);
        // Whatever ended the wait, the next space given back wakes nobody.
        self.shared.writer.cancel();
        match fits {
            Some(fits) => {
                self.stalled_at = None;
                fits
            }
            None => {
                self.stalled_at = Some(self.shared.freed.0.load(Ordering::Acquire));
                false
            }
        }
    }

    /// `Ready(true)` once a record of `parts` fits, `Ready(false)` if the
    /// reader is gone or the record is longer than the ring; otherwise
    /// registers `cx`'s waker for the next space given back.
    fn poll_room(&mut self, parts: &[&[u8]], cx: &mut std::task::Context<'_>) -> Poll<bool> {
        if self.place(parts).is_some() {
            return Poll::Ready(true);
        }
        if self.is_abandoned() || self.record_len(parts).is_none() {
            return Poll::Ready(false);
        }
        self.shared.writer.register(cx.waker());
        // Re-check after registering: space may have come back since.
        if self.place(parts).is_some() {
            return Poll::Ready(true);
        }
        if self.is_abandoned() {
            return Poll::Ready(false);
        }
        Poll::Pending
    }

    /// The length of a record of `parts`, if it is no longer than the
    /// ring (their lengths added up without overflow).
    #[inline]
    fn record_len(&self, parts: &[&[u8]]) -> Option<usize> {
        parts
            .iter()
            .try_fold(0usize, |sum, part| sum.checked_add(part.len()))
            .filter(|&len| len <= self.shared.capacity)
    }

    /// Where a record of `parts` would go, `[start, end)`, if the ring has
    /// room for it now (`freed` read again only when the last look says
    /// there is too little).
    #[inline]
    fn place(&mut self, parts: &[&[u8]]) -> Option<(usize, usize)> {
        let capacity = self.shared.capacity;
        let len = self.record_len(parts)?;
        let index = self.written & (capacity - 1);
        // A record that would pass the ring's end starts the next lap.
        let start = match index + len > capacity {
            true => self.written + (capacity - index),
            false => self.written,
        };
        let end = start + len;
        if end - self.freed > capacity {
            self.freed = self.shared.freed.0.load(Ordering::Acquire);
            if end - self.freed > capacity {
                return None;
            }
        }
        Some((start, end))
    }

    /// Wakes the reader if it waits: after a write. It is a full
    /// (sequentially consistent) fence whether or not the reader waits:
    /// what this thread reads after it is read after the write, which a
    /// caller's own handshake with the reader's side may count on.
    #[inline]
    pub fn wake_reader(&self) {
        self.shared.reader.wake();
    }

    /// Whether the reader has taken everything written (some of it may
    /// still be lent out).
    pub fn is_empty(&self) -> bool {
        self.shared.taken.0.load(Ordering::Acquire) == self.written
    }

    /// Whether the reader is gone.
    pub fn is_abandoned(&self) -> bool {
        self.shared.reader_gone.load(Ordering::Acquire)
    }
}

/// Copies `src` to `dst` inline, without a call to `memmove`: at a
/// message's few dozen bytes the call (through the PLT, then its size
/// dispatch) cost more than the copy, a tenth of the sending thread's
/// samples at 64 B. Up to 256 bytes in overlapping 32-, 16-, 8-byte moves
/// (the last one ending at the end), a few bytes one by one; longer
/// copies go to `copy_nonoverlapping`.
///
/// # Safety
/// `dst` is valid for `src.len()` bytes of writes and does not overlap `src`.
#[inline(always)]
unsafe fn copy_small(src: &[u8], dst: *mut u8) {
    /// Moves one `T` (a plain integer: a register's load and store, where
    /// a byte array's move became a call to `memmove`) from `src[at..]`
    /// to `dst + at`.
    ///
    /// # Safety
    /// `at + size_of::<T>() <= src.len()`, and `dst` as for `copy_small`.
    #[inline(always)]
    unsafe fn word<T: Copy>(src: &[u8], dst: *mut u8, at: usize) {
        // SAFETY: per the contract, both ranges hold a `T` from `at`.
        unsafe {
            let v = src.as_ptr().add(at).cast::<T>().read_unaligned();
            dst.add(at).cast::<T>().write_unaligned(v);
        }
    }
    /// 32 bytes as two 16-byte words.
    ///
    /// # Safety
    /// As for `word`, with 32 bytes.
    #[inline(always)]
    unsafe fn block<const N: usize>(src: &[u8], dst: *mut u8, at: usize) {
        // SAFETY: per the contract.
        unsafe {
            match N {
                8 => word::<u64>(src, dst, at),
                16 => word::<u128>(src, dst, at),
                _ => {
                    word::<u128>(src, dst, at);
                    word::<u128>(src, dst, at + 16);
                }
            }
        }
    }
    let len = src.len();
    // SAFETY (every block below): each stays within `src` and `dst`'s
    // `len` bytes (at + N <= len by the branch taken).
    unsafe {
        match len {
            0..=7 => {
                for (i, &b) in src.iter().enumerate() {
                    dst.add(i).write(b);
                }
            }
            8..=15 => {
                block::<8>(src, dst, 0);
                block::<8>(src, dst, len - 8);
            }
            16..=31 => {
                block::<16>(src, dst, 0);
                block::<16>(src, dst, len - 16);
            }
            32..=256 => {
                let mut at = 0;
                while at + 32 < len {
                    block::<32>(src, dst, at);
                    at += 32;
                }
                block::<32>(src, dst, len - 32);
            }
            _ => std::ptr::copy_nonoverlapping(src.as_ptr(), dst, len),
        }
    }
}

impl Drop for ByteWriter {
    fn drop(&mut self) {
        self.shared.writer_gone.store(true, Ordering::Release);
        self.shared.reader.wake();
    }
}

impl ByteReader {
    /// What was written since the last take, up to the ring's end, lent as
    /// it lies in the ring (its space comes back when the `Bytes` and
    /// every slice of it are dropped); `None` when there is nothing. What
    /// lies past the ring's end is the next call's: take twice to take
    /// everything written before the first call.
    pub fn take_all(&mut self) -> Option<Bytes> {
        let shared = &self.shared;
        let capacity = shared.capacity;
        loop {
            let written = shared.written.0.load(Ordering::Acquire);
            let start = self.taken;
            if written == start {
                return None;
            }
            let lap_ends_at = (start & !(capacity - 1)) + capacity;
            // Up to `data_end` the bytes are records; up to `end` they are
            // this take's to give back (a skipped lap end included).
            let (data_end, end) = match written <= lap_ends_at {
                true => (written, written),
                false => {
                    // This lap's skip, if the writer made one: stored before
                    // the `written` read above, and the writer cannot reach
                    // the next lap's end before this take gives its bytes
                    // back, so the value is this lap's or an older lap's.
                    let skip = shared.lap_end.load(Ordering::Relaxed);
                    let data_end = match (start..lap_ends_at).contains(&skip) {
                        true => skip,
                        false => lap_ends_at,
                    };
                    (data_end, lap_ends_at)
                }
            };
            self.taken = end;
            shared.taken.0.store(end, Ordering::Release);
            if data_end == start {
                // Only a skipped lap end: nothing to lend.
                shared.release(start, end);
                continue;
            }
            return Some(Bytes::from_owner(Loan {
                shared: shared.clone(),
                data: shared.at(start),
                len: data_end - start,
                start,
                end,
            }));
        }
    }

    /// The CPU the writer ran on when it last woke this reader, which had
    /// taken everything (`None`: it never did); as
    /// [`spsc::Receiver::woken_from_cpu`](crate::spsc::Receiver::woken_from_cpu).
    pub fn woken_from_cpu(&self) -> Option<usize> {
        self.shared.reader.woken_from()
    }

    /// Bytes written and not taken (a skipped lap end counted).
    pub fn len(&self) -> usize {
        self.shared.written.0.load(Ordering::Acquire) - self.taken
    }

    /// Whether nothing waits to be taken.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `Ready` when there is something to take or the writer is gone;
    /// otherwise registers `cx`'s waker for the next write.
    pub fn poll_readable(&mut self, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if !self.is_empty() || self.shared.writer_gone.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        self.shared.reader.register(cx.waker());
        // Re-check after registering: the writer may have written since.
        if !self.is_empty() || self.shared.writer_gone.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for ByteReader {
    fn drop(&mut self) {
        self.shared.reader_gone.store(true, Ordering::Release);
        self.shared.writer.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Everything the reader can take now, concatenated, the loans dropped.
    fn take_everything(r: &mut ByteReader) -> Vec<u8> {
        let mut got = Vec::new();
        while let Some(b) = r.take_all() {
            got.extend_from_slice(&b);
        }
        got
    }

    #[test]
    fn a_record_that_would_pass_the_end_starts_the_next_lap() {
        let (mut w, mut r) = channel(16);
        assert!(w.try_write(&[b"0123456789ab"]));
        assert_eq!(&r.take_all().unwrap()[..], b"0123456789ab");
        // Twelve bytes in, a six-byte record goes to the ring's start, the
        // lap's last four bytes skipped.
        assert!(w.try_write(&[b"ab", b"cdef"]));
        let lent = r.take_all().unwrap();
        assert_eq!(&lent[..], b"abcdef");
        assert!(r.take_all().is_none());
        assert!(w.is_empty());
        // A record needs its bytes and any skip before it free.
        // Ten bytes are free before the ring's end and none past it (the
        // loan's): eleven fit neither at the end nor past a skip.
        assert!(!w.try_write(&[b"ghijk", b"lmnopq"]));
        assert!(w.try_write(&[b"ghij"]));
        assert!(w.try_write(&[b"klmnop"]), "up to the ring's end");
        assert!(!w.try_write(&[b"qr"]), "the loan's bytes");
        drop(lent);
        assert!(w.try_write(&[b"qr"]));
        assert_eq!(take_everything(&mut r), b"ghijklmnopqr");
    }

    #[test]
    fn a_take_stops_at_the_ring_end_and_the_next_one_goes_on() {
        let (mut w, mut r) = channel(8);
        assert!(w.try_write(&[b"123456"]));
        assert_eq!(&r.take_all().unwrap()[..], b"123456");
        // Two records: one that ends at the ring's end, one in the next lap.
        assert!(w.try_write(&[b"78"]));
        assert!(w.try_write(&[b"abc"]));
        assert_eq!(&r.take_all().unwrap()[..], b"78");
        assert_eq!(&r.take_all().unwrap()[..], b"abc");
        // A record that overlaps a loan's bytes waits for it.
        assert!(w.try_write(&[b"de"]));
        let lent = r.take_all().unwrap();
        assert!(!w.try_write(&[b"wxyz"]));
        drop(lent);
        assert!(w.try_write(&[b"wxyz"]));
        // The first take is only the skipped lap end: passed over.
        assert_eq!(&r.take_all().unwrap()[..], b"wxyz");
        assert!(r.take_all().is_none());
    }

    #[test]
    fn records_of_every_length_arrive_whole() {
        let (mut w, mut r) = channel(2048);
        let mut lent: std::collections::VecDeque<(Bytes, Vec<u8>)> = Default::default();
        for len in 0..300usize {
            let body: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            while !w.try_write(&[&[len as u8], &body]) {
                let (got, body) = lent.pop_front().expect("room once nothing is lent");
                assert_eq!(&got[1..], &body[..], "held while the ring wrapped");
            }
            let got = r.take_all().unwrap();
            assert_eq!(got[0], len as u8);
            assert_eq!(&got[1..], &body[..], "length {len}");
            // Up to five loans held (then the ring refuses some writes):
            // the ring wraps under them, and each is checked again as it
            // goes, after the writes made while it was held.
            lent.push_back((got, body));
            if lent.len() > 5 {
                let (got, body) = lent.pop_front().unwrap();
                assert_eq!(&got[1..], &body[..], "held while the ring wrapped");
            }
        }
    }

    #[test]
    fn space_comes_back_in_order_whatever_order_loans_are_dropped_in() {
        let (mut w, mut r) = channel(16);
        let mut loans = Vec::new();
        for part in [b"aaaa", b"bbbb", b"cccc", b"dddd"] {
            assert!(w.try_write(&[part]));
            loans.push(r.take_all().unwrap());
        }
        assert!(!w.try_write(&[b"e"]), "all lent");
        let (d, c, b, a) = (loans.pop(), loans.pop(), loans.pop(), loans.pop());
        drop((d, b));
        assert!(!w.try_write(&[b"e"]), "the oldest is still out");
        drop(a);
        assert!(w.try_write(&[b"eeee"]), "a's and b's bytes back");
        assert!(!w.try_write(&[b"ffffffff"]), "c still out");
        let slice = c.as_ref().map(|c| c.slice(1..2));
        drop(c);
        assert!(!w.try_write(&[b"ffffffff"]), "a slice of c still out");
        assert_eq!(slice.as_deref(), Some(&b"c"[..]));
        drop(slice);
        assert!(w.try_write(&[b"ffffffff"]), "everything back");
        assert!(w.try_write(&[b"gggg"]));
        assert_eq!(take_everything(&mut r), b"eeeeffffffffgggg");
    }

    #[test]
    fn a_record_fits_only_in_one_piece_and_never_when_larger_than_the_ring() {
        let (mut w, mut r) = channel(4);
        assert!(!w.try_write(&[b"abcde"]), "larger than the ring");
        assert!(!w.try_write(&[b"ab", b"cde"]), "its parts added up");
        assert!(w.try_write(&[b"abcd"]), "the whole ring, from its start");
        assert_eq!(&r.take_all().unwrap()[..], b"abcd");
        assert!(w.try_write(&[b"abc"]));
        assert_eq!(&r.take_all().unwrap()[..], b"abc");
        // Everything given back, yet from index 3 four bytes fit neither
        // before the ring's end (one byte) nor past a skip (that byte and
        // the record's four are more than the ring).
        assert!(!w.try_write(&[b"wxyz"]));
        assert!(w.try_write(&[b"xyz"]), "half the ring or less always fits");
        assert_eq!(&r.take_all().unwrap()[..], b"xyz");
        assert!(w.try_write(&[b""]), "an empty record writes nothing");
        assert!(r.take_all().is_none());
    }

    #[test]
    fn a_loan_outlives_both_halves() {
        let (mut w, mut r) = channel(8);
        assert!(w.try_write(&[b"kept"]));
        let lent = r.take_all().unwrap();
        assert!(!w.is_abandoned());
        drop(r);
        assert!(w.is_abandoned());
        drop(w);
        assert_eq!(&lent[..], b"kept");
    }

    #[test]
    fn a_waiting_reader_is_woken_by_a_write_and_by_the_writer_going() {
        let (mut w, mut r) = channel(64);
        let rt = crate::Runtime::builder().build().unwrap();
        let writer = std::thread::spawn(move || {
            for i in 0..100u8 {
                while !w.try_write(&[&[i]]) {
                    std::thread::yield_now();
                }
                w.wake_reader();
            }
        });
        let got = rt.block_on(async move {
            let mut got = Vec::new();
            loop {
                std::future::poll_fn(|cx| r.poll_readable(cx)).await;
                match r.take_all() {
                    Some(b) => got.extend_from_slice(&b),
                    None if r.is_empty() => return got,
                    None => {}
                }
            }
        });
        writer.join().unwrap();
        assert_eq!(got, (0..100u8).collect::<Vec<_>>());
    }

    #[test]
    fn a_waiting_writer_is_woken_by_space_given_back_on_another_thread() {
        let (mut w, mut r) = channel(8);
        assert!(w.try_write(&[b"abcdefgh"]));
        let lent = r.take_all().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<Bytes>();
        let holder = std::thread::spawn(move || drop(rx.recv().unwrap()));
        tx.send(lent).unwrap();
        // Were the writer not woken, it would wait the whole minute and fail.
        let start = std::time::Instant::now();
        assert!(w.write_waiting(&[b"ijkl"], Duration::from_secs(60)));
        assert!(start.elapsed() < Duration::from_secs(30));
        holder.join().unwrap();
        assert_eq!(&r.take_all().unwrap()[..], b"ijkl");
    }

    #[test]
    fn a_ring_that_did_not_move_since_a_timed_out_wait_is_not_waited_on() {
        let (mut w, mut r) = channel(8);
        assert!(w.try_write(&[b"abcdefgh"]));
        let lent = r.take_all().unwrap();
        assert!(!w.write_waiting(&[b"i"], Duration::ZERO), "no patience");
        assert!(
            !w.write_waiting(&[b"i"], Duration::from_millis(1)),
            "timed out"
        );
        // Still pinned: refused at once, not after the minute.
        let start = std::time::Instant::now();
        assert!(!w.write_waiting(&[b"i"], Duration::from_secs(60)));
        assert!(start.elapsed() < Duration::from_secs(30));
        // Once space comes back, writes (and waits) go on.
        drop(lent);
        assert!(w.write_waiting(&[b"ijkl"], Duration::from_secs(60)));
        assert!(w.try_write(&[b"mnop"]));
        let lent = r.take_all().unwrap();
        assert_eq!(&lent[..], b"ijklmnop");
        let holder = std::thread::spawn(move || drop(lent));
        assert!(
            w.write_waiting(&[b"q"], Duration::from_secs(60)),
            "waited again"
        );
        holder.join().unwrap();
    }

    #[test]
    fn a_wait_that_ended_leaves_nobody_to_wake() {
        let (mut w, mut r) = channel(8);
        assert!(w.try_write(&[b"abcdefgh"]));
        let lent = r.take_all().unwrap();
        assert!(!w.write_waiting(&[b"i"], Duration::from_millis(1)));
        assert!(!w.shared.writer.is_waiting(), "the timed-out wait withdrew");
        drop(lent);
        assert!(w.wait_for_room(&[b"ijkl"], Duration::from_secs(60)));
        assert!(w.try_write(&[b"ijkl"]), "room, as promised");
        assert!(!w.shared.writer.is_waiting());
        // A patience past the clock's range is a wait without a deadline.
        let lent = r.take_all().unwrap();
        assert!(w.try_write(&[b"mnop"]));
        assert!(!w.try_write(&[b"qrst"]), "ijkl's bytes still lent");
        let holder = std::thread::spawn(move || drop(lent));
        assert!(w.write_waiting(&[b"qrst"], Duration::MAX));
        holder.join().unwrap();
        assert_eq!(take_everything(&mut r), b"mnopqrst");
    }

    #[test]
    fn a_waiting_writer_gives_up_when_the_reader_goes() {
        let (mut w, mut r) = channel(8);
        assert!(w.try_write(&[b"abcdefgh"]));
        let lent = r.take_all().unwrap();
        let reader = std::thread::spawn(move || drop(r));
        let start = std::time::Instant::now();
        assert!(!w.write_waiting(&[b"i"], Duration::from_secs(60)));
        assert!(start.elapsed() < Duration::from_secs(30));
        reader.join().unwrap();
        assert!(
            !w.write_waiting(&[&[0; 9][..]], Duration::from_secs(60)),
            "too long"
        );
        drop(lent);
    }

    #[test]
    fn bytes_cross_threads_intact_while_the_writer_reuses_the_ring() {
        // The reader's thread holds each loan a while, then hands it to a
        // third thread, which checks it again and drops it there; the
        // writer spins for room. Every record's bytes are its number.
        let (mut w, mut r) = channel(256);
        let writer = std::thread::spawn(move || {
            for i in 0..20_000u32 {
                let len = 1 + (i as usize * 13) % 60;
                let record = vec![i as u8; len];
                while !w.try_write(&[&[len as u8], &record]) {
                    std::hint::spin_loop();
                }
            }
        });
        /// Checks the records of `lent`, the first numbered `first`;
        /// returns the number after its last.
        fn check(lent: &[u8], first: u32) -> u32 {
            let (mut at, mut next) = (0, first);
            while at < lent.len() {
                let len = lent[at] as usize;
                assert_eq!(len, 1 + (next as usize * 13) % 60);
                assert!(lent[at + 1..at + 1 + len].iter().all(|&b| b == next as u8));
                at += 1 + len;
                next += 1;
            }
            next
        }
        let (to_dropper, dropped) = std::sync::mpsc::channel::<(Bytes, u32)>();
        let dropper = std::thread::spawn(move || {
            for (lent, first) in dropped {
                check(&lent, first);
            }
        });
        let mut next = 0u32;
        let mut held = std::collections::VecDeque::new();
        while next < 20_000 {
            let Some(lent) = r.take_all() else {
                if let Some(oldest) = held.pop_front() {
                    to_dropper.send(oldest).unwrap();
                }
                std::hint::spin_loop();
                continue;
            };
            let first = next;
            next = check(&lent, first);
            held.push_back((lent, first));
            if held.len() > 2 {
                to_dropper.send(held.pop_front().unwrap()).unwrap();
            }
        }
        writer.join().unwrap();
        for oldest in held {
            to_dropper.send(oldest).unwrap();
        }
        drop(to_dropper);
        dropper.join().unwrap();
    }
}
