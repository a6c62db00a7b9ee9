//! SUBSCRIBE (ZMTP 3.1): a subscriber asks for messages starting with `topic`.
//!
//! ```text
//! subscribe = command-size %d9 "SUBSCRIBE" subscription
//! ```
//! To a ZMTP 3.0 peer the same request travels as a message `0x01 topic`.

use bytes::Bytes;

use super::encode_command;
use crate::transmit_queue::TransmitQueue;

/// The SUBSCRIBE command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// The prefix to match (may be empty: everything).
    pub topic: Bytes,
}

impl Subscribe {
    /// Wire name.
    pub const NAME: &'static [u8] = b"SUBSCRIBE";

    /// Parses the command data: all of it is the topic.
    pub fn parse(data: Bytes) -> Subscribe {
        Subscribe { topic: data }
    }

    /// Appends the command frame.
    pub fn encode(&self, out: &mut TransmitQueue) {
        encode_command(out, Self::NAME, &[&self.topic]);
    }
}
