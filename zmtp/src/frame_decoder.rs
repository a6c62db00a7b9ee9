//! Frame decoding from a stream split at any byte.
//!
//! The decoder reads a header as soon as it is complete and checks the announced
//! length against the limit *before* any of the body is awaited, so a peer that
//! announces an oversized frame is refused without the body being buffered.
//!
//! After the handshake, MAXMSGSIZE bounds a whole multipart message: the data
//! frames of one message are summed as their headers arrive, so a peer cannot
//! grow a message without limit with endless MORE frames of legal size. An
//! optional cap on frames per message bounds a stream of empty MORE frames.
//! With no limit set, a length larger than the process could ever hold (the
//! decoder's ceiling, the machine's memory when the engine sets it) is
//! refused at the header all the same.
//!
//! Who owns a body: a command's body, and a data body of at most
//! [`INLINE_COPY_MAX`] bytes, is copied out of the receive buffers at decode
//! (commands are few and often kept for the connection's lifetime: metadata,
//! identities, topics; small messages are the common market-data case, and a
//! copy frees the receive buffer at once). Larger data bodies stay slices of
//! the receive buffer they arrived in (zero-copy), a short loan that the
//! socket layer ends by copying when the shared pool runs short.

use crate::error::{Error, Result};
use crate::frame::{Frame, FLAG_COMMAND, FLAG_LONG, FLAG_MORE};
use crate::input_buffer::InputBuffer;
use crate::message_budget::MessageBudget;
use crate::wire_run::WireRun;

/// Data bodies up to this many bytes are copied at decode instead of being
/// loaned from the receive buffer (see the module docs). Chosen by benchmark:
/// up to here a copy of its own costs no more than a loan (docs/BENCHMARKS.md,
/// "Small frames copied at decode").
pub const INLINE_COPY_MAX: usize = 256;

/// Data bodies up to this many bytes may be taken in a [`WireRun`] by
/// [`FrameDecoder::scan_run`]: the size up to which a send lane encodes
/// its messages (the connection copies them into its output anyway,
/// [`DEFAULT_COPY_THRESHOLD`](crate::DEFAULT_COPY_THRESHOLD)). A run's
/// bodies longer than [`INLINE_COPY_MAX`] are still loans when taken as
/// messages ([`WireRun::lending_large_bodies`]); the C API copies each
/// straight into its `zmq_msg_t`, which at 1 KiB cost the receiving
/// application less than the receiving context's thread spent decoding
/// each into a message and passing it on (docs/BENCHMARKS.md, attempt 20).
pub const RUN_BODY_MAX: usize = crate::DEFAULT_COPY_THRESHOLD;

// The frame buffer pool keeps buffers of the sizes copied here.
const _: () = assert!(INLINE_COPY_MAX == crate::frame_buffer_pool::MAX_POOLED);

/// Which revision's frame grammar the decoder reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// ZMTP 2.0 and 3.x: `flags length body`, the length one octet or
    /// eight (flag LONG).
    Zmtp2,
    /// ZMTP 1.0: `length flags body`, where the length counts the flags
    /// octet and is one octet, or 0xFF then eight; flags bit 0 is MORE and
    /// the other bits are never set by a 1.0 peer (checked: text from a
    /// peer that is no ZMTP peer fails here at its first frame).
    Zmtp1,
}

/// Which size limit applies to incoming frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameLimit {
    /// Before authentication completes: a fixed cap, whatever MAXMSGSIZE says.
    Handshake(u64),
    /// After the handshake: MAXMSGSIZE for a whole message (its data frames
    /// summed), or no limit.
    Message(Option<u64>),
}

