//! CURVE keys: 32-byte Curve25519 keys, written as 40 characters of Z85.
//!
//! A secret key is wiped from memory when dropped and never printed by
//! `Debug`. Keys are accepted as libzmq accepts them in CURVE_PUBLICKEY,
//! CURVE_SECRETKEY and CURVE_SERVERKEY: 32 raw bytes or 40 Z85 characters.

use std::fmt;

use crypto_box::aead::OsRng;
use zeroize::{Zeroize, Zeroizing};

use crate::z85;

/// Length of a key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of a key in Z85 text.
pub const KEY_Z85_LEN: usize = 40;

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Neither 32 bytes nor 40 Z85 characters.
    #[error("a CURVE key is 32 bytes or 40 Z85 characters, not {0} bytes")]
    Length(usize),
    /// 40 characters that are not Z85.
    #[error("the 40-character CURVE key is not valid Z85: {0}")]
    Z85(#[from] z85::Z85Error),
    /// A secret key that is not Z85 (which character is not said: it would
    /// quote part of a secret).
    #[error("the 40-character CURVE secret key is not valid Z85")]
    SecretNotZ85,
}

fn key_bytes(input: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>, KeyError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    match input.len() {
        KEY_LEN => key.copy_from_slice(input),
        KEY_Z85_LEN => {
            let text = std::str::from_utf8(input).map_err(|_| KeyError::Length(input.len()))?;
            let mut decoded = z85::decode(text)?;
            key.copy_from_slice(&decoded);
            decoded.zeroize();
        }
        n => return Err(KeyError::Length(n)),
    }
    Ok(key)
}

/// A public key: who a peer is.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CurvePublicKey([u8; KEY_LEN]);

impl CurvePublicKey {
    /// From 32 raw bytes or 40 Z85 characters.
    ///
    /// ```
    /// use monocoque_zmtp::mechanism::CurvePublicKey;
    /// let key = CurvePublicKey::parse(b"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7").unwrap();
    /// assert_eq!(key.to_z85(), "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    /// ```
    pub fn parse(input: &[u8]) -> Result<Self, KeyError> {
        Ok(CurvePublicKey(*key_bytes(input)?))
    }

    /// From the 32 raw bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        CurvePublicKey(bytes)
    }

    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The 40-character Z85 text.
    pub fn to_z85(&self) -> String {
        z85::encode(&self.0).expect("32 is a multiple of 4")
    }

    pub(crate) fn to_box_key(self) -> crypto_box::PublicKey {
        crypto_box::PublicKey::from_bytes(self.0)
    }
}

impl fmt::Debug for CurvePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CurvePublicKey({})", self.to_z85())
    }
}

impl fmt::Display for CurvePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_z85())
    }
}

/// A secret key. Wiped on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct CurveSecretKey(crypto_box::SecretKey);

impl CurveSecretKey {
    /// From 32 raw bytes or 40 Z85 characters.
    pub fn parse(input: &[u8]) -> Result<Self, KeyError> {
        let bytes = key_bytes(input).map_err(|e| match e {
            KeyError::Z85(_) => KeyError::SecretNotZ85,
            other => other,
        })?;
        Ok(CurveSecretKey(crypto_box::SecretKey::from_bytes(*bytes)))
    }

    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Self {
        CurveSecretKey(crypto_box::SecretKey::generate(&mut OsRng))
    }

    /// The public key that goes with this secret key (libzmq's
    /// `zmq_curve_public`).
    pub fn public_key(&self) -> CurvePublicKey {
        CurvePublicKey(*self.0.public_key().as_bytes())
    }

    /// The 40-character Z85 text (for `curve keygen` and key files).
    pub fn to_z85(&self) -> Zeroizing<String> {
        let bytes = self.to_bytes();
        Zeroizing::new(z85::encode(&bytes[..]).expect("32 is a multiple of 4"))
    }

    /// The 32 raw bytes, wiped when the returned value is dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; KEY_LEN]> {
        Zeroizing::new(self.0.to_bytes())
    }

    pub(crate) fn box_key(&self) -> &crypto_box::SecretKey {
        &self.0
    }
}

impl fmt::Debug for CurveSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CurveSecretKey(<hidden>)")
    }
}

/// A long-term key pair: a CURVE server's identity, or a client's.
///
/// ```
/// use monocoque_zmtp::mechanism::CurveKeyPair;
/// let pair = CurveKeyPair::generate();
/// assert_eq!(pair.public.to_z85().len(), 40);
/// assert_eq!(pair.secret.public_key(), pair.public);
/// ```
#[derive(Clone, Debug)]
pub struct CurveKeyPair {
    /// The half that is given out.
    pub public: CurvePublicKey,
    /// The half that is kept.
    pub secret: CurveSecretKey,
}

impl CurveKeyPair {
    /// A fresh random pair (libzmq's `zmq_curve_keypair`).
    pub fn generate() -> Self {
        Self::from_secret(CurveSecretKey::generate())
    }

    /// The pair for a known secret key.
    pub fn from_secret(secret: CurveSecretKey) -> Self {
        CurveKeyPair {
            public: secret.public_key(),
            secret,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // libzmq's test_security_curve key pairs.
    const SERVER_PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    const SERVER_SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
    const CLIENT_PUBLIC: &str = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
    const CLIENT_SECRET: &str = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";

    #[test]
    fn public_key_from_secret_matches_libzmq_test_pairs() {
        let server = CurveSecretKey::parse(SERVER_SECRET.as_bytes()).unwrap();
        assert_eq!(server.public_key().to_z85(), SERVER_PUBLIC);
        let client = CurveSecretKey::parse(CLIENT_SECRET.as_bytes()).unwrap();
        assert_eq!(client.public_key().to_z85(), CLIENT_PUBLIC);
    }

    #[test]
    fn raw_and_z85_forms_agree() {
        let text = CurvePublicKey::parse(SERVER_PUBLIC.as_bytes()).unwrap();
        let raw = CurvePublicKey::parse(text.as_bytes()).unwrap();
        assert_eq!(text, raw);
        let secret = CurveSecretKey::parse(SERVER_SECRET.as_bytes()).unwrap();
        assert_eq!(&secret.to_z85()[..], SERVER_SECRET);
    }

    #[test]
    fn bad_keys_are_refused_with_the_reason() {
        assert_eq!(CurvePublicKey::parse(b"short"), Err(KeyError::Length(5)));
        assert!(matches!(
            CurvePublicKey::parse(b"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\""),
            Err(KeyError::Z85(_))
        ));
    }

    #[test]
    fn secret_keys_do_not_print() {
        let secret = CurveSecretKey::generate();
        assert_eq!(format!("{secret:?}"), "CurveSecretKey(<hidden>)");
        let pair = CurveKeyPair::from_secret(secret);
        assert!(!format!("{pair:?}").contains(&pair.secret.to_z85()[..]));
    }

    #[test]
    fn generated_pairs_differ() {
        assert_ne!(
            CurveKeyPair::generate().public,
            CurveKeyPair::generate().public
        );
    }
}
