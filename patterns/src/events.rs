//! What a socket (or descriptor) can do now without waiting: libzmq's
//! ZMQ_EVENTS, and the interest and result of a poll item.

use std::ops::BitOr;

/// A set of readiness events, as libzmq's ZMQ_EVENTS and `zmq_poll` name
/// them: POLLIN (a message can be received now), POLLOUT (a message can be
/// sent now), and for a descriptor in [`poll`](crate::poll) POLLERR.
///
/// ```
/// use monocoque_patterns::Events;
/// let both = Events::POLLIN | Events::POLLOUT;
/// assert!(both.contains(Events::POLLIN));
/// assert!(!Events::NONE.contains(Events::POLLOUT));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Events {
    readable: bool,
    writable: bool,
    error: bool,
}

impl Events {
    /// No event.
    pub const NONE: Events = Events::new(false, false);
    /// A message can be received (a descriptor read) without waiting.
    pub const POLLIN: Events = Events::new(true, false);
    /// A message can be sent (a descriptor written) without waiting.
    pub const POLLOUT: Events = Events::new(false, true);
    /// A descriptor has an error condition, or is not open (poll(2)'s
    /// POLLERR and POLLNVAL). Reported whatever the interest, never for a
    /// socket.
    pub const POLLERR: Events = Events {
        readable: false,
        writable: false,
        error: true,
    };

    /// POLLIN if `readable`, and POLLOUT if `writable`.
    pub const fn new(readable: bool, writable: bool) -> Events {
        Events {
            readable,
            writable,
            error: false,
        }
    }

    /// Whether POLLIN is in the set.
    pub const fn is_readable(self) -> bool {
        self.readable
    }

    /// Whether POLLOUT is in the set.
    pub const fn is_writable(self) -> bool {
        self.writable
    }

    /// Whether POLLERR is in the set.
    pub const fn is_error(self) -> bool {
        self.error
    }

    /// Whether every event of `other` is in the set.
    pub const fn contains(self, other: Events) -> bool {
        (self.readable || !other.readable)
            && (self.writable || !other.writable)
            && (self.error || !other.error)
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        !self.readable && !self.writable && !self.error
    }

    /// The events in both sets.
    pub const fn intersection(self, other: Events) -> Events {
        Events {
            readable: self.readable && other.readable,
            writable: self.writable && other.writable,
            error: self.error && other.error,
        }
    }
}

impl BitOr for Events {
    type Output = Events;
    fn bitor(self, other: Events) -> Events {
        Events {
            readable: self.readable || other.readable,
            writable: self.writable || other.writable,
            error: self.error || other.error,
        }
    }
}
