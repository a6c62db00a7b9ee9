//! Whole data messages left in their wire form: a run of them as one
//! receive buffer held them, decoded one message at a time by whoever takes
//! them, possibly on another thread.
//!
//! At 64 B a message, the receiving context's thread of the C API spent
//! most of its time decoding each frame into a message of its own (a copy,
//! a pooled buffer, a queue slot each), and the application's thread as
//! much again taking each from its lane (docs/BENCHMARKS.md, attempt 15).
//! The session can instead scan the frame headers of what a read brought
//! (`FrameDecoder::scan_run`, in `frame_decoder.rs`: data frames only,
//! bodies up to 2 KiB only, whole messages only, the message limits
//! checked)
//! and hand the bytes on as one [`WireRun`]; the message is built where
//! it is used. The other way, a blocking socket's user encodes its small
//! sends ([`encode_single`]) into its send lane, whose batches go to the
//! connection as they are (`Session::send_wire`).
//!
//! ```text
//!   wire bytes:  [01 03 'a' 'b' 'c'] [00 02 'd' 'e'] [00 01 'f']
//!                 `---- message 1 (two frames) ---'  `- msg 2 -'
//!   WireRun { bytes, messages: 2 }
//!   next_frame -> ("abc", more) -> ("de", last) -> ("f", last) -> None
//! ```
//!
//! Only what `FrameDecoder::scan_run`
//! checked is ever in a run (ZMTP 2.0/3.x framing, no command frame, no
//! reserved flag, each message whole), so the walk here cannot meet a
//! malformed frame; it still stops, rather than panics, if it did.

use bytes::{Buf, Bytes};

use crate::frame::{FLAG_LONG, FLAG_MORE};
use crate::frame_buffer_pool::MAX_POOLED;
use crate::Msg;

/// A run of whole data messages in ZMTP 2.0/3.x framing, taken one frame
/// or one message at a time.
///
/// ```
/// use bytes::Bytes;
/// use monocoque_zmtp::{WireRun, Msg};
///
/// // Two messages: "abc" + "de" (the first frame has MORE), then "f".
/// let wire = Bytes::from_static(&[1, 3, b'a', b'b', b'c', 0, 2, b'd', b'e', 0, 1, b'f']);
/// let mut run = WireRun::from_checked(wire, 2);
/// assert_eq!(run.next_frame(), Some((&b"abc"[..], true)));
/// assert_eq!(run.messages(), 2);
/// assert_eq!(run.next_frame(), Some((&b"de"[..], false)));
/// assert_eq!(run.messages(), 1);
/// assert_eq!(run.next_message(), Some(Msg::from("f")));
/// assert!(run.is_empty());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct WireRun {
    bytes: Bytes,
    /// Where the next frame's header starts in `bytes` (u32: a run is
    /// one receive buffer's, and the pair keeps a run in 40 bytes, the
    /// size of a slot of the rings and queues it travels through).
    at: u32,
    /// Whole messages from `at` on, counting the one in progress, in the
    /// low 31 bits; [`LENDS`] in the top one.
    messages: u32,
}

impl std::fmt::Debug for WireRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireRun")
            .field("bytes", &self.bytes)
            .field("at", &self.at)
            .field("messages", &self.messages())
            .field("lends", &(self.messages & LENDS != 0))
            .finish()
    }
}

/// `WireRun::messages`' top bit: [`WireRun::next_message`] lends a body
/// longer than [`MAX_POOLED`] (`FrameDecoder`'s `INLINE_COPY_MAX`) as a slice of the run's bytes, as
/// `FrameDecoder::decode` lends it from a receive buffer, instead of
/// copying it. Set on the runs the decoder scans
/// ([`lending_large_bodies`](WireRun::lending_large_bodies)), not on a
/// send lane's, whose ring a receiver holding a message would hold.
const LENDS: u32 = 1 << 31;

/// The most messages a run holds (31 bits: the top one is [`LENDS`]).
const MAX_MESSAGES: u32 = LENDS - 1;

impl WireRun {
    /// A run of `messages` whole messages whose frames `bytes` holds, as
    /// `FrameDecoder::scan_run` checked
    /// them (and as tests build them): data frames, ZMTP 2.0/3.x headers,
    /// the last frame without MORE.
    /// Runs are shorter than 4 GiB and 2^31 messages (longer ones are
    /// cut to nothing: none is ever made).
    pub fn from_checked(bytes: Bytes, messages: usize) -> WireRun {
        match (
            u32::try_from(bytes.len()),
            u32::try_from(messages).ok().filter(|&m| m <= MAX_MESSAGES),
        ) {
            (Ok(_), Some(messages)) => WireRun {
                bytes,
                at: 0,
                messages,
            },
            _ => WireRun {
                bytes: Bytes::new(),
                at: 0,
                messages: 0,
            },
        }
    }

