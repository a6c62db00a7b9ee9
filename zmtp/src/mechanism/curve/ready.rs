//! CURVE READY: the server's metadata, boxed between the transient keys.
//!
//! ```text
//! ready = %d5 "READY" short-nonce ready-box                   ; 30+ octets
//! ready-box = Box[metadata](S' -> C'), nonce "CurveZMQREADY---" + short-nonce
//! ```

use bytes::Bytes;

use super::hello::malformed;
use crate::command::encode_command;
use crate::error::Result;
use crate::transmit_queue::TransmitQueue;

/// The READY command's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CurveReady {
    /// The server's short nonce.
    pub nonce: [u8; 8],
    /// Box[metadata](S' -> C').
    pub sealed: Bytes,
}

impl CurveReady {
    pub(crate) const NAME: &'static [u8] = b"READY";
    const MIN_DATA_LEN: usize = 8 + 16;

    pub(crate) fn encode(&self, out: &mut TransmitQueue) {
        encode_command(out, Self::NAME, &[&self.nonce, &self.sealed]);
    }

    pub(crate) fn parse(data: Bytes) -> Result<Self> {
        if data.len() < Self::MIN_DATA_LEN {
            return Err(malformed("READY", "it is shorter than 30 bytes"));
        }
        let mut nonce = [0u8; 8];
        nonce.copy_from_slice(&data[..8]);
        Ok(CurveReady {
            nonce,
            sealed: data.slice(8..),
        })
    }
}
