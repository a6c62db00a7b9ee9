//! Scatter-gather sending and receiving: `zmq_sendiov` and `zmq_recviov`,
//! a frame per `struct iovec`, as libzmq 4.3 defines them.
//!
//! Two quirks of libzmq's are kept, since programs rely on them:
//! `zmq_sendiov` applies the caller's flags to every frame but the last (so
//! without ZMQ_SNDMORE each buffer goes as a message of its own) and returns
//! the last frame's size; `zmq_recviov` hands each frame out in a buffer
//! from `malloc`, which the caller frees with `free`, and stops after the
//! last frame of a message.

use std::ffi::{c_int, c_void};

use bytes::Bytes;
use libc::iovec;

use crate::boundary::guarded;
use crate::socket::socket;
use crate::transfer::{recv_frame, send_frame, SNDMORE};

/// `zmq_sendiov`: sends `count` buffers, one frame each, with `flags` on
/// all but the last (which goes without ZMQ_SNDMORE); returns the last
/// frame's size. A failure stops at the frame that failed (those before it
/// are sent).
#[no_mangle]
pub unsafe extern "C" fn zmq_sendiov(
    s: *mut c_void,
    iov: *mut iovec,
    count: usize,
    flags: c_int,
) -> c_int {
    guarded(-1, || {
        // SAFETY: the caller passes a socket from zmq_socket.
        let h = unsafe { socket(s) }?;
        if count == 0 || iov.is_null() {
            return Err(libc::EINVAL);
        }
        // SAFETY: the caller gives `count` iovecs at `iov`.
        let buffers = unsafe { std::slice::from_raw_parts(iov, count) };
        let mut last = 0;
        for (i, buffer) in buffers.iter().enumerate() {
            if buffer.iov_base.is_null() && buffer.iov_len != 0 {
                return Err(libc::EFAULT);
            }
            let frame = if buffer.iov_len == 0 {
                Bytes::new()
            } else {
                // SAFETY: each iovec describes `iov_len` readable bytes.
                Bytes::copy_from_slice(unsafe {
                    std::slice::from_raw_parts(buffer.iov_base.cast::<u8>(), buffer.iov_len)
                })
            };
            let frame_flags = if i == count - 1 {
                flags & !SNDMORE
            } else {
                flags
            };
            last = c_int::try_from(frame.len()).unwrap_or(c_int::MAX);
            send_frame(h, frame, frame_flags).map_err(|e| e.errno)?;
        }
        Ok(last)
    })
}

/// `zmq_recviov`: receives the frames of one message into up to `*count`
/// iovecs, each given a `malloc`ed copy of its frame (the caller frees it);
/// `*count` says how many were filled, and so does the return value. A
/// message with more frames than that keeps the rest for the next receive.
#[no_mangle]
pub unsafe extern "C" fn zmq_recviov(
    s: *mut c_void,
    iov: *mut iovec,
    count: *mut usize,
    flags: c_int,
) -> c_int {
    guarded(-1, || {
        // SAFETY: the caller passes a socket from zmq_socket.
        let h = unsafe { socket(s) }?;
        // SAFETY: the caller passes NULL or a writable size_t.
        let Some(count) = (unsafe { count.as_mut() }) else {
            return Err(libc::EINVAL);
        };
        if *count == 0 || iov.is_null() {
            return Err(libc::EINVAL);
        }
        // SAFETY: the caller gives `*count` writable iovecs at `iov`.
        let buffers = unsafe { std::slice::from_raw_parts_mut(iov, *count) };
        *count = 0;
        for buffer in buffers {
            let (frame, more) = recv_frame(h, flags)?;
            // malloc(0) may return NULL: one byte keeps every buffer freeable.
            // SAFETY: plain allocation; checked for NULL below.
            let data = unsafe { libc::malloc(frame.len().max(1)) };
            if data.is_null() {
                return Err(libc::ENOMEM);
            }
            // SAFETY: `data` has room for the frame; the two do not overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(frame.as_ptr(), data.cast::<u8>(), frame.len())
            };
            buffer.iov_base = data;
            buffer.iov_len = frame.len();
            *count += 1;
            if !more {
                break;
            }
        }
        Ok(c_int::try_from(*count).unwrap_or(c_int::MAX))
    })
}
