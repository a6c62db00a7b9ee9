//! The raw floor's ZMTP 3.1 data stream: single-frame messages pre-framed
//! into one buffer by the sender, and the least a receiver can do with them
//! (find each frame's end, count the messages).
//!
//! A frame is a flags byte and a length, then the body (RFC 23, "framing"):
//! a short frame is `0x00`, one length byte; a long frame (body over 255
//! bytes) is `0x02`, eight length bytes in network order. `0x01` (MORE) says
//! the message goes on in the next frame; `0x04` marks a command, which is
//! not a message.

/// MORE: another frame of this message follows.
const MORE: u8 = 0x01;
/// LONG: the length takes eight bytes.
const LONG: u8 = 0x02;
/// COMMAND: a command frame, not part of any message.
const COMMAND: u8 = 0x04;
/// The longest frame header: flags and eight length bytes.
const MAX_HEADER: usize = 9;

/// Bytes a single-frame message of `size` takes on the wire.
pub fn frame_len(size: usize) -> usize {
    if size <= usize::from(u8::MAX) {
        2 + size
    } else {
        MAX_HEADER + size
    }
}

/// One single-frame message of `size` zero bytes, header included.
fn frame(size: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(MAX_HEADER + size);
    if let Ok(short) = u8::try_from(size) {
        f.extend_from_slice(&[0x00, short]);
    } else {
        f.push(LONG);
        f.extend_from_slice(&(size as u64).to_be_bytes());
    }
    f.resize(f.len() + size, 0);
    f
}

/// Whole frames of `size`-byte messages back to back, about `target` bytes
/// (at least one frame): the sender builds it once and writes it again and
/// again, so that the floor pays for the kernel's copy and nothing else.
pub struct Prebuilt {
    /// The frames.
    pub bytes: Vec<u8>,
    /// Bytes per frame, header included.
    pub frame_len: usize,
}

impl Prebuilt {
    /// As many frames of `size` as fit in `target` bytes, at least one.
    pub fn new(size: usize, target: usize) -> Prebuilt {
        let one = frame(size);
        let frames = (target / one.len()).max(1);
        Prebuilt {
            bytes: one.repeat(frames),
            frame_len: one.len(),
        }
    }

    /// Messages the buffer holds.
    pub fn messages(&self) -> usize {
        self.bytes.len() / self.frame_len
    }
}

/// Walks a frame stream fed in reads of any size, counting whole messages:
/// a header or a body may be split across reads.
#[derive(Debug, Default)]
pub struct Walker {
    /// Body bytes of the current frame still to come.
    body_left: u64,
    /// The current frame's flags (meaningful while `body_left` > 0).
    flags: u8,
    /// A header split across reads: the bytes seen so far.
    header: [u8; MAX_HEADER],
    header_len: usize,
    /// Messages whose last frame has ended.
    pub messages: u64,
}

impl Walker {
    /// Takes the next bytes of the stream.
    pub fn feed(&mut self, mut buf: &[u8]) {
        loop {
            if self.body_left > 0 {
                let n = (buf.len() as u64).min(self.body_left);
                self.body_left -= n;
                buf = &buf[n as usize..];
                if self.body_left > 0 {
                    return;
                }
                self.frame_ended();
            }
            if buf.is_empty() {
                return;
            }
            let Some((flags, len, used)) = self.header(buf) else {
                return;
            };
            buf = &buf[used..];
            self.flags = flags;
            self.body_left = len;
            if len == 0 {
                self.frame_ended();
            }
        }
    }

    /// The header at the start of `buf` (after any part of it carried over
    /// from the last read): its flags, body length and the bytes of `buf`
    /// it took. `None` when `buf` ends inside it (the part is kept).
    fn header(&mut self, buf: &[u8]) -> Option<(u8, u64, usize)> {
        let flags = if self.header_len > 0 {
            self.header[0]
        } else {
            buf[0]
        };
        let need = if flags & LONG != 0 { MAX_HEADER } else { 2 };
        if self.header_len == 0 && buf.len() >= need {
            // The common case: the whole header in this read, nothing copied.
            return Some((flags, length(flags, &buf[..need]), need));
        }
        let take = (need - self.header_len).min(buf.len());
        self.header[self.header_len..self.header_len + take].copy_from_slice(&buf[..take]);
        self.header_len += take;
        if self.header_len < need {
            return None;
        }
        self.header_len = 0;
        Some((flags, length(flags, &self.header[..need]), take))
    }

    fn frame_ended(&mut self) {
        if self.flags & (MORE | COMMAND) == 0 {
            self.messages += 1;
        }
    }
}

/// The body length a whole header gives.
fn length(flags: u8, header: &[u8]) -> u64 {
    if flags & LONG != 0 {
        u64::from_be_bytes(header[1..9].try_into().expect("eight length bytes"))
    } else {
        u64::from(header[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `stream` in reads of `chunk` bytes; returns the messages counted.
    fn walk(stream: &[u8], chunk: usize) -> u64 {
        let mut w = Walker::default();
        for part in stream.chunks(chunk) {
            w.feed(part);
        }
        assert_eq!(w.body_left, 0, "the stream ends on a frame boundary");
        assert_eq!(w.header_len, 0);
        w.messages
    }

    #[test]
    fn short_and_long_frames_are_framed_as_the_rfc_says() {
        assert_eq!(frame(3), [0x00, 3, 0, 0, 0]);
        assert_eq!(&frame(256)[..9], [0x02, 0, 0, 0, 0, 0, 0, 1, 0]);
        assert_eq!(frame(256).len(), 9 + 256);
        assert_eq!(frame(255)[..2], [0x00, 255]);
        for size in [0, 1, 255, 256, 70_000] {
            assert_eq!(frame_len(size), frame(size).len(), "size {size}");
        }
    }

    #[test]
    fn every_message_is_counted_whatever_the_reads_split() {
        for size in [1, 64, 255, 256, 1000] {
            let p = Prebuilt::new(size, 10_000);
            let n = p.messages() as u64;
            assert!(n >= 1);
            // Every split point: headers and bodies cut anywhere, down to a
            // byte at a time (long headers cut inside their length).
            for chunk in [1, 2, 3, 5, 8, 9, 10, 63, 64, 65, 4096, p.bytes.len()] {
                assert_eq!(walk(&p.bytes, chunk), n, "size {size}, reads of {chunk}");
            }
        }
    }

    #[test]
    fn a_body_larger_than_any_read_is_skipped_not_held() {
        let p = Prebuilt::new(1 << 20, 0);
        assert_eq!(p.messages(), 1, "at least one frame");
        assert_eq!(walk(&p.bytes, 64 * 1024), 1);
    }

    #[test]
    fn more_frames_and_commands_are_not_messages() {
        // A two-frame message, an empty frame ending another, a command.
        let stream = [
            &[MORE, 1, b'a'][..],
            &[0x00, 1, b'b'],
            &[MORE, 0],
            &[0x00, 0],
            &[COMMAND, 2, b'x', b'y'],
        ]
        .concat();
        assert_eq!(walk(&stream, 1), 2);
        assert_eq!(walk(&stream, stream.len()), 2);
    }
}
