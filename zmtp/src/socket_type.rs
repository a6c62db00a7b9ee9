//! The ZeroMQ socket types as ZMTP names them, and which pairs may talk.

use std::fmt;

/// A ZeroMQ socket type, as carried in the `Socket-Type` property of READY.
///
/// ```
/// use monocoque_zmtp::SocketType;
/// assert_eq!(SocketType::Dealer.as_str(), "DEALER");
/// assert!(SocketType::Req.is_compatible_with(SocketType::Router));
/// assert!(!SocketType::Push.is_compatible_with(SocketType::Push));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SocketType {
    /// Exclusive pair (RFC 31).
    Pair,
    /// Publisher (RFC 29).
    Pub,
    /// Subscriber (RFC 29).
    Sub,
    /// Requester (RFC 28).
    Req,
    /// Replier (RFC 28).
    Rep,
    /// Asynchronous requester / replier (RFC 28).
    Dealer,
    /// Addressed routing by identity (RFC 28).
    Router,
    /// Pipeline sink (RFC 30).
    Pull,
    /// Pipeline source (RFC 30).
    Push,
    /// Publisher that sees subscriptions (RFC 29).
    XPub,
    /// Subscriber that sends subscriptions as messages (RFC 29).
    XSub,
    /// Raw TCP behind a ROUTER-like interface (libzmq's ZMQ_STREAM): it
    /// speaks no ZMTP, so it is in no greeting, never in [`ALL`](Self::ALL)
    /// and compatible with no ZMTP peer.
    Stream,
}

impl SocketType {
    /// Every socket type that speaks ZMTP, in libzmq's numbering order
    /// (STREAM, which does not, is left out).
    pub const ALL: [SocketType; 11] = [
        SocketType::Pair,
        SocketType::Pub,
        SocketType::Sub,
        SocketType::Req,
        SocketType::Rep,
        SocketType::Dealer,
        SocketType::Router,
        SocketType::Pull,
        SocketType::Push,
        SocketType::XPub,
        SocketType::XSub,
    ];

    /// The exact spelling used on the wire (libzmq compares it case-sensitively).
    pub const fn as_str(self) -> &'static str {
        match self {
            SocketType::Pair => "PAIR",
            SocketType::Pub => "PUB",
            SocketType::Sub => "SUB",
            SocketType::Req => "REQ",
            SocketType::Rep => "REP",
            SocketType::Dealer => "DEALER",
            SocketType::Router => "ROUTER",
            SocketType::Pull => "PULL",
            SocketType::Push => "PUSH",
            SocketType::XPub => "XPUB",
            SocketType::XSub => "XSUB",
            SocketType::Stream => "STREAM",
        }
    }

    /// Parses a wire name. Exact, case-sensitive match, as libzmq does.
    pub fn from_wire(name: &[u8]) -> Option<SocketType> {
        SocketType::ALL
            .into_iter()
            .find(|t| t.as_str().as_bytes() == name)
    }

    /// libzmq's `ZMQ_*` number for this type, which a ZMTP 1.0 or 2.0
    /// greeting carries.
    ///
    /// ```
    /// use monocoque_zmtp::SocketType;
    /// assert_eq!(SocketType::Dealer.zmq_number(), 5);
    /// assert_eq!(SocketType::from_zmq_number(10), Some(SocketType::XSub));
    /// ```
    pub fn zmq_number(self) -> u8 {
        match self {
            SocketType::Pair => 0,
            SocketType::Pub => 1,
            SocketType::Sub => 2,
            SocketType::Req => 3,
            SocketType::Rep => 4,
            SocketType::Dealer => 5,
            SocketType::Router => 6,
            SocketType::Pull => 7,
            SocketType::Push => 8,
            SocketType::XPub => 9,
            SocketType::XSub => 10,
            SocketType::Stream => 11,
        }
    }

    /// The ZMTP type libzmq numbers `n`, if it is one of ours.
    pub fn from_zmq_number(n: u8) -> Option<SocketType> {
        SocketType::ALL.get(n as usize).copied()
    }

    /// Whether a socket of this type may talk to a peer of type `peer`.
    ///
    /// The valid pairs are libzmq's: REQ-REP, REQ-ROUTER, REP-DEALER,
    /// DEALER-DEALER, DEALER-ROUTER, ROUTER-ROUTER, PUB/XPUB-SUB/XSUB,
    /// PUSH-PULL and PAIR-PAIR.
    pub fn is_compatible_with(self, peer: SocketType) -> bool {
        use SocketType::*;
        matches!(
            (self, peer),
            (Req, Rep | Router)
                | (Rep, Req | Dealer)
                | (Dealer, Rep | Dealer | Router)
                | (Router, Req | Dealer | Router)
                | (Pub | XPub, Sub | XSub)
                | (Sub | XSub, Pub | XPub)
                | (Push, Pull)
                | (Pull, Push)
                | (Pair, Pair)
        )
    }

    /// Whether READY from this type carries an `Identity` property.
    ///
    /// libzmq sends one (possibly empty) from REQ, DEALER and ROUTER only.
    pub const fn sends_identity(self) -> bool {
        matches!(
            self,
            SocketType::Req | SocketType::Dealer | SocketType::Router
        )
    }

    /// Whether this type sends subscriptions upstream (SUB and XSUB).
    pub const fn is_subscriber(self) -> bool {
        matches!(self, SocketType::Sub | SocketType::XSub)
    }

    /// Whether this type receives subscriptions (PUB and XPUB).
    pub const fn is_publisher(self) -> bool {
        matches!(self, SocketType::Pub | SocketType::XPub)
    }
}

impl fmt::Display for SocketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_and_are_case_sensitive() {
        for t in SocketType::ALL {
            assert_eq!(SocketType::from_wire(t.as_str().as_bytes()), Some(t));
            let lower = t.as_str().to_ascii_lowercase();
            assert_eq!(SocketType::from_wire(lower.as_bytes()), None);
        }
        assert_eq!(SocketType::from_wire(b"STREAM"), None);
        assert_eq!(SocketType::Stream.zmq_number(), 11);
        assert_eq!(SocketType::from_zmq_number(11), None, "not in a greeting");
        for t in SocketType::ALL {
            assert_eq!(SocketType::from_zmq_number(t.zmq_number()), Some(t));
            assert!(!SocketType::Stream.is_compatible_with(t));
            assert!(!t.is_compatible_with(SocketType::Stream));
        }
    }

    #[test]
    fn compatibility_is_symmetric_and_matches_libzmq_count() {
        let mut pairs = 0;
        for a in SocketType::ALL {
            for b in SocketType::ALL {
                assert_eq!(a.is_compatible_with(b), b.is_compatible_with(a), "{a}-{b}");
                if a.is_compatible_with(b) {
                    pairs += 1;
                }
            }
        }
        // Ordered pairs: REQ-REP, REQ-ROUTER, REP-DEALER, DEALER-ROUTER (x2 each = 8),
        // DEALER-DEALER, ROUTER-ROUTER, PAIR-PAIR (1 each = 3), PUB/XPUB x SUB/XSUB (4 x2 = 8),
        // PUSH-PULL (2).
        assert_eq!(pairs, 21);
    }
}
