//! The patterns crate's error type.

/// What a socket operation can fail with, named after libzmq's errno where one exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operation is not valid in the socket's current state (libzmq EFSM): a REQ
    /// sending twice without a reply, a REP replying with no request.
    #[error("operation not valid in the socket's current state: {0} (EFSM)")]
    InvalidState(&'static str),
    /// A message without the frames the socket type needs.
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// Another connected peer already uses the routing id and ROUTER_HANDOVER is off.
    #[error("routing id already in use by a connected peer (ROUTER_HANDOVER is off)")]
    DuplicateIdentity,
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
