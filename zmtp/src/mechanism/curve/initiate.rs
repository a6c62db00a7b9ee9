//! CURVE INITIATE: the cookie back, and the client's long-term key with a
//! vouch, boxed between the two transient keys.
//!
//! ```text
//! initiate = %d8 "INITIATE" cookie short-nonce initiate-box   ; 257+ octets
//! initiate-box = Box[C + vouch + metadata](C' -> S'), nonce "CurveZMQINITIATE" + short-nonce
//! vouch = long-nonce Box[C' + S](C -> S'), nonce "VOUCH---" + long-nonce   ; 96 octets
//! ```

use bytes::Bytes;

use super::hello::malformed;
use super::welcome::COOKIE_LEN;
use crate::command::encode_command;
use crate::error::Result;
use crate::transmit_queue::TransmitQueue;

/// Length of the vouch: its 16-byte nonce and an 80-byte box.
pub(crate) const VOUCH_LEN: usize = 16 + 80;

/// The INITIATE command's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CurveInitiate {
    /// The cookie from WELCOME, as it came.
    pub cookie: Bytes,
    /// The short nonce of the initiate box.
    pub nonce: [u8; 8],
    /// Box[C + vouch + metadata](C' -> S').
    pub sealed: Bytes,
}

impl CurveInitiate {
    pub(crate) const NAME: &'static [u8] = b"INITIATE";
    /// libzmq's minimum: 257 octets in all, the name included.
    const MIN_DATA_LEN: usize = COOKIE_LEN + 8 + 144;

    pub(crate) fn encode(&self, out: &mut TransmitQueue) {
        encode_command(out, Self::NAME, &[&self.cookie, &self.nonce, &self.sealed]);
    }

    pub(crate) fn parse(data: Bytes) -> Result<Self> {
        if data.len() < Self::MIN_DATA_LEN {
            return Err(malformed("INITIATE", "it is shorter than 257 bytes"));
        }
        let mut nonce = [0u8; 8];
        nonce.copy_from_slice(&data[COOKIE_LEN..COOKIE_LEN + 8]);
        Ok(CurveInitiate {
            cookie: data.slice(..COOKIE_LEN),
            nonce,
            sealed: data.slice(COOKIE_LEN + 8..),
        })
    }
}
