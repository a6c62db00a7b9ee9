//! `zmq_version` and `zmq_has`.

use std::ffi::{c_char, c_int};

use crate::boundary::c_str;

/// The libzmq version whose ABI and behaviour this library offers: 4.3.4,
/// whose own test suite judges it (scripts/libzmq-tests) and which the
/// distributions' pyzmq is built against. Where 4.3.5 behaves otherwise
/// (the proxy's STATISTICS counts parts there), 4.3.4 is followed.
const VERSION: (c_int, c_int, c_int) = (4, 3, 4);

/// `zmq_version`: 4.3.4, the ABI offered.
#[no_mangle]
pub unsafe extern "C" fn zmq_version(major: *mut c_int, minor: *mut c_int, patch: *mut c_int) {
    for (out, v) in [(major, VERSION.0), (minor, VERSION.1), (patch, VERSION.2)] {
        if !out.is_null() {
            // SAFETY: the caller passes an int pointer (or NULL, skipped).
            unsafe { *out = v };
        }
    }
}

/// `zmq_has`: 1 for the capabilities offered ("ipc", "curve"), 0 for the
/// rest (pgm, tipc, norm, vmci, gssapi, draft).
#[no_mangle]
pub unsafe extern "C" fn zmq_has(capability: *const c_char) -> c_int {
    // SAFETY: the caller passes a C string.
    match unsafe { c_str(capability) } {
        Ok("ipc" | "curve") => 1,
        _ => 0,
    }
}
