//! Received bytes waiting to be decoded, kept as the chunks they arrived in.
//!
//! The IO layer hands each receive up as a `Bytes` (with io_uring, a slice of a
//! registered buffer). Decoding takes frame bodies as slices of those chunks, so a
//! body that arrived within one receive is never copied. A body split across two
//! receives must be made contiguous; that is the one copy, and it is counted.
//!
//! That copy is made as the body arrives ([`InputBuffer::assemble`]), not once
//! it is complete: the chunks are the runtime's receive buffers, a bounded pool
//! shared by every connection on the thread, and a frame larger than the pool
//! must not hold all of it while it waits for its last byte.
//!
//! Small bodies are not loaned at all: [`InputBuffer::take_copied`] copies
//! each into an allocation of its own, so the receive buffer it came in goes
//! back to the pool as soon as the chunk is decoded, whatever the application
//! does with the message. For small bodies that is also cheaper than a loan: a
//! fresh `Bytes` has no shared reference count to touch until it is cloned
//! (docs/BENCHMARKS.md, `copy_or_loan`).

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

/// A queue of received chunks read as one byte stream.
#[derive(Debug, Default)]
pub struct InputBuffer {
    /// The front of the stream while a body is being gathered; before `chunks`.
    assembly: BytesMut,
    chunks: VecDeque<Bytes>,
    /// `assembly.len()` plus the chunks' lengths.
    len: usize,
    copied_bytes: u64,
}

