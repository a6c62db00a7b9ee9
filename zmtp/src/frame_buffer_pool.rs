//! Buffers of small frames, handed back by the thread that lets go of a
//! frame to the thread that makes the next one of its size.
//!
//! A frame's buffer is often allocated on one thread and let go of on
//! another: the C API's `zmq_msg_init_size` buffer is made on the sending
//! application's thread and let go of on the receiving application's
//! (inproc: its `zmq_msg_recv` replacing the message, or `zmq_msg_close`)
//! or on the context's once a connection's engine has copied it into its
//! output (tcp, ipc); a received small body is copied out of the input on
//! the context's thread and let go of on the application's. glibc's
//! allocator pays for that crossing on both sides (its per-thread cache
//! fills on one and empties on the other; each miss takes the arena's
//! lock): `_int_malloc`, `_int_free`, `calloc` and `free` were 28 % of
//! libzmq's `inproc_thr` at 64 B on the C API, 19 % of `remote_thr`'s CPU
//! (docs/BENCHMARKS.md, attempt 9). Here a buffer let go of goes into a
//! lock-free queue for its exact size ([`give`], [`give_box`]), and who
//! makes a frame of that size takes one from there ([`take`],
//! [`copy_of`]) before asking the allocator. Where nobody gives back (a
//! Rust application's received messages are its own to drop), a take finds
//! the queue empty and allocates, at the cost of a look.
//!
//! Bounded: one queue per size up to [`MAX_POOLED`] bytes, made on first
//! use, each holding at most 64 KiB of buffers and at most 1,024 of them (a
//! queue's slots are allocated when it is made: 24 KiB at most); a full
//! queue lets the buffer go to the allocator. At most 256 sizes x (64 KiB
//! + 24 KiB) = 22 MiB a process, and only for sizes in use.
//!
//! Larger buffers, up to [`MAX_LARGE_POOLED`] bytes (a C program's 1 KiB
//! `zmq_msg_init_size` messages: malloc, calloc's clearing and the free on
//! the context's thread were 18 % of `remote_thr`'s CPU at 1 KiB, attempt
//! 17), are kept for at most [`LARGE_SIZES`] sizes: the first sizes whose
//! buffers are given back whole claim a queue each, for the life of the process, and any other
//! size goes to the allocator as before (programs send a few sizes; one
//! that sends many keeps its first ones). Each queue holds at most 1 MiB
//! of buffers, between 16 and 1,024 of them: at most 8 x (1 MiB + 24 KiB)
//! = 8.2 MiB more, and only for sizes in use.
//!
//! ```
//! use monocoque_zmtp::frame_buffer_pool;
//! let frame = bytes::Bytes::from(vec![1u8; 100]);
//! frame_buffer_pool::give(frame);
//! // Any thread, later: a buffer of 100 bytes, the old bytes in it (the
//! // pool is the process's: another thread may have taken this one).
//! let copy = frame_buffer_pool::copy_of(&[2u8; 100]);
//! assert_eq!(&copy[..], &[2u8; 100][..]);
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use bytes::Bytes;
use crossbeam_queue::ArrayQueue;

/// The largest buffer kept: the largest body the decoder copies (a larger
/// received frame is a slice of a receive buffer, not a buffer of its own).
pub const MAX_POOLED: usize = 256;

/// What one size's queue holds at most, in bytes of buffers.
const BYTES_PER_SIZE: usize = 64 * 1024;

/// How many buffers one size's queue holds: 64 KiB of them, between 16
/// and 1,024 (the queue allocates a 24-byte slot for each when it is made:
/// 1-byte buffers would otherwise take 65,536 slots).
fn capacity(size: usize) -> usize {
    (BYTES_PER_SIZE / size).clamp(16, 1024)
}

/// The largest buffer kept in a queue claimed by its size.
pub const MAX_LARGE_POOLED: usize = 16 * 1024;

/// How many sizes above [`MAX_POOLED`] may claim a queue.
pub const LARGE_SIZES: usize = 8;

