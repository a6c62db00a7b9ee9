//! A multipart message: one or more frames, each a reference-counted `Bytes`.

use bytes::Bytes;

/// A multipart ZeroMQ message. Frames are `bytes::Bytes`, so cloning a message or
/// handing it to several peers never copies a payload.
///
/// ```
/// use monocoque_zmtp::Msg;
/// let mut m = Msg::from("topic");
/// m.push("payload");
/// assert_eq!(m.len(), 2);
/// assert_eq!(&m[1][..], b"payload");
/// ```
#[derive(Clone, Default)]
pub struct Msg {
    frames: Frames,
}

/// Most messages have one frame: it is held inline, so receiving, queueing
/// and cloning a single-frame message (once per subscriber) allocates
/// nothing. callgrind counted one allocation and one free per received
/// message when every message had its own `Vec`.
///
/// Two variants, no third for "none" (an empty `Vec`, which allocates
/// nothing): the enum is then 32 bytes, the `Bytes` alone, its variant
/// told by a niche, where a third variant made it 40, a tag word ahead
/// of the `Bytes`. A message moves through a handful of queues and calls;
/// at 40 bytes each move was a 16-byte load across an 8-byte store the
/// move before had made, a store-forwarding stall (docs/BENCHMARKS.md,
/// attempt 9).
#[derive(Clone)]
enum Frames {
    One(Bytes),
    Many(Vec<Bytes>),
}

impl Default for Frames {
    fn default() -> Self {
        Frames::Many(Vec::new())
    }
}

impl Msg {
    /// A message with no frames yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a frame.
    pub fn push(&mut self, frame: impl Into<Bytes>) {
        let frame = frame.into();
        self.frames = match std::mem::take(&mut self.frames) {
            Frames::Many(v) if v.is_empty() => Frames::One(frame),
            Frames::One(first) => {
                let mut v = Vec::with_capacity(4);
                v.push(first);
                v.push(frame);
                Frames::Many(v)
            }
            Frames::Many(mut v) => {
                v.push(frame);
                Frames::Many(v)
            }
        };
    }

    /// Puts a frame before the others (a ROUTER's routing id on a received
    /// message): one allocation for a single-frame message, none to spare.
    ///
    /// ```
    /// use monocoque_zmtp::Msg;
    /// let mut m = Msg::from("body");
    /// m.push_front("id");
    /// assert_eq!(&m[0][..], b"id");
    /// assert_eq!(&m[1][..], b"body");
    /// ```
    pub fn push_front(&mut self, frame: impl Into<Bytes>) {
        let frame = frame.into();
        self.frames = match std::mem::take(&mut self.frames) {
            Frames::Many(v) if v.is_empty() => Frames::One(frame),
            Frames::One(second) => {
                let mut v = Vec::with_capacity(4);
                v.push(frame);
                v.push(second);
                Frames::Many(v)
            }
            Frames::Many(mut v) => {
                v.insert(0, frame);
                Frames::Many(v)
            }
        };
    }

    /// The frames in order.
    pub fn frames(&self) -> &[Bytes] {
        match &self.frames {
            Frames::One(f) => std::slice::from_ref(f),
            Frames::Many(v) => v,
        }
    }

    /// Moves the frames to the end of `out`, without a `Vec` of their own
    /// for a single-frame message (wrapping a body in an envelope).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use monocoque_zmtp::Msg;
    /// let mut envelope = vec![Bytes::from_static(b"id"), Bytes::new()];
    /// Msg::from("reply").append_to(&mut envelope);
    /// assert_eq!(envelope.len(), 3);
    /// ```
    pub fn append_to(self, out: &mut Vec<Bytes>) {
        match self.frames {
            Frames::One(f) => out.push(f),
            Frames::Many(v) => out.extend(v),
        }
    }

    /// Lets go of the message, its frames' buffers to the
    /// [frame buffer pool](crate::frame_buffer_pool) where they are whole
    /// small buffers of their own (for the next frame of the same size, on
    /// whatever thread makes it), else simply dropped.
    ///
    /// ```
    /// use monocoque_zmtp::{frame_buffer_pool, Msg};
    /// Msg::from(vec![7u8; 77]).recycle();
    /// assert!(frame_buffer_pool::take(77).is_none_or(|b| b.len() == 77));
    /// ```
    pub fn recycle(self) {
        match self.frames {
            Frames::One(f) => crate::frame_buffer_pool::give(f),
            Frames::Many(v) => v.into_iter().for_each(crate::frame_buffer_pool::give),
        }
    }

    /// Gives up the frames.
    pub fn into_frames(self) -> Vec<Bytes> {
        match self.frames {
            Frames::One(f) => vec![f],
            Frames::Many(v) => v,
        }
    }

