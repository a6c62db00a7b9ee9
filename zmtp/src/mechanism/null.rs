//! NULL: no security. Each side sends READY and waits for the other's.
//!
//! ```text
//! null = C:ready S:ready      ; in either order, or ERROR instead
//!
//!   start ──send READY──▶ WaitReady ──READY (checked)──▶ Complete
//!
//! with an admission (libzmq's NULL with a ZAP domain), our READY waits for
//! the decision; the peer's READY may come first and is kept:
//!   start ──(deferred)──▶ WaitDecision ──admitted / send READY──▶ WaitReady or Complete
//!   WaitDecision ──refused / send ERROR──▶ closed
//! ```

use bytes::Bytes;

use super::authenticator::{decide_now, is_temporary, refusal_code, Admitted};
use super::{
    unexpected, Admission, AuthDecision, Credentials, HandshakeStatus, LocalProperties, Mechanism,
    PresentedCredentials,
};
use crate::command::{ErrorCommand, Ready};
use crate::error::{Error, Result};
use crate::metadata::Metadata;
use crate::peer::check_peer_metadata;
use crate::transmit_queue::TransmitQueue;

/// The NULL mechanism, for either role.
#[derive(Debug)]
pub struct NullMechanism {
    admission: Option<Admission>,
    /// Our READY went out.
    ready_sent: bool,
    /// The peer's READY, received while our decision was pending.
    peer_ready: Option<Metadata>,
    /// What the decision gave the peer (User-Id, the handler's properties).
    admitted: Admitted,
}

impl Default for NullMechanism {
    fn default() -> Self {
        Self::new()
    }
}

impl NullMechanism {
    /// A new NULL handshake.
    pub fn new() -> Self {
        NullMechanism {
            admission: None,
            ready_sent: false,
            peer_ready: None,
            admitted: Admitted::default(),
        }
    }

    /// NULL whose peer `admission` must admit before our READY goes out.
    pub fn with_admission(admission: Admission) -> Self {
        NullMechanism {
            admission: Some(admission),
            ..Self::new()
        }
    }

    fn send_ready(&mut self, local: &LocalProperties, out: &mut TransmitQueue) {
        Ready {
            metadata: local.metadata.clone(),
        }
        .encode(out);
        self.ready_sent = true;
    }

    fn complete(&mut self, local: &LocalProperties, metadata: Metadata) -> Result<HandshakeStatus> {
        let mut peer = check_peer_metadata(local.socket_type, metadata)?;
        std::mem::take(&mut self.admitted).apply_to(&mut peer);
        Ok(HandshakeStatus::Complete { peer, codec: None })
    }

    fn decided(
        &mut self,
        local: &LocalProperties,
        decision: AuthDecision,
        out: &mut TransmitQueue,
    ) -> Result<HandshakeStatus> {
        match decision {
            AuthDecision::Accept {
                user_id,
                properties,
            } => {
                self.admitted = Admitted::new(user_id, properties);
                self.send_ready(local, out);
                match self.peer_ready.take() {
                    Some(metadata) => self.complete(local, metadata),
                    None => Ok(HandshakeStatus::InProgress),
                }
            }
            AuthDecision::Deny { reason } if is_temporary(&reason) => {
                Ok(HandshakeStatus::InProgress)
            }
            AuthDecision::Deny { reason } => {
                ErrorCommand {
                    reason: Bytes::from_static(refusal_code(&reason).as_bytes()),
                }
                .encode(out);
                Err(Error::AuthenticationDenied { reason })
            }
            AuthDecision::HandlerFailed(problem) => Err(Error::ZapReply(problem)),
        }
    }
}

impl Mechanism for NullMechanism {
    fn name(&self) -> &'static str {
        "NULL"
    }

    fn serves_legacy_peers(&self) -> bool {
        self.admission.is_none()
    }

    fn as_server(&self) -> bool {
        false
    }

    fn start(
        &mut self,
        local: &LocalProperties,
        out: &mut TransmitQueue,
    ) -> Result<HandshakeStatus> {
        let Some(admission) = &self.admission else {
            self.send_ready(local, out);
            return Ok(HandshakeStatus::InProgress);
        };
        match decide_now(admission, &Credentials::Null) {
            Some(decision) => self.decided(local, decision, out),
            None => Ok(HandshakeStatus::Authenticate(PresentedCredentials::Null)),
        }
    }

    fn on_command(
        &mut self,
        local: &LocalProperties,
        name: Bytes,
        data: Bytes,
        _out: &mut TransmitQueue,
    ) -> Result<HandshakeStatus> {
        if &name[..] != Ready::NAME || self.peer_ready.is_some() {
            return Err(unexpected(&name, self.expecting()));
        }
        let ready = Ready::parse(data)?;
        if !self.ready_sent {
            // Our decision is pending: keep the peer's READY until it comes.
            self.peer_ready = Some(ready.metadata);
            return Ok(HandshakeStatus::InProgress);
        }
        self.complete(local, ready.metadata)
    }

    fn on_admission(
        &mut self,
        local: &LocalProperties,
        decision: AuthDecision,
        out: &mut TransmitQueue,
    ) -> Result<HandshakeStatus> {
        if self.ready_sent {
            return Err(Error::InvalidConfig {
                field: "admission",
                reason: "NULL asked for no decision".into(),
            });
        }
        self.decided(local, decision, out)
    }

    fn expecting(&self) -> &'static str {
        "READY"
    }
}
