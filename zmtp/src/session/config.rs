//! A session's configuration: libzmq's per-connection options.

use std::time::Duration;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::mechanism::{LocalProperties, MechanismConfig};
use crate::metadata::{self, Metadata};
use crate::peer::MAX_IDENTITY_LEN;
use crate::socket_type::SocketType;

/// libzmq's default HANDSHAKE_IVL.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest frame accepted before the handshake completes (READY, HELLO, INITIATE).
/// Bounds what an unauthenticated peer can make us buffer.
pub const HANDSHAKE_FRAME_LIMIT: u64 = 64 * 1024;
/// Largest TTL a PING can carry: 65535 tenths of a second.
pub const MAX_HEARTBEAT_TTL: Duration = Duration::from_millis(6_553_500);

/// Per-connection settings, named after the libzmq options they mirror.
///
/// ```
/// use std::time::Duration;
/// use monocoque_zmtp::{SessionConfig, SocketType};
/// let mut c = SessionConfig::new(SocketType::Dealer);
/// c.identity = "worker-1".into();
/// c.heartbeat_interval = Some(Duration::from_secs(1));
/// c.validate().unwrap();
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SessionConfig {
    /// Our socket type; the peer's must be compatible.
    pub socket_type: SocketType,
    /// ROUTING_ID: sent as `Identity` by REQ, DEALER and ROUTER (0 to 255 bytes).
    pub identity: Bytes,
    /// The security mechanism and our role in it.
    pub mechanism: MechanismConfig,
    /// METADATA: application properties, names starting with `X-`.
    pub properties: Vec<(String, Bytes)>,
    /// MAXMSGSIZE: the largest message accepted after the handshake, its
    /// frames summed (`None`: no limit). libzmq checks each frame alone; see
    /// docs/ARCHITECTURE.md.
    pub max_message_size: Option<u64>,
    /// The most frames one message may have (`None`: no cap). Not a libzmq
    /// option; with MAXMSGSIZE it bounds what a peer can make us buffer.
    pub max_message_frames: Option<usize>,
    /// The most bytes any frame may announce, whatever MAXMSGSIZE says
    /// (`None`: 2^63 - 1, the grammar's limit). With no MAXMSGSIZE, a peer could
    /// otherwise make us buffer a frame larger than the machine can hold; the
    /// socket layer sets this to the machine's physical memory.
    pub memory_ceiling: Option<u64>,
    /// HANDSHAKE_IVL: the greeting and handshake must finish within this (`None`: never time out).
    pub handshake_timeout: Option<Duration>,
    /// HEARTBEAT_IVL: send a PING this often once the handshake is done (`None`: off).
    pub heartbeat_interval: Option<Duration>,
    /// HEARTBEAT_TIMEOUT: after a PING, the peer is dead if nothing arrives within
    /// this (`None`: the interval, libzmq's default).
    pub heartbeat_timeout: Option<Duration>,
    /// HEARTBEAT_TTL: the TTL our PINGs ask the peer to apply (`None`: 0, no TTL).
    pub heartbeat_ttl: Option<Duration>,
}

impl SessionConfig {
    /// libzmq's defaults for a socket of `socket_type`: NULL mechanism, no identity,
    /// no size limit, a 30 s handshake timeout and no heartbeats.
    pub fn new(socket_type: SocketType) -> Self {
        SessionConfig {
            socket_type,
            identity: Bytes::new(),
            mechanism: MechanismConfig::Null,
            properties: Vec::new(),
            max_message_size: None,
            max_message_frames: None,
            memory_ceiling: None,
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            heartbeat_interval: None,
            heartbeat_timeout: None,
            heartbeat_ttl: None,
        }
    }