/// Decodes frames from an [`InputBuffer`].
///
/// ```
/// use bytes::Bytes;
/// use monocoque_zmtp::{frame_decoder::{FrameDecoder, FrameLimit}, InputBuffer};
/// let mut input = InputBuffer::new();
/// input.push(Bytes::from_static(&[0x01, 2, b'h', b'i', 0x00]));
/// let mut dec = FrameDecoder::new(FrameLimit::Message(None));
/// let f = dec.decode(&mut input).unwrap().unwrap();
/// assert!(f.more && &f.body[..] == b"hi");
/// assert!(dec.decode(&mut input).unwrap().is_none()); // second header incomplete
/// ```
#[derive(Debug)]
pub struct FrameDecoder {
    limit: FrameLimit,
    framing: Framing,
    /// Header already consumed, waiting for the body: (flags, body length).
    pending: Option<(u8, usize)>,
    /// The message being received, up to the last header: MAXMSGFRAMES and
    /// the ceiling no frame (nor message) may pass, whatever the limit says.
    budget: MessageBudget,
}

impl FrameDecoder {
    /// A decoder applying `limit`.
    pub fn new(limit: FrameLimit) -> Self {
        FrameDecoder {
            limit,
            framing: Framing::Zmtp2,
            pending: None,
            budget: MessageBudget::new(),
        }
    }

    /// Refuses any frame announcing more than `ceiling` bytes, even with no
    /// limit set: a length the process could never hold (the engine passes
    /// the machine's physical memory). Without it the ceiling is 2^63 - 1, the
    /// largest length the grammar allows.
    pub fn set_ceiling(&mut self, ceiling: u64) {
        self.budget.ceiling = ceiling.min(i64::MAX as u64);
    }

    /// Caps the data frames of one message (after the handshake); `None` for
    /// no cap.
    pub fn set_max_frames(&mut self, max_frames: Option<usize>) {
        self.budget.max_frames = max_frames;
    }

    /// Reads `framing` from the next header on (ZMTP 1.0 peers).
    pub fn set_framing(&mut self, framing: Framing) {
        self.framing = framing;
    }

    /// Changes the limit for frames whose header has not been read yet.
    pub fn set_limit(&mut self, limit: FrameLimit) {
        self.limit = limit;
    }

    /// Decodes the next frame, or returns `None` if `input` does not yet hold it.
    ///
    /// Empty input is answered here, inlined where the session asks: an
    /// engine asks on every turn, about seventeen times a request-reply
    /// round trip, and most find nothing (a frame still pending has a body
    /// of at least one byte to wait for, so nothing can complete without
    /// input).
    #[inline]
    pub fn decode(&mut self, input: &mut InputBuffer) -> Result<Option<Frame>> {
        if input.is_empty() {
            return Ok(None);
        }
        self.decode_next(input)
    }

    fn decode_next(&mut self, input: &mut InputBuffer) -> Result<Option<Frame>> {
        let (flags, size) = match self.pending {
            Some(p) => p,
            None => match self.decode_header(input)? {
                Some(p) => {
                    self.pending = Some(p);
                    p
                }
                None => return Ok(None),
            },
        };
        if input.len() < size {
            // Gather what has come of a body that spans receives, so the
            // receive buffers go back to the pool while the rest arrives.
            input.assemble(size);
            return Ok(None);
        }
        self.pending = None;
        let command = flags & FLAG_COMMAND != 0;
        let body = if command || size <= INLINE_COPY_MAX {
            input.take_copied(size)
        } else {
            input.take(size)
        };
        Ok(Some(Frame {
            more: flags & FLAG_MORE != 0,
            command,
            body,
        }))
    }

    fn decode_header(&mut self, input: &mut InputBuffer) -> Result<Option<(u8, usize)>> {
        let mut h = [0u8; 10];
        let front = input.front();
        let header = if front.len() >= 10 {
            // Fast path: the whole longest header is in the first chunk.
            &front[..10]
        } else {
            let n = input.len().min(10);
            input.peek(&mut h[..n]);
            &h[..n]
        };
        let parsed = match self.framing {
            Framing::Zmtp2 => zmtp2_header(header),
            Framing::Zmtp1 => zmtp1_header(header)?,
        };
        let Some((flags, size, header_len)) = parsed else {
            return Ok(None);
        };
        if flags & FLAG_COMMAND != 0 && flags & FLAG_MORE != 0 {
            return Err(Error::CommandWithMore);
        }
        if size > i64::MAX as u64 || usize::try_from(size).is_err() {
            return Err(Error::InvalidFrameLength { size });
        }
        if size > self.budget.ceiling {
            return Err(Error::FrameBeyondMemory {
                size,
                ceiling: self.budget.ceiling,
            });
        }
        match self.limit {
            FrameLimit::Handshake(limit) if size > limit => {
                return Err(Error::HandshakeFrameTooLarge { size, limit })
            }
            FrameLimit::Message(limit) if flags & FLAG_COMMAND == 0 => {
                self.budget.limit = limit;
                self.budget.account(flags & FLAG_MORE != 0, size)?
            }
            FrameLimit::Message(Some(limit)) if size > limit => {
                return Err(Error::FrameTooLarge { size, limit })
            }
            _ => {}
        }
        input.skip(header_len);
        Ok(Some((flags, size as usize)))
    }
}

