//! Reads and writes shared by every stream socket (TCP, Unix), on either driver.
//!
//! Buffers are passed by value and handed back with the result: with io_uring the
//! kernel owns a buffer until the operation completes, and a future dropped before
//! then leaves the buffer with the driver (see `op.rs`), never freed under the kernel.

use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::task::Poll;

use bytes::{Buf, Bytes, BytesMut};
use io_uring::{opcode, types};

use super::socket::{retry, Socket};
use super::sys;
use crate::driver::epoll::Direction;
use crate::driver::uring::MultiKind;
use crate::driver::{Driver, DriverKind};
use crate::op::Op;
use crate::reactor;

/// Spare capacity a read reserves when the buffer has none.
const DEFAULT_READ_RESERVE: usize = 16 * 1024;

/// Reads into `buf`'s spare capacity (reserving 16 KiB if it has none) and
/// returns the count (0 at end of stream) with the buffer.
pub(crate) async fn read(sock: &Socket, mut buf: BytesMut) -> (io::Result<usize>, BytesMut) {
    if buf.capacity() == buf.len() {
        buf.reserve(DEFAULT_READ_RESERVE);
    }
    match sock.kind() {
        DriverKind::Uring => {
            let spare = buf.spare_capacity_mut();
            let (ptr, len) = (spare.as_mut_ptr(), spare.len());
            let entry = opcode::Recv::new(types::Fd(sock.raw()), ptr.cast(), len as u32).build();
            // SAFETY: the pointer is into `buf`'s heap allocation, which the op owns
            // and which does not move when the BytesMut handle moves.
            let (res, _, mut buf) = unsafe { Op::submit(entry, buf) }.await;
            match res {
                Ok(n) => {
                    // SAFETY: the kernel initialised `n` bytes of the spare capacity.
                    unsafe { buf.set_len(buf.len() + n as usize) };
                    (Ok(n as usize), buf)
                }
                Err(e) => (Err(e), buf),
            }
        }
        DriverKind::Epoll => {
            let fd = sock.raw();
            let r = retry(sock, Direction::Read, || {
                let spare: &mut [MaybeUninit<u8>] = buf.spare_capacity_mut();
                sys::recv(fd, spare)
            })
            .await;
            if let Ok(n) = r {
                // SAFETY: recv initialised `n` bytes of the spare capacity.
                unsafe { buf.set_len(buf.len() + n) };
            }
            (r, buf)
        }
    }
}

/// Writes some of `bufs` with one gathered write; returns the count written
/// with the buffers (unchanged: advance them yourself, or use [`write_all_vectored`](Self::write_all_vectored)).
pub(crate) async fn writev(sock: &Socket, bufs: Vec<Bytes>) -> (io::Result<usize>, Vec<Bytes>) {
    let iov = sys::iovecs(&bufs);
    if iov.is_empty() {
        return (Ok(0), bufs);
    }
    match sock.kind() {
        DriverKind::Uring => {
            let entry =
                opcode::Writev::new(types::Fd(sock.raw()), iov.as_ptr().cast(), iov.len() as u32)
                    .build();
            // SAFETY: the iovecs and the bytes they point to are owned by the op
            // (boxed slice and Vec of Bytes: heap memory that does not move).
            let (res, _, (bufs, _iov)) = unsafe { Op::submit(entry, (bufs, iov)) }.await;
            (res.map(|n| n as usize), bufs)
        }
        DriverKind::Epoll => {
            let fd = sock.raw();
            let r = retry(sock, Direction::Write, || sys::writev(fd, &iov)).await;
            (r, bufs)
        }
    }
}

/// Writes every byte of `bufs`, in as few gathered writes as the socket allows.
pub(crate) async fn write_all_vectored(sock: &Socket, mut bufs: Vec<Bytes>) -> io::Result<()> {
    bufs.retain(|b| !b.is_empty());
    while !bufs.is_empty() {
        let (r, back) = writev(sock, bufs).await;
        bufs = back;
        let mut n = r?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        while n > 0 {
            let first = &mut bufs[0];
            if first.len() <= n {
                n -= first.len();
                bufs.remove(0);
            } else {
                first.advance(n);
                n = 0;
            }
        }
    }
    Ok(())
}