/// What one larger size's queue holds at most, in bytes of buffers. The
/// context's thread gives back what one write sent, up to a thousand 1 KiB
/// messages at once: with room for a quarter of that (a send lane's 256),
/// half the sender's buffers still came from malloc (1 KiB `remote_thr`:
/// 1.42 M msg/s, against 1.57 M with room for 1,024; attempt 17).
const BYTES_PER_LARGE_SIZE: usize = 1024 * 1024;

/// How many buffers one larger size's queue holds: 1 MiB of them,
/// between 16 and 1,024.
fn large_capacity(size: usize) -> usize {
    (BYTES_PER_LARGE_SIZE / size).clamp(16, 1024)
}

/// One queue per size, 1 to [`MAX_POOLED`] bytes.
static POOLS: [OnceLock<ArrayQueue<Box<[u8]>>>; MAX_POOLED] =
    [const { OnceLock::new() }; MAX_POOLED];

/// A queue for buffers of one size above [`MAX_POOLED`], claimed by the
/// first buffer of that size given back.
struct LargeSize {
    /// The size whose queue this is; 0 while unclaimed. Claimed slots are
    /// a prefix of the table (a claim takes the first free one).
    size: AtomicUsize,
    queue: OnceLock<ArrayQueue<Box<[u8]>>>,
}

impl LargeSize {
    const fn unclaimed() -> LargeSize {
        LargeSize {
            size: AtomicUsize::new(0),
            queue: OnceLock::new(),
        }
    }
}

/// The larger sizes' queues.
static LARGE: [LargeSize; LARGE_SIZES] = [const { LargeSize::unclaimed() }; LARGE_SIZES];

/// Whether buffers of `size` bytes may be kept: a caller about to let go
/// of one looks here before moving it out of where it is.
#[inline]
pub fn may_keep(size: usize) -> bool {
    (1..=MAX_LARGE_POOLED).contains(&size)
}

/// The queue of buffers of `size` bytes, if that size has one; with
/// `claim`, a larger size without one claims a free slot.
#[inline]
fn pool(size: usize, claim: bool) -> Option<&'static ArrayQueue<Box<[u8]>>> {
    if size <= MAX_POOLED {
        let slot = POOLS.get(size.checked_sub(1)?)?;
        return Some(slot.get_or_init(|| ArrayQueue::new(capacity(size))));
    }
    large_pool(&LARGE, size, claim)
}

/// The queue of `size` among `slots` (see [`pool`]).
fn large_pool(slots: &[LargeSize], size: usize, claim: bool) -> Option<&ArrayQueue<Box<[u8]>>> {
    if size > MAX_LARGE_POOLED {
        return None;
    }
    for slot in slots {
        let mut held = slot.size.load(Ordering::Acquire);
        if held == 0 {
            if !claim {
                // Claims fill the table in order: no later slot is this size's.
                return None;
            }
            held = match slot
                .size
                .compare_exchange(0, size, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => size,
                Err(claimed_meanwhile) => claimed_meanwhile,
            };
        }
        if held == size {
            return Some(
                slot.queue
                    .get_or_init(|| ArrayQueue::new(large_capacity(size))),
            );
        }
    }
    None
}

/// A buffer of exactly `size` bytes a frame let go of, if one is waiting.
/// Its bytes are that earlier frame's, from any socket of the process: a
/// caller that hands it to an application clears it first (the C API's
/// `zmq_msg_init_size` does).
#[inline]
pub fn take(size: usize) -> Option<Box<[u8]>> {
    take_from(pool(size, false)?)
}

/// `data` in a frame of its own: a pooled buffer of its size if one is
/// waiting, else a new allocation.
#[inline]
pub fn copy_of(data: &[u8]) -> Bytes {
    match take(data.len()) {
        Some(mut buffer) => {
            buffer.copy_from_slice(data);
            Bytes::from(buffer)
        }
        None => Bytes::copy_from_slice(data),
    }
}

/// Keeps a buffer the C API lets go of, if its size is kept and its queue
/// has room; else it goes back to the allocator.
#[inline]
pub fn give_box(buffer: Box<[u8]>) {
    if let Some(pool) = pool(buffer.len(), true) {
        give_box_into(pool, buffer);
    }
}

