//! What one multipart message may take: MAXMSGSIZE for the whole message,
//! MAXMSGFRAMES, and the memory ceiling no frames may add up past.
//!
//! The frame decoder counts wire frames against it. Under a mechanism that
//! boxes every frame (CURVE sends each part as its own single-frame
//! MESSAGE, with MORE inside the box) the wire frames say nothing about the
//! message they belong to, so the session counts the unboxed frames against
//! a second budget: no peer passes the limits by encrypting.

use crate::error::{Error, Result};

/// The running size of the message being received, and its limits.
#[derive(Debug, Clone)]
pub(crate) struct MessageBudget {
    /// MAXMSGSIZE (`None`: no limit).
    pub(crate) limit: Option<u64>,
    /// MAXMSGFRAMES (`None`: no cap).
    pub(crate) max_frames: Option<usize>,
    /// No message may add up past this, whatever the limit says.
    pub(crate) ceiling: u64,
    size: u64,
    frames: usize,
}

impl MessageBudget {
    /// A budget with no limit, no cap and the grammar's ceiling.
    pub(crate) fn new() -> Self {
        MessageBudget {
            limit: None,
            max_frames: None,
            ceiling: i64::MAX as u64,
            size: 0,
            frames: 0,
        }
    }

    /// Adds a frame of `size` bytes to the message; `more` says whether
    /// another follows. Refuses it if the message would pass a limit.
    pub(crate) fn account(&mut self, more: bool, size: u64) -> Result<()> {
        let total = self.size.saturating_add(size);
        let frames = self.frames + 1;
        if total > self.ceiling {
            // Frames each under the ceiling can add up past it.
            return Err(Error::FrameBeyondMemory {
                size: total,
                ceiling: self.ceiling,
            });
        }
        if let Some(limit) = self.limit {
            if size > limit {
                return Err(Error::FrameTooLarge { size, limit });
            }
            if total > limit {
                return Err(Error::MessageTooLarge { size: total, limit });
            }
        }
        if let Some(max) = self.max_frames {
            if frames > max {
                return Err(Error::TooManyFrames { limit: max });
            }
        }
        if more {
            self.size = total;
            self.frames = frames;
        } else {
            self.size = 0;
            self.frames = 0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_add_up_and_the_last_one_resets() {
        let mut b = MessageBudget::new();
        b.limit = Some(10);
        b.max_frames = Some(3);
        b.account(true, 4).unwrap();
        b.account(true, 4).unwrap();
        assert_eq!(
            b.account(false, 4),
            Err(Error::MessageTooLarge {
                size: 12,
                limit: 10
            })
        );
        let mut b = MessageBudget::new();
        b.max_frames = Some(2);
        b.account(true, 1).unwrap();
        b.account(false, 1).unwrap();
        b.account(true, 1).unwrap();
        b.account(true, 1).unwrap();
        assert_eq!(b.account(false, 1), Err(Error::TooManyFrames { limit: 2 }));
        let mut b = MessageBudget::new();
        b.ceiling = 5;
        b.account(true, 3).unwrap();
        assert!(matches!(
            b.account(false, 3),
            Err(Error::FrameBeyondMemory { size: 6, .. })
        ));
    }
}
