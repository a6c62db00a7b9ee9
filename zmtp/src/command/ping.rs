//! PING (ZMTP 3.1): a heartbeat request.
//!
//! ```text
//! ping         = command-size %d4 "PING" ping-ttl ping-context
//! ping-ttl     = 2OCTET          ; big-endian, tenths of a second, 0 = none
//! ping-context = 0*16OCTET
//! ```
//! A context longer than 16 bytes is accepted and cut to 16 when echoed, as libzmq
//! does. A PING too short to hold its TTL is refused (libzmq would read past it).

use std::time::Duration;

use bytes::Bytes;

use super::encode_command;
use crate::error::{Error, Result};
use crate::transmit_queue::TransmitQueue;

/// The PING command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    /// Time-to-live hint in tenths of a second (0: none).
    pub ttl_deciseconds: u16,
    /// Opaque context the peer must echo in PONG.
    pub context: Bytes,
}

impl Ping {
    /// Wire name.
    pub const NAME: &'static [u8] = b"PING";

    /// The TTL as a duration, or `None` when zero.
    pub fn ttl(&self) -> Option<Duration> {
        (self.ttl_deciseconds > 0).then(|| Duration::from_millis(self.ttl_deciseconds as u64 * 100))
    }

    /// Parses the command data.
    pub fn parse(data: Bytes) -> Result<Ping> {
        if data.len() < 2 {
            return Err(Error::MalformedCommand {
                command: "PING",
                reason: "shorter than its 2-byte TTL",
            });
        }
        Ok(Ping {
            ttl_deciseconds: u16::from_be_bytes([data[0], data[1]]),
            context: data.slice(2..),
        })
    }

    /// Appends the command frame.
    pub fn encode(&self, out: &mut TransmitQueue) {
        encode_command(
            out,
            Self::NAME,
            &[&self.ttl_deciseconds.to_be_bytes(), &self.context],
        );
    }
}
