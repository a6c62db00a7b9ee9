//! The CURVE options of a socket, as libzmq keeps them: three keys and a
//! role, set in any order, read when each connection starts.
//!
//! libzmq picks the mechanism from the last security option set: any CURVE
//! key or CURVE_SERVER=1 selects CURVE (CURVE_SERVERKEY also makes the socket
//! a client), CURVE_SERVER=0 selects NULL, and the PLAIN options select PLAIN.
//! The keys must be complete when a connection starts; a socket whose CURVE
//! setup is incomplete refuses to bind or connect, naming the missing option,
//! and never falls back to a weaker mechanism. A CURVE_PUBLICKEY that is not
//! CURVE_SECRETKEY's public key is taken as libzmq takes it (with a warning):
//! a client presents it and the server refuses the handshake.

use std::sync::Arc;

use monocoque_zmtp::mechanism::{CurveKeyPair, CurvePublicKey, CurveSecretKey};
use monocoque_zmtp::{Admission, Authenticator, MechanismConfig};

/// CURVE_SERVER, CURVE_PUBLICKEY, CURVE_SECRETKEY, CURVE_SERVERKEY and the
/// server's authenticator.
#[derive(Clone, Default)]
pub(crate) struct CurveSettings {
    /// CURVE is the socket's mechanism (the last security option chose it).
    pub(crate) selected: bool,
    /// CURVE_SERVER.
    pub(crate) as_server: bool,
    /// CURVE_PUBLICKEY.
    pub(crate) public: Option<CurvePublicKey>,
    /// CURVE_SECRETKEY.
    pub(crate) secret: Option<CurveSecretKey>,
    /// CURVE_SERVERKEY.
    pub(crate) server_key: Option<CurvePublicKey>,
    /// Who a CURVE server lets in (`None`: every client that completes the
    /// handshake, as libzmq without a ZAP handler).
    pub(crate) authenticator: Option<Arc<dyn Authenticator>>,
}

impl std::fmt::Debug for CurveSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurveSettings")
            .field("selected", &self.selected)
            .field("as_server", &self.as_server)
            .field("public", &self.public)
            .field("secret", &self.secret.as_ref().map(|_| "<hidden>"))
            .field("server_key", &self.server_key)
            .finish_non_exhaustive()
    }
}

impl CurveSettings {
    /// The mechanism for a new connection, or the option that is missing or
    /// wrong and why.
    pub(crate) fn mechanism(&self) -> Result<MechanismConfig, (&'static str, &'static str)> {
        let secret = self.secret.clone().ok_or((
            "CURVE_SECRETKEY",
            "a CURVE socket needs its long-term secret key",
        ))?;
        let mut keys = CurveKeyPair::from_secret(secret);
        if let Some(public) = self.public.filter(|p| *p != keys.public) {
            // libzmq takes the two keys as given and lets the handshake
            // fail: a client presents this public key, whose vouch the
            // server cannot open (a server's own public key is not sent).
            tracing::warn!(
                "CURVE_PUBLICKEY is not the public key of CURVE_SECRETKEY: a server will refuse this client's handshake"
            );
            if !self.as_server {
                keys.public = public;
            }
        }
        if self.as_server {
            return Ok(MechanismConfig::CurveServer {
                keys,
                admission: match &self.authenticator {
                    Some(a) => Admission::Authenticator(a.clone()),
                    None => Admission::Everyone,
                },
            });
        }
        let server_key = self.server_key.ok_or((
            "CURVE_SERVERKEY",
            "a CURVE client needs the server's public key (or set CURVE_SERVER for a server)",
        ))?;
        Ok(MechanismConfig::CurveClient { server_key, keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_setups_name_the_missing_option() {
        let pair = CurveKeyPair::generate();
        let mut s = CurveSettings {
            selected: true,
            as_server: true,
            ..CurveSettings::default()
        };
        assert_eq!(s.mechanism().unwrap_err().0, "CURVE_SECRETKEY");
        s.secret = Some(pair.secret.clone());
        assert!(matches!(
            s.mechanism(),
            Ok(MechanismConfig::CurveServer { .. })
        ));
        s.public = Some(pair.public);
        s.as_server = false;
        assert_eq!(s.mechanism().unwrap_err().0, "CURVE_SERVERKEY");
        s.server_key = Some(CurveKeyPair::generate().public);
        assert!(matches!(
            s.mechanism(),
            Ok(MechanismConfig::CurveClient { .. })
        ));
    }

    #[test]
    fn a_public_key_that_is_not_the_secrets_is_taken_as_libzmq_takes_it() {
        let pair = CurveKeyPair::generate();
        let other = CurveKeyPair::generate().public;
        let mut s = CurveSettings {
            selected: true,
            public: Some(other),
            secret: Some(pair.secret.clone()),
            server_key: Some(CurveKeyPair::generate().public),
            ..CurveSettings::default()
        };
        // A client presents the key it was given (the server refuses it).
        match s.mechanism() {
            Ok(MechanismConfig::CurveClient { keys, .. }) => assert_eq!(keys.public, other),
            other => panic!("{other:?}"),
        }
        // A server's own public key is never sent: its secret key's is used.
        s.as_server = true;
        match s.mechanism() {
            Ok(MechanismConfig::CurveServer { keys, .. }) => assert_eq!(keys.public, pair.public),
            other => panic!("{other:?}"),
        }
    }
}
