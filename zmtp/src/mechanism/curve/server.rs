//! CURVE, server side (RFC 26, as libzmq 4.3 speaks it).
//!
//! ```text
//!   start ──▶ WaitHello
//!   WaitHello ──HELLO opens with (C', s) / send WELCOME──▶ WaitInitiate
//!   WaitInitiate ──INITIATE: cookie, box and vouch open, client admitted
//!                  / send READY──▶ Complete (MESSAGE codec)
//!   WaitInitiate ──client refused / send ERROR (in clear)──▶ closed
//!   WaitInitiate ──admission deferred──▶ WaitDecision ──decision──▶ (as above)
//! ```
//! The cookie key lives from WELCOME to INITIATE and is then wiped; the
//! transient secret key s' is wiped once the session key is derived. Nonces:
//! READY uses short nonce 1, our first MESSAGE 2, as libzmq's server.

use bytes::{BufMut, Bytes, BytesMut};
use zeroize::{Zeroize, Zeroizing};

use super::cryptobox::{nonce, random, BoxKey};
use super::hello::CurveHello;
use super::initiate::{CurveInitiate, VOUCH_LEN};
use super::keys::{CurveKeyPair, CurvePublicKey, CurveSecretKey, KEY_LEN};
use super::message::{CurveCodec, Side};
use super::ready::CurveReady;
use super::welcome::CurveWelcome;
use crate::command::ErrorCommand;
use crate::error::{Error, Result};
use crate::mechanism::authenticator::{decide_now, is_temporary, refusal_code, Admitted};
use crate::mechanism::{
    unexpected, Admission, AuthDecision, Credentials, HandshakeStatus, LocalProperties, Mechanism,
    PresentedCredentials,
};
use crate::metadata::Metadata;
use crate::peer::check_peer_metadata;
use crate::transmit_queue::TransmitQueue;

/// What the server holds between WELCOME and INITIATE.
struct Welcomed {
    /// C': the client's transient public key, from HELLO.
    client_transient: CurvePublicKey,
    /// HELLO's short nonce: INITIATE's must be above it.
    hello_nonce: u64,
    /// K: opens the cookie. Wiped when dropped.
    cookie_key: Zeroizing<[u8; 32]>,
    /// s': what the cookie holds, kept to compare (libzmq does the same).
    transient_secret: CurveSecretKey,
}

/// What the server holds while the layer above decides about a client.
struct Initiated {
    session: BoxKey,
    metadata: Bytes,
    initiate_nonce: u64,
}

enum State {
    WaitHello,
    WaitInitiate(Box<Welcomed>),
    WaitDecision(Box<Initiated>),
    Done,
}

/// The CURVE server handshake.
pub struct CurveServer {
    /// S and s: the server's long-term pair.
    ours: CurveKeyPair,
    /// Decides which client keys get in.
    admission: Admission,
    /// The short nonce of our next command.
    next_nonce: u64,
    state: State,
}

impl std::fmt::Debug for CurveServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurveServer")
            .field("public", &self.ours.public)
            .field("expecting", &self.expecting())
            .finish_non_exhaustive()
    }
}

impl CurveServer {
    /// A server with the long-term pair `ours`, whose clients (by their
    /// long-term public keys) are admitted by `admission`.
    pub fn new(ours: CurveKeyPair, admission: Admission) -> Self {
        CurveServer {
            ours,
            admission,
            next_nonce: 1,
            state: State::WaitHello,
        }
    }

