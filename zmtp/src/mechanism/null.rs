//! NULL: no security. Each side sends READY and waits for the other's.
//!
//! ```text
//! null = C:ready S:ready      ; in either order, or ERROR instead
//!
//!   start ──send READY──▶ WaitReady ──READY (checked)──▶ Complete
//! ```

use bytes::Bytes;

use super::{unexpected, HandshakeStatus, LocalProperties, Mechanism};
use crate::command::Ready;
use crate::error::Result;
use crate::peer::check_peer_metadata;
use crate::transmit_queue::TransmitQueue;

/// The NULL mechanism, for either role.
#[derive(Debug, Default)]
pub struct NullMechanism {
    _private: (),
}

impl NullMechanism {
    /// A new NULL handshake.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Mechanism for NullMechanism {
    fn name(&self) -> &'static str {
        "NULL"
    }

    fn as_server(&self) -> bool {
        false
    }

    fn start(
        &mut self,
        local: &LocalProperties,
        out: &mut TransmitQueue,
    ) -> Result<HandshakeStatus> {
        Ready {
            metadata: local.metadata.clone(),
        }
        .encode(out);
        Ok(HandshakeStatus::InProgress)
    }

    fn on_command(
        &mut self,
        local: &LocalProperties,
        name: Bytes,
        data: Bytes,
        _out: &mut TransmitQueue,
    ) -> Result<HandshakeStatus> {
        if &name[..] != Ready::NAME {
            return Err(unexpected(&name, self.expecting()));
        }
        let ready = Ready::parse(data)?;
        Ok(HandshakeStatus::Complete {
            peer: check_peer_metadata(local.socket_type, ready.metadata)?,
            codec: None,
        })
    }

    fn expecting(&self) -> &'static str {
        "READY"
    }
}
