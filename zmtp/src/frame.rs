//! The ZMTP frame: one flags byte, a 1- or 8-byte length, then the body.
//!
//! ```text
//! frame      = short-frame | long-frame
//! short-frame = flags 1OCTET  *OCTET   ; body of 0..255 octets
//! long-frame  = flags 8OCTET  *OCTET   ; big-endian u64 length
//! flags: bit 0 MORE, bit 1 LONG, bit 2 COMMAND; bits 3-7 reserved
//! ```
//!
//! libzmq writes the long form only above 255 bytes but reads it for any size,
//! and ignores the reserved bits; so do we.

use bytes::Bytes;

/// Another frame of the same message follows.
pub const FLAG_MORE: u8 = 0x01;
/// The length is 8 bytes (big-endian) rather than 1.
pub const FLAG_LONG: u8 = 0x02;
/// The frame is a command, not message data.
pub const FLAG_COMMAND: u8 = 0x04;

/// Longest frame header: flags plus an 8-byte length.
pub const MAX_HEADER_LEN: usize = 9;

/// A decoded frame. The body is a slice of the received bytes where possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// More frames of the same message follow.
    pub more: bool,
    /// This is a command frame.
    pub command: bool,
    /// The frame body.
    pub body: Bytes,
}

/// An encoded frame header, kept apart from the body so the body need not be copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    bytes: [u8; MAX_HEADER_LEN],
    len: u8,
}

impl FrameHeader {
    /// The header for a body of `body_len` bytes: short form up to 255, long above,
    /// as libzmq writes it.
    ///
    /// ```
    /// use monocoque_zmtp::frame::FrameHeader;
    /// assert_eq!(FrameHeader::new(true, false, 5).as_bytes(), &[0x01, 5]);
    /// assert_eq!(FrameHeader::new(false, false, 256).as_bytes(), &[0x02, 0, 0, 0, 0, 0, 0, 1, 0]);
    /// ```
    #[inline]
    pub fn new(more: bool, command: bool, body_len: usize) -> FrameHeader {
        let flags = FrameHeader::flags(more, command);
        let mut bytes = [0u8; MAX_HEADER_LEN];
        if body_len <= 255 {
            bytes[0] = flags;
            bytes[1] = body_len as u8;
            FrameHeader { bytes, len: 2 }
        } else {
            bytes[0] = flags | FLAG_LONG;
            bytes[1..9].copy_from_slice(&(body_len as u64).to_be_bytes());
            FrameHeader { bytes, len: 9 }
        }
    }

    /// The flags octet of a short frame: MORE and COMMAND as given.
    ///
    /// ```
    /// use monocoque_zmtp::frame::FrameHeader;
    /// assert_eq!(FrameHeader::flags(true, false), 0x01);
    /// assert_eq!(FrameHeader::flags(false, true), 0x04);
    /// ```
    #[inline]
    pub fn flags(more: bool, command: bool) -> u8 {
        let mut flags = 0;
        if more {
            flags |= FLAG_MORE;
        }
        if command {
            flags |= FLAG_COMMAND;
        }
        flags
    }

    /// The header's wire bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}