    /// Refuses values the wire cannot carry, naming the field.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field, reason: String| Err(Error::InvalidConfig { field, reason });
        if self.identity.len() > MAX_IDENTITY_LEN {
            return invalid(
                "ROUTING_ID",
                format!("{} bytes; at most {MAX_IDENTITY_LEN}", self.identity.len()),
            );
        }
        for (name, value) in &self.properties {
            if !name.starts_with("X-") {
                return invalid(
                    "METADATA",
                    format!("property {name:?} must start with \"X-\" (application properties)"),
                );
            }
            if let Err(reason) = metadata::validate_name(name.as_bytes()) {
                return invalid("METADATA", reason);
            }
            if value.len() > i32::MAX as usize {
                return invalid(
                    "METADATA",
                    format!("the value of {name:?} is over 2^31-1 bytes"),
                );
            }
        }
        if let MechanismConfig::PlainClient { username, password } = &self.mechanism {
            if username.len() > 255 {
                return invalid(
                    "PLAIN_USERNAME",
                    format!("{} bytes; at most 255", username.len()),
                );
            }
            if password.len() > 255 {
                return invalid(
                    "PLAIN_PASSWORD",
                    format!("{} bytes; at most 255", password.len()),
                );
            }
        }
        if let Some(ttl) = self.heartbeat_ttl {
            if ttl > MAX_HEARTBEAT_TTL {
                return invalid(
                    "HEARTBEAT_TTL",
                    format!("{ttl:?}; a PING carries at most {MAX_HEARTBEAT_TTL:?}"),
                );
            }
        }
        if self.max_message_frames == Some(0) {
            return invalid(
                "MAXMSGFRAMES",
                "zero; a message has at least one frame (use None for no cap)".into(),
            );
        }
        if self.heartbeat_interval == Some(Duration::ZERO) {
            return invalid(
                "HEARTBEAT_IVL",
                "zero; use None to turn heartbeats off".into(),
            );
        }
        Ok(())
    }

    /// Our READY/INITIATE properties: Socket-Type, Identity (REQ, DEALER, ROUTER),
    /// then the application properties, in libzmq's order.
    pub(crate) fn local_properties(&self) -> LocalProperties {
        let mut md = Metadata::new();
        md.push(metadata::SOCKET_TYPE, self.socket_type.as_str());
        if self.socket_type.sends_identity() {
            md.push(metadata::IDENTITY, self.identity.clone());
        }
        for (name, value) in &self.properties {
            md.push(Bytes::copy_from_slice(name.as_bytes()), value.clone());
        }
        LocalProperties {
            socket_type: self.socket_type,
            metadata: md,
        }
    }

    /// The TTL field of our PINGs, in tenths of a second.
    pub(crate) fn ping_ttl_deciseconds(&self) -> u16 {
        self.heartbeat_ttl
            .map_or(0, |t| (t.as_millis() / 100).min(u16::MAX as u128) as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(c: &SessionConfig) -> &'static str {
        match c.validate() {
            Err(Error::InvalidConfig { field, .. }) => field,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn refuses_bad_values_by_name() {
        let mut c = SessionConfig::new(SocketType::Dealer);
        c.identity = Bytes::from(vec![1u8; 256]);
        assert_eq!(field_of(&c), "ROUTING_ID");

        let mut c = SessionConfig::new(SocketType::Dealer);
        c.properties.push(("Hello".into(), Bytes::new()));
        assert_eq!(field_of(&c), "METADATA");
        c.properties[0].0 = "X-Bad Name".into();
        assert_eq!(field_of(&c), "METADATA");

        let mut c = SessionConfig::new(SocketType::Dealer);
        c.mechanism = MechanismConfig::PlainClient {
            username: Bytes::from(vec![b'u'; 256]),
            password: Bytes::new(),
        };
        assert_eq!(field_of(&c), "PLAIN_USERNAME");

        let mut c = SessionConfig::new(SocketType::Dealer);
        c.heartbeat_ttl = Some(Duration::from_secs(7000));
        assert_eq!(field_of(&c), "HEARTBEAT_TTL");

        let mut c = SessionConfig::new(SocketType::Dealer);
        c.heartbeat_interval = Some(Duration::ZERO);
        assert_eq!(field_of(&c), "HEARTBEAT_IVL");
    }

    #[test]
    fn identity_only_from_req_dealer_router() {
        for t in SocketType::ALL {
            let md = SessionConfig::new(t).local_properties().metadata;
            assert_eq!(md.get("Identity").is_some(), t.sends_identity(), "{t}");
            assert_eq!(md.get("Socket-Type").unwrap(), t.as_str());
        }
    }
}
