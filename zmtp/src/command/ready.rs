//! READY: the last handshake command of NULL and PLAIN, carrying metadata.
//!
//! ```text
//! ready = command-size %d5 "READY" metadata
//! ```

use bytes::Bytes;

use super::encode_command;
use crate::error::Result;
use crate::metadata::Metadata;
use crate::transmit_queue::TransmitQueue;

/// The READY command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    /// The sender's properties (Socket-Type, Identity, X- user properties).
    pub metadata: Metadata,
}

impl Ready {
    /// Wire name.
    pub const NAME: &'static [u8] = b"READY";

    /// Parses the command data.
    pub fn parse(data: Bytes) -> Result<Ready> {
        Ok(Ready {
            metadata: Metadata::parse(&data)?,
        })
    }

    /// Appends the command frame.
    pub fn encode(&self, out: &mut TransmitQueue) {
        encode_command(out, Self::NAME, &[&self.metadata.encode()]);
    }
}
