//! # Monocoque
//!
//! A ZeroMQ stack for dedicated low-latency boxes. It speaks ZMTP 3.1 on the wire
//! (with 3.0 fallback), so libzmq, pyzmq and zmq.rs peers work with it unchanged.
//!
//! Today this crate is the public facade over the protocol layer,
//! [`zmtp`] (`monocoque-zmtp`): the sans-IO ZMTP session that the runtime and the
//! socket types will be built on. The names a user needs most are re-exported at
//! the top level.
//!
//! ```
//! use std::time::Instant;
//! use monocoque::{Event, Msg, Session, SessionConfig, SocketType};
//!
//! let now = Instant::now();
//! let mut client = Session::new(SessionConfig::new(SocketType::Req), now)?;
//! let mut server = Session::new(SessionConfig::new(SocketType::Rep), now)?;
//! // Greeting, then READY, each way.
//! for _ in 0..2 {
//!     let (c, s) = (client.transmit().take_all(), server.transmit().take_all());
//!     server.handle_input(c, now);
//!     client.handle_input(s, now);
//!     while client.poll_event().is_some() {}
//!     while server.poll_event().is_some() {}
//! }
//! client.send(&Msg::from(["", "hello"]))?;
//! server.handle_input(client.transmit().take_all(), now);
//! assert_eq!(server.poll_event(), Some(Event::Message(Msg::from(["", "hello"]))));
//! # Ok::<(), monocoque::zmtp::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use bytes::{self, Bytes};
pub use monocoque_zmtp as zmtp;
pub use monocoque_zmtp::{
    AuthDecision, Authenticator, Credentials, Event, MechanismConfig, Msg, PeerInfo, Session,
    SessionConfig, SocketType,
};
