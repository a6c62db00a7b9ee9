//! INITIATE: PLAIN's client metadata, sent after WELCOME (RFC 24).
//!
//! ```text
//! initiate = command-size %d8 "INITIATE" metadata
//! ```

use bytes::Bytes;

use super::encode_command;
use crate::error::Result;
use crate::metadata::Metadata;
use crate::transmit_queue::TransmitQueue;

/// The INITIATE command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initiate {
    /// The client's properties.
    pub metadata: Metadata,
}

impl Initiate {
    /// Wire name.
    pub const NAME: &'static [u8] = b"INITIATE";

    /// Parses the command data.
    pub fn parse(data: Bytes) -> Result<Initiate> {
        Ok(Initiate {
            metadata: Metadata::parse(&data)?,
        })
    }

    /// Appends the command frame.
    pub fn encode(&self, out: &mut TransmitQueue) {
        encode_command(out, Self::NAME, &[&self.metadata.encode()]);
    }
}
