//! PLAIN, server side (RFC 24).
//!
//! ```text
//!   start ──▶ WaitHello ──HELLO, admitted / send WELCOME──▶ WaitInitiate
//!   WaitHello ──HELLO, refused / send ERROR──▶ closed
//!   WaitHello ──HELLO, admission deferred──▶ WaitDecision ──decision──▶ (as above)
//!   WaitInitiate ──INITIATE (checked) / send READY──▶ Complete
//! ```

use bytes::Bytes;

use super::authenticator::{decide_now, is_temporary, refusal_code, Admitted};
use super::{
    unexpected, Admission, AuthDecision, Credentials, HandshakeStatus, LocalProperties, Mechanism,
    PresentedCredentials,
};
use crate::command::{ErrorCommand, Hello, Initiate, Ready, Welcome};
use crate::error::{Error, Result};
use crate::peer::check_peer_metadata;
use crate::transmit_queue::TransmitQueue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    WaitHello,
    WaitDecision,
    WaitInitiate,
    Done,
}

/// The PLAIN server handshake.
pub struct PlainServer {
    admission: Admission,
    /// What the decision gave the client (User-Id, the handler's properties).
    admitted: Admitted,
    state: State,
}

impl std::fmt::Debug for PlainServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainServer")
            .field("state", &self.state)
            .field("admitted", &self.admitted)
            .finish_non_exhaustive()
    }
}

impl PlainServer {
    /// A server whose clients are admitted by `admission`.
    pub fn new(admission: Admission) -> Self {
        PlainServer {
            admission,
            admitted: Admitted::default(),
            state: State::WaitHello,
        }
    }

    /// Acts on the decision about the client's HELLO.
    fn decided(
        &mut self,
        decision: AuthDecision,
        out: &mut TransmitQueue,
    ) -> Result<HandshakeStatus> {
        match decision {
            AuthDecision::Accept {
                user_id,
                properties,
            } => {
                self.admitted = Admitted::new(user_id, properties);
                Welcome.encode(out);
                self.state = State::WaitInitiate;
                Ok(HandshakeStatus::InProgress)
            }
            AuthDecision::Deny { reason } if is_temporary(&reason) => {
                self.state = State::Done;
                Ok(HandshakeStatus::InProgress)
            }
            AuthDecision::Deny { reason } => {
                ErrorCommand {
                    reason: Bytes::from_static(refusal_code(&reason).as_bytes()),
                }
                .encode_libzmq_plain(out);
                self.state = State::Done;
                Err(Error::AuthenticationDenied { reason })
            }
            AuthDecision::HandlerFailed(problem) => Err(Error::ZapReply(problem)),
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
                let credentials = Credentials::Plain {
                    username: &hello.username,
                    password: &hello.password,
                };
                match decide_now(&self.admission, &credentials) {
                    Some(decision) => self.decided(decision, out),
                    None => {
                        self.state = State::WaitDecision;
                        Ok(HandshakeStatus::Authenticate(PresentedCredentials::Plain {
                            username: hello.username,
                            password: hello.password,
                        }))
                    }
                }
            }
            State::WaitInitiate if &name[..] == Initiate::NAME => {
                let initiate = Initiate::parse(data)?;
                let mut peer = check_peer_metadata(local.socket_type, initiate.metadata)?;
                // Exposed locally only, as libzmq does; READY carries our own properties.
                std::mem::take(&mut self.admitted).apply_to(&mut peer);
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

    fn on_admission(
        &mut self,
        _local: &LocalProperties,
        decision: AuthDecision,
        out: &mut TransmitQueue,
    ) -> Result<HandshakeStatus> {
        if self.state != State::WaitDecision {
            return Err(Error::InvalidConfig {
                field: "admission",
                reason: "PLAIN asked for no decision".into(),
            });
        }
        self.decided(decision, out)
    }

    fn expecting(&self) -> &'static str {
        match self.state {
            State::WaitHello => "HELLO",
            State::WaitDecision => "nothing until the client is admitted",
            State::WaitInitiate => "INITIATE",
            State::Done => "no more handshake commands",
        }
    }
}
