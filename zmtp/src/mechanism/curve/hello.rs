//! CURVE HELLO: the client's transient public key and proof that it holds
//! the secret half, addressed to the server's long-term key.
//!
//! ```text
//! hello = %d5 "HELLO" version padding C' short-nonce signature   ; 200 octets
//! version = %x1 %x0
//! padding = 72%x00            ; makes HELLO larger than WELCOME (anti-amplification)
//! signature = Box[64 * %x00](C' -> S), nonce "CurveZMQHELLO---" + short-nonce
//! ```
//! libzmq checks the size (exactly 200) and the version, not the padding; so
//! do we.

use bytes::{Bytes, BytesMut};

use super::keys::{CurvePublicKey, KEY_LEN};
use crate::command::encode_command;
use crate::error::{Error, Result};
use crate::transmit_queue::TransmitQueue;

/// The HELLO command's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CurveHello {
    /// The client's transient public key C'.
    pub client_transient: CurvePublicKey,
    /// The short nonce of the signature box.
    pub nonce: [u8; 8],
    /// Box[64 zeros](C' -> S).
    pub signature: Bytes,
}

impl CurveHello {
    pub(crate) const NAME: &'static [u8] = b"HELLO";
    const DATA_LEN: usize = 2 + 72 + KEY_LEN + 8 + 80;

    pub(crate) fn encode(&self, out: &mut TransmitQueue) {
        let mut data = BytesMut::with_capacity(Self::DATA_LEN);
        data.extend_from_slice(&[1, 0]);
        data.extend_from_slice(&[0; 72]);
        data.extend_from_slice(self.client_transient.as_bytes());
        data.extend_from_slice(&self.nonce);
        data.extend_from_slice(&self.signature);
        encode_command(out, Self::NAME, &[&data]);
    }

    pub(crate) fn parse(data: Bytes) -> Result<Self> {
        if data.len() != Self::DATA_LEN {
            return Err(malformed("HELLO", "it is not 200 bytes"));
        }
        if data[..2] != [1, 0] {
            return Err(malformed(
                "HELLO",
                "unsupported CurveZMQ version (only 1.0 is spoken)",
            ));
        }
        let key_at = 2 + 72;
        let mut key = [0u8; KEY_LEN];
        key.copy_from_slice(&data[key_at..key_at + KEY_LEN]);
        let mut nonce = [0u8; 8];
        nonce.copy_from_slice(&data[key_at + KEY_LEN..key_at + KEY_LEN + 8]);
        Ok(CurveHello {
            client_transient: CurvePublicKey::from_bytes(key),
            nonce,
            signature: data.slice(key_at + KEY_LEN + 8..),
        })
    }
}

/// A CURVE command that does not follow its grammar.
pub(super) fn malformed(command: &'static str, reason: &'static str) -> Error {
    Error::MalformedCommand { command, reason }
}