    fn on_hello(&mut self, data: Bytes, out: &mut TransmitQueue) -> Result<Box<Welcomed>> {
        let hello = CurveHello::parse(data)?;
        // One X25519 for both boxes of this exchange (HELLO's, WELCOME's).
        let hello_key = BoxKey::between(&hello.client_transient, &self.ours.secret);
        let signature = hello_key
            .open(&nonce(b"CurveZMQHELLO---", &hello.nonce), &hello.signature)
            .ok_or(Error::CurveBoxRejected { command: "HELLO" })?;
        if signature.iter().any(|&b| b != 0) {
            return Err(Error::MalformedCommand {
                command: "HELLO",
                reason: "its signature box does not hold 64 zero bytes",
            });
        }
        let transient = CurveKeyPair::generate();
        let cookie_key = Zeroizing::new(random::<32>());

        // The cookie: Box[C' + s'](K), which only this server can open.
        let cookie_nonce: [u8; 16] = random();
        let mut remembered = Zeroizing::new([0u8; 2 * KEY_LEN]);
        remembered[..KEY_LEN].copy_from_slice(hello.client_transient.as_bytes());
        remembered[KEY_LEN..].copy_from_slice(&transient.secret.to_bytes()[..]);
        // S' and the sealed cookie: nothing secret in clear here.
        let mut plain = BytesMut::with_capacity(KEY_LEN + 96);
        plain.put_slice(transient.public.as_bytes());
        plain.put_slice(&cookie_nonce);
        BoxKey::secret(&cookie_key).seal_into(
            &nonce(b"COOKIE--", &cookie_nonce),
            &remembered[..],
            &mut plain,
        );

        let welcome_nonce: [u8; 16] = random();
        let mut sealed = BytesMut::with_capacity(144);
        hello_key.seal_into(&nonce(b"WELCOME-", &welcome_nonce), &plain, &mut sealed);
        CurveWelcome {
            nonce: welcome_nonce,
            sealed: sealed.freeze(),
        }
        .encode(out);
        Ok(Box::new(Welcomed {
            client_transient: hello.client_transient,
            hello_nonce: u64::from_be_bytes(hello.nonce),
            cookie_key,
            transient_secret: transient.secret,
        }))
    }

    /// Opens INITIATE: the client's long-term key, the session key and the
    /// metadata, every box checked.
    fn open_initiate(
        &self,
        welcomed: &Welcomed,
        initiate: &CurveInitiate,
    ) -> Result<(CurvePublicKey, BoxKey, Bytes)> {
        let mut cookie = BoxKey::secret(&welcomed.cookie_key)
            .open(
                &nonce(b"COOKIE--", &initiate.cookie[..16]),
                &initiate.cookie[16..],
            )
            .ok_or(Error::CurveBoxRejected {
                command: "INITIATE cookie",
            })?;
        let ours = cookie[..KEY_LEN] == welcomed.client_transient.as_bytes()[..]
            && cookie[KEY_LEN..] == welcomed.transient_secret.to_bytes()[..];
        // The opened cookie holds s' in clear.
        cookie[..].zeroize();
        if !ours {
            return Err(Error::CurveKeyExchange("the cookie is not the one we sent"));
        }
        if u64::from_be_bytes(initiate.nonce) <= welcomed.hello_nonce {
            return Err(Error::CurveNonceReused {
                nonce: u64::from_be_bytes(initiate.nonce),
                last: welcomed.hello_nonce,
            });
        }
        let session = BoxKey::between(&welcomed.client_transient, &welcomed.transient_secret);
        let plain = session
            .open(
                &nonce(b"CurveZMQINITIATE", &initiate.nonce),
                &initiate.sealed,
            )
            .ok_or(Error::CurveBoxRejected {
                command: "INITIATE",
            })?;
        if plain.len() < KEY_LEN + VOUCH_LEN {
            return Err(Error::MalformedCommand {
                command: "INITIATE",
                reason: "its box is too short for a key and a vouch",
            });
        }
        let client = CurvePublicKey::from_bytes(plain[..KEY_LEN].try_into().expect("checked"));
        let vouch = &plain[KEY_LEN..KEY_LEN + VOUCH_LEN];
        let vouched = BoxKey::between(&client, &welcomed.transient_secret)
            .open(&nonce(b"VOUCH---", &vouch[..16]), &vouch[16..])
            .ok_or(Error::CurveBoxRejected {
                command: "INITIATE vouch",
            })?;
        if vouched[..KEY_LEN] != welcomed.client_transient.as_bytes()[..] {
            return Err(Error::CurveKeyExchange(
                "the vouch is for another transient key",
            ));
        }
        if vouched[KEY_LEN..] != self.ours.public.as_bytes()[..] {
            return Err(Error::CurveKeyExchange(
                "the vouch is for another server key",
            ));
        }
        let metadata = Bytes::copy_from_slice(&plain[KEY_LEN + VOUCH_LEN..]);
        Ok((client, session, metadata))
    }

