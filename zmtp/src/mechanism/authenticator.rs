//! The hook through which the layer above decides who may connect.
//!
//! A server mechanism admits a client in one of three ways ([`Admission`]):
//! everyone, a synchronous [`Authenticator`] asked on the spot, or the layer
//! above asked through the session ([`Event::AuthenticationRequested`]
//! answered by [`Session::admit`]), which is how ZAP handlers, asked over
//! a socket, are served.
//!
//! [`Event::AuthenticationRequested`]: crate::Event::AuthenticationRequested
//! [`Session::admit`]: crate::Session::admit

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use super::curve::CurvePublicKey;
use crate::error::ZapReplyProblem;
use crate::metadata::{Metadata, USER_ID};
use crate::peer::PeerProperties;

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
    /// NULL: nothing but the connection itself (asked only when a ZAP
    /// domain is set, as libzmq does).
    Null,
}

impl Credentials<'_> {
    /// The mechanism's name, as ZAP spells it.
    pub fn mechanism(&self) -> &'static str {
        match self {
            Credentials::Plain { .. } => "PLAIN",
            Credentials::Curve { .. } => "CURVE",
            Credentials::Null => "NULL",
        }
    }

    /// The credential frames of a ZAP request (RFC 27): PLAIN's username and
    /// password, CURVE's 32-byte key, none for NULL.
    pub fn zap_frames(&self) -> Vec<Bytes> {
        match self {
            Credentials::Plain { username, password } => vec![
                Bytes::copy_from_slice(username),
                Bytes::copy_from_slice(password),
            ],
            Credentials::Curve { public_key } => {
                vec![Bytes::copy_from_slice(public_key.as_bytes())]
            }
            Credentials::Null => Vec::new(),
        }
    }
}

/// Credentials held by the session while the layer above decides (the
/// owned form of [`Credentials`]).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PresentedCredentials {
    /// PLAIN.
    Plain {
        /// The username.
        username: Bytes,
        /// The password.
        password: Bytes,
    },
    /// CURVE: the client's long-term public key.
    Curve(CurvePublicKey),
    /// NULL.
    Null,
}

impl PresentedCredentials {
    /// The borrowed form, for an [`Authenticator`].
    pub fn as_credentials(&self) -> Credentials<'_> {
        match self {
            PresentedCredentials::Plain { username, password } => {
                Credentials::Plain { username, password }
            }
            PresentedCredentials::Curve(k) => Credentials::Curve { public_key: *k },
            PresentedCredentials::Null => Credentials::Null,
        }
    }
}

impl fmt::Debug for PresentedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PresentedCredentials::Plain { username, .. } => f
                .debug_struct("Plain")
                .field("username", username)
                .field("password", &"<hidden>")
                .finish(),
            PresentedCredentials::Curve(k) => f.debug_tuple("Curve").field(k).finish(),
            PresentedCredentials::Null => f.write_str("Null"),
        }
    }
}

/// Everything known about a client being admitted: what ZAP (RFC 27) sends
/// a handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest<'a> {
    /// ZAP_DOMAIN of the socket (may be empty).
    pub domain: &'a [u8],
    /// The client's address (IP, without the port, as libzmq sends it;
    /// empty for ipc).
    pub address: &'a str,
    /// The routing id of our socket, as libzmq fills ZAP's identity frame.
    pub identity: &'a [u8],
    /// What the client presented.
    pub credentials: Credentials<'a>,
}

/// The authenticator's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthDecision {
    /// Let the client in. `user_id` becomes the `User-Id` the session
    /// reports; `properties` are added to the peer's (ZAP's reply carries
    /// them in its metadata frame; libzmq shows them on every message from
    /// that peer).
    Accept {
        /// The user id to report for this peer, if any.
        user_id: Option<Bytes>,
        /// Properties of the authenticator's own for this peer.
        properties: Metadata,
    },
    /// Refuse the client: the reason (at most 255 bytes are sent) goes to the
    /// client in an ERROR command and into our own log.
    Deny {
        /// Why the client was refused.
        reason: String,
    },
    /// The authenticator could not decide: a ZAP handler answered with a
    /// reply RFC 27 does not allow. The handshake fails as a protocol
    /// error, without an ERROR to the client, as in libzmq.
    HandlerFailed(ZapReplyProblem),
}

