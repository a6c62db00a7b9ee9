//! The one buffer a thread keeps back for its next `zmq_msg_init_size`.
//!
//! A sender's loop (`zmq_msg_init_size`, fill, `zmq_msg_send`) over tcp or
//! ipc hands each small message's buffer back on its own thread: the send
//! copies the frame into the send lane's byte ring and empties the message.
//! Through the frame buffer pool that buffer went into a lock-free queue
//! and came straight back out of it, two locked instructions a message on
//! a queue no other thread was using (docs/BENCHMARKS.md, attempt 17).
//! Kept here instead, in the thread's own slot, it is taken back with no
//! locked instruction; the slot's previous buffer goes to the pool, so a
//! thread never holds more than one, of at most the pool's largest size,
//! and frees it when it ends. (`capi/tests/c/reused_buffers.c` checks that
//! a spare comes back cleared and that what was sent in it arrives as it
//! was.)

use std::cell::Cell;

use monocoque_zmtp::frame_buffer_pool;

thread_local! {
    /// This thread's spare buffer, if it has one.
    static SPARE: Cell<Option<Box<[u8]>>> = const { Cell::new(None) };
}

/// Keeps `buffer` as this thread's spare when the pool would keep its size
/// (otherwise it is freed here); the spare it replaces goes to the pool.
#[inline]
pub(crate) fn keep(buffer: Box<[u8]>) {
    if !frame_buffer_pool::may_keep(buffer.len()) {
        return;
    }
    // A thread whose slot is already gone (its ending) frees the buffer
    // with the closure that was to take it.
    let _ = SPARE.try_with(move |spare| {
        if let Some(replaced) = spare.replace(Some(buffer)) {
            frame_buffer_pool::give_box(replaced);
        }
    });
}

/// This thread's spare buffer if it is `size` bytes long (its bytes those
/// of the message last sent from it); otherwise the spare stays.
#[inline]
pub(crate) fn take(size: usize) -> Option<Box<[u8]>> {
    SPARE
        .try_with(|spare| {
            let buffer = spare.take()?;
            if buffer.len() == size {
                return Some(buffer);
            }
            spare.set(Some(buffer));
            None
        })
        .ok()
        .flatten()
}
