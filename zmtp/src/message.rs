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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Msg {
    frames: Vec<Bytes>,
}

impl Msg {
    /// A message with no frames yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a frame.
    pub fn push(&mut self, frame: impl Into<Bytes>) {
        self.frames.push(frame.into());
    }

    /// The frames in order.
    pub fn frames(&self) -> &[Bytes] {
        &self.frames
    }

    /// Gives up the frames.
    pub fn into_frames(self) -> Vec<Bytes> {
        self.frames
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether there are no frames.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Total bytes across frames.
    pub fn byte_len(&self) -> usize {
        self.frames.iter().map(Bytes::len).sum()
    }
}

impl std::ops::Index<usize> for Msg {
    type Output = Bytes;
    fn index(&self, i: usize) -> &Bytes {
        &self.frames[i]
    }
}

impl From<Vec<Bytes>> for Msg {
    fn from(frames: Vec<Bytes>) -> Self {
        Msg { frames }
    }
}

impl From<Bytes> for Msg {
    fn from(frame: Bytes) -> Self {
        Msg {
            frames: vec![frame],
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
        Msg {
            frames: frames
                .iter()
                .map(|f| Bytes::from_static(f.as_bytes()))
                .collect(),
        }
    }
}
