//! Zero-copy receive from the reactor's receive pool, on the driver in use.

use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::task::Poll;

use bytes::Bytes;
use io_uring::{opcode, types};

use super::op::Op;
use super::source::Source;
use super::sys;
use crate::driver::epoll::Direction;
use crate::driver::uring::MultiKind;
use crate::driver::{Driver, DriverKind};
use crate::reactor;

impl Source {
    /// Receives the next chunk as `Bytes` borrowing a receive-pool buffer (no copy);
    /// empty at end of stream.
    ///
    /// With io_uring and a provided-buffer ring, a multishot RECV stays armed on the
    /// socket across calls: data that arrives between calls is already completed into
    /// a buffer, and a cancelled call loses nothing (the next one takes it).
    ///
    /// The pool is shared by every connection of the reactor. When it is dry (the
    /// application holds every buffer), this read does not wait for one to come
    /// back, which might be never: it waits for the socket to be readable without
    /// holding any memory, then reads into a buffer of the heap
    /// ([`Runtime::heap_fallback_reads`](crate::Runtime::heap_fallback_reads)
    /// counts these). So EOFs and resets are always seen and no connection can stop
    /// another from reading.
    pub(crate) async fn recv(&self) -> io::Result<Bytes> {
        match self.kind() {
            DriverKind::Uring if self.has_recv_ring() => match recv_multishot(self).await? {
                Received::Data(b) => Ok(b),
                Received::PoolDry => recv_when_readable(self).await,
            },
            // Without a provided ring, a RECV armed on an idle socket would hold
            // a pool buffer for as long as the peer is silent: wait for data first.
            DriverKind::Uring => recv_when_readable(self).await,
            DriverKind::Epoll => recv_readiness(self).await,
        }
    }
}

/// What a multishot RECV produced.
enum Received {
    /// A chunk (empty at end of stream).
    Data(Bytes),
    /// The provided ring had no buffer when data came.
    PoolDry,
}

async fn recv_multishot(sock: &Source) -> io::Result<Received> {
    poll_fn(|cx| {
        reactor::with(|r| loop {
            let mut d = r.driver.borrow_mut();
            let Driver::Uring(u) = &mut *d else {
                unreachable!("io_uring socket on the epoll driver")
            };
            let key = match sock.multishot.get() {
                Some(k) => k,
                None => {
                    let group = u.recv_group().expect("checked by recv");
                    let entry = opcode::RecvMulti::new(types::Fd(sock.raw()), group).build();
                    // SAFETY: multishot RECV carries no pointers; buffers come from
                    // the provided ring, which lives as long as the driver.
                    let k = unsafe { u.submit_multi(MultiKind::Recv, entry) };
                    sock.multishot.set(Some(k));
                    k
                }
            };
            let Poll::Ready((res, flags)) = u.poll_multi(key, cx) else {
                return Poll::Pending;
            };
            if !io_uring::cqueue::more(flags) {
                sock.multishot.set(None);
            }
            if res > 0 {
                let id = io_uring::cqueue::buffer_select(flags)
                    .expect("a RECV with provided buffers names its buffer");
                return Poll::Ready(Ok(Received::Data(u.pool().into_bytes(id, res as usize))));
            }
            if res == 0 {
                return Poll::Ready(Ok(Received::Data(Bytes::new())));
            }
            if -res == libc::ECANCELED {
                // The driver stopped this RECV because completions piled up
                // untaken (`MULTISHOT_BACKLOG`); the reader is back: re-arm.
                continue;
            }
            if -res == libc::ENOBUFS {
                // The ring ran dry when the kernel looked; it may have been
                // refilled since. Re-arm if it holds buffers, else read
                // without the pool (the multishot has ended: nothing is lost).
                if u.ring_has_buffers() {
                    continue;
                }
                return Poll::Ready(Ok(Received::PoolDry));
            }
            return Poll::Ready(Err(io::Error::from_raw_os_error(-res)));
        })
    })
    .await
}

/// io_uring with the pool dry, or without provided-buffer rings: waits for
/// readability holding no buffer (a single-shot POLL_ADD), then reads what is
/// there into whatever is free by then, a pool buffer or the heap.
async fn recv_when_readable(sock: &Source) -> io::Result<Bytes> {
    loop {
        let entry = opcode::PollAdd::new(types::Fd(sock.raw()), libc::POLLIN as u32).build();
        // SAFETY: POLL_ADD carries no pointers.
        let (res, _, ()) = unsafe { Op::submit(entry, ()) }.await;
        res?;
        match recv_now(sock) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Bytes a read into the heap takes at most: what is there beyond waits for
/// the next read.
const HEAP_READ_MAX: usize = 16 * 1024;

/// One non-blocking `recv` into a pool buffer if one is free, else through a
/// buffer on the stack into a heap allocation of exactly the size received
/// (a short read must not keep 16 KiB alive in the message it ends up in, and
/// nothing is allocated for a read that finds nothing). Empty at end of
/// stream; `WouldBlock` when nothing is there.
fn recv_now(sock: &Source) -> io::Result<Bytes> {
    match reactor::with(|r| r.pool.take_guard()) {
        Some(guard) => {
            // SAFETY: the guard owns the buffer: nobody else reads or writes it.
            let buf = unsafe {
                std::slice::from_raw_parts_mut(guard.addr().cast::<MaybeUninit<u8>>(), guard.size())
            };
            let n = sys::recv_dontwait(sock.raw(), buf)?;
            Ok(if n == 0 {
                Bytes::new()
            } else {
                guard.into_bytes(n)
            })
        }
        None => {
            let mut stack = [MaybeUninit::<u8>::uninit(); HEAP_READ_MAX];
            let n = sys::recv_dontwait(sock.raw(), &mut stack)?;
            // SAFETY: recv initialised the first `n` bytes of `stack`.
            let read = unsafe { std::slice::from_raw_parts(stack.as_ptr().cast::<u8>(), n) };
            if n > 0 {
                reactor::with(|r| r.pool.count_heap_read());
            }
            Ok(Bytes::copy_from_slice(read))
        }
    }
}

/// epoll: read what is there (into a pool buffer, or the heap when the pool is
/// dry), waiting for readability in between, so idle sockets hold nothing.
async fn recv_readiness(sock: &Source) -> io::Result<Bytes> {
    loop {
        match recv_now(sock) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                sock.ready(Direction::Read).await?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}