impl FrameDecoder {
    /// The whole data messages at the front of `input`, up to
    /// `max_messages`, taken as one [`WireRun`] without decoding their
    /// frames into messages (`wire_run.rs`); `None` when the front is
    /// not such a message, and then [`decode`](Self::decode) goes on as
    /// ever. Only between messages, after the handshake, in ZMTP 2.0/3.x
    /// framing, within the first buffered chunk, and only while every frame
    /// is a data frame with no reserved flag and a body of at most
    /// [`RUN_BODY_MAX`] bytes (larger ones are decoded, as loans). The run
    /// lends its bodies longer than [`INLINE_COPY_MAX`] when they are
    /// taken as messages, as `decode` does. The message limits apply as
    /// in `decode`: a message that breaks one ends the run before it, and
    /// `decode` then refuses it.
    pub fn scan_run(&mut self, input: &mut InputBuffer, max_messages: usize) -> Option<WireRun> {
        let FrameLimit::Message(limit) = self.limit else {
            return None;
        };
        if self.pending.is_some() || self.framing != Framing::Zmtp2 || max_messages == 0 {
            return None;
        }
        let front = input.front();
        let mut budget = self.budget.clone();
        budget.limit = limit;
        // Past the last whole message, and how many.
        let (mut end, mut messages) = (0, 0);
        let mut at = 0;
        while messages < max_messages {
            let Some((flags, size, header)) = front.get(at..).and_then(zmtp2_header) else {
                break;
            };
            if flags & !(FLAG_MORE | FLAG_LONG) != 0 || size > RUN_BODY_MAX as u64 {
                break;
            }
            let more = flags & FLAG_MORE != 0;
            if budget.account(more, size).is_err() {
                break;
            }
            let next = at + header + size as usize;
            if next > front.len() {
                break;
            }
            at = next;
            if !more {
                end = at;
                messages += 1;
            }
        }
        if messages == 0 {
            return None;
        }
        Some(WireRun::from_checked(input.take(end), messages).lending_large_bodies())
    }
}

/// `(flags, body length, header length)` of a ZMTP 2.0/3.x header, if complete.
fn zmtp2_header(header: &[u8]) -> Option<(u8, u64, usize)> {
    let &flags = header.first()?;
    if flags & FLAG_LONG != 0 {
        let long = header.get(1..9)?;
        Some((flags, u64::from_be_bytes(long.try_into().ok()?), 9))
    } else {
        Some((flags, *header.get(1)? as u64, 2))
    }
}

