//! What a session reports to the layer above.

use bytes::Bytes;

use crate::error::Error;
use crate::message::Msg;
use crate::peer::PeerInfo;

/// An event from [`Session::poll_event`](crate::Session::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The handshake completed; messages may flow.
    HandshakeSucceeded(PeerInfo),
    /// A complete multipart message arrived.
    Message(Msg),
    /// The peer subscribed to a prefix (reported to PUB and XPUB sessions only;
    /// from SUBSCRIBE commands or, from any peer, `0x01 topic` messages).
    Subscribe(Bytes),
    /// The peer cancelled one subscription (as for [`Event::Subscribe`], with
    /// CANCEL or `0x00 topic`).
    Cancel(Bytes),
    /// The client presented these credentials and the mechanism's
    /// admission is [`Admission::Deferred`](crate::mechanism::Admission::Deferred):
    /// decide (a ZAP handler, say) and answer with
    /// [`Session::admit`](crate::Session::admit). The handshake waits; its
    /// timeout still runs.
    AuthenticationRequested(crate::mechanism::PresentedCredentials),
    /// The session ended. Output still queued (an ERROR command for a denied
    /// client) should be flushed before the connection is closed.
    Closed(Error),
}
