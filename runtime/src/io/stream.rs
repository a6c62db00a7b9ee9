//! Read, write, gathered write, accept and connect, each on the driver in use.
//!
//! Buffers are passed by value and handed back with the result: with io_uring the
//! kernel owns a buffer until the operation completes, and a future dropped before
//! then leaves the buffer with the driver (see `op.rs`), never freed under the kernel.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{FromRawFd, OwnedFd};
use std::task::Poll;

use bytes::{Bytes, BytesMut};
use io_uring::{opcode, types};

use super::op::Op;
use super::source::{retry, Source};
use super::{sys, RawAddr};
use crate::driver::epoll::Direction;
use crate::driver::uring::MultiKind;
use crate::driver::{Driver, DriverKind};
use crate::reactor;

/// Spare capacity a read reserves when the buffer has none.
const DEFAULT_READ_RESERVE: usize = 16 * 1024;

impl Source {
    /// Reads into `buf`'s spare capacity (reserving 16 KiB if it has none) and
    /// returns the count (0 at end of stream) with the buffer.
    pub(crate) async fn read(&self, mut buf: BytesMut) -> (io::Result<usize>, BytesMut) {
        if buf.capacity() == buf.len() {
            buf.reserve(DEFAULT_READ_RESERVE);
        }
        match self.kind() {
            DriverKind::Uring => {
                let spare = buf.spare_capacity_mut();
                let (ptr, len) = (spare.as_mut_ptr(), spare.len());
                let entry =
                    opcode::Recv::new(types::Fd(self.raw()), ptr.cast(), len as u32).build();
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
                let fd = self.raw();
                let r = retry(self, Direction::Read, || {
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

    /// Writes some of `bufs` with one gathered send; returns the count written
    /// with the buffers (unchanged). A `sendmsg` with MSG_NOSIGNAL, not a
    /// `writev`: a peer that has gone must give EPIPE, never a SIGPIPE, which
    /// kills a process that has not ignored it (every C program that loads
    /// the C API's library, unlike Rust programs, whose runtime ignores it).
    pub(crate) async fn writev(&self, mut bufs: Vec<Bytes>) -> (io::Result<usize>, Vec<Bytes>) {
        if bufs.len() == 1 {
            if let Some(one) = bufs.pop() {
                // One chunk (a request or a reply: most small writes): a
                // plain SEND, without the iovec array and message header
                // built for a gathered one (two allocations a write;
                // callgrind: about 650 instructions a request-reply round
                // trip). Never WRITE_FIXED, which cannot take MSG_NOSIGNAL.
                let (r, one) = self.send_nosignal(one).await;
                bufs.push(one);
                return (r, bufs);
            }
        }
        let iov = sys::iovecs(&bufs);
        if iov.is_empty() {
            return (Ok(0), bufs);
        }
        match self.kind() {
            DriverKind::Uring => {
                if let Some(r) = send_now(|| sys::writev(self.raw(), &iov)) {
                    return (r, bufs);
                }
                let header = Box::new(sys::msghdr(&iov));
                let entry = opcode::SendMsg::new(types::Fd(self.raw()), &*header)
                    .flags(libc::MSG_NOSIGNAL as u32)
                    .build();
                // SAFETY: the header, the iovecs it points to and the bytes
                // they point to are owned by the op (boxes and a Vec of
                // Bytes: heap memory that does not move).
                let (res, _, (bufs, _iov, _header)) =
                    unsafe { Op::submit(entry, (bufs, iov, header)) }.await;
                (res.map(|n| n as usize), bufs)
            }
            DriverKind::Epoll => {
                let fd = self.raw();
                let r = retry(self, Direction::Write, || sys::writev(fd, &iov)).await;
                (r, bufs)
            }
        }
    }

    /// Writes some of `buf` with one SEND (MSG_NOSIGNAL), whatever the
    /// reactor's registered-buffer and zero-copy settings; returns the count
    /// written with the buffer.
    async fn send_nosignal(&self, buf: Bytes) -> (io::Result<usize>, Bytes) {
        if buf.is_empty() {
            return (Ok(0), buf);
        }
        match self.kind() {
            DriverKind::Uring => {
                if let Some(r) = send_now(|| sys::send(self.raw(), &buf)) {
                    return (r, buf);
                }
                let entry =
                    opcode::Send::new(types::Fd(self.raw()), buf.as_ptr(), buf.len() as u32)
                        .flags(libc::MSG_NOSIGNAL)
                        .build();
                // SAFETY: the pointer is into the Bytes the op owns (heap, stable on move).
                let (res, _, buf) = unsafe { Op::submit(entry, buf) }.await;
                (res.map(|n| n as usize), buf)
            }
            DriverKind::Epoll => {
                let fd = self.raw();
                let r = retry(self, Direction::Write, || sys::send(fd, &buf)).await;
                (r, buf)
            }
        }
    }

    /// Writes some of `buf` with one send; returns the count written with the
    /// buffer. On io_uring: WRITE_FIXED through a registered buffer when one is
    /// configured and free, SEND_ZC at or above the reactor's threshold, else
    /// the plain send of [`Source::send_nosignal`] (a syscall first).
    pub(crate) async fn write(&self, buf: Bytes) -> (io::Result<usize>, Bytes) {
        if buf.is_empty() || self.kind() == DriverKind::Epoll {
            return self.send_nosignal(buf).await;
        }
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
                types::Fd(self.raw()),
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
        if !zc {
            return self.send_nosignal(buf).await;
        }
        // Two completions: the result, then the notification that the kernel
        // no longer reads the buffer (the op keeps the buffer until then).
        let entry = opcode::SendZc::new(types::Fd(self.raw()), buf.as_ptr(), buf.len() as u32)
            .flags(libc::MSG_NOSIGNAL)
            .build();
        // SAFETY: the pointer is into the Bytes the op owns (heap, stable on move).
        let (res, _, buf) = unsafe { Op::submit(entry, buf) }.await;
        (res.map(|n| n as usize), buf)
    }

    /// Opens a stream socket of `family` for the current driver, lets
    /// `prepare` set options on it (or bind it to a source address), and
    /// connects it to `addr`.
    pub(crate) async fn connect(
        family: libc::c_int,
        addr: Box<RawAddr>,
        prepare: impl FnOnce(std::os::fd::RawFd) -> io::Result<()>,
    ) -> io::Result<Source> {
        let kind = reactor::with(|r| r.kind());
        let sock = Source::new(sys::socket(family, kind == DriverKind::Epoll)?)?;
        prepare(sock.raw())?;
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

    /// Accepts one connection: its descriptor (CLOEXEC; non-blocking where the
    /// driver needs it) and the peer's address when the driver's accept reads
    /// it (epoll's accept4 does; io_uring's multishot ACCEPT does not, the
    /// caller asks the socket if it needs the address).
    pub(crate) async fn accept(&self) -> io::Result<(OwnedFd, Option<Box<RawAddr>>)> {
        match self.kind() {
            DriverKind::Uring => Ok((accept_multishot(self).await?, None)),
            DriverKind::Epoll => {
                let mut raw = RawAddr::empty();
                let fd = retry(self, Direction::Read, || sys::accept(self.raw(), &mut raw)).await?;
                Ok((fd, Some(raw)))
            }
        }
    }
}

/// Takes the next connection from the listener's multishot ACCEPT (armed on first
/// use, re-armed if the kernel ends it). Connections accepted between calls wait
/// in the operation's slot; dropping the listener closes any not taken.
async fn accept_multishot(socket: &Source) -> io::Result<OwnedFd> {
    std::future::poll_fn(|cx| {
        reactor::with(|r| {
            let mut d = r.driver.borrow_mut();
            let Driver::Uring(u) = &mut *d else {
                unreachable!("io_uring socket on the epoll driver")
            };
            let key = match socket.multishot.get() {
                Some(k) => k,
                None => {
                    let entry = opcode::AcceptMulti::new(types::Fd(socket.raw()))
                        .flags(libc::SOCK_CLOEXEC)
                        .build();
                    // SAFETY: multishot ACCEPT without an address carries no pointers.
                    let k = unsafe { u.submit_multi(MultiKind::Accept, entry) };
                    socket.multishot.set(Some(k));
                    k
                }
            };
            let Poll::Ready((res, flags)) = u.poll_multi(key, cx) else {
                return Poll::Pending;
            };
            if !io_uring::cqueue::more(flags) {
                socket.multishot.set(None);
            }
            if res < 0 {
                return Poll::Ready(Err(io::Error::from_raw_os_error(-res)));
            }
            // SAFETY: a successful accept returns a fresh descriptor we now own.
            Poll::Ready(Ok(unsafe { OwnedFd::from_raw_fd(res) }))
        })
    })
    .await
}

/// A send tried at once as a syscall on the io_uring driver, before an
/// operation on the ring: `None` when the socket has no room (the ring's
/// operation then waits for it), else what the send did. A send with room
/// completes in the call, so the connection's task goes on without a turn
/// for the completion, and the bytes leave before the reactor next enters
/// the ring (docs/BENCHMARKS.md, attempt 11). The engine has at most one
/// write in flight a connection, so nothing queued on the ring can be
/// overtaken.
fn send_now(send: impl FnOnce() -> io::Result<usize>) -> Option<io::Result<usize>> {
    match send() {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) =>
        {
            None
        }
        done => Some(done),
    }
}