impl AuthDecision {
    /// Let the client in, reported as `user_id`, with no properties of the
    /// authenticator's own.
    pub fn accept(user_id: Option<Bytes>) -> Self {
        AuthDecision::Accept {
            user_id,
            properties: Metadata::new(),
        }
    }
}

/// What an accepted client's session reports beyond the client's own
/// metadata: the authenticator's properties, then the User-Id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Admitted {
    user_id: Option<Bytes>,
    properties: Metadata,
}

impl Admitted {
    /// The part of an `Accept` decision the session keeps.
    pub(crate) fn new(user_id: Option<Bytes>, properties: Metadata) -> Self {
        Admitted {
            user_id,
            properties,
        }
    }

    /// Adds what was admitted to `peer`, as libzmq adds the ZAP reply's
    /// properties and User-Id to the peer's metadata.
    pub(crate) fn apply_to(self, peer: &mut PeerProperties) {
        for (name, value) in self.properties.iter() {
            peer.metadata.push(name.clone(), value.clone());
        }
        if let Some(user_id) = self.user_id {
            peer.metadata.push(USER_ID, user_id.clone());
            peer.user_id = Some(user_id);
        }
    }
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
///                 AuthDecision::accept(Some("admin".into())),
///             _ => AuthDecision::Deny { reason: "unknown user".into() },
///         }
///     }
/// }
/// ```
pub trait Authenticator: Send + Sync {
    /// Called once per client handshake, on the connection's own thread.
    fn authenticate(&self, credentials: &Credentials<'_>) -> AuthDecision;

    /// Called instead of [`authenticate`](Self::authenticate) when the
    /// layer above knows the whole request (the sockets do: domain, address,
    /// identity). By default it looks at the credentials only.
    fn admit(&self, request: &AuthRequest<'_>) -> AuthDecision {
        self.authenticate(&request.credentials)
    }
}

/// Who admits the clients of a server mechanism (and of NULL with a ZAP
/// domain).
#[derive(Clone)]
pub enum Admission {
    /// Every client that completes the handshake (for CURVE: every client
    /// that knows the server's public key), as libzmq without a ZAP handler.
    Everyone,
    /// This authenticator, asked on the spot.
    Authenticator(Arc<dyn Authenticator>),
    /// The layer above: the session reports
    /// [`Event::AuthenticationRequested`](crate::Event::AuthenticationRequested)
    /// and waits for [`Session::admit`](crate::Session::admit) (ZAP).
    Deferred,
}

impl fmt::Debug for Admission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Admission::Everyone => "Everyone",
            Admission::Authenticator(_) => "Authenticator",
            Admission::Deferred => "Deferred",
        })
    }
}

/// Whether a refusal is ZAP's 300, a temporary failure: no ERROR is sent
/// and the handshake is left to its timeout, so the client sees a
/// connection that ended and retries, as libzmq's server does (an ERROR
/// would end a libzmq client's reconnecting).
pub(crate) fn is_temporary(reason: &str) -> bool {
    refusal_code(reason) == "300"
}

/// The ERROR a refused client gets: ZAP's status code alone, as libzmq
/// sends it (`400` or `500`; a libzmq client reports an authentication
/// failure only for a code; a `300` sends no ERROR, see [`is_temporary`]). A reason that starts with one
/// sends that code; any other sends `400`. The whole reason stays in our log.
pub(crate) fn refusal_code(reason: &str) -> &'static str {
    match reason.get(..3) {
        Some("300") => "300",
        Some("500") => "500",
        _ => "400",
    }
}

/// What a mechanism does with presented credentials under `admission`:
/// a decision now, or `None` when the layer above must decide.
pub(crate) fn decide_now(
    admission: &Admission,
    credentials: &Credentials<'_>,
) -> Option<AuthDecision> {
    match admission {
        Admission::Everyone => Some(AuthDecision::accept(None)),
        Admission::Authenticator(a) => Some(a.authenticate(credentials)),
        Admission::Deferred => None,
    }
}
