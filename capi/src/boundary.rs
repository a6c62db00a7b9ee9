//! The C boundary: no panic crosses it, and failures become libzmq's
//! `-1` (or NULL) with `errno` set.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::errno::set_errno;
pub(crate) use crate::errno::Errno;

/// Runs `body`; on `Err(e)` sets errno to `e` and returns `failed`; a panic
/// is caught, logged, and reported as EFAULT (an internal error, never a
/// crash of the host program).
pub(crate) fn guarded<T: Copy>(failed: T, body: impl FnOnce() -> Result<T, Errno>) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            set_errno(e);
            failed
        }
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(why, "internal error in a libzmq call; reported as EFAULT");
            set_errno(libc::EFAULT);
            failed
        }
    }
}

/// A C string argument as UTF-8; EINVAL when NULL or not UTF-8.
///
/// # Safety
/// `s` is NULL or points to a NUL-terminated string that lives for `'a`.
pub(crate) unsafe fn c_str<'a>(s: *const libc::c_char) -> Result<&'a str, Errno> {
    if s.is_null() {
        return Err(libc::EINVAL);
    }
    // SAFETY: the caller promises a NUL-terminated string alive for 'a.
    unsafe { std::ffi::CStr::from_ptr(s) }
        .to_str()
        .map_err(|_| libc::EINVAL)
}
