//! Subscriptions in their message form: one frame, `0x01` (subscribe) or
//! `0x00` (cancel), then the topic. This is how a SUB/XSUB's requests travel
//! through pipes (inproc peers send them so; engines turn ZMTP 3.1 SUBSCRIBE
//! and CANCEL commands into them and back), and how XPUB hands them to its user.

use bytes::{BufMut, BytesMut};
use monocoque_zmtp::Msg;

/// A subscription request carried as a message: one frame, `0x01`
/// (subscribe) or `0x00` (cancel), then the topic.
pub(crate) fn subscription_of(msg: &Msg) -> Option<(bool, &[u8])> {
    if msg.len() != 1 {
        return None;
    }
    let frame = &msg[0];
    match frame.first() {
        Some(1) => Some((true, &frame[1..])),
        Some(0) => Some((false, &frame[1..])),
        _ => None,
    }
}

/// The message form of a subscribe (`true`) or cancel of `topic`.
pub(crate) fn subscription_msg(subscribe: bool, topic: &[u8]) -> Msg {
    let mut b = BytesMut::with_capacity(1 + topic.len());
    b.put_u8(subscribe as u8);
    b.put_slice(topic);
    Msg::from(b.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_messages_round_trip() {
        let m = subscription_msg(true, b"topic");
        assert_eq!(&m[0][..], b"\x01topic");
        assert_eq!(subscription_of(&m), Some((true, &b"topic"[..])));
        assert_eq!(
            subscription_of(&subscription_msg(false, b"")),
            Some((false, &b""[..]))
        );
        assert_eq!(subscription_of(&Msg::from("\x02x")), None);
        assert_eq!(
            subscription_of(&Msg::from(["\x01a", "b"])),
            None,
            "multipart is data"
        );
        assert_eq!(subscription_of(&Msg::from(vec![bytes::Bytes::new()])), None);
    }
}
