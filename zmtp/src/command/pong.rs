//! PONG (ZMTP 3.1): the reply to PING, echoing its context.
//!
//! ```text
//! pong = command-size %d4 "PONG" ping-context
//! ```

use bytes::Bytes;

use super::encode_command;
use crate::transmit_queue::TransmitQueue;

/// Longest context a PONG echoes.
pub const MAX_CONTEXT_LEN: usize = 16;

/// The PONG command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pong {
    /// The echoed PING context.
    pub context: Bytes,
}

impl Pong {
    /// Wire name.
    pub const NAME: &'static [u8] = b"PONG";

    /// The reply to a PING with `context`: the context cut to 16 bytes.
    pub fn echoing(context: &Bytes) -> Pong {
        Pong {
            context: context.slice(..context.len().min(MAX_CONTEXT_LEN)),
        }
    }

    /// Parses the command data: all of it is the context.
    pub fn parse(data: Bytes) -> Pong {
        Pong { context: data }
    }

    /// Appends the command frame.
    pub fn encode(&self, out: &mut TransmitQueue) {
        encode_command(out, Self::NAME, &[&self.context]);
    }
}
