//! Each socket type's state and rules, as an enum of small structs: what a
//! REQ, a ROUTER or a PUB keeps beyond the pipes every socket has
//! ([`Peers`](super::peers::Peers)), and how it sends and receives.
//!
//! Sends and receives never wait: they report when the type's rule is to
//! block (no peer with room: [`Step::Wait`]; nothing to read: `None`); the
//! socket's async `send`/`recv` then wait for a signal and try again, up to
//! SNDTIMEO/RCVTIMEO.

mod publisher;
mod replier;
mod requester;
mod router;
mod subscriber;

use monocoque_zmtp::SocketType;

pub(crate) use publisher::{Publisher, Pump};
pub(crate) use replier::Replier;
pub(crate) use requester::Requester;
pub(crate) use router::{Registered, Router};
pub(crate) use subscriber::Subscriber;

use crate::options::Options;
use crate::PeerId;

/// The outcome of one non-waiting attempt.
#[derive(Debug)]
pub(crate) enum Step<T> {
    /// Done (sends hand back an empty message).
    Done(T),
    /// The rule says block; the message (for sends) is handed back.
    Wait(T),
}

/// A socket type's own state.
pub(crate) enum Role {
    /// PUSH, PULL, DEALER and PAIR: out to the next peer with room, in from
    /// the next with a message; nothing more to keep.
    Plain,
    /// REQ.
    Requester(Requester),
    /// REP.
    Replier(Replier),
    /// ROUTER.
    Router(Router),
    /// PUB and XPUB (boxed: by far the largest).
    Publisher(Box<Publisher>),
    /// SUB and XSUB.
    Subscriber(Subscriber),
}

impl Role {
    /// The state a new `kind` socket starts with; `seed` starts automatic
    /// routing ids and request ids where libzmq starts them at random.
    pub(crate) fn new(kind: SocketType, seed: u32, options: &Options) -> Role {
        use SocketType as T;
        let mut role = match kind {
            T::Req => Role::Requester(Requester::new(seed)),
            T::Rep => Role::Replier(Replier::default()),
            T::Router => Role::Router(Router::new(seed)),
            T::Stream => Role::Router(Router::for_stream(seed)),
            T::Pub | T::XPub => Role::Publisher(Box::new(Publisher::new(kind))),
            T::Sub | T::XSub => Role::Subscriber(Subscriber::new(kind)),
            _ => Role::Plain,
        };
        role.configure(options);
        role
    }

    /// Takes the options that shape the type's rules (after a set_option).
    pub(crate) fn configure(&mut self, options: &Options) {
        match self {
            Role::Requester(r) => r.configure(options),
            Role::Router(r) => r.configure(options),
            Role::Publisher(p) => p.configure(options),
            Role::Subscriber(s) => s.configure(options),
            Role::Plain | Role::Replier(_) => {}
        }
    }

    /// The connection under a persistent pipe dropped. Returns whether the
    /// departure is to be received as an empty message queued behind what
    /// the peer sent (a STREAM's, see `Router::peer_disconnected`).
    pub(crate) fn peer_disconnected(&mut self, peer: PeerId) -> bool {
        match self {
            // The subscriptions were the connection's: a reconnecting
            // subscriber sends its own again.
            Role::Publisher(p) => p.peer_gone(peer),
            Role::Router(r) => return r.peer_disconnected(peer),
            Role::Requester(r) => r.peer_gone(peer),
            Role::Plain | Role::Replier(_) | Role::Subscriber(_) => {}
        }
        false
    }

    /// The peer is gone; what it sent may still be read.
    pub(crate) fn peer_dying(&mut self, peer: PeerId) {
        match self {
            Role::Router(r) => r.peer_gone(peer),
            Role::Replier(r) => r.peer_gone(peer),
            Role::Requester(r) => r.peer_gone(peer),
            Role::Plain | Role::Publisher(_) | Role::Subscriber(_) => {}
        }
    }

    /// The peer's pipe left the socket for good.
    pub(crate) fn peer_removed(&mut self, peer: PeerId) {
        match self {
            Role::Publisher(p) => p.peer_removed(peer),
            Role::Router(r) => r.peer_removed(peer),
            other => other.peer_dying(peer),
        }
    }

    pub(crate) fn publisher(&mut self) -> Option<&mut Publisher> {
        match self {
            Role::Publisher(p) => Some(&mut **p),
            _ => None,
        }
    }

    pub(crate) fn publisher_ref(&self) -> Option<&Publisher> {
        match self {
            Role::Publisher(p) => Some(&**p),
            _ => None,
        }
    }
}