impl InputBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes. Empty chunks are ignored.
    pub fn push(&mut self, data: Bytes) {
        if !data.is_empty() {
            self.len += data.len();
            self.chunks.push_back(data);
        }
    }

    /// Bytes buffered and not yet consumed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many body bytes had to be copied because they straddled two chunks.
    pub fn copied_bytes(&self) -> u64 {
        self.copied_bytes
    }

    /// The buffered bytes in order, as contiguous slices.
    fn slices(&self) -> impl Iterator<Item = &[u8]> {
        std::iter::once(&self.assembly[..])
            .filter(|a| !a.is_empty())
            .chain(self.chunks.iter().map(|c| &c[..]))
    }

    /// Announces that the next `n` bytes will be taken as one body. If they do
    /// not all lie in the front chunk, what has arrived of them is moved into
    /// one owned buffer now (and what arrives later, on the next call), so the
    /// chunks it came in are released at once. That is the copy [`take`]
    /// would make anyway, done early; a body within one chunk stays zero-copy.
    /// The buffer grows with the bytes received, never with the length a peer
    /// announces.
    ///
    /// [`take`]: Self::take
    pub fn assemble(&mut self, n: usize) {
        if self.assembly.is_empty() {
            match self.chunks.front() {
                None => return,
                Some(front) if front.len() >= n => return,
                Some(_) => {}
            }
        }
        while self.assembly.len() < n {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            let k = (n - self.assembly.len()).min(front.len());
            self.assembly.extend_from_slice(&front[..k]);
            self.copied_bytes += k as u64;
            front.advance(k);
            if front.is_empty() {
                self.chunks.pop_front();
            }
        }
    }

    /// Copies the first `dst.len()` bytes into `dst` without consuming them.
    /// Returns false (and leaves `dst` partly written) if fewer are buffered.
    pub fn peek(&self, dst: &mut [u8]) -> bool {
        if self.len < dst.len() {
            return false;
        }
        let mut filled = 0;
        for chunk in self.slices() {
            if filled == dst.len() {
                break;
            }
            let n = (dst.len() - filled).min(chunk.len());
            dst[filled..filled + n].copy_from_slice(&chunk[..n]);
            filled += n;
        }
        true
    }

    /// The contiguous bytes at the front (the first chunk), for fast paths that
    /// fall back to [`peek`](Self::peek) when it is too short.
    pub fn front(&self) -> &[u8] {
        self.slices().next().unwrap_or(&[])
    }

    /// The byte at `index` from the front, if buffered.
    pub fn byte_at(&self, mut index: usize) -> Option<u8> {
        for chunk in self.slices() {
            if index < chunk.len() {
                return Some(chunk[index]);
            }
            index -= chunk.len();
        }
        None
    }

    /// Discards `n` bytes from the front. `n` must not exceed [`len`](Self::len).
    pub fn skip(&mut self, mut n: usize) {
        assert!(n <= self.len, "skip past the end of the input buffer");
        self.len -= n;
        // Most skips are of a received chunk; the assembly is empty then.
        if !self.assembly.is_empty() {
            let k = n.min(self.assembly.len());
            self.assembly.advance(k);
            n -= k;
        }
        while n > 0 {
            let front = self.chunks.front_mut().expect("len counts the chunks");
            if front.len() > n {
                front.advance(n);
                return;
            }
            n -= front.len();
            self.chunks.pop_front();
        }
    }

    /// Removes and returns the first `n` bytes as a copy of their own that
    /// shares nothing with the received chunks. `n` must not exceed
    /// [`len`](Self::len).
    ///
    /// For bodies that are small, or kept long (commands: metadata,
    /// identities, topics), so that they never hold a receive buffer.
    pub fn take_copied(&mut self, n: usize) -> Bytes {
        assert!(n <= self.len, "take past the end of the input buffer");
        if n == 0 {
            return Bytes::new();
        }
        if self.assembly.is_empty() {
            if let Some(front) = self.chunks.front() {
                if front.len() >= n {
                    // Into a buffer another thread let go of, if one is
                    // waiting (`frame_buffer_pool`).
                    let out = crate::frame_buffer_pool::copy_of(&front[..n]);
                    self.skip(n);
                    return out;
                }
            }
        } else if self.assembly.len() >= n {
            // Gathered already, into memory of our own: no second copy.
            self.len -= n;
            return self.assembly.split_to(n).freeze();
        }
        let mut out = BytesMut::with_capacity(n);
        self.copy_front_into(n, &mut out);
        out.freeze()
    }

    /// Moves the first `n` bytes to the end of `out`, consuming them.
    fn copy_front_into(&mut self, n: usize, out: &mut BytesMut) {
        let k = n.min(self.assembly.len());
        out.extend_from_slice(&self.assembly[..k]);
        self.assembly.advance(k);
        let mut left = n - k;
        while left > 0 {
            let front = self.chunks.front_mut().expect("len counts the chunks");
            let k = left.min(front.len());
            out.extend_from_slice(&front[..k]);
            front.advance(k);
            if front.is_empty() {
                self.chunks.pop_front();
            }
            left -= k;
        }
        self.len -= n;
    }

    /// Removes and returns the first `n` bytes. `n` must not exceed [`len`](Self::len).
    ///
    /// Zero-copy when the bytes lie within the front chunk; otherwise they are
    /// gathered into one new buffer.
    pub fn take(&mut self, n: usize) -> Bytes {
        assert!(n <= self.len, "take past the end of the input buffer");
        if n == 0 {
            return Bytes::new();
        }
        if !self.assembly.is_empty() {
            self.assemble(n);
            self.len -= n;
            return self.assembly.split_to(n).freeze();
        }
        let front = self.chunks.front_mut().expect("len counts the chunks");
        if front.len() >= n {
            self.len -= n;
            let out = front.split_to(n);
            if front.is_empty() {
                self.chunks.pop_front();
            }
            return out;
        }
        let mut out = BytesMut::with_capacity(n);
        self.copy_front_into(n, &mut out);
        self.copied_bytes += n as u64;
        out.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_within_one_chunk_does_not_copy() {
        let mut b = InputBuffer::new();
        let data = Bytes::from_static(b"hello world");
        b.push(data.clone());
        let hello = b.take(5);
        assert_eq!(&hello[..], b"hello");
        assert_eq!(hello.as_ptr(), data.as_ptr());
        assert_eq!(b.copied_bytes(), 0);
        assert_eq!(b.len(), 6);
    }

    #[test]
    fn take_across_chunks_gathers() {
        let mut b = InputBuffer::new();
        b.push(Bytes::from_static(b"ab"));
        b.push(Bytes::new());
        b.push(Bytes::from_static(b"cde"));
        b.push(Bytes::from_static(b"f"));
        let mut peek = [0u8; 4];
        assert!(b.peek(&mut peek));
        assert_eq!(&peek, b"abcd");
        assert_eq!(b.byte_at(5), Some(b'f'));
        assert_eq!(b.byte_at(6), None);
        assert_eq!(&b.take(4)[..], b"abcd");
        assert_eq!(b.copied_bytes(), 4);
        b.skip(1);
        assert_eq!(&b.take(1)[..], b"f");
        assert!(b.is_empty());
        assert!(!b.peek(&mut [0u8; 1]));
    }

    #[test]
    fn assembling_releases_chunks_as_they_arrive() {
        let mut b = InputBuffer::new();
        let first = Bytes::from(b"abc".to_vec());
        b.push(first.clone());
        b.assemble(7);
        // The chunk's bytes were moved out, so the chunk itself is free.
        assert!(first.is_unique(), "the receive buffer is still held");
        b.push(Bytes::from_static(b"de"));
        b.assemble(7);
        assert_eq!(b.len(), 5);
        assert_eq!(b.front(), b"abcde");
        assert_eq!(b.byte_at(4), Some(b'e'));
        b.push(Bytes::from_static(b"fgXY"));
        b.assemble(7);
        assert_eq!(&b.take(7)[..], b"abcdefg");
        assert_eq!(b.copied_bytes(), 7);
        assert_eq!(&b.take(2)[..], b"XY");
        assert!(b.is_empty());
    }

    #[test]
    fn a_body_within_one_chunk_is_not_assembled() {
        let mut b = InputBuffer::new();
        let data = Bytes::from_static(b"hello world");
        b.push(data.clone());
        b.assemble(5);
        assert_eq!(b.take(5).as_ptr(), data.as_ptr());
        assert_eq!(b.copied_bytes(), 0);
    }

    #[test]
    fn copied_bodies_hold_no_chunk() {
        let mut b = InputBuffer::new();
        let first = Bytes::from(b"hello world".to_vec());
        b.push(first.clone());
        b.push(Bytes::from(b"!!".to_vec()));
        // Within the front chunk, and across two chunks.
        let hello = b.take_copied(5);
        b.skip(1);
        let rest = b.take_copied(7);
        assert_eq!((&hello[..], &rest[..]), (&b"hello"[..], &b"world!!"[..]));
        assert!(first.is_unique(), "a copied body still holds the chunk");
        assert!(b.is_empty());
        // Behind an assembly (a body gathered across receives).
        b.push(Bytes::from(b"ab".to_vec()));
        b.assemble(4);
        b.push(Bytes::from(b"cdef".to_vec()));
        assert_eq!(&b.take_copied(5)[..], b"abcde");
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn skip_and_peek_see_the_assembly_first() {
        let mut b = InputBuffer::new();
        b.push(Bytes::from_static(b"ab"));
        b.assemble(4);
        b.push(Bytes::from_static(b"cdef"));
        let mut four = [0u8; 4];
        assert!(b.peek(&mut four));
        assert_eq!(&four, b"abcd");
        b.skip(3);
        assert_eq!(&b.take(3)[..], b"def");
    }
}
