//! # monocoque-zmtp
//!
//! The ZeroMQ Message Transport Protocol (ZMTP 3.1, with 3.0 fallback) as a
//! library that performs no IO: bytes and `Instant`s in, events and bytes to send
//! out. It holds the greeting, the frame codec, the commands, the NULL, PLAIN
//! and CURVE security mechanisms, Z85, and [`Session`], the per-connection state machine.
//!
//! It has no sockets, threads, clock reads or `unsafe`, so every behaviour is
//! tested byte for byte. The runtime and the socket patterns are built on top.
//!
//! Where libzmq and the RFC text differ, this crate follows libzmq, the peer that
//! counts; each such place says so in its doc comment.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod command;
mod error;
pub mod frame;
pub mod frame_buffer_pool;
pub mod frame_decoder;
pub mod greeting;
mod input_buffer;
pub mod mechanism;
mod message;
mod message_budget;
pub mod metadata;
mod peer;
mod session;
mod socket_type;
mod transmit_queue;
mod wire_run;
pub mod z85;

pub use error::{Error, Result};
pub use greeting::ProtocolVersion;
pub use input_buffer::InputBuffer;
pub use mechanism::{
    Admission, AuthDecision, AuthRequest, Authenticator, Credentials, MechanismConfig,
    PresentedCredentials, ZapReplyProblem,
};
pub use message::{IntoFrames, Msg};
pub use metadata::Metadata;
pub use peer::{check_peer_metadata, PeerInfo, PeerProperties, MAX_IDENTITY_LEN};
pub use session::{
    Event, Session, SessionConfig, SessionState, SessionStats, DEFAULT_HANDSHAKE_TIMEOUT,
    HANDSHAKE_FRAME_LIMIT, MAX_HEARTBEAT_TTL, MAX_OWED_PONGS, ZERO_COPY_FRAMES,
};
pub use socket_type::SocketType;
pub use transmit_queue::{TransmitQueue, DEFAULT_COPY_THRESHOLD};
pub use wire_run::{encode_single, WireRun};
