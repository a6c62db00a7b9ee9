//! ZMTP metadata: the name/value properties carried by READY and INITIATE.
//!
//! ```text
//! metadata = *property
//! property = name value
//! name     = OCTET 1*255name-char      ; 1-byte length, then the name
//! value    = 4OCTET *OCTET             ; 4-byte big-endian length, then the value
//! ```
//!
//! Names are case-insensitive when read (RFC 37); we always write libzmq's exact
//! spellings (`Socket-Type`, `Identity`) because libzmq compares them case-sensitively.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{Error, Result};

/// The property that names the sender's socket type.
pub const SOCKET_TYPE: &str = "Socket-Type";
/// The property that carries the sender's routing id (REQ, DEALER, ROUTER).
pub const IDENTITY: &str = "Identity";
/// The property under which an authenticator's user id is exposed.
pub const USER_ID: &str = "User-Id";

/// The largest value length the grammar allows (INT32_MAX).
const MAX_VALUE_LEN: usize = i32::MAX as usize;

/// An ordered list of properties. Values are slices of the received frame (no copy).
///
/// ```
/// use monocoque_zmtp::Metadata;
/// let mut m = Metadata::new();
/// m.push("Socket-Type", "DEALER");
/// let wire = m.encode();
/// let back = Metadata::parse(&wire).unwrap();
/// assert_eq!(back.get("socket-type").unwrap(), "DEALER");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    properties: Vec<(Bytes, Bytes)>,
}

impl Metadata {
    /// An empty property list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a property. Names longer than 255 bytes are refused by
    /// [`SessionConfig::validate`](crate::SessionConfig::validate), not here.
    pub fn push(&mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) {
        self.properties.push((name.into(), value.into()));
    }

    /// The first value whose name matches `name`, ignoring ASCII case.
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        self.properties
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// All properties in the order they were received or pushed.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.properties.iter().map(|(n, v)| (n, v))
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        self.properties.len()
    }

    /// Whether there are no properties.
    pub fn is_empty(&self) -> bool {
        self.properties.is_empty()
    }

    /// The number of bytes [`encode_into`](Self::encode_into) writes.
    pub fn encoded_len(&self) -> usize {
        self.properties
            .iter()
            .map(|(n, v)| 1 + n.len() + 4 + v.len())
            .sum()
    }

    /// Writes the properties in wire form.
    pub fn encode_into(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_len());
        for (name, value) in &self.properties {
            out.put_u8(name.len() as u8);
            out.put_slice(name);
            out.put_u32(value.len() as u32);
            out.put_slice(value);
        }
    }

    /// The properties in wire form.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out.freeze()
    }

    /// Parses properties from `wire`, which must hold exactly whole properties.
    ///
    /// A property cut short is an error, as in libzmq. Zero-length names are
    /// accepted (libzmq accepts them) although the RFC calls them invalid.
    pub fn parse(wire: &Bytes) -> Result<Metadata> {
        let mut properties = Vec::new();
        let mut pos = 0;
        while pos < wire.len() {
            let name_len = wire[pos] as usize;
            pos += 1;
            if wire.len() - pos < name_len {
                return Err(Error::MalformedMetadata(
                    "a property name runs past the end",
                ));
            }
            let name = wire.slice(pos..pos + name_len);
            pos += name_len;
            if wire.len() - pos < 4 {
                return Err(Error::MalformedMetadata(
                    "a property value length runs past the end",
                ));
            }
            let value_len =
                u32::from_be_bytes([wire[pos], wire[pos + 1], wire[pos + 2], wire[pos + 3]])
                    as usize;
            pos += 4;
            if value_len > MAX_VALUE_LEN {
                return Err(Error::MalformedMetadata(
                    "a property value is longer than 2^31-1 bytes",
                ));
            }
            if wire.len() - pos < value_len {
                return Err(Error::MalformedMetadata(
                    "a property value runs past the end",
                ));
            }
            let value = wire.slice(pos..pos + value_len);
            pos += value_len;
            properties.push((name, value));
        }
        Ok(Metadata { properties })
    }
}

/// Checks a property name we are about to send: 1 to 255 characters from the
/// RFC's set (letters, digits, `-`, `_`, `.`, `+`).
pub(crate) fn validate_name(name: &[u8]) -> std::result::Result<(), String> {
    if name.is_empty() || name.len() > 255 {
        return Err(format!(
            "property names are 1 to 255 bytes, this one is {}",
            name.len()
        ));
    }
    if let Some(bad) = name
        .iter()
        .find(|c| !(c.is_ascii_alphanumeric() || b"-_.+".contains(c)))
    {
        return Err(format!(
            "property name {:?} holds {:?}; names use letters, digits and - _ . +",
            String::from_utf8_lossy(name),
            *bad as char
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_byte_exact() {
        let mut m = Metadata::new();
        m.push("Socket-Type", "REQ");
        m.push("Identity", "");
        let mut expected = vec![11];
        expected.extend_from_slice(b"Socket-Type");
        expected.extend_from_slice(&[0, 0, 0, 3]);
        expected.extend_from_slice(b"REQ");
        expected.push(8);
        expected.extend_from_slice(b"Identity");
        expected.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(&m.encode()[..], &expected[..]);
        assert_eq!(m.encoded_len(), expected.len());
    }

    #[test]
    fn truncated_properties_are_errors() {
        let mut m = Metadata::new();
        m.push("Socket-Type", "DEALER");
        let wire = m.encode();
        for cut in 1..wire.len() {
            assert!(
                Metadata::parse(&wire.slice(..cut)).is_err(),
                "accepted a property cut at {cut}"
            );
        }
        assert_eq!(Metadata::parse(&Bytes::new()).unwrap().len(), 0);
    }

    #[test]
    fn over_long_value_length_is_refused() {
        let wire = Bytes::from_static(&[1, b'A', 0x80, 0, 0, 0]);
        assert_eq!(
            Metadata::parse(&wire),
            Err(Error::MalformedMetadata(
                "a property value is longer than 2^31-1 bytes"
            ))
        );
    }

    #[test]
    fn names_are_validated_for_sending() {
        assert!(validate_name(b"X-Hello.World_1+").is_ok());
        assert!(validate_name(b"").is_err());
        assert!(validate_name(b"X Space").is_err());
        assert!(validate_name(&[b'X'; 256]).is_err());
    }
}
