//! CURVE WELCOME: the server's transient key and the cookie, boxed from the
//! server's long-term key to the client's transient key.
//!
//! ```text
//! welcome = %d7 "WELCOME" long-nonce welcome-box            ; 168 octets
//! welcome-box = Box[S' + cookie](S -> C'), nonce "WELCOME-" + long-nonce
//! cookie = long-nonce Box[C' + s'](K), nonce "COOKIE--" + long-nonce   ; 96 octets
//! ```
//! The cookie is the server's only memory of its transient secret key s'
//! between WELCOME and INITIATE; K is a key only the server knows.

use bytes::Bytes;

use super::hello::malformed;
use crate::command::encode_command;
use crate::error::Result;
use crate::transmit_queue::TransmitQueue;

/// Length of a cookie: its 16-byte nonce and an 80-byte box.
pub(crate) const COOKIE_LEN: usize = 16 + 80;

/// The WELCOME command's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CurveWelcome {
    /// The long nonce of the welcome box.
    pub nonce: [u8; 16],
    /// Box[S' + cookie](S -> C'): 144 bytes.
    pub sealed: Bytes,
}

impl CurveWelcome {
    pub(crate) const NAME: &'static [u8] = b"WELCOME";
    const DATA_LEN: usize = 16 + 144;

    pub(crate) fn encode(&self, out: &mut TransmitQueue) {
        encode_command(out, Self::NAME, &[&self.nonce, &self.sealed]);
    }

    pub(crate) fn parse(data: Bytes) -> Result<Self> {
        if data.len() != Self::DATA_LEN {
            return Err(malformed("WELCOME", "it is not 168 bytes"));
        }
        let mut nonce = [0u8; 16];
        nonce.copy_from_slice(&data[..16]);
        Ok(CurveWelcome {
            nonce,
            sealed: data.slice(16..),
        })
    }
}
