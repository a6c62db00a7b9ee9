//! Z85 (RFC 32): binary as printable text, 4 bytes to 5 characters.
//!
//! CURVE keys travel in configuration files and on command lines as 40
//! characters of Z85. The alphabet avoids quotes and backslashes so a key can
//! sit in a string literal or a shell argument unescaped.
//!
//! ```
//! use monocoque_zmtp::z85;
//! let text = z85::encode(&[0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]).unwrap();
//! assert_eq!(text, "HelloWorld");
//! assert_eq!(z85::decode(&text).unwrap(), [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]);
//! ```

/// The 85 characters, value 0 first (RFC 32).
const ALPHABET: &[u8; 85] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Why a Z85 conversion was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Z85Error {
    /// Binary input must be a multiple of 4 bytes.
    #[error("Z85 encodes whole groups of 4 bytes; {0} bytes is not a multiple of 4")]
    BinaryLength(usize),
    /// Text input must be a multiple of 5 characters.
    #[error("Z85 text comes in groups of 5 characters; {0} characters is not a multiple of 5")]
    TextLength(usize),
    /// A character outside the Z85 alphabet.
    #[error("{character:?} at position {position} is not a Z85 character")]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its byte offset in the text.
        position: usize,
    },
    /// A group of five characters whose value does not fit in 32 bits.
    #[error("the Z85 group at position {0} is larger than 32 bits")]
    GroupOverflow(usize),
}

/// Encodes `data` (a multiple of 4 bytes) as Z85 text.
pub fn encode(data: &[u8]) -> Result<String, Z85Error> {
    if data.len() % 4 != 0 {
        return Err(Z85Error::BinaryLength(data.len()));
    }
    let mut out = String::with_capacity(data.len() / 4 * 5);
    for group in data.chunks_exact(4) {
        let mut value = u32::from_be_bytes([group[0], group[1], group[2], group[3]]);
        let mut chars = [0u8; 5];
        for slot in chars.iter_mut().rev() {
            *slot = ALPHABET[(value % 85) as usize];
            value /= 85;
        }
        out.extend(chars.iter().map(|&c| c as char));
    }
    Ok(out)
}

/// Decodes Z85 text (a multiple of 5 characters).
pub fn decode(text: &str) -> Result<Vec<u8>, Z85Error> {
    let bytes = text.as_bytes();
    if bytes.len() % 5 != 0 {
        return Err(Z85Error::TextLength(bytes.len()));
    }
    let mut out = Vec::with_capacity(bytes.len() / 5 * 4);
    for (index, group) in bytes.chunks_exact(5).enumerate() {
        let start = index * 5;
        let mut value: u64 = 0;
        for (offset, &c) in group.iter().enumerate() {
            let digit = digit_of(c).ok_or_else(|| Z85Error::InvalidCharacter {
                character: text
                    .get(start + offset..)
                    .and_then(|rest| rest.chars().next())
                    .unwrap_or('?'),
                position: start + offset,
            })?;
            value = value * 85 + u64::from(digit);
        }
        let value = u32::try_from(value).map_err(|_| Z85Error::GroupOverflow(start))?;
        out.extend_from_slice(&value.to_be_bytes());
    }
    Ok(out)
}

fn digit_of(c: u8) -> Option<u8> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_32_test_vector() {
        let data = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];
        assert_eq!(encode(&data).unwrap(), "HelloWorld");
        assert_eq!(decode("HelloWorld").unwrap(), data);
    }

    #[test]
    fn libzmq_test_keys_decode_to_32_bytes() {
        // The server key pair used throughout libzmq's test_security_curve.
        let public = decode("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7").unwrap();
        let secret = decode("JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6").unwrap();
        assert_eq!(public.len(), 32);
        assert_eq!(secret.len(), 32);
        assert_eq!(
            encode(&public).unwrap(),
            "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
        );
    }

    #[test]
    fn zeros_are_zeros() {
        assert_eq!(encode(&[0; 8]).unwrap(), "0000000000");
        assert_eq!(encode(&[0xff; 4]).unwrap(), "%nSc0");
    }

    #[test]
    fn refusals_name_the_problem() {
        assert_eq!(encode(&[1, 2, 3]), Err(Z85Error::BinaryLength(3)));
        assert_eq!(decode("Hell"), Err(Z85Error::TextLength(4)));
        assert_eq!(
            decode("Hell\"World"),
            Err(Z85Error::InvalidCharacter {
                character: '"',
                position: 4
            })
        );
        assert_eq!(decode("#####"), Err(Z85Error::GroupOverflow(0)));
        assert!(matches!(
            decode("Hellé1234"),
            Err(Z85Error::InvalidCharacter { position: 4, .. }) | Err(Z85Error::TextLength(_))
        ));
    }

    proptest! {
        #[test]
        fn round_trips(words in proptest::collection::vec(any::<[u8; 4]>(), 0..32)) {
            let data: Vec<u8> = words.concat();
            let text = encode(&data).unwrap();
            prop_assert_eq!(text.len(), data.len() / 4 * 5);
            prop_assert_eq!(decode(&text).unwrap(), data);
        }
    }
}