/// Writes some of `buf` with one send; returns the count written with the buffer.
pub(crate) async fn write(sock: &Socket, buf: Bytes) -> (io::Result<usize>, Bytes) {
    if buf.is_empty() {
        return (Ok(0), buf);
    }
    match sock.kind() {
        DriverKind::Uring => {
            // One look at the reactor decides the path: registered buffer, zero-copy, or plain.
            let (fixed, zc) = reactor::with(|r| {
                let zc = r.send_zc_threshold.is_some_and(|t| buf.len() >= t);
                let fixed = match &*r.driver.borrow() {
                    Driver::Uring(u) => u
                        .fixed_pool()
                        .filter(|p| buf.len() <= p.size())
                        .and_then(|p| p.copy_in(&buf)),
                    Driver::Epoll(_) => None,
                };
                (fixed, zc)
            });
            if let Some(fixed) = fixed {
                let entry = opcode::WriteFixed::new(
                    types::Fd(sock.raw()),
                    fixed.ptr(),
                    fixed.len() as u32,
                    fixed.index(),
                )
                .build();
                // SAFETY: the pointer is into the registered buffer the op owns (the
                // FixedBuf returns it to the pool only when dropped, after completion).
                let (res, _, _fixed) = unsafe { Op::submit(entry, fixed) }.await;
                return (res.map(|n| n as usize), buf);
            }
            let entry = if zc {
                // Two completions: the result, then the notification that the kernel
                // no longer reads the buffer (the op keeps the buffer until then).
                opcode::SendZc::new(types::Fd(sock.raw()), buf.as_ptr(), buf.len() as u32)
                    .flags(libc::MSG_NOSIGNAL)
                    .build()
            } else {
                opcode::Send::new(types::Fd(sock.raw()), buf.as_ptr(), buf.len() as u32)
                    .flags(libc::MSG_NOSIGNAL)
                    .build()
            };
            // SAFETY: the pointer is into the Bytes the op owns (heap, stable on move).
            let (res, _, buf) = unsafe { Op::submit(entry, buf) }.await;
            (res.map(|n| n as usize), buf)
        }
        DriverKind::Epoll => {
            let fd = sock.raw();
            let r = retry(sock, Direction::Write, || sys::send(fd, &buf)).await;
            (r, buf)
        }
    }
}

/// Writes every byte of `buf` (one send per partial write, no allocation).
pub(crate) async fn write_all(sock: &Socket, mut buf: Bytes) -> io::Result<()> {
    while !buf.is_empty() {
        let (r, back) = write(sock, buf).await;
        buf = back;
        match r? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => buf.advance(n),
        }
    }
    Ok(())
}

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
pub(crate) async fn recv(sock: &Socket) -> io::Result<Bytes> {
    match sock.kind() {
        DriverKind::Uring if sock.has_recv_ring() => match recv_multishot(sock).await? {
            Received::Data(b) => Ok(b),
            Received::PoolDry => recv_when_readable(sock).await,
        },
        // Without a provided ring, a RECV armed on an idle socket would hold
        // a pool buffer for as long as the peer is silent: wait for data first.
        DriverKind::Uring => recv_when_readable(sock).await,
        DriverKind::Epoll => recv_readiness(sock).await,
    }
}

/// What a multishot RECV produced.
enum Received {
    /// A chunk (empty at end of stream).
    Data(Bytes),
    /// The provided ring had no buffer when data came.
    PoolDry,
}

