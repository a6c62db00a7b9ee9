//! PLAIN, client side (RFC 24).
//!
//! ```text
//!   start ──send HELLO──▶ WaitWelcome ──WELCOME / send INITIATE──▶ WaitReady
//!   WaitReady ──READY (checked)──▶ Complete
//!   (ERROR in any state ends the handshake; the session handles it)
//! ```

use bytes::Bytes;

use super::{unexpected, HandshakeStatus, LocalProperties, Mechanism};
use crate::command::{Hello, Initiate, Ready, Welcome};
use crate::error::Result;
use crate::peer::check_peer_metadata;
use crate::transmit_queue::TransmitQueue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    WaitWelcome,
    WaitReady,
    Done,
}

/// The PLAIN client handshake.
pub struct PlainClient {
    username: Bytes,
    password: Bytes,
    state: State,
}

impl std::fmt::Debug for PlainClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainClient")
            .field("username", &self.username)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl PlainClient {
    /// A client presenting these credentials (each at most 255 bytes).
    pub fn new(username: Bytes, password: Bytes) -> Self {
        PlainClient {
            username,
            password,
            state: State::Start,
        }
    }
}

impl Mechanism for PlainClient {
    fn name(&self) -> &'static str {
        "PLAIN"
    }

    fn as_server(&self) -> bool {
        false
    }

    fn start(
        &mut self,
        _local: &LocalProperties,
        out: &mut TransmitQueue,
    ) -> Result<HandshakeStatus> {
        Hello {
            username: self.username.clone(),
            password: self.password.clone(),
        }
        .encode(out);
        self.state = State::WaitWelcome;
        Ok(HandshakeStatus::InProgress)
    }

    fn on_command(
        &mut self,
        local: &LocalProperties,
        name: Bytes,
        data: Bytes,
        out: &mut TransmitQueue,
    ) -> Result<HandshakeStatus> {
        match self.state {
            State::WaitWelcome if &name[..] == Welcome::NAME => {
                Welcome::parse(data)?;
                Initiate {
                    metadata: local.metadata.clone(),
                }
                .encode(out);
                self.state = State::WaitReady;
                Ok(HandshakeStatus::InProgress)
            }
            State::WaitReady if &name[..] == Ready::NAME => {
                let ready = Ready::parse(data)?;
                let peer = check_peer_metadata(local.socket_type, ready.metadata)?;
                self.state = State::Done;
                Ok(HandshakeStatus::Complete { peer, codec: None })
            }
            _ => Err(unexpected(&name, self.expecting())),
        }
    }

    fn expecting(&self) -> &'static str {
        match self.state {
            State::Start => "nothing before the greeting",
            State::WaitWelcome => "WELCOME",
            State::WaitReady => "READY",
            State::Done => "no more handshake commands",
        }
    }
}
