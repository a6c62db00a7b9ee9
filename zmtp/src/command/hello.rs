//! HELLO: PLAIN's client credentials (RFC 24).
//!
//! ```text
//! hello    = command-size %d5 "HELLO" username password
//! username = OCTET *VCHAR
//! password = OCTET *VCHAR
//! ```
//! Nothing may follow the password (libzmq refuses trailing bytes too).

use bytes::Bytes;

use super::encode_command;
use crate::error::{Error, Result};
use crate::transmit_queue::TransmitQueue;

/// The HELLO command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// At most 255 bytes.
    pub username: Bytes,
    /// At most 255 bytes.
    pub password: Bytes,
}

fn malformed(reason: &'static str) -> Error {
    Error::MalformedCommand {
        command: "HELLO",
        reason,
    }
}

impl Hello {
    /// Wire name.
    pub const NAME: &'static [u8] = b"HELLO";

    /// Parses the command data.
    pub fn parse(data: Bytes) -> Result<Hello> {
        let user_len = *data.first().ok_or(malformed("no username length"))? as usize;
        if data.len() < 1 + user_len {
            return Err(malformed("the username runs past the end"));
        }
        let username = data.slice(1..1 + user_len);
        let rest = data.slice(1 + user_len..);
        let pass_len = *rest.first().ok_or(malformed("no password length"))? as usize;
        if rest.len() < 1 + pass_len {
            return Err(malformed("the password runs past the end"));
        }
        if rest.len() > 1 + pass_len {
            return Err(malformed("bytes follow the password"));
        }
        Ok(Hello {
            username,
            password: rest.slice(1..),
        })
    }

    /// Appends the command frame. Lengths above 255 are refused earlier, by
    /// [`SessionConfig::validate`](crate::SessionConfig::validate).
    pub fn encode(&self, out: &mut TransmitQueue) {
        encode_command(
            out,
            Self::NAME,
            &[
                &[self.username.len() as u8],
                &self.username,
                &[self.password.len() as u8],
                &self.password,
            ],
        );
    }
}
