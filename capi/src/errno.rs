//! errno as libzmq sets it: the system's values, plus libzmq's own above
//! `ZMQ_HAUSNUMERO` (EFSM, ENOCOMPATPROTO, ETERM, EMTHREAD); `zmq_errno` and
//! `zmq_strerror`.

use std::ffi::{c_char, c_int};

use monocoque_patterns::Error;

/// What a failed call reports: the errno value to set.
pub(crate) type Errno = i32;

/// Base of libzmq's own error numbers.
pub(crate) const HAUSNUMERO: c_int = 156_384_712;
/// The operation is not valid in the socket's state (a REQ sending twice).
pub(crate) const EFSM: c_int = HAUSNUMERO + 51;
/// The peer's protocol does not fit.
pub(crate) const ENOCOMPATPROTO: c_int = HAUSNUMERO + 52;
/// The context was terminated.
pub(crate) const ETERM: c_int = HAUSNUMERO + 53;
/// No IO thread is available.
pub(crate) const EMTHREAD: c_int = HAUSNUMERO + 54;

/// Sets the calling thread's errno.
pub(crate) fn set_errno(e: Errno) {
    // SAFETY: __errno_location returns the calling thread's errno slot,
    // valid for the thread's lifetime.
    unsafe { *libc::__errno_location() = e };
}

/// The errno libzmq sets for what the socket layer reports.
pub(crate) fn errno_of(e: &Error) -> Errno {
    match e {
        Error::InvalidState(_) => EFSM,
        Error::Malformed(_) => libc::EINVAL,
        Error::DuplicateIdentity => libc::EHOSTUNREACH,
        Error::WouldBlock(_) => libc::EAGAIN,
        Error::HostUnreachable => libc::EHOSTUNREACH,
        Error::NotSupported { .. } => libc::ENOTSUP,
        Error::InvalidEndpoint { reason, .. } => endpoint_errno(reason),
        Error::InvalidOption { .. } => libc::EINVAL,
        Error::UnknownEndpoint(_) => libc::ENOENT,
        Error::InprocInUse(_) => libc::EADDRINUSE,
        Error::Io { kind, message, .. } => io_errno(*kind, message),
        Error::NoRuntime => libc::EFAULT,
        Error::Closed => libc::ENOTSOCK,
        Error::Terminated => ETERM,
        _ => libc::EINVAL,
    }
}

/// An endpoint refused: libzmq says EPROTONOSUPPORT for a transport it
/// does not know, ENAMETOOLONG for an ipc path over `sun_path`, EINVAL for
/// the rest (`tcp:*`, without `://`, included).
fn endpoint_errno(reason: &str) -> Errno {
    if reason.starts_with("unknown transport") {
        libc::EPROTONOSUPPORT
    } else if reason == monocoque_patterns::IPC_PATH_TOO_LONG {
        libc::ENAMETOOLONG
    } else {
        libc::EINVAL
    }
}

/// A system call's failure, by the kind std gives it (bind: EADDRINUSE,
/// EADDRNOTAVAIL; name lookups: EINVAL as libzmq reports them).
fn io_errno(kind: std::io::ErrorKind, message: &str) -> Errno {
    use std::io::ErrorKind::*;
    match kind {
        AddrInUse => libc::EADDRINUSE,
        AddrNotAvailable => libc::EADDRNOTAVAIL,
        PermissionDenied if message.contains("not permitted") => libc::EPERM,
        PermissionDenied => libc::EACCES,
        ConnectionRefused => libc::ECONNREFUSED,
        NotFound => libc::ENOENT,
        TimedOut => libc::ETIMEDOUT,
        _ if message.contains("No such device") => libc::ENODEV,
        _ => libc::EINVAL,
    }
}

/// `zmq_errno`: the calling thread's errno.
#[no_mangle]
pub extern "C" fn zmq_errno() -> c_int {
    // SAFETY: see set_errno.
    unsafe { *libc::__errno_location() }
}

/// `zmq_strerror`: a message for an errno value, libzmq's wording for its own.
#[no_mangle]
pub extern "C" fn zmq_strerror(errnum: c_int) -> *const c_char {
    let own: &'static [u8] = match errnum {
        EFSM => b"Operation cannot be accomplished in current state\0",
        ENOCOMPATPROTO => b"The protocol is not compatible with the socket type\0",
        ETERM => b"Context was terminated\0",
        EMTHREAD => b"No thread available\0",
        // SAFETY: strerror returns a pointer to a static (or thread-local)
        // string, which is what zmq_strerror's callers expect.
        _ => return unsafe { libc::strerror(errnum) },
    };
    own.as_ptr().cast()
}
