//! ERROR: a fatal refusal, with a short reason.
//!
//! ```text
//! error  = command-size %d5 "ERROR" reason
//! reason = OCTET 0*255VCHAR
//! ```
//! Bytes after the reason are ignored, as libzmq ignores them.

use bytes::Bytes;

use super::encode_command;
use crate::error::{Error, Result};
use crate::transmit_queue::TransmitQueue;

/// The ERROR command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCommand {
    /// Why the sender refuses the connection (at most 255 bytes).
    pub reason: Bytes,
}

impl ErrorCommand {
    /// Wire name.
    pub const NAME: &'static [u8] = b"ERROR";

    /// Parses the command data.
    pub fn parse(data: Bytes) -> Result<ErrorCommand> {
        let Some(&len) = data.first() else {
            return Err(Error::MalformedCommand {
                command: "ERROR",
                reason: "no reason length",
            });
        };
        if data.len() - 1 < len as usize {
            return Err(Error::MalformedCommand {
                command: "ERROR",
                reason: "the reason runs past the end",
            });
        }
        Ok(ErrorCommand {
            reason: data.slice(1..1 + len as usize),
        })
    }

    /// Appends the command frame; a reason over 255 bytes is cut at 255.
    pub fn encode(&self, out: &mut TransmitQueue) {
        let reason = &self.reason[..self.reason.len().min(255)];
        encode_command(out, Self::NAME, &[&[reason.len() as u8], reason]);
    }
}