    /// A run of the whole messages `bytes` holds, counted by walking their
    /// frame headers: bytes this process encoded (a send lane's, written
    /// by [`encode_single`] a message at a time), so nothing in them is
    /// anything but data frames. A partial message at the end, which such
    /// bytes never hold, is left out.
    pub fn from_encoded(bytes: Bytes) -> WireRun {
        let mut walk = WireRun::from_checked(bytes, MAX_MESSAGES as usize);
        let mut messages = 0;
        let mut end = 0;
        while let Some((_, more)) = walk.next_frame() {
            if !more {
                messages += 1;
                end = walk.at as usize;
            }
        }
        let mut bytes = walk.bytes;
        bytes.truncate(end);
        WireRun::from_checked(bytes, messages)
    }

    /// This run, its bodies longer than [`MAX_POOLED`] (the decoder's
    /// `INLINE_COPY_MAX`) lent by
    /// [`next_message`](Self::next_message) as slices of its bytes rather
    /// than copied: for a run scanned from a receive buffer, whose
    /// messages `decode` would have lent the same way (a queue copies
    /// such loans out when the receive pool runs short).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use monocoque_zmtp::WireRun;
    /// // One frame of 300 bytes (a long header: 0x012c).
    /// let mut wire = vec![0x02u8, 0, 0, 0, 0, 0, 0, 0x01, 0x2c];
    /// wire.extend_from_slice(&[7; 300]);
    /// let wire = Bytes::from(wire);
    /// let mut run = WireRun::from_checked(wire.clone(), 1).lending_large_bodies();
    /// let body = run.next_message().unwrap().into_single().unwrap();
    /// assert_eq!(body.as_ptr(), wire[9..].as_ptr(), "lent, not copied");
    /// ```
    pub fn lending_large_bodies(mut self) -> WireRun {
        self.messages |= LENDS;
        self
    }

    /// The first `n` messages as a run of their own (all of them if there
    /// are fewer), this one keeping the rest.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use monocoque_zmtp::WireRun;
    /// let wire = Bytes::from_static(&[0, 1, b'a', 0, 1, b'b', 0, 1, b'c']);
    /// let mut run = WireRun::from_checked(wire, 3);
    /// let first = run.split_to(1);
    /// assert_eq!((first.messages(), run.messages()), (1, 2));
    /// let rest = run.split_to(5);
    /// assert_eq!((rest.messages(), &rest.remaining()[..]), (2, &[0, 1, b'b', 0, 1, b'c'][..]));
    /// assert!(run.is_empty());
    /// ```
    pub fn split_to(&mut self, n: usize) -> WireRun {
        let start = self.at as usize;
        if n >= self.messages() {
            // All of it: no walk (a send lane's batch into a peer with
            // room for it).
            let mut bytes = std::mem::take(&mut self.bytes);
            bytes.advance(start);
            let whole = WireRun {
                bytes,
                at: 0,
                messages: self.messages,
            };
            self.at = 0;
            self.messages &= LENDS;
            return whole;
        }
        let mut taken = 0;
        while taken < n {
            match self.next_frame() {
                Some((_, false)) => taken += 1,
                Some((_, true)) => {}
                None => break,
            }
        }
        let mut part = WireRun::from_checked(self.bytes.slice(start..self.at as usize), taken);
        part.messages |= self.messages & LENDS;
        part
    }

    /// The bytes of the messages left (their frames as they go on the
    /// wire).
    pub fn remaining(&self) -> Bytes {
        self.bytes.slice(self.at as usize..)
    }

    /// Messages left, the one whose frames are being taken included.
    #[inline]
    pub fn messages(&self) -> usize {
        (self.messages & MAX_MESSAGES) as usize
    }