/// The same for a ZMTP 1.0 header, its flags translated to ZMTP 2's (MORE
/// is bit 0 in both).
fn zmtp1_header(header: &[u8]) -> Result<Option<(u8, u64, usize)>> {
    let Some(&first) = header.first() else {
        return Ok(None);
    };
    let (length, header_len) = if first == 0xFF {
        let Some(long) = header.get(1..9) else {
            return Ok(None);
        };
        (u64::from_be_bytes(long.try_into().expect("8 bytes")), 10)
    } else {
        (first as u64, 2)
    };
    let Some(&flags) = header.get(header_len - 1) else {
        return Ok(None);
    };
    if length == 0 {
        return Err(Error::MalformedLegacyFrame {
            reason: "a length of 0, which cannot hold the flags octet",
        });
    }
    if flags & !FLAG_MORE != 0 {
        return Err(Error::MalformedLegacyFrame {
            reason: "flag bits other than MORE set",
        });
    }
    Ok(Some((flags, length - 1, header_len)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Msg;
    use bytes::Bytes;

    /// `bytes` in an input buffer, scanned by a decoder under `limit`.
    fn scan(bytes: &'static [u8], limit: FrameLimit, max: usize) -> (Option<WireRun>, usize) {
        let mut input = InputBuffer::new();
        input.push(Bytes::from_static(bytes));
        let run = FrameDecoder::new(limit).scan_run(&mut input, max);
        (run, input.len())
    }

    #[test]
    fn a_run_holds_whole_data_messages_only() {
        let any = FrameLimit::Message(None);
        // "a", then "b" + "c" (MORE on "b"), then half of a message.
        let wire = &[0, 1, b'a', 1, 1, b'b', 0, 1, b'c', 1, 1, b'd'];
        let (run, left) = scan(wire, any, 16);
        let mut run = run.unwrap();
        assert_eq!((run.messages(), left), (2, 3), "the partial message stays");
        assert_eq!(run.next_single(), Some(&b"a"[..]));
        assert_eq!(run.next_frame(), Some((&b"b"[..], true)));
        // At most `max` messages.
        let (run, left) = scan(wire, any, 1);
        assert_eq!((run.unwrap().messages(), left), (1, 9));
        // Nothing whole at the front: no run, nothing taken.
        assert_eq!(scan(&[1, 1, b'd'], any, 16), (None, 3));
    }

    #[test]
    fn a_run_stops_before_a_command_a_reserved_flag_or_a_large_body() {
        let any = FrameLimit::Message(None);
        let (run, left) = scan(&[0, 1, b'a', 0x04, 4, b'P', b'I', b'N', b'G'], any, 16);
        assert_eq!(
            (run.unwrap().messages(), left),
            (1, 6),
            "the command is decode's"
        );
        let (run, left) = scan(&[0, 1, b'a', 0x80, 1, b'x'], any, 16);
        assert_eq!(
            (run.unwrap().messages(), left),
            (1, 3),
            "reserved flags are decode's"
        );
        // 2 KiB and 1 byte: 0x0801 in the long header's last two bytes.
        let mut big = vec![0u8, 1, b'a', 0x02, 0, 0, 0, 0, 0, 0, 0x08, 0x01];
        big.extend_from_slice(&[7; RUN_BODY_MAX + 1]);
        let big: &'static [u8] = big.leak();
        let (run, left) = scan(big, any, 16);
        assert_eq!(
            (run.unwrap().messages(), left),
            (1, 9 + RUN_BODY_MAX + 1),
            "past RUN_BODY_MAX a body is decode's"
        );
        // Up to it, in the run, and lent when taken as a message.
        let mut wire = vec![0u8, 1, b'a', 0x02, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
        wire.extend_from_slice(&[7; RUN_BODY_MAX]);
        let wire: &'static [u8] = wire.leak();
        let (run, left) = scan(wire, any, 16);
        let mut run = run.unwrap();
        assert_eq!((run.messages(), left), (2, 0));
        assert_eq!(run.next_message(), Some(Msg::from("a")));
        let body = run.next_message().unwrap().into_single().unwrap();
        assert_eq!(body.as_ptr(), wire[12..].as_ptr(), "a loan");
    }

    #[test]
    fn a_run_ends_before_a_message_over_the_limits() {
        // MAXMSGSIZE 3: "ab" fits, "abcd" does not; decode then refuses it.
        let wire = &[0, 2, b'a', b'b', 0, 4, b'a', b'b', b'c', b'd'];
        let (run, left) = scan(wire, FrameLimit::Message(Some(3)), 16);
        assert_eq!((run.unwrap().messages(), left), (1, 6));
        let mut input = InputBuffer::new();
        input.push(Bytes::from_static(&wire[4..]));
        let refused = FrameDecoder::new(FrameLimit::Message(Some(3))).decode(&mut input);
        assert!(refused.is_err(), "decode refuses what the run left");
        // Before the handshake there are no runs at all.
        assert_eq!(
            scan(&[0, 1, b'a'], FrameLimit::Handshake(64), 16),
            (None, 3)
        );
    }

    fn decode_one(bytes: &'static [u8], limit: FrameLimit) -> Result<Option<Frame>> {
        let mut input = InputBuffer::new();
        input.push(Bytes::from_static(bytes));
        FrameDecoder::new(limit).decode(&mut input)
    }

    #[test]
    fn long_form_accepted_for_small_bodies() {
        let f = decode_one(
            &[0x02, 0, 0, 0, 0, 0, 0, 0, 1, b'x'],
            FrameLimit::Message(None),
        )
        .unwrap()
        .unwrap();
        assert_eq!(&f.body[..], b"x");
        assert!(!f.more && !f.command);
    }

    #[test]
    fn zmtp1_frames() {
        let mut dec = FrameDecoder::new(FrameLimit::Message(None));
        dec.set_framing(Framing::Zmtp1);
        let mut long = vec![0xFF, 0, 0, 0, 0, 0, 0, 1, 1, 0x00];
        long.extend_from_slice(&[7; 256]);
        let mut input = InputBuffer::new();
        input.push(Bytes::from_static(&[3, 0x01, b'h', b'i', 1, 0x00]));
        input.push(Bytes::from(long));
        let a = dec.decode(&mut input).unwrap().unwrap();
        assert!(a.more && &a.body[..] == b"hi");
        let b = dec.decode(&mut input).unwrap().unwrap();
        assert!(!b.more && b.body.is_empty());
        let c = dec.decode(&mut input).unwrap().unwrap();
        assert!(!c.more && c.body.len() == 256);
        assert!(dec.decode(&mut input).unwrap().is_none());
        for bad in [&[0u8, 0][..], &[2, 0x45, b'x'][..]] {
            let mut dec = FrameDecoder::new(FrameLimit::Message(None));
            dec.set_framing(Framing::Zmtp1);
            let mut input = InputBuffer::new();
            input.push(Bytes::copy_from_slice(bad));
            assert!(matches!(
                dec.decode(&mut input),
                Err(Error::MalformedLegacyFrame { .. })
            ));
        }
    }

    #[test]
    fn reserved_bits_ignored() {
        let f = decode_one(&[0xF8, 1, b'x'], FrameLimit::Message(None))
            .unwrap()
            .unwrap();
        assert_eq!(&f.body[..], b"x");
    }

    #[test]
    fn oversize_refused_at_the_header() {
        assert_eq!(
            decode_one(&[0x00, 10], FrameLimit::Message(Some(9))),
            Err(Error::FrameTooLarge { size: 10, limit: 9 })
        );
        assert_eq!(
            decode_one(&[0x06, 0, 0, 0, 0, 0, 1, 0, 0], FrameLimit::Handshake(1024)),
            Err(Error::HandshakeFrameTooLarge {
                size: 65536,
                limit: 1024
            })
        );
        assert_eq!(
            decode_one(
                &[0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                FrameLimit::Message(None)
            ),
            Err(Error::InvalidFrameLength { size: u64::MAX })
        );
    }

    fn decode_all(bytes: &'static [u8], dec: &mut FrameDecoder) -> Result<Vec<Frame>> {
        let mut input = InputBuffer::new();
        input.push(Bytes::from_static(bytes));
        let mut frames = Vec::new();
        while let Some(f) = dec.decode(&mut input)? {
            frames.push(f);
        }
        Ok(frames)
    }

    #[test]
    fn maxmsgsize_bounds_the_whole_message() {
        let mut dec = FrameDecoder::new(FrameLimit::Message(Some(5)));
        // 3 + 2 bytes: exactly the limit, then a new message starts from zero.
        let ok = decode_all(
            &[
                0x01, 3, b'a', b'b', b'c', 0x00, 2, b'd', b'e', 0x00, 5, 1, 2, 3, 4, 5,
            ],
            &mut dec,
        );
        assert_eq!(ok.unwrap().len(), 3);
        // 3 + 3 bytes: the second header is refused before its body arrives.
        let mut dec = FrameDecoder::new(FrameLimit::Message(Some(5)));
        assert_eq!(
            decode_all(&[0x01, 3, b'a', b'b', b'c', 0x00, 3], &mut dec),
            Err(Error::MessageTooLarge { size: 6, limit: 5 })
        );
    }

    #[test]
    fn commands_do_not_count_towards_the_message() {
        let mut dec = FrameDecoder::new(FrameLimit::Message(Some(4)));
        // 2 data bytes, a 4-byte command, 2 data bytes: the message is 4 bytes.
        let frames = decode_all(
            &[
                0x01, 2, b'a', b'b', 0x04, 4, 4, b'P', b'I', b'N', 0x00, 2, b'c', b'd',
            ],
            &mut dec,
        );
        assert_eq!(frames.unwrap().len(), 3);
    }

    #[test]
    fn the_frame_cap_stops_endless_empty_frames() {
        let mut dec = FrameDecoder::new(FrameLimit::Message(None));
        dec.set_max_frames(Some(3));
        assert_eq!(
            decode_all(&[0x01, 0, 0x01, 0, 0x00, 0], &mut dec)
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            decode_all(&[0x01, 0, 0x01, 0, 0x01, 0, 0x00, 0], &mut dec),
            Err(Error::TooManyFrames { limit: 3 })
        );
    }

    #[test]
    fn a_length_beyond_the_ceiling_is_refused_without_a_limit() {
        let mut input = InputBuffer::new();
        input.push(Bytes::from_static(&[0x02, 0, 0, 0, 1, 0, 0, 0, 0]));
        let mut dec = FrameDecoder::new(FrameLimit::Message(None));
        dec.set_ceiling(1 << 30);
        assert_eq!(
            dec.decode(&mut input),
            Err(Error::FrameBeyondMemory {
                size: 1 << 32,
                ceiling: 1 << 30
            })
        );
        // Within the ceiling, the header is accepted and the body awaited.
        let mut input = InputBuffer::new();
        input.push(Bytes::from_static(&[0x02, 0, 0, 0, 0, 0x40, 0, 0, 0]));
        assert_eq!(dec.decode(&mut input), Ok(None));
    }

    #[test]
    fn frames_under_the_ceiling_cannot_add_up_past_it() {
        let mut dec = FrameDecoder::new(FrameLimit::Message(None));
        dec.set_ceiling(10);
        assert_eq!(
            decode_all(&[0x01, 6, 1, 2, 3, 4, 5, 6, 0x00, 6], &mut dec).map(|f| f.len()),
            Err(Error::FrameBeyondMemory {
                size: 12,
                ceiling: 10
            })
        );
    }

    #[test]
    fn small_and_command_bodies_are_copied_large_ones_loaned() {
        let big = vec![9u8; INLINE_COPY_MAX + 1];
        let mut wire = vec![
            0x00, 3, b'a', b'b', b'c', 0x04, 5, 4, b'P', b'I', b'N', b'G',
        ];
        wire.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 0]);
        wire.extend_from_slice(&((big.len() as u16).to_be_bytes()));
        wire.extend_from_slice(&big);
        let chunk = Bytes::from(wire);
        let range = chunk.as_ptr() as usize..chunk.as_ptr() as usize + chunk.len();
        let mut input = InputBuffer::new();
        input.push(chunk.clone());
        let mut dec = FrameDecoder::new(FrameLimit::Message(None));
        let small = dec.decode(&mut input).unwrap().unwrap();
        let cmd = dec.decode(&mut input).unwrap().unwrap();
        let large = dec.decode(&mut input).unwrap().unwrap();
        assert!(!range.contains(&(small.body.as_ptr() as usize)));
        assert!(!range.contains(&(cmd.body.as_ptr() as usize)));
        assert!(range.contains(&(large.body.as_ptr() as usize)));
        assert_eq!(&large.body[..], &big[..]);
    }

    #[test]
    fn command_with_more_refused() {
        assert_eq!(
            decode_one(&[0x05, 0], FrameLimit::Message(None)),
            Err(Error::CommandWithMore)
        );
    }
}