    /// The frame of a single-frame message; any other message back as it
    /// was. Cheaper than iterating when most messages have one frame.
    ///
    /// ```
    /// use monocoque_zmtp::Msg;
    /// assert_eq!(Msg::from("one").into_single().unwrap(), "one");
    /// let two = Msg::from(vec![bytes::Bytes::from("a"), bytes::Bytes::from("b")]);
    /// assert_eq!(two.into_single().unwrap_err().len(), 2);
    /// ```
    #[inline]
    pub fn into_single(self) -> Result<Bytes, Msg> {
        match self.frames {
            Frames::One(f) => Ok(f),
            frames => Err(Msg { frames }),
        }
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames().len()
    }

    /// Whether there are no frames.
    pub fn is_empty(&self) -> bool {
        self.frames().is_empty()
    }

    /// Total bytes across frames.
    pub fn byte_len(&self) -> usize {
        self.frames().iter().map(Bytes::len).sum()
    }
}

/// The frames of a message, in order, by value (no `Vec` for a
/// single-frame message).
///
/// ```
/// use monocoque_zmtp::Msg;
/// let frames: Vec<_> = Msg::from(["a", "b"]).into_iter().collect();
/// assert_eq!(&frames[1][..], b"b");
/// ```
impl IntoIterator for Msg {
    type Item = Bytes;
    type IntoIter = IntoFrames;

    fn into_iter(self) -> IntoFrames {
        IntoFrames(match self.frames {
            Frames::One(f) => FramesIter::One(Some(f)),
            Frames::Many(v) => FramesIter::Many(v.into_iter()),
        })
    }
}

/// The iterator of [`Msg::into_iter`](IntoIterator::into_iter).
#[derive(Debug)]
pub struct IntoFrames(FramesIter);

#[derive(Debug)]
enum FramesIter {
    One(Option<Bytes>),
    Many(std::vec::IntoIter<Bytes>),
}

impl Iterator for IntoFrames {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        match &mut self.0 {
            FramesIter::One(f) => f.take(),
            FramesIter::Many(v) => v.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match &self.0 {
            FramesIter::One(f) => usize::from(f.is_some()),
            FramesIter::Many(v) => v.len(),
        };
        (n, Some(n))
    }
}

impl ExactSizeIterator for IntoFrames {}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Msg")
            .field("frames", &self.frames())
            .finish()
    }
}

impl PartialEq for Msg {
    fn eq(&self, other: &Msg) -> bool {
        self.frames() == other.frames()
    }
}

impl Eq for Msg {}

impl std::ops::Index<usize> for Msg {
    type Output = Bytes;
    fn index(&self, i: usize) -> &Bytes {
        &self.frames()[i]
    }
}

impl From<Vec<Bytes>> for Msg {
    fn from(frames: Vec<Bytes>) -> Self {
        Msg {
            frames: Frames::Many(frames),
        }
    }
}

impl From<Bytes> for Msg {
    fn from(frame: Bytes) -> Self {
        Msg {
            frames: Frames::One(frame),
        }
    }
}

impl From<&'static str> for Msg {
    fn from(frame: &'static str) -> Self {
        Msg::from(Bytes::from_static(frame.as_bytes()))
    }
}

impl From<Vec<u8>> for Msg {
    fn from(frame: Vec<u8>) -> Self {
        Msg::from(Bytes::from(frame))
    }
}

impl<const N: usize> From<[&'static str; N]> for Msg {
    fn from(frames: [&'static str; N]) -> Self {
        let mut m = Msg::new();
        for f in frames {
            m.push(Bytes::from_static(f.as_bytes()));
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size the `Frames` comment is about: a message is a `Bytes`.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_message_is_as_big_as_one_bytes() {
        assert_eq!(std::mem::size_of::<Msg>(), std::mem::size_of::<Bytes>());
    }

    #[test]
    fn an_empty_message_takes_its_first_frame_inline() {
        let mut m = Msg::new();
        assert!(m.is_empty());
        m.push("a");
        assert_eq!(m.into_single().unwrap(), "a");
        let mut m = Msg::default();
        m.push_front("b");
        assert_eq!(m.into_single().unwrap(), "b");
    }

    #[test]
    fn one_frame_inline_many_in_a_list_and_equal_either_way() {
        let mut m = Msg::new();
        assert!(m.is_empty());
        m.push("a");
        assert_eq!(m.frames(), [Bytes::from_static(b"a")]);
        let one = m.clone();
        m.push("b");
        m.push("c");
        assert_eq!(m.len(), 3);
        assert_eq!(m.byte_len(), 3);
        assert_eq!(&m[2][..], b"c");
        assert_eq!(one, Msg::from(vec![Bytes::from_static(b"a")]));
        assert_eq!(m, Msg::from(["a", "b", "c"]));
        assert_eq!(m.clone().into_frames().len(), 3);
        assert_eq!(one.into_frames(), vec![Bytes::from_static(b"a")]);
        assert_eq!(format!("{:?}", Msg::from("x")), "Msg { frames: [b\"x\"] }");
    }
}
