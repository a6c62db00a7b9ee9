//! Who admits the clients of a socket's server mechanism, and what they are
//! asked with: ZAP's request (RFC 27) as a value.
//!
//! The protocol session only reports the credentials a client presented
//! (`Admission::Deferred`); the socket decides here, with the facts only it
//! knows (its ZAP domain, its routing id, the peer's address), as libzmq
//! does: a local [`Authenticator`], the ZAP handler bound at
//! `inproc://zeromq.zap.01`, or everyone.

use std::sync::Arc;

use bytes::Bytes;
use monocoque_zmtp::{AuthDecision, AuthRequest, Authenticator, PresentedCredentials};

/// The inproc name ZAP handlers bind (RFC 27).
pub(crate) const ZAP_ENDPOINT: &str = "zeromq.zap.01";

/// How a socket's clients are admitted.
#[derive(Clone)]
pub(crate) enum AdmissionPolicy {
    /// Nobody asked: the mechanism admits by itself (NULL without a ZAP
    /// domain, client mechanisms).
    NotAsked,
    /// This authenticator, with the whole request.
    Local(Arc<dyn Authenticator>),
    /// The ZAP handler at `inproc://zeromq.zap.01`. Without one bound, a
    /// `required` policy refuses (PLAIN, as libzmq) and the others admit
    /// (CURVE, and NULL with a domain, as libzmq without ZAP_ENFORCE_DOMAIN).
    Zap { required: bool },
    /// Everyone refused: the security options could not make a mechanism.
    Refuse,
}

impl std::fmt::Debug for AdmissionPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdmissionPolicy::NotAsked => f.write_str("NotAsked"),
            AdmissionPolicy::Local(_) => f.write_str("Local"),
            AdmissionPolicy::Zap { required } => {
                f.debug_struct("Zap").field("required", required).finish()
            }
            AdmissionPolicy::Refuse => f.write_str("Refuse"),
        }
    }
}

/// One client to admit: ZAP's request, owned.
#[derive(Debug, Clone)]
pub(crate) struct ZapRequest {
    /// ZAP_DOMAIN.
    pub(crate) domain: Bytes,
    /// The client's IP address as text (empty for ipc).
    pub(crate) address: String,
    /// Our socket's routing id (what libzmq puts in ZAP's identity frame).
    pub(crate) identity: Bytes,
    /// What the client presented.
    pub(crate) credentials: PresentedCredentials,
}

impl ZapRequest {
    /// The borrowed form an [`Authenticator`] is given.
    pub(crate) fn as_auth_request(&self) -> AuthRequest<'_> {
        AuthRequest {
            domain: &self.domain,
            address: &self.address,
            identity: &self.identity,
            credentials: self.credentials.as_credentials(),
        }
    }
}

/// The decision `policy` makes without a ZAP handler, or `None` when the
/// ZAP handler must be asked.
pub(crate) fn decide_locally(
    policy: &AdmissionPolicy,
    request: &ZapRequest,
) -> Option<AuthDecision> {
    match policy {
        AdmissionPolicy::NotAsked => Some(AuthDecision::accept(None)),
        AdmissionPolicy::Local(a) => Some(a.admit(&request.as_auth_request())),
        AdmissionPolicy::Zap { .. } => None,
        AdmissionPolicy::Refuse => Some(internal_refusal()),
    }
}

/// The address ZAP reports for a peer: its IP without the port, as libzmq
/// sends it; empty when the peer has no IP (ipc).
pub(crate) fn zap_address(remote: Option<&str>) -> String {
    crate::peer_properties::peer_ip(remote).unwrap_or_default()
}

/// Refused for a reason of ours, not the client's (ZAP status 500): the
/// options could not make a mechanism, or the handler cannot be reached.
pub(crate) fn internal_refusal() -> AuthDecision {
    AuthDecision::Deny {
        reason: "500".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_the_ip_alone() {
        assert_eq!(zap_address(Some("127.0.0.1:5555")), "127.0.0.1");
        assert_eq!(zap_address(Some("[::1]:80")), "::1");
        assert_eq!(zap_address(Some("/tmp/x.sock")), "");
        assert_eq!(zap_address(None), "");
    }
}