    /// Whether every message was taken.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.messages() == 0
    }

    /// The run's bytes (those taken included): whether they are a loan
    /// from the reactor's receive pool, for a queue that copies loans out
    /// under pool pressure ([`detached`](Self::detached)).
    pub fn wire(&self) -> &Bytes {
        &self.bytes
    }

    /// The run with its remaining bytes copied into memory of its own,
    /// which it no longer lends: a body taken from it as a message is
    /// copied, so that one held message does not keep the whole copy.
    pub fn detached(self) -> WireRun {
        WireRun {
            bytes: Bytes::copy_from_slice(&self.bytes[self.at as usize..]),
            at: 0,
            messages: self.messages & MAX_MESSAGES,
        }
    }

    /// The next frame's body and whether more frames of its message follow;
    /// `None` once the run is empty.
    #[inline]
    pub fn next_frame(&mut self) -> Option<(&[u8], bool)> {
        let (start, end, more) = self.frame_at()?;
        self.advance(end, more);
        Some((&self.bytes[start..end], more))
    }

    /// The next message's body when it is a single frame (`None`, taking
    /// nothing, when it has more or the run is empty).
    #[inline]
    pub fn next_single(&mut self) -> Option<&[u8]> {
        let (start, end, more) = self.frame_at()?;
        if more {
            return None;
        }
        self.advance(end, false);
        Some(&self.bytes[start..end])
    }

    /// Where the next frame's body starts and ends, and whether more
    /// frames follow; an empty run (one cut short is emptied) has none.
    #[inline]
    fn frame_at(&mut self) -> Option<(usize, usize, bool)> {
        if self.is_empty() {
            return None;
        }
        let at = self.at as usize;
        let parsed = self.bytes.get(at..).and_then(|rest| {
            let (&flags, after) = rest.split_first()?;
            let (size, header) = if flags & FLAG_LONG != 0 {
                let long: [u8; 8] = after.get(..8)?.try_into().ok()?;
                (usize::try_from(u64::from_be_bytes(long)).ok()?, 9)
            } else {
                (usize::from(*after.first()?), 2)
            };
            let start = at + header;
            let end = start.checked_add(size)?;
            (end <= self.bytes.len()).then_some((start, end, flags & FLAG_MORE != 0))
        });
        if parsed.is_none() {
            self.messages &= LENDS;
        }
        parsed
    }

    /// Past the frame that ends at `end`.
    #[inline]
    fn advance(&mut self, end: usize, more: bool) {
        // Within `bytes`, whose length fits a u32 (`from_checked`).
        self.at = end as u32;
        if !more {
            // The count is at least 1 here (`frame_at`): LENDS stays.
            self.messages -= 1;
        }
    }

    /// The next whole message, each frame copied into a buffer of its own
    /// (a pooled one where one waits: `frame_buffer_pool`), or, in a run
    /// [`lending_large_bodies`](Self::lending_large_bodies), a body longer
    /// than [`MAX_POOLED`] a slice of the run's bytes.
    pub fn next_message(&mut self) -> Option<Msg> {
        let lends = self.messages & LENDS != 0;
        let mut msg = Msg::new();
        loop {
            let (start, end, more) = self.frame_at()?;
            self.advance(end, more);
            let body = match lends && end - start > MAX_POOLED {
                true => self.bytes.slice(start..end),
                false => crate::frame_buffer_pool::copy_of(&self.bytes[start..end]),
            };
            if !more && msg.is_empty() {
                return Some(Msg::from(body));
            }
            msg.push(body);
            if !more {
                return Some(msg);
            }
        }
    }
}

