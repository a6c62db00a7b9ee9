//! WELCOME: PLAIN's server accepts the client's HELLO (RFC 24).
//!
//! ```text
//! welcome = command-size %d7 "WELCOME"
//! ```
//! It carries no data; libzmq refuses a WELCOME with any, and so do we.

use bytes::Bytes;

use super::encode_command;
use crate::error::{Error, Result};
use crate::transmit_queue::TransmitQueue;

/// The WELCOME command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Welcome;

impl Welcome {
    /// Wire name.
    pub const NAME: &'static [u8] = b"WELCOME";

    /// Parses the command data, which must be empty.
    pub fn parse(data: Bytes) -> Result<Welcome> {
        if data.is_empty() {
            Ok(Welcome)
        } else {
            Err(Error::MalformedCommand {
                command: "WELCOME",
                reason: "WELCOME carries no data",
            })
        }
    }

    /// Appends the command frame.
    pub fn encode(&self, out: &mut TransmitQueue) {
        encode_command(out, Self::NAME, &[]);
    }
}
