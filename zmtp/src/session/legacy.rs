//! ZMTP 1.0 and 2.0 peers (RFC 13, RFC 15), served as libzmq 4.3 serves them.
//!
//! Such a peer has no security handshake and no commands. After the greeting
//! each side sends its identity as its first message; then messages flow.
//!
//! ```text
//!  greeting (revision 0 or 1, socket type)     identity message
//!  ───────────────────────────────────────▶ Handshaking ─────────────────▶ Active
//!     a socket that authenticates (a mechanism other than NULL, or a ZAP
//!     domain): refused, as libzmq refuses legacy peers when ZAP is enabled
//! ```
//!
//! - ZMTP 2.0 frames are 3.0's; subscriptions travel as `0x01 topic` and
//!   `0x00 topic` messages, as with a 3.0 peer.
//! - ZMTP 1.0 frames are `length flags body`. An unversioned 1.0 peer (libzmq
//!   2.x) sends no greeting: its first bytes are its identity frame, and our
//!   signature reads to it as the header of ours (so only our identity's
//!   body follows). Such a subscriber filters messages itself and sends no
//!   subscriptions, so a publisher subscribes it to everything, as libzmq
//!   does.
//! - No heartbeats: PING is a command.

use bytes::Bytes;

use super::{Session, SessionState};
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::frame_decoder::Framing;
use crate::greeting::ProtocolVersion;
use crate::metadata::Metadata;
use crate::peer::{PeerInfo, MAX_IDENTITY_LEN};
use crate::socket_type::SocketType;
use crate::Event;

/// A legacy peer between its greeting and its identity message.
#[derive(Debug)]
pub(super) struct LegacyHandshake {
    /// The type its greeting named (`None`: unversioned, it names none).
    socket_type: Option<SocketType>,
    /// For an unversioned peer, its first byte: what to report if its first
    /// frame is no ZMTP 1.0 frame either.
    unversioned_first_byte: Option<u8>,
}

impl Session {
    /// The peer's greeting says ZMTP 1.0 or 2.0 (`type_number`: the socket
    /// type its greeting named; `None` for an unversioned peer). Our identity
    /// goes out; the peer's is awaited.
    pub(super) fn on_legacy_greeting(
        &mut self,
        version: ProtocolVersion,
        type_number: Option<u8>,
    ) -> Result<()> {
        if !self.mechanism.serves_legacy_peers() {
            let mechanism = match self.mechanism.name() {
                "NULL" => "ZAP",
                name => name,
            };
            return Err(Error::LegacyPeerRefused { version, mechanism });
        }
        let socket_type = match type_number {
            None => None,
            Some(n) => {
                let theirs =
                    SocketType::from_zmq_number(n).ok_or(Error::UnknownSocketTypeNumber(n))?;
                if !self.config.socket_type.is_compatible_with(theirs) {
                    return Err(Error::IncompatibleSocketType {
                        ours: self.config.socket_type,
                        theirs,
                    });
                }
                Some(theirs)
            }
        };
        let identity = self.config.identity.clone();
        match (version, socket_type) {
            // Our signature was this frame's header.
            (ProtocolVersion::V1_0, None) => self.transmit.push_raw(&identity),
            (ProtocolVersion::V1_0, Some(_)) => self.transmit.push_frame_v1(false, &identity),
            _ => self.transmit.push_frame(false, false, &identity),
        }
        if version == ProtocolVersion::V1_0 {
            self.decoder.set_framing(Framing::Zmtp1);
            self.zmtp1_framing = true;
        }
        self.legacy = Some(LegacyHandshake {
            socket_type,
            unversioned_first_byte: match type_number {
                None => self.input.byte_at(0),
                Some(_) => None,
            },
        });
        self.version = Some(version);
        self.state = SessionState::Handshaking;
        Ok(())
    }

    /// The legacy peer's first frame: its identity. Messages flow after it.
    pub(super) fn on_legacy_identity(&mut self, frame: Frame) -> Result<()> {
        if frame.body.len() > MAX_IDENTITY_LEN {
            return Err(Error::IdentityTooLong(frame.body.len()));
        }
        let Some(legacy) = self.legacy.take() else {
            return Ok(());
        };
        let info = PeerInfo {
            version: self.version.unwrap_or(ProtocolVersion::V2_0),
            socket_type: legacy.socket_type,
            identity: frame.body,
            metadata: Metadata::new(),
            user_id: None,
        };
        self.timers.legacy_handshake_done();
        self.activate(info);
        if legacy.unversioned_first_byte.is_some() && self.config.socket_type.is_publisher() {
            self.events.push_back(Event::Subscribe(Bytes::new()));
        }
        Ok(())
    }

    /// A decoding error, named for what it most likely means: an
    /// unversioned "peer" whose first frame is no frame at all is no ZMTP
    /// peer (an HTTP client, say).
    pub(super) fn refine_decode_error(&self, error: Error) -> Error {
        match (&self.legacy, &error) {
            (
                Some(LegacyHandshake {
                    unversioned_first_byte: Some(byte),
                    ..
                }),
                Error::MalformedLegacyFrame { .. },
            ) => Error::NotZmtp { byte: *byte },
            _ => error,
        }
    }
}