    fn on_initiate(
        &mut self,
        local: &LocalProperties,
        welcomed: Box<Welcomed>,
        data: Bytes,
        out: &mut TransmitQueue,
    ) -> Result<HandshakeStatus> {
        let initiate = CurveInitiate::parse(data)?;
        let (client, session, metadata) = self.open_initiate(&welcomed, &initiate)?;
        // The cookie key and s' are no longer needed: wipe them now.
        drop(welcomed);
        let initiated = Box::new(Initiated {
            session,
            metadata,
            initiate_nonce: u64::from_be_bytes(initiate.nonce),
        });
        match decide_now(&self.admission, &Credentials::Curve { public_key: client }) {
            Some(decision) => self.decided(local, *initiated, decision, out),
            None => {
                self.state = State::WaitDecision(initiated);
                Ok(HandshakeStatus::Authenticate(PresentedCredentials::Curve(
                    client,
                )))
            }
        }
    }

    /// READY, or ERROR in clear (the client has no session key it could
    /// trust yet), as libzmq sends them.
    fn decided(
        &mut self,
        local: &LocalProperties,
        initiated: Initiated,
        decision: AuthDecision,
        out: &mut TransmitQueue,
    ) -> Result<HandshakeStatus> {
        let admitted = match decision {
            AuthDecision::Accept {
                user_id,
                properties,
            } => Admitted::new(user_id, properties),
            AuthDecision::Deny { reason } if is_temporary(&reason) => {
                return Ok(HandshakeStatus::InProgress);
            }
            AuthDecision::Deny { reason } => {
                ErrorCommand {
                    reason: Bytes::from_static(refusal_code(&reason).as_bytes()),
                }
                .encode(out);
                return Err(Error::AuthenticationDenied { reason });
            }
            AuthDecision::HandlerFailed(problem) => return Err(Error::ZapReply(problem)),
        };
        let Initiated {
            session,
            metadata,
            initiate_nonce,
            ..
        } = initiated;
        let mut peer = check_peer_metadata(local.socket_type, Metadata::parse(&metadata)?)?;
        admitted.apply_to(&mut peer);

        let short = self.next_nonce.to_be_bytes();
        self.next_nonce += 1;
        let mut sealed = BytesMut::with_capacity(local.metadata.encoded_len() + 16);
        session.seal_into(
            &nonce(b"CurveZMQREADY---", &short),
            &local.metadata.encode(),
            &mut sealed,
        );
        CurveReady {
            nonce: short,
            sealed: sealed.freeze(),
        }
        .encode(out);
        let codec = CurveCodec::new(session, Side::Server, self.next_nonce, initiate_nonce);
        Ok(HandshakeStatus::Complete {
            peer,
            codec: Some(Box::new(codec)),
        })
    }
}

impl Mechanism for CurveServer {
    fn name(&self) -> &'static str {
        "CURVE"
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
        match std::mem::replace(&mut self.state, State::Done) {
            State::WaitHello if &name[..] == CurveHello::NAME => {
                let welcomed = self.on_hello(data, out)?;
                self.state = State::WaitInitiate(welcomed);
                Ok(HandshakeStatus::InProgress)
            }
            State::WaitInitiate(welcomed) if &name[..] == CurveInitiate::NAME => {
                self.on_initiate(local, welcomed, data, out)
            }
            state => {
                self.state = state;
                Err(unexpected(&name, self.expecting()))
            }
        }
    }

    fn on_admission(
        &mut self,
        local: &LocalProperties,
        decision: AuthDecision,
        out: &mut TransmitQueue,
    ) -> Result<HandshakeStatus> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::WaitDecision(initiated) => self.decided(local, *initiated, decision, out),
            state => {
                self.state = state;
                Err(Error::InvalidConfig {
                    field: "admission",
                    reason: "CURVE asked for no decision".into(),
                })
            }
        }
    }

    fn expecting(&self) -> &'static str {
        match self.state {
            State::WaitHello => "HELLO",
            State::WaitInitiate(_) => "INITIATE",
            State::WaitDecision(_) => "nothing until the client is admitted",
            State::Done => "no more handshake commands",
        }
    }
}
