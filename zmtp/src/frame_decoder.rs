//! Frame decoding from a stream split at any byte.
//!
//! The decoder reads a header as soon as it is complete and checks the announced
//! length against the limit *before* any of the body is awaited, so a peer that
//! announces an oversized frame is refused without the body being buffered.

use crate::error::{Error, Result};
use crate::frame::{Frame, FLAG_COMMAND, FLAG_LONG, FLAG_MORE};
use crate::input_buffer::InputBuffer;

/// Which size limit applies to incoming frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameLimit {
    /// Before authentication completes: a fixed cap, whatever MAXMSGSIZE says.
    Handshake(u64),
    /// After the handshake: MAXMSGSIZE, or no limit.
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
    /// Header already consumed, waiting for the body: (flags, body length).
    pending: Option<(u8, usize)>,
}

impl FrameDecoder {
    /// A decoder applying `limit`.
    pub fn new(limit: FrameLimit) -> Self {
        FrameDecoder {
            limit,
            pending: None,
        }
    }

    /// Changes the limit for frames whose header has not been read yet.
    pub fn set_limit(&mut self, limit: FrameLimit) {
        self.limit = limit;
    }

    /// Decodes the next frame, or returns `None` if `input` does not yet hold it.
    pub fn decode(&mut self, input: &mut InputBuffer) -> Result<Option<Frame>> {
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
            return Ok(None);
        }
        self.pending = None;
        Ok(Some(Frame {
            more: flags & FLAG_MORE != 0,
            command: flags & FLAG_COMMAND != 0,
            body: input.take(size),
        }))
    }

    fn decode_header(&self, input: &mut InputBuffer) -> Result<Option<(u8, usize)>> {
        let mut h = [0u8; 9];
        let front = input.front();
        let header = if front.len() >= 9 {
            // Fast path: the whole longest header is in the first chunk.
            &front[..9]
        } else {
            let n = input.len().min(9);
            input.peek(&mut h[..n]);
            &h[..n]
        };
        let Some(&flags) = header.first() else {
            return Ok(None);
        };
        let (header_len, size) = if flags & FLAG_LONG != 0 {
            if header.len() < 9 {
                return Ok(None);
            }
            (
                9,
                u64::from_be_bytes(header[1..9].try_into().expect("8 bytes")),
            )
        } else {
            match header.get(1) {
                Some(&b) => (2, b as u64),
                None => return Ok(None),
            }
        };
        if flags & FLAG_COMMAND != 0 && flags & FLAG_MORE != 0 {
            return Err(Error::CommandWithMore);
        }
        if size > i64::MAX as u64 || usize::try_from(size).is_err() {
            return Err(Error::InvalidFrameLength { size });
        }
        match self.limit {
            FrameLimit::Handshake(limit) if size > limit => {
                return Err(Error::HandshakeFrameTooLarge { size, limit })
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

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

    #[test]
    fn command_with_more_refused() {
        assert_eq!(
            decode_one(&[0x05, 0], FrameLimit::Message(None)),
            Err(Error::CommandWithMore)
        );
    }
}
