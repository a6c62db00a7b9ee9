//! A bounded single-producer single-consumer ring of bytes between a plain
//! thread and a reactor (or two reactors), written a record at a time and
//! read in whole spans.
//!
//! Made for a send lane carrying encoded messages: the application's
//! thread writes each message's bytes (its frame header and body, a few
//! dozen bytes typically) as one record, and the context's thread takes
//! everything written so far in one copy, so that a stream of sends costs
//! that thread one take a batch rather than one a message
//! (docs/BENCHMARKS.md, attempt 15). A record is published whole or not at
//! all, so a take never ends inside one. The reader copies what it takes
//! out and frees the space at once: no loan of ring memory outlives a
//! take (attempt 14's ring lent its bytes to the write, and paid an
//! allocation and a lock per loan).
//!
//! The ring is `rtrb`'s, of `u8`, with the wake-up protocol of
//! [`spsc`](crate::spsc): the writer wakes the reader only when it waits.
//!
//! ```
//! use monocoque_runtime::byte_lane;
//! let (mut w, mut r) = byte_lane::channel(16);
//! assert!(w.try_write(&[b"ab", b"cd"]));
//! assert!(w.try_write(&[b"efg"]));
//! assert!(!w.try_write(&[&[0; 12][..]]), "9 bytes of room");
//! w.wake_reader();
//! assert_eq!(&r.take_all().unwrap()[..], b"abcdefg");
//! assert!(r.take_all().is_none());
//! assert!(w.is_empty(), "the reader took everything");
//! ```

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;

use bytes::Bytes;

use crate::spsc::WaitSlot;

/// What both sides share besides the ring: who waits, who is gone.
#[derive(Debug, Default)]
struct Shared {
    reader: WaitSlot,
    writer_gone: std::sync::atomic::AtomicBool,
}

/// The writing half: one thread at a time.
#[derive(Debug)]
pub struct ByteWriter {
    ring: rtrb::Producer<u8>,
    shared: Arc<Shared>,
}

/// The reading half, on a reactor.
#[derive(Debug)]
pub struct ByteReader {
    ring: rtrb::Consumer<u8>,
    shared: Arc<Shared>,
}

/// A ring of `capacity` bytes: its writer and its reader.
pub fn channel(capacity: usize) -> (ByteWriter, ByteReader) {
    let (p, c) = rtrb::RingBuffer::new(capacity);
    let shared = Arc::new(Shared::default());
    (
        ByteWriter {
            ring: p,
            shared: shared.clone(),
        },
        ByteReader { ring: c, shared },
    )
}

impl ByteWriter {
    /// Writes the concatenation of `parts` as one record if the ring has
    /// room for all of it (then `true`), else nothing. The reader is not
    /// woken: call [`wake_reader`](Self::wake_reader) after.
    #[inline]
    pub fn try_write(&mut self, parts: &[&[u8]]) -> bool {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let Ok(mut chunk) = self.ring.write_chunk_uninit(len) else {
            return false;
        };
        let (first, second) = chunk.as_mut_slices();
        let mut at = 0;
        for part in parts {
            // What fits before the ring's end, then the rest from its start.
            let (head, tail) = part.split_at(part.len().min(first.len().saturating_sub(at)));
            // SAFETY: `head` goes to first[at..at + head.len()], within
            // `first` by the split; `tail` to the start of what `second`
            // holds past `first` (at + head.len() >= first.len() whenever
            // `tail` is not empty), within `second` since the parts add up
            // to the chunk's length; ring memory never overlaps `part`.
            unsafe {
                copy_small(head, first.as_mut_ptr().add(at).cast::<u8>());
                if !tail.is_empty() {
                    let from = at + head.len() - first.len();
                    copy_small(tail, second.as_mut_ptr().add(from).cast::<u8>());
                }
            }
            at += part.len();
        }
        // SAFETY: the loop above wrote all `len` slots of the chunk (the
        // parts add up to `len`, and each byte went to the next slot).
        unsafe { chunk.commit_all() };
        true
    }

    /// Wakes the reader if it waits: after a write (a full fence).
    #[inline]
    pub fn wake_reader(&self) {
        self.shared.reader.wake();
    }

    /// Whether the reader has taken everything written.
    pub fn is_empty(&self) -> bool {
        self.ring.slots() == self.ring.buffer().capacity()
    }

    /// Whether the reader is gone.
    pub fn is_abandoned(&self) -> bool {
        self.ring.is_abandoned()
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
    /// Everything written so far, copied out in one piece (the space is
    /// free for the writer again at once); `None` when there is nothing.
    pub fn take_all(&mut self) -> Option<Bytes> {
        let n = self.ring.slots();
        if n == 0 {
            return None;
        }
        let chunk = self.ring.read_chunk(n).ok()?;
        let (first, second) = chunk.as_slices();
        let mut out = Vec::with_capacity(n);
        out.extend_from_slice(first);
        out.extend_from_slice(second);
        chunk.commit_all();
        Some(Bytes::from(out))
    }

    /// The CPU the writer ran on when it last woke this reader, which had
    /// taken everything (`None`: it never did); as
    /// [`spsc::Receiver::woken_from_cpu`](crate::spsc::Receiver::woken_from_cpu).
    pub fn woken_from_cpu(&self) -> Option<usize> {
        self.shared.reader.woken_from()
    }

    /// Bytes written and not taken.
    pub fn len(&self) -> usize {
        self.ring.slots()
    }

    /// Whether nothing waits to be taken.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_wrap_around_the_end_whole() {
        let (mut w, mut r) = channel(8);
        assert!(w.try_write(&[b"12345"]));
        assert_eq!(&r.take_all().unwrap()[..], b"12345");
        // Five bytes in, the next record wraps: three at the end, three at
        // the start.
        assert!(w.try_write(&[b"ab", b"cdef"]));
        assert_eq!(&r.take_all().unwrap()[..], b"abcdef");
        assert!(w.is_empty());
    }

    #[test]
    fn records_of_every_length_arrive_whole() {
        let (mut w, mut r) = channel(1000);
        for len in 0..300usize {
            let body: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            assert!(w.try_write(&[&[len as u8], &body]));
            let got = r.take_all().unwrap();
            assert_eq!(got[0], len as u8);
            assert_eq!(&got[1..], &body[..], "length {len}");
        }
    }

    #[test]
    fn a_record_that_does_not_fit_leaves_nothing() {
        let (mut w, mut r) = channel(4);
        assert!(w.try_write(&[b"abc"]));
        assert!(!w.try_write(&[b"de"]));
        assert_eq!(&r.take_all().unwrap()[..], b"abc");
        assert!(r.take_all().is_none());
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
                    None => return got,
                }
            }
        });
        writer.join().unwrap();
        assert_eq!(got, (0..100u8).collect::<Vec<_>>());
    }
}