/// Keeps a frame's buffer when the frame is its only owner and the buffer
/// is exactly the frame (a copied small body, or a `zmq_msg_init_size`
/// buffer sent over inproc); anything else is simply dropped.
#[inline]
pub fn give(frame: Bytes) {
    if frame.len() <= MAX_POOLED {
        if let Some(pool) = pool(frame.len(), false) {
            give_into(pool, frame);
        }
        return;
    }
    give_large(&LARGE, frame);
}

/// [`give`] for a size above [`MAX_POOLED`]: the size claims a queue among
/// `slots` only with a buffer that can be kept. A slice of a receive buffer
/// (a received large body, let go of by a `zmq_msg_recv` or a `zmq_msg_close`)
/// never can, and let claim, a receiver of messages of varied sizes filled
/// the table with sizes no buffer ever came back in.
fn give_large(slots: &[LargeSize], frame: Bytes) {
    if !may_keep(frame.len()) || !frame.is_unique() {
        return;
    }
    let buffer = Vec::from(frame);
    if buffer.len() != buffer.capacity() {
        return;
    }
    if let Some(pool) = large_pool(slots, buffer.len(), true) {
        give_box_into(pool, buffer.into_boxed_slice());
    }
}

/// [`take`] from one queue.
#[inline]
fn take_from(pool: &ArrayQueue<Box<[u8]>>) -> Option<Box<[u8]>> {
    // Looked at first: a `pop` on an empty queue costs a full fence, and
    // where nobody gives back (a sender whose frames another process
    // reads) every take finds it empty.
    if pool.is_empty() {
        return None;
    }
    pool.pop()
}

/// [`give_box`] into one queue.
#[inline]
fn give_box_into(pool: &ArrayQueue<Box<[u8]>>, buffer: Box<[u8]>) {
    if !pool.is_full() {
        // Filled meanwhile: dropped, freed.
        let _ = pool.push(buffer);
    }
}

