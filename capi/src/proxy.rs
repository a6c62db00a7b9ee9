//! `zmq_proxy` and `zmq_proxy_steerable`, on the calling thread, as libzmq
//! runs them.

use std::ffi::{c_int, c_void};

use monocoque_patterns::{blocking_proxy, blocking_proxy_steerable, BlockingSocket};

use crate::boundary::{guarded, Errno};
use crate::errno::errno_of;
use crate::socket::socket;

/// The socket behind a proxy argument (NULL: none, for capture and control).
///
/// # Safety
/// As [`socket`]: NULL or a live socket from `zmq_socket`.
unsafe fn optional<'a>(s: *mut c_void) -> Result<Option<&'a BlockingSocket>, Errno> {
    if s.is_null() {
        return Ok(None);
    }
    // SAFETY: per the contract; only read here.
    Ok(Some(&unsafe { socket(s) }?.socket))
}

/// `zmq_proxy`: moves messages between `frontend` and `backend` (a copy of
/// each to `capture`, if not NULL) until the context is shut down; then -1
/// with ETERM, as libzmq.
#[no_mangle]
pub unsafe extern "C" fn zmq_proxy(
    frontend: *mut c_void,
    backend: *mut c_void,
    capture: *mut c_void,
) -> c_int {
    guarded(-1, || {
        // SAFETY: the caller passes sockets from zmq_socket (capture may be
        // NULL); the proxy only reads the handles.
        let (f, b, c) = unsafe { (optional(frontend)?, optional(backend)?, optional(capture)?) };
        let (f, b) = (f.ok_or(libc::ENOTSOCK)?, b.ok_or(libc::ENOTSOCK)?);
        blocking_proxy(f, b, c).map_err(|e| errno_of(&e))?;
        Ok(0)
    })
}

/// `zmq_proxy_steerable`: `zmq_proxy` steered by PAUSE, RESUME, TERMINATE
/// and STATISTICS on `control` (NULL: a plain proxy); 0 after TERMINATE.
#[no_mangle]
pub unsafe extern "C" fn zmq_proxy_steerable(
    frontend: *mut c_void,
    backend: *mut c_void,
    capture: *mut c_void,
    control: *mut c_void,
) -> c_int {
    guarded(-1, || {
        // SAFETY: as zmq_proxy; control may be NULL.
        let (f, b, c, k) = unsafe {
            (
                optional(frontend)?,
                optional(backend)?,
                optional(capture)?,
                optional(control)?,
            )
        };
        let (f, b) = (f.ok_or(libc::ENOTSOCK)?, b.ok_or(libc::ENOTSOCK)?);
        match k {
            Some(k) => blocking_proxy_steerable(f, b, c, k),
            None => blocking_proxy(f, b, c),
        }
        .map_err(|e| errno_of(&e))?;
        Ok(0)
    })
}
