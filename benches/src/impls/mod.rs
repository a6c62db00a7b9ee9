//! One module per implementation, each with the ends it supports: `lat`,
//! `thr`, `fanout`, `lb` and `peer`. `supports` says which.

pub mod libzmq;
pub mod monocoque;
pub mod raw;
pub mod zeromq;
mod zmtp_frames;

use crate::cli::{Impl, Transport};
use crate::Kind;

/// Why `imp` cannot run `kind` over `transport`, if it cannot.
pub fn unsupported(kind: Kind, imp: Impl, transport: Transport) -> Option<&'static str> {
    match (kind, imp, transport) {
        (Kind::Floor, Impl::Raw, Transport::Inproc) => Some("the floor is a socket pair"),
        (Kind::Floor, Impl::Raw, _) => None,
        (Kind::Floor, _, _) => Some("the floor is raw sockets only"),
        (Kind::Broker, Impl::Monocoque | Impl::Libzmq, _) => None,
        (Kind::Broker, _, _) => Some("box compares the appliance and zmq_proxy"),
        (_, Impl::Raw, Transport::Inproc) => Some("raw sockets have no inproc"),
        (Kind::Fanout(..) | Kind::Lb(_), Impl::Raw, _) => Some("no raw variant (no pattern)"),
        (Kind::Fanout(..) | Kind::Lb(_), _, Transport::Inproc) => {
            Some("fanout and lb run across processes: tcp or ipc")
        }
        (_, Impl::Zeromq, Transport::Inproc) => Some("zmq.rs has no inproc transport"),
        _ => None,
    }
}
