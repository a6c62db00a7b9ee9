//! Bytes waiting to be written to the connection, ready for one gathered write.
//!
//! Small frames are copied, header and body, into one growing buffer so that many
//! messages leave in one contiguous chunk. A body above the copy threshold is kept
//! as its own chunk (a reference-counted `Bytes`, never copied) and the IO layer
//! writes it with the rest through `writev` ([`bytes::Buf::chunks_vectored`]).
//! Partial writes are handled with [`bytes::Buf::advance`].

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::frame::{FrameHeader, FLAG_LONG};

/// Bodies up to this size are copied next to their header by default.
///
/// Measured (docs/BENCHMARKS.md, issue #17, attempt 5): PUSH/PULL at 1 KiB went
/// from 1.27 M to 1.60 M msg/s when 1 KiB bodies were copied instead of sent as
/// chunks of their own. The copy is cheap while the body is hot, and it lets the
/// sender's buffer go back to the allocator at once (a chunk is held until its
/// write completes, a thousand of them at a time, past glibc's per-size cache);
/// a write also gathers one chunk instead of two per message. 8 KiB measured no
/// better at 4 KiB within this VM's noise, so the threshold stays at 2 KiB.
pub const DEFAULT_COPY_THRESHOLD: usize = 2048;

/// A queue of encoded output.
///
/// ```
/// use bytes::{Buf, Bytes};
/// use monocoque_zmtp::TransmitQueue;
/// let mut q = TransmitQueue::new();
/// q.push_frame(false, false, &Bytes::from_static(b"hi"));
/// assert_eq!(q.chunk(), &[0x00, 2, b'h', b'i']);
/// q.advance(4);
/// assert!(q.is_empty());
/// ```
#[derive(Debug)]
pub struct TransmitQueue {
    /// Sealed chunks, written before `tail`.
    chunks: VecDeque<Bytes>,
    /// Where small frames are coalesced.
    tail: BytesMut,
    len: usize,
    copy_threshold: usize,
}

impl Default for TransmitQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl TransmitQueue {
    /// An empty queue with the default copy threshold.
    pub fn new() -> Self {
        Self::with_copy_threshold(DEFAULT_COPY_THRESHOLD)
    }

