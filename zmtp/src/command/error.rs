//! ERROR: a fatal refusal, with a short reason.
//!
//! ```text
//! error  = command-size %d5 "ERROR" reason
//! reason = OCTET 0*255VCHAR
//! ```
//! Bytes after the reason are ignored, as libzmq ignores them.
//!
//! libzmq 4.3's PLAIN writes the name as the C literal `"\x05ERROR"`, which
//! C reads as the byte 0x5E (the hex escape swallows the `E`) and `RROR`: a
//! 5-byte prefix `^RROR` with no name length, and its PLAIN client looks for
//! exactly that. A PLAIN server here sends that form ([`encode_libzmq_plain`]
//! (ErrorCommand::encode_libzmq_plain)), so that libzmq clients report the
//! refusal as an authentication failure, and every session accepts both.

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

    /// The body prefix libzmq 4.3's PLAIN uses instead of `\x05ERROR`.
    pub const LIBZMQ_PLAIN_PREFIX: &'static [u8] = b"\x5eRROR";

    /// The reason data of a body in libzmq 4.3's PLAIN form, if it is one.
    pub fn libzmq_plain_data(body: &Bytes) -> Option<Bytes> {
        body.starts_with(Self::LIBZMQ_PLAIN_PREFIX)
            .then(|| body.slice(Self::LIBZMQ_PLAIN_PREFIX.len()..))
    }

    /// Appends the command frame in libzmq 4.3's PLAIN form (see the
    /// module's comment); a reason over 255 bytes is cut at 255.
    pub fn encode_libzmq_plain(&self, out: &mut TransmitQueue) {
        let reason = &self.reason[..self.reason.len().min(255)];
        out.push_frame_parts(
            true,
            &[Self::LIBZMQ_PLAIN_PREFIX, &[reason.len() as u8], reason],
        );
    }

    /// Appends the command frame; a reason over 255 bytes is cut at 255.
    pub fn encode(&self, out: &mut TransmitQueue) {
        let reason = &self.reason[..self.reason.len().min(255)];
        encode_command(out, Self::NAME, &[&[reason.len() as u8], reason]);
    }
}