async fn recv_multishot(sock: &Socket) -> io::Result<Received> {
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
async fn recv_when_readable(sock: &Socket) -> io::Result<Bytes> {
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
fn recv_now(sock: &Socket) -> io::Result<Bytes> {
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
async fn recv_readiness(sock: &Socket) -> io::Result<Bytes> {
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

/// Opens a stream socket of `family` for the current driver and connects it to `addr`.
pub(crate) async fn connect(
    family: libc::c_int,
    addr: Box<super::sockaddr::RawAddr>,
) -> io::Result<Socket> {
    let kind = Socket::current_kind();
    let sock = Socket::new(sys::socket(family, kind == DriverKind::Epoll)?)?;
    match kind {
        DriverKind::Uring => {
            let entry =
                opcode::Connect::new(types::Fd(sock.raw()), addr.as_ptr(), addr.len).build();
            // SAFETY: the address lives in the boxed RawAddr the op owns.
            let (res, _, _addr) = unsafe { Op::submit(entry, addr) }.await;
            res?;
        }
        DriverKind::Epoll => {
            if !sys::connect(sock.fd(), &addr)? {
                sock.ready(Direction::Write).await?;
                sys::take_socket_error(sock.raw())?;
            }
        }
    }
    Ok(sock)
}

/// The stream methods TCP and Unix sockets share, all delegating to this module.
macro_rules! stream_methods {
    ($std:ty) => {
        /// Lets go of the connection so that another reactor (another thread)
        /// can adopt it with `from_owned_fd`. Call it before any read: a
        /// multishot receive armed by [`recv`](Self::recv) refuses the move
        /// (`ResourceBusy`).
        pub fn into_owned_fd(self) -> std::io::Result<std::os::fd::OwnedFd> {
            self.socket.into_fd()
        }

        /// Adopts a connected stream socket (from `into_owned_fd` on another
        /// reactor, or from anywhere else) on the current reactor, setting the
        /// blocking mode its driver needs.
        pub fn from_owned_fd(fd: std::os::fd::OwnedFd) -> std::io::Result<Self> {
            let std = <$std>::from(fd);
            std.set_nonblocking(
                $crate::net::socket::Socket::current_kind() == $crate::DriverKind::Epoll,
            )?;
            Ok(Self {
                socket: $crate::net::socket::Socket::new(std::os::fd::OwnedFd::from(std))?,
            })
        }

        /// Receives the next chunk without a copy, as `Bytes` borrowing a buffer of
        /// the reactor's receive pool (returned to the pool when the last `Bytes`
        /// referring to it is dropped); empty at end of stream. With io_uring a
        /// multishot RECV stays armed between calls, and cancelling a call loses no data.
        pub async fn recv(&self) -> std::io::Result<bytes::Bytes> {
            $crate::net::stream_io::recv(&self.socket).await
        }

        /// Reads into `buf`'s spare capacity (reserving 16 KiB if it has none) and
        /// returns the count (0 at end of stream) with the buffer.
        pub async fn read(
            &self,
            buf: bytes::BytesMut,
        ) -> (std::io::Result<usize>, bytes::BytesMut) {
            $crate::net::stream_io::read(&self.socket, buf).await
        }

        /// Writes some of `buf` with one send; returns the count written with the buffer.
        pub async fn write(&self, buf: bytes::Bytes) -> (std::io::Result<usize>, bytes::Bytes) {
            $crate::net::stream_io::write(&self.socket, buf).await
        }

        /// Writes every byte of `buf` (one send per partial write, no allocation).
        pub async fn write_all(&self, buf: bytes::Bytes) -> std::io::Result<()> {
            $crate::net::stream_io::write_all(&self.socket, buf).await
        }

        /// Writes some of `bufs` with one gathered write; returns the count written
        /// with the buffers (unchanged: advance them yourself, or use
        /// [`write_all_vectored`](Self::write_all_vectored)).
        pub async fn writev(
            &self,
            bufs: Vec<bytes::Bytes>,
        ) -> (std::io::Result<usize>, Vec<bytes::Bytes>) {
            $crate::net::stream_io::writev(&self.socket, bufs).await
        }

        /// Writes every byte of `bufs`, in as few gathered writes as the socket allows.
        pub async fn write_all_vectored(&self, bufs: Vec<bytes::Bytes>) -> std::io::Result<()> {
            $crate::net::stream_io::write_all_vectored(&self.socket, bufs).await
        }

        /// Shuts down one or both directions.
        pub fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
            $crate::net::sys::shutdown(self.socket.raw(), how)
        }
    };
}
pub(crate) use stream_methods;