    /// An empty queue that copies bodies of at most `copy_threshold` bytes.
    pub fn with_copy_threshold(copy_threshold: usize) -> Self {
        TransmitQueue {
            chunks: VecDeque::new(),
            tail: BytesMut::new(),
            len: 0,
            copy_threshold,
        }
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Appends raw bytes (the greeting).
    pub fn push_raw(&mut self, bytes: &[u8]) {
        self.tail.extend_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Appends one frame. The body is copied only if it is small.
    ///
    /// The header goes in as one integer (two bytes, or a flags byte and
    /// eight): copied out of a [`FrameHeader`], its bytes, stored one by
    /// one, were read back as one two-byte load, which store forwarding
    /// cannot serve (a stall in every message sent: docs/BENCHMARKS.md,
    /// attempt 10). The same bytes as [`FrameHeader::new`] writes.
    pub fn push_frame(&mut self, more: bool, command: bool, body: &Bytes) {
        let flags = FrameHeader::flags(more, command);
        if let Ok(short) = u8::try_from(body.len()) {
            self.tail.put_u16(u16::from_be_bytes([flags, short]));
            self.len += 2;
        } else {
            self.tail.put_u8(flags | FLAG_LONG);
            self.tail.put_u64(body.len() as u64);
            self.len += 9;
        }
        self.push_body(body);
    }

    /// Appends frames already encoded (whole messages in their wire form):
    /// copied when small, as a body is, else queued as a chunk of its own.
    pub fn push_encoded(&mut self, bytes: &Bytes) {
        self.push_body(bytes);
    }

    /// Appends one ZMTP 1.0 frame (for a legacy peer): the length, which
    /// counts the flags octet (one octet below 255, else 0xFF and eight),
    /// the flags (MORE only), the body.
    ///
    /// ```
    /// use bytes::{Buf, Bytes};
    /// let mut q = monocoque_zmtp::TransmitQueue::new();
    /// q.push_frame_v1(true, &Bytes::from_static(b"hi"));
    /// assert_eq!(q.chunk(), &[3, 0x01, b'h', b'i']);
    /// ```
    pub fn push_frame_v1(&mut self, more: bool, body: &Bytes) {
        let length = body.len() as u64 + 1;
        if length < 255 {
            self.push_raw(&[length as u8, more as u8]);
        } else {
            let mut header = [0u8; 10];
            header[0] = 0xFF;
            header[1..9].copy_from_slice(&length.to_be_bytes());
            header[9] = more as u8;
            self.push_raw(&header);
        }
        self.push_body(body);
    }

    /// Appends a body after its header: copied when small, else its own chunk.
    fn push_body(&mut self, body: &Bytes) {
        self.len += body.len();
        if body.len() <= self.copy_threshold {
            self.tail.extend_from_slice(body);
        } else {
            if !self.tail.is_empty() {
                self.chunks.push_back(self.tail.split().freeze());
            }
            self.chunks.push_back(body.clone());
        }
    }

    /// Appends a frame whose body is assembled from parts, always copied
    /// (commands: name length, name, data).
    pub fn push_frame_parts(&mut self, command: bool, parts: &[&[u8]]) {
        let body_len: usize = parts.iter().map(|p| p.len()).sum();
        let header = FrameHeader::new(false, command, body_len);
        self.tail.reserve(header.as_bytes().len() + body_len);
        self.tail.extend_from_slice(header.as_bytes());
        for p in parts {
            self.tail.extend_from_slice(p);
        }
        self.len += header.as_bytes().len() + body_len;
    }

    /// Takes everything queued as one contiguous `Bytes` (copying sealed chunks).
    /// Meant for tests and simple blocking peers; the IO layer uses the [`Buf`] view.
    pub fn take_all(&mut self) -> Bytes {
        if self.chunks.is_empty() {
            self.len = 0;
            return self.tail.split().freeze();
        }
        let mut out = BytesMut::with_capacity(self.len);
        while self.has_remaining() {
            let c = self.chunk();
            let n = c.len();
            out.extend_from_slice(c);
            self.advance(n);
        }
        out.freeze()
    }
}

impl TransmitQueue {
    /// Moves everything queued out as chunks for one gathered write: the sealed
    /// large bodies as they are (never copied) and the coalesced small frames as
    /// one more chunk. The queue is empty afterwards.
    pub fn take_chunks(&mut self) -> Vec<Bytes> {
        let mut out: Vec<Bytes> = self.chunks.drain(..).collect();
        if !self.tail.is_empty() {
            out.push(self.tail.split().freeze());
        }
        self.len = 0;
        out
    }
}

impl Buf for TransmitQueue {
    fn remaining(&self) -> usize {
        self.len
    }

    fn chunk(&self) -> &[u8] {
        match self.chunks.front() {
            Some(c) => c,
            None => &self.tail,
        }
    }

    fn advance(&mut self, mut cnt: usize) {
        assert!(
            cnt <= self.len,
            "advance past the end of the transmit queue"
        );
        self.len -= cnt;
        while cnt > 0 {
            match self.chunks.front_mut() {
                Some(front) if front.len() > cnt => {
                    front.advance(cnt);
                    return;
                }
                Some(front) => {
                    cnt -= front.len();
                    self.chunks.pop_front();
                }
                None => {
                    self.tail.advance(cnt);
                    return;
                }
            }
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for c in &self.chunks {
            if n == dst.len() {
                return n;
            }
            dst[n] = IoSlice::new(c);
            n += 1;
        }
        if n < dst.len() && !self.tail.is_empty() {
            dst[n] = IoSlice::new(&self.tail);
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_its_header_then_its_body_at_every_size() {
        for len in [0usize, 1, 64, 255, 256, 2048, 2049, 70_000] {
            for (more, command) in [(false, false), (true, false), (false, true)] {
                let body = Bytes::from(vec![0xA5u8; len]);
                let mut q = TransmitQueue::new();
                q.push_frame(more, command, &body);
                let mut expected = FrameHeader::new(more, command, len).as_bytes().to_vec();
                expected.extend_from_slice(&body);
                assert_eq!(q.len(), expected.len());
                assert_eq!(q.take_all().to_vec(), expected, "{len} {more} {command}");
            }
        }
        // Written out by hand: short, then long (flags | LONG, 8 octets).
        let mut q = TransmitQueue::new();
        q.push_frame(true, false, &Bytes::from_static(b"hi"));
        q.push_frame(false, false, &Bytes::from(vec![1u8; 256]));
        let out = q.take_all();
        assert_eq!(
            &out[..13],
            &[0x01, 2, b'h', b'i', 0x02, 0, 0, 0, 0, 0, 0, 1, 0]
        );
    }

    #[test]
    fn take_chunks_keeps_the_order_and_empties_the_queue() {
        let mut q = TransmitQueue::with_copy_threshold(4);
        let big = Bytes::from(vec![7u8; 300]);
        q.push_frame(true, false, &Bytes::from_static(b"ab"));
        q.push_frame(false, false, &big);
        q.push_frame(false, false, &Bytes::from_static(b"z"));
        let mut copy = TransmitQueue::with_copy_threshold(4);
        copy.push_frame(true, false, &Bytes::from_static(b"ab"));
        copy.push_frame(false, false, &big);
        copy.push_frame(false, false, &Bytes::from_static(b"z"));
        let chunks = q.take_chunks();
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[1].as_ptr(), big.as_ptr());
        assert_eq!(chunks.concat(), copy.take_all().to_vec());
        assert!(q.is_empty() && !q.has_remaining());
    }

    #[test]
    fn large_bodies_are_not_copied() {
        let mut q = TransmitQueue::with_copy_threshold(4);
        let big = Bytes::from(vec![7u8; 300]);
        q.push_frame(true, false, &Bytes::from_static(b"ab"));
        q.push_frame(false, false, &big);
        q.push_frame(false, false, &Bytes::from_static(b"z"));
        let mut slices = [IoSlice::new(&[]); 8];
        let n = q.chunks_vectored(&mut slices);
        assert_eq!(n, 3);
        assert_eq!(
            &*slices[0],
            &[0x01, 2, b'a', b'b', 0x02, 0, 0, 0, 0, 0, 0, 1, 44]
        );
        assert_eq!(slices[1].as_ptr(), big.as_ptr());
        assert_eq!(&*slices[2], &[0x00, 1, b'z']);
        assert_eq!(q.remaining(), 13 + 300 + 3);
    }

    #[test]
    fn partial_advances_walk_all_chunks() {
        let mut q = TransmitQueue::with_copy_threshold(0);
        q.push_frame(false, false, &Bytes::from_static(b"abc"));
        q.push_raw(b"xy");
        let mut seen = Vec::new();
        while q.has_remaining() {
            seen.push(q.chunk()[0]);
            q.advance(1);
        }
        assert_eq!(seen, vec![0, 3, b'a', b'b', b'c', b'x', b'y']);
        assert!(q.is_empty());
        assert_eq!(q.take_all().len(), 0);
    }
}