/// [`give`] into one queue.
#[inline]
fn give_into(pool: &ArrayQueue<Box<[u8]>>, frame: Bytes) {
    if pool.is_full() || !frame.is_unique() {
        return;
    }
    // Unique: the allocation is taken over, not copied (a `Bytes` made
    // from a whole `Vec` or boxed slice keeps its start and capacity; a
    // shared one's capacity is its whole buffer's, so a slice of one
    // fails the check below and is freed).
    let buffer = Vec::from(frame);
    if buffer.len() == buffer.capacity() {
        let _ = pool.push(buffer.into_boxed_slice());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Tests use queues of their own: the process's are shared with every
    // other test of the binary that decodes.

    #[test]
    fn each_kept_size_has_its_own_queue_and_others_none() {
        assert!(pool(0, true).is_none());
        assert!(pool(MAX_LARGE_POOLED + 1, true).is_none());
        let (one, last) = (pool(1, false).unwrap(), pool(MAX_POOLED, false).unwrap());
        assert!(!std::ptr::eq(one, last));
        assert!(std::ptr::eq(one, pool(1, false).unwrap()));
    }

    #[test]
    fn a_buffer_given_back_is_the_same_allocation() {
        let queue = ArrayQueue::new(capacity(100));
        let buffer = vec![7u8; 100].into_boxed_slice();
        let at = buffer.as_ptr();
        give_into(&queue, Bytes::from(buffer));
        let again = take_from(&queue).expect("the buffer given back");
        assert_eq!(again.as_ptr(), at, "the same allocation, not a copy");
        assert_eq!(again.len(), 100);
        assert!(take_from(&queue).is_none());
    }

    #[test]
    fn shared_and_sliced_frames_are_not_kept() {
        let queue = ArrayQueue::new(capacity(100));
        let frame = Bytes::from(vec![1u8; 100]);
        let other = frame.clone();
        give_into(&queue, frame);
        assert!(
            take_from(&queue).is_none(),
            "a frame still shared elsewhere"
        );
        // The last owner of a shared buffer of exactly its size gives it.
        give_into(&queue, other);
        assert_eq!(take_from(&queue).map(|b| b.len()), Some(100));
        // A slice of a larger buffer is not a buffer of its own.
        let slice = Bytes::from(vec![2u8; 200]).slice(..100);
        give_into(&queue, slice);
        assert!(take_from(&queue).is_none());
        give_into(&queue, Bytes::from_static(&[3u8; 100]));
        assert!(
            take_from(&queue).is_none(),
            "static bytes are nobody's to give"
        );
    }

    #[test]
    fn a_queue_holds_64_kib_of_buffers_and_at_most_1024() {
        assert_eq!(capacity(1), 1024);
        assert_eq!(capacity(64), 1024);
        assert_eq!(capacity(128), 512);
        assert_eq!(capacity(256), 256);
        let queue = ArrayQueue::new(capacity(200));
        for _ in 0..capacity(200) + 10 {
            give_box_into(&queue, vec![0u8; 200].into_boxed_slice());
        }
        let mut held = 0;
        while take_from(&queue).is_some() {
            held += 1;
        }
        assert_eq!(held, capacity(200));
    }

    #[test]
    fn larger_sizes_claim_a_queue_when_given_back_and_only_so_many() {
        let slots = [const { LargeSize::unclaimed() }; 3];
        // A take finds nothing and claims nothing.
        assert!(large_pool(&slots, 1024, false).is_none());
        assert_eq!(slots[0].size.load(Ordering::Relaxed), 0);
        let kib = large_pool(&slots, 1024, true).expect("a free slot");
        assert_eq!(kib.capacity(), 1024);
        assert!(std::ptr::eq(kib, large_pool(&slots, 1024, false).unwrap()));
        assert!(large_pool(&slots, MAX_LARGE_POOLED, true).is_some());
        assert_eq!(large_capacity(MAX_LARGE_POOLED), 64);
        assert_eq!(large_capacity(MAX_POOLED + 1), 1024);
        assert!(large_pool(&slots, 300, true).is_some());
        // The table is full: a fourth size goes to the allocator.
        assert!(large_pool(&slots, 2000, true).is_none());
        assert!(large_pool(&slots, 2000, false).is_none());
        assert!(large_pool(&slots, 300, false).is_some());
        assert!(large_pool(&slots, MAX_LARGE_POOLED + 1, true).is_none());
    }

    #[test]
    fn only_a_whole_larger_buffer_claims_a_queue() {
        let slots = [const { LargeSize::unclaimed() }; 2];
        let received = Bytes::from(vec![1u8; 4096]);
        let body = received.slice(100..1100);
        give_large(&slots, body.clone());
        drop(received);
        give_large(&slots, body); // unique now, but a slice: not a buffer of its own
        assert_eq!(slots[0].size.load(Ordering::Relaxed), 0, "nothing claimed");
        give_large(&slots, Bytes::from(vec![2u8; 1000]));
        assert_eq!(slots[0].size.load(Ordering::Relaxed), 1000);
        let kept = large_pool(&slots, 1000, false).and_then(take_from);
        assert_eq!(kept.map(|b| b.len()), Some(1000));
    }

    #[test]
    fn a_larger_buffer_given_back_is_taken_again() {
        // The process's table: a size no other test of this binary uses.
        let size = MAX_POOLED + 77;
        let buffer = vec![5u8; size].into_boxed_slice();
        let at = buffer.as_ptr();
        give(Bytes::from(buffer));
        let again = take(size).expect("kept: fewer than LARGE_SIZES sizes in use");
        assert_eq!((again.as_ptr(), again.len()), (at, size));
    }

    #[test]
    fn copy_of_any_size_holds_the_data() {
        for size in [0, 1, 100, MAX_POOLED, MAX_POOLED + 1, 4096] {
            let data: Vec<u8> = (0..size).map(|i| i as u8).collect();
            assert_eq!(&copy_of(&data)[..], &data[..]);
        }
    }
}
