//! The hook through which the layer above decides who may connect.

use bytes::Bytes;

use super::curve::CurvePublicKey;

/// Credentials a client presented.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials<'a> {
    /// PLAIN's HELLO.
    Plain {
        /// The username as sent.
        username: &'a [u8],
        /// The password as sent.
        password: &'a [u8],
    },
    /// CURVE's INITIATE: the client's long-term public key, proven by its
    /// vouch.
    Curve {
        /// The client's long-term public key.
        public_key: CurvePublicKey,
    },
}

/// The authenticator's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthDecision {
    /// Let the client in. `user_id` becomes the `User-Id` the session reports.
    Accept {
        /// The user id to report for this peer, if any.
        user_id: Option<Bytes>,
    },
    /// Refuse the client: the reason (at most 255 bytes are sent) goes to the
    /// client in an ERROR command and into our own log.
    Deny {
        /// Why the client was refused.
        reason: String,
    },
}

/// Decides whether a client may connect. Supplied by the layer above (the socket
/// options, a ZAP-style handler, the appliance's config).
///
/// ```
/// use monocoque_zmtp::{AuthDecision, Authenticator, Credentials};
/// struct OnlyAdmin;
/// impl Authenticator for OnlyAdmin {
///     fn authenticate(&self, c: &Credentials<'_>) -> AuthDecision {
///         match c {
///             Credentials::Plain { username: b"admin", password: b"secret" } =>
///                 AuthDecision::Accept { user_id: Some("admin".into()) },
///             _ => AuthDecision::Deny { reason: "unknown user".into() },
///         }
///     }
/// }
/// ```
pub trait Authenticator: Send + Sync {
    /// Called once per client handshake, on the connection's own thread.
    fn authenticate(&self, credentials: &Credentials<'_>) -> AuthDecision;
}
