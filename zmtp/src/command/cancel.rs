//! CANCEL (ZMTP 3.1): a subscriber withdraws one subscription to `topic`.
//!
//! ```text
//! cancel = command-size %d6 "CANCEL" subscription
//! ```
//! Subscriptions count: two SUBSCRIBEs need two CANCELs. To a ZMTP 3.0 peer the
//! same request travels as a message `0x00 topic`.

use bytes::Bytes;

use super::encode_command;
use crate::transmit_queue::TransmitQueue;

/// The CANCEL command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancel {
    /// The prefix whose subscription is withdrawn.
    pub topic: Bytes,
}

impl Cancel {
    /// Wire name.
    pub const NAME: &'static [u8] = b"CANCEL";

    /// Parses the command data: all of it is the topic.
    pub fn parse(data: Bytes) -> Cancel {
        Cancel { topic: data }
    }

    /// Appends the command frame.
    pub fn encode(&self, out: &mut TransmitQueue) {
        encode_command(out, Self::NAME, &[&self.topic]);
    }
}
