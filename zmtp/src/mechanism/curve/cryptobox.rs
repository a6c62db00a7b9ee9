//! NaCl boxes as CurveZMQ lays them out: a 24-byte nonce made of a fixed
//! prefix and the nonce the command carries, and the box itself as the
//! 16-byte Poly1305 tag followed by the ciphertext (NaCl's layout once its
//! zero padding is dropped, which is what goes on the wire).
//!
//! Both kinds of key reduce to one XSalsa20-Poly1305 cipher: `crypto_box`
//! (X25519 agreement, then the cipher) for the four key pairs of the
//! handshake, `crypto_secretbox` for the cookie key only the server knows.

use bytes::BytesMut;
use crypto_box::aead::AeadInPlace;
use crypto_box::SalsaBox;
use crypto_secretbox::XSalsa20Poly1305;

use super::keys::{CurvePublicKey, CurveSecretKey};

/// Bytes a box adds to what it holds.
pub(crate) const TAG_LEN: usize = 16;

/// A cipher for one direction of one key pair, ready for many boxes.
pub(crate) enum BoxKey {
    /// Between two Curve25519 key pairs.
    Pair(Box<SalsaBox>),
    /// The server's symmetric cookie key.
    Secret(Box<XSalsa20Poly1305>),
}

impl BoxKey {
    /// The precomputed key between `theirs` and `ours` (NaCl's
    /// `crypto_box_beforenm`: one X25519 per key pair, not per box).
    pub(crate) fn between(theirs: &CurvePublicKey, ours: &CurveSecretKey) -> Self {
        BoxKey::Pair(Box::new(SalsaBox::new(
            &theirs.to_box_key(),
            ours.box_key(),
        )))
    }

    /// A symmetric key (the cookie key).
    pub(crate) fn secret(key: &[u8; 32]) -> Self {
        use crypto_secretbox::KeyInit;
        BoxKey::Secret(Box::new(XSalsa20Poly1305::new(key.into())))
    }

    /// Appends the box of `plaintext` (tag, then ciphertext) to `out`.
    pub(crate) fn seal_into(&self, nonce: &[u8; 24], plaintext: &[u8], out: &mut BytesMut) {
        let start = out.len();
        out.extend_from_slice(&[0; TAG_LEN]);
        out.extend_from_slice(plaintext);
        self.seal_in_place(nonce, &mut out[start..]);
    }

    /// Seals `buf[TAG_LEN..]` in place and writes the tag into
    /// `buf[..TAG_LEN]`.
    pub(crate) fn seal_in_place(&self, nonce: &[u8; 24], buf: &mut [u8]) {
        let (tag_slot, body) = buf.split_at_mut(TAG_LEN);
        let tag = match self {
            BoxKey::Pair(k) => k.encrypt_in_place_detached(nonce.into(), b"", body),
            BoxKey::Secret(k) => k.encrypt_in_place_detached(nonce.into(), b"", body),
        }
        // Detached encryption fails only for associated data or a buffer
        // beyond the cipher's 256 GiB limit; neither is possible here.
        .expect("XSalsa20-Poly1305 encrypts any in-memory buffer");
        tag_slot.copy_from_slice(&tag);
    }

    /// Opens a box (tag, then ciphertext): the plaintext, or `None` when
    /// the box is short, was made with another key or nonce, or was altered.
    pub(crate) fn open(&self, nonce: &[u8; 24], sealed: &[u8]) -> Option<BytesMut> {
        if sealed.len() < TAG_LEN {
            return None;
        }
        let (tag, ciphertext) = sealed.split_at(TAG_LEN);
        let mut plain = BytesMut::from(ciphertext);
        let tag = crypto_box::Tag::from_slice(tag);
        let opened = match self {
            BoxKey::Pair(k) => k.decrypt_in_place_detached(nonce.into(), b"", &mut plain, tag),
            BoxKey::Secret(k) => k.decrypt_in_place_detached(nonce.into(), b"", &mut plain, tag),
        };
        opened.ok().map(|()| plain)
    }
}

impl std::fmt::Debug for BoxKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoxKey(<hidden>)")
    }
}

/// The 24-byte nonce: a prefix (16 bytes before a short nonce, 8 before a
/// long one) and the bytes the command carries.
pub(crate) fn nonce(prefix: &[u8], carried: &[u8]) -> [u8; 24] {
    debug_assert_eq!(prefix.len() + carried.len(), 24);
    let mut n = [0u8; 24];
    n[..prefix.len()].copy_from_slice(prefix);
    n[prefix.len()..].copy_from_slice(carried);
    n
}

/// 16 random bytes from the operating system (long nonces, the cookie key).
pub(crate) fn random<const N: usize>() -> [u8; N] {
    use crypto_box::aead::rand_core::RngCore;
    let mut bytes = [0u8; N];
    crypto_box::aead::OsRng.fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_opens_with_the_other_half_and_nothing_else() {
        let alice = CurveSecretKey::generate();
        let bob = CurveSecretKey::generate();
        let mallory = CurveSecretKey::generate();
        let n = nonce(b"CurveZMQMESSAGEC", &7u64.to_be_bytes());
        let mut sealed = BytesMut::new();
        BoxKey::between(&bob.public_key(), &alice).seal_into(&n, b"hello", &mut sealed);
        assert_eq!(sealed.len(), 5 + TAG_LEN);
        let opened = BoxKey::between(&alice.public_key(), &bob).open(&n, &sealed);
        assert_eq!(opened.as_deref(), Some(&b"hello"[..]));
        assert!(BoxKey::between(&alice.public_key(), &mallory)
            .open(&n, &sealed)
            .is_none());
        let other = nonce(b"CurveZMQMESSAGEC", &8u64.to_be_bytes());
        assert!(BoxKey::between(&alice.public_key(), &bob)
            .open(&other, &sealed)
            .is_none());
        let mut altered = sealed.clone();
        altered[TAG_LEN] ^= 1;
        assert!(BoxKey::between(&alice.public_key(), &bob)
            .open(&n, &altered)
            .is_none());
        assert!(BoxKey::between(&alice.public_key(), &bob)
            .open(&n, &sealed[..10])
            .is_none());
    }

    #[test]
    fn secret_boxes_round_trip() {
        let key = BoxKey::secret(&[9; 32]);
        let n = nonce(b"COOKIE--", &[1; 16]);
        let mut sealed = BytesMut::new();
        key.seal_into(&n, &[3; 64], &mut sealed);
        assert_eq!(sealed.len(), 80);
        assert_eq!(key.open(&n, &sealed).as_deref(), Some(&[3u8; 64][..]));
    }
}
