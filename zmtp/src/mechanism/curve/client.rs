//! CURVE, client side (RFC 26, as libzmq 4.3 speaks it).
//!
//! ```text
//!   start / send HELLO ──▶ WaitWelcome
//!   WaitWelcome ──WELCOME opens with (S, c') / send INITIATE──▶ WaitReady
//!   WaitReady ──READY opens with (S', c'), metadata checked──▶ Complete (MESSAGE codec)
//!   any state ──ERROR──▶ closed (the session handles ERROR)
//! ```
//! Nonces: HELLO uses short nonce 1, INITIATE 2, our first MESSAGE 3, as
//! libzmq's client. The transient key pair lives as long as the connection
//! and is wiped with it.

use bytes::{BufMut, Bytes, BytesMut};

use super::cryptobox::{nonce, random, BoxKey};
use super::hello::CurveHello;
use super::initiate::CurveInitiate;
use super::keys::{CurveKeyPair, CurvePublicKey, KEY_LEN};
use super::message::{CurveCodec, Side};
use super::ready::CurveReady;
use super::welcome::{CurveWelcome, COOKIE_LEN};
use crate::error::{Error, Result};
use crate::mechanism::{unexpected, HandshakeStatus, LocalProperties, Mechanism};
use crate::metadata::Metadata;
use crate::peer::check_peer_metadata;
use crate::transmit_queue::TransmitQueue;

#[derive(Debug)]
enum State {
    Start,
    /// HELLO sent.
    WaitWelcome,
    /// INITIATE sent; the key between S' and c' is ready for READY.
    WaitReady {
        session: BoxKey,
    },
    Done,
}

/// The CURVE client handshake.
#[derive(Debug)]
pub struct CurveClient {
    /// S: the server's long-term public key, which we must be given.
    server: CurvePublicKey,
    /// C and c: our long-term pair, which the server may check.
    ours: CurveKeyPair,
    /// C' and c': this connection's pair.
    transient: CurveKeyPair,
    /// The short nonce of our next command.
    next_nonce: u64,
    state: State,
}

impl CurveClient {
    /// A client of the server whose public key is `server`, presenting `ours`.
    pub fn new(server: CurvePublicKey, ours: CurveKeyPair) -> Self {
        CurveClient {
            server,
            ours,
            transient: CurveKeyPair::generate(),
            next_nonce: 1,
            state: State::Start,
        }
    }

    fn take_nonce(&mut self) -> [u8; 8] {
        let n = self.next_nonce;
        self.next_nonce += 1;
        n.to_be_bytes()
    }

    fn send_hello(&mut self, out: &mut TransmitQueue) {
        let short = self.take_nonce();
        let mut signature = BytesMut::with_capacity(80);
        BoxKey::between(&self.server, &self.transient.secret).seal_into(
            &nonce(b"CurveZMQHELLO---", &short),
            &[0; 64],
            &mut signature,
        );
        CurveHello {
            client_transient: self.transient.public,
            nonce: short,
            signature: signature.freeze(),
        }
        .encode(out);
    }

    fn on_welcome(
        &mut self,
        local: &LocalProperties,
        data: Bytes,
        out: &mut TransmitQueue,
    ) -> Result<BoxKey> {
        let welcome = CurveWelcome::parse(data)?;
        let opened = BoxKey::between(&self.server, &self.transient.secret)
            .open(&nonce(b"WELCOME-", &welcome.nonce), &welcome.sealed)
            .ok_or(Error::CurveBoxRejected { command: "WELCOME" })?;
        let server_transient =
            CurvePublicKey::from_bytes(opened[..KEY_LEN].try_into().expect("144-byte box"));
        let cookie = Bytes::copy_from_slice(&opened[KEY_LEN..KEY_LEN + COOKIE_LEN]);
        let session = BoxKey::between(&server_transient, &self.transient.secret);

        // The vouch: Box[C' + S](C -> S'), proof that the holder of C
        // speaks through C'.
        let vouch_nonce: [u8; 16] = random();
        let mut vouched = [0u8; 2 * KEY_LEN];
        vouched[..KEY_LEN].copy_from_slice(self.transient.public.as_bytes());
        vouched[KEY_LEN..].copy_from_slice(self.server.as_bytes());
        let mut plain = BytesMut::with_capacity(KEY_LEN + 96 + local.metadata.encoded_len());
        plain.put_slice(self.ours.public.as_bytes());
        plain.put_slice(&vouch_nonce);
        BoxKey::between(&server_transient, &self.ours.secret).seal_into(
            &nonce(b"VOUCH---", &vouch_nonce),
            &vouched,
            &mut plain,
        );
        local.metadata.encode_into(&mut plain);

        let short = self.take_nonce();
        let mut sealed = BytesMut::with_capacity(plain.len() + 16);
        session.seal_into(&nonce(b"CurveZMQINITIATE", &short), &plain, &mut sealed);
        CurveInitiate {
            cookie,
            nonce: short,
            sealed: sealed.freeze(),
        }
        .encode(out);
        Ok(session)
    }

    fn on_ready(
        &mut self,
        local: &LocalProperties,
        session: BoxKey,
        data: Bytes,
    ) -> Result<HandshakeStatus> {
        let ready = CurveReady::parse(data)?;
        let metadata = session
            .open(&nonce(b"CurveZMQREADY---", &ready.nonce), &ready.sealed)
            .ok_or(Error::CurveBoxRejected { command: "READY" })?;
        let peer = check_peer_metadata(local.socket_type, Metadata::parse(&metadata.freeze())?)?;
        let codec = CurveCodec::new(
            session,
            Side::Client,
            self.next_nonce,
            u64::from_be_bytes(ready.nonce),
        );
        Ok(HandshakeStatus::Complete {
            peer,
            codec: Some(Box::new(codec)),
        })
    }
}

impl Mechanism for CurveClient {
    fn name(&self) -> &'static str {
        "CURVE"
    }

    fn as_server(&self) -> bool {
        false
    }

    fn start(
        &mut self,
        _local: &LocalProperties,
        out: &mut TransmitQueue,
    ) -> Result<HandshakeStatus> {
        self.send_hello(out);
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
        match std::mem::replace(&mut self.state, State::Done) {
            State::WaitWelcome if &name[..] == CurveWelcome::NAME => {
                let session = self.on_welcome(local, data, out)?;
                self.state = State::WaitReady { session };
                Ok(HandshakeStatus::InProgress)
            }
            State::WaitReady { session } if &name[..] == CurveReady::NAME => {
                self.on_ready(local, session, data)
            }
            state => {
                self.state = state;
                Err(unexpected(&name, self.expecting()))
            }
        }
    }

    fn expecting(&self) -> &'static str {
        match self.state {
            State::Start | State::WaitWelcome => "WELCOME",
            State::WaitReady { .. } => "READY",
            State::Done => "no more handshake commands",
        }
    }
}
