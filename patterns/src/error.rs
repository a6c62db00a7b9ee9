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
    /// The operation would block and the timeout (SNDTIMEO/RCVTIMEO, or a
    /// non-blocking call) ran out (libzmq EAGAIN).
    #[error("the operation would block: {0} (EAGAIN)")]
    WouldBlock(&'static str),
    /// ROUTER_MANDATORY is on and no connected peer has this routing id
    /// (libzmq EHOSTUNREACH).
    #[error("no connected peer has this routing id (EHOSTUNREACH)")]
    HostUnreachable,
    /// The socket type cannot do this at all (libzmq ENOTSUP): recv on PUSH,
    /// send on PULL.
    #[error("{socket_type} sockets cannot {operation} (ENOTSUP)")]
    NotSupported {
        /// The socket's type.
        socket_type: &'static str,
        /// What was attempted.
        operation: &'static str,
    },
    /// An endpoint string that cannot be used, with the reason.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An option the socket type does not support, or a value out of range.
    #[error("option {option}: {reason} (EINVAL)")]
    InvalidOption {
        /// libzmq's name of the option.
        option: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// unbind/disconnect of an endpoint the socket is not bound or connected to
    /// (libzmq ENOENT).
    #[error("endpoint {0:?} is not bound or connected on this socket (ENOENT)")]
    UnknownEndpoint(String),
    /// An inproc name already bound in this context (libzmq EADDRINUSE).
    #[error("inproc endpoint {0:?} is already bound (EADDRINUSE)")]
    InprocInUse(String),
    /// A system call failed (bind, listen, resolve).
    #[error("{context}: {message}")]
    Io {
        /// What was being done.
        context: String,
        /// The operating system's message.
        message: String,
        /// The io error kind, for programs that branch on it.
        kind: std::io::ErrorKind,
    },
    /// Sockets of the async API must be made and used inside a runtime's
    /// `block_on` (use the blocking `Context` from other threads).
    #[error("not inside a monocoque runtime: create and use async sockets inside Runtime::block_on, or use Context")]
    NoRuntime,
    /// The socket was closed (libzmq ETERM / ENOTSOCK).
    #[error("the socket is closed")]
    Closed,
    /// The socket's `Context` was shut down, or its thread is gone (libzmq
    /// ETERM): close the socket.
    #[error("the context was shut down; close the socket (ETERM)")]
    Terminated,
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, e: &std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            message: e.to_string(),
            kind: e.kind(),
        }
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