/// Writes a one-frame message of `body` as its header and body go on the
/// wire, through `write` (header, then body): how a send lane's writer
/// encodes what [`WireRun::from_encoded`] reads back.
///
/// ```
/// let mut wire = Vec::new();
/// monocoque_zmtp::encode_single(b"hi", |parts| parts.iter().for_each(|p| wire.extend_from_slice(p)));
/// assert_eq!(wire, [0, 2, b'h', b'i']);
/// ```
#[inline]
pub fn encode_single<R>(body: &[u8], write: impl FnOnce(&[&[u8]]) -> R) -> R {
    let header = crate::frame::FrameHeader::new(false, false, body.len());
    write(&[header.as_bytes(), body])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_headers_and_empty_frames_are_walked() {
        let mut wire = vec![FLAG_LONG | FLAG_MORE, 0, 0, 0, 0, 0, 0, 0, 3];
        wire.extend_from_slice(b"xyz");
        wire.extend_from_slice(&[0, 0]);
        let mut run = WireRun::from_checked(Bytes::from(wire), 1);
        assert_eq!(run.next_single(), None, "two frames: not taken");
        assert_eq!(run.next_frame(), Some((&b"xyz"[..], true)));
        assert_eq!(run.next_single(), Some(&b""[..]));
        assert_eq!(run.next_frame(), None);
        assert!(run.is_empty());
    }

    #[test]
    fn a_short_run_stops_instead_of_reading_past_its_bytes() {
        let mut run = WireRun::from_checked(Bytes::from_static(&[0, 5, b'a']), 1);
        assert_eq!(run.next_frame(), None);
        assert!(run.is_empty());
    }

    #[test]
    fn encoded_bytes_count_their_messages_and_split() {
        let mut wire = Vec::new();
        for body in [&b"one"[..], b"", &[7u8; 300]] {
            encode_single(body, |parts| {
                parts.iter().for_each(|p| wire.extend_from_slice(p))
            });
        }
        wire.extend_from_slice(&[0x01, 1, b'x']); // a partial message: left out
        let mut run = WireRun::from_encoded(Bytes::from(wire));
        assert_eq!(run.messages(), 3);
        let mut first = run.split_to(2);
        assert_eq!(first.messages(), 2);
        assert_eq!(first.next_single(), Some(&b"one"[..]));
        assert_eq!(first.next_single(), Some(&b""[..]));
        assert!(first.is_empty());
        assert_eq!(run.messages(), 1);
        assert_eq!(run.remaining().len(), 9 + 300);
        assert_eq!(run.next_single(), Some(&[7u8; 300][..]));
        // Cut short anywhere: only the whole messages before.
        for cut in [&[0u8, 1, b'a', 0, 5, b'b'][..], &[0, 1, b'a', 0x02, 0, 0]] {
            let run = WireRun::from_encoded(Bytes::copy_from_slice(cut));
            assert_eq!((run.messages(), run.remaining().len()), (1, 3));
        }
        let long = WireRun::from_encoded(Bytes::from_static(&[0x02, 0xff, 0, 0, 0, 0, 0, 0, 0]));
        assert!(long.is_empty(), "a length past the bytes");
    }

    #[test]
    fn detached_keeps_what_is_left() {
        let wire = Bytes::from_static(&[0, 1, b'a', 0, 1, b'b']);
        let mut run = WireRun::from_checked(wire, 2);
        assert_eq!(run.next_message(), Some(Msg::from("a")));
        let mut copy = run.detached();
        assert_eq!(copy.wire().len(), 3);
        assert_eq!(std::mem::size_of::<WireRun>(), 40);
        assert_eq!(copy.next_message(), Some(Msg::from("b")));
    }

    #[test]
    fn a_received_run_lends_large_bodies_and_copies_small_ones() {
        let mut wire = Vec::new();
        let large = [9u8; MAX_POOLED + 1];
        for body in [&b"small"[..], &large[..], &large[..]] {
            encode_single(body, |parts| {
                parts.iter().for_each(|p| wire.extend_from_slice(p))
            });
        }
        let wire = Bytes::from(wire);
        let inside = |b: &Bytes| wire.as_ptr_range().contains(&b.as_ptr());
        for lends in [true, false] {
            let run = WireRun::from_checked(wire.clone(), 3);
            let mut run = match lends {
                true => run.lending_large_bodies(),
                false => run,
            };
            let small = run.next_message().unwrap().into_single().unwrap();
            assert_eq!(&small[..], b"small");
            assert!(!inside(&small), "a small body is always copied");
            // The flag goes with a split and survives the count's steps.
            let first = run.split_to(1);
            assert_eq!((first.messages(), run.messages()), (1, 1));
            for mut part in [first, run] {
                let body = part.next_message().unwrap().into_single().unwrap();
                assert_eq!(&body[..], &large[..]);
                assert_eq!(inside(&body), lends, "lends: {lends}");
                assert!(part.is_empty());
            }
        }
        // A detached copy lends nothing: a held body keeps no copy alive.
        let mut copy = WireRun::from_checked(wire.clone(), 3)
            .lending_large_bodies()
            .detached();
        let copied = copy.wire().clone();
        copy.next_message();
        let body = copy.next_message().unwrap().into_single().unwrap();
        assert!(!copied.as_ptr_range().contains(&body.as_ptr()));
        assert!(format!("{copy:?}").contains("messages: 1, lends: false"));
        // More than 2^31 - 1 messages are never a run.
        assert!(WireRun::from_checked(wire, 1 << 31).is_empty());
    }
}
