//! PLAIN, server side (RFC 24).
//!
//! ```text
//!   start ──▶ WaitHello ──HELLO, authenticator accepts / send WELCOME──▶ WaitInitiate
//!   WaitHello ──HELLO, authenticator denies / send ERROR──▶ closed
//!   WaitInitiate ──INITIATE (checked) / send READY──▶ Complete
//! ```

use std::sync::Arc;

use bytes::Bytes;

use super::{
    unexpected, AuthDecision, Authenticator, Credentials, HandshakeStatus, LocalProperties,
    Mechanism,
};
use crate::command::{ErrorCommand, Hello, Initiate, Ready, Welcome};
use crate::error::{Error, Result};
use crate::metadata;
use crate::peer::check_peer_metadata;
use crate::transmit_queue::TransmitQueue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    WaitHello,
    WaitInitiate,
    Done,
}

/// The PLAIN server handshake.
pub struct PlainServer {
    authenticator: Arc<dyn Authenticator>,
    user_id: Option<Bytes>,
    state: State,
}

impl std::fmt::Debug for PlainServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainServer")
            .field("state", &self.state)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl PlainServer {
    /// A server that asks `authenticator` about the client.
    pub fn new(authenticator: Arc<dyn Authenticator>) -> Self {
        PlainServer {
            authenticator,
            user_id: None,
            state: State::WaitHello,
        }
    }
}

impl Mechanism for PlainServer {
    fn name(&self) -> &'static str {
        "PLAIN"
    }

    fn as_server(&self) -> bool {
        true
    }

    fn start(
        &mut self,
        _local: &LocalProperties,
        _out: &mut TransmitQueue,
    ) -> Result<HandshakeStatus> {
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
            State::WaitHello if &name[..] == Hello::NAME => {
                let hello = Hello::parse(data)?;
                let decision = self.authenticator.authenticate(&Credentials::Plain {
                    username: &hello.username,
                    password: &hello.password,
                });
                match decision {
                    AuthDecision::Accept { user_id } => {
                        self.user_id = user_id;
                        Welcome.encode(out);
                        self.state = State::WaitInitiate;
                        Ok(HandshakeStatus::InProgress)
                    }
                    AuthDecision::Deny { reason } => {
                        ErrorCommand {
                            reason: Bytes::copy_from_slice(reason.as_bytes()),
                        }
                        .encode(out);
                        self.state = State::Done;
                        Err(Error::AuthenticationDenied { reason })
                    }
                }
            }
            State::WaitInitiate if &name[..] == Initiate::NAME => {
                let initiate = Initiate::parse(data)?;
                let mut peer = check_peer_metadata(local.socket_type, initiate.metadata)?;
                if let Some(user_id) = &self.user_id {
                    // Exposed locally only, as libzmq does; READY carries our own properties.
                    peer.metadata.push(metadata::USER_ID, user_id.clone());
                }
                peer.user_id = self.user_id.clone();
                Ready {
                    metadata: local.metadata.clone(),
                }
                .encode(out);
                self.state = State::Done;
                Ok(HandshakeStatus::Complete { peer, codec: None })
            }
            _ => Err(unexpected(&name, self.expecting())),
        }
    }

    fn expecting(&self) -> &'static str {
        match self.state {
            State::WaitHello => "HELLO",
            State::WaitInitiate => "INITIATE",
            State::Done => "no more handshake commands",
        }
    }
}
