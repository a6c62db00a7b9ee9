//! Why a connection ended or its handshake failed: the typed reason monitor
//! events carry ([`MonitorEvent::HandshakeFailed`](crate::MonitorEvent) and
//! [`MonitorEvent::Disconnected`](crate::MonitorEvent)), so an application can
//! tell an authentication failure from a peer that hung up without parsing
//! log text.

use std::fmt;
use std::io;

use crate::strategy::OverLimit;

/// Why a connection was closed.
///
/// ```
/// use monocoque_patterns::CloseReason;
/// let r = CloseReason::PeerClosed;
/// assert_eq!(r.to_string(), "the peer closed the connection");
/// assert!(!r.is_authentication_failure());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed the connection (end of stream).
    PeerClosed,
    /// Reading from the connection failed.
    ReadFailed {
        /// The operating system's error kind.
        kind: io::ErrorKind,
        /// The error as the operating system put it.
        message: String,
    },
    /// Writing to the connection failed.
    WriteFailed {
        /// The operating system's error kind.
        kind: io::ErrorKind,
        /// The error as the operating system put it.
        message: String,
    },
    /// The protocol session ended the connection: the peer broke ZMTP,
    /// failed the handshake (wrong socket type, refused credentials) or
    /// timed out. The session's error says which.
    Protocol(monocoque_zmtp::Error),
    /// This socket's own options could not make a session (libzmq refuses
    /// such options at `setsockopt`; a combination can still fail here).
    Configuration(monocoque_zmtp::Error),
    /// A PUB or XPUB dropped a subscriber that asked for more than its
    /// subscription caps allow (MAX_SUBSCRIPTIONS, MAX_SUBSCRIPTION_BYTES).
    SubscriptionLimit(OverLimit),
}

impl CloseReason {
    /// A read error, typed.
    pub(crate) fn read(e: &io::Error) -> CloseReason {
        CloseReason::ReadFailed {
            kind: e.kind(),
            message: e.to_string(),
        }
    }

    /// A write error, typed.
    pub(crate) fn write(e: &io::Error) -> CloseReason {
        CloseReason::WriteFailed {
            kind: e.kind(),
            message: e.to_string(),
        }
    }

    /// Whether the peer's credentials were refused (libzmq's
    /// ZMQ_EVENT_HANDSHAKE_FAILED_AUTH), as opposed to a protocol error or
    /// a connection that simply ended.
    pub fn is_authentication_failure(&self) -> bool {
        matches!(
            self,
            CloseReason::Protocol(monocoque_zmtp::Error::AuthenticationDenied { .. })
        )
    }

    /// The protocol error behind this reason, if there is one.
    pub fn protocol_error(&self) -> Option<&monocoque_zmtp::Error> {
        match self {
            CloseReason::Protocol(e) | CloseReason::Configuration(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::PeerClosed => f.write_str("the peer closed the connection"),
            CloseReason::ReadFailed { message, .. } => write!(f, "read failed: {message}"),
            CloseReason::WriteFailed { message, .. } => write!(f, "write failed: {message}"),
            CloseReason::Protocol(e) => write!(f, "{e}"),
            CloseReason::Configuration(e) => write!(f, "bad session configuration: {e}"),
            CloseReason::SubscriptionLimit(over) => write!(f, "{over}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_say_what_happened() {
        let e = io::Error::from(io::ErrorKind::ConnectionReset);
        let r = CloseReason::read(&e);
        assert!(matches!(
            r,
            CloseReason::ReadFailed {
                kind: io::ErrorKind::ConnectionReset,
                ..
            }
        ));
        assert!(r.to_string().starts_with("read failed"));
        let denied = CloseReason::Protocol(monocoque_zmtp::Error::AuthenticationDenied {
            reason: "no".into(),
        });
        assert!(denied.is_authentication_failure());
        assert!(denied.protocol_error().is_some());
        assert!(!CloseReason::PeerClosed.is_authentication_failure());
    }
}
