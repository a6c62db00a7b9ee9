//! The IO operations, one method per operation on [`Source`] (a descriptor
//! registered with the current reactor's driver): `read`, `recv`, `write`,
//! `writev`, `accept`, `connect`, `shutdown`, and the close in its `Drop`.
//!
//! Each method picks the io_uring or the epoll path here, with a `match` on
//! the driver kind the source recorded when it was registered (static
//! dispatch, no allocation or boxing added to any operation). The sockets of
//! `net/` call these methods and deal only in descriptors, addresses and
//! buffers: they never name an opcode or a driver.
//!
//! ```text
//!  net/    TcpStream, TcpListener, UnixStream, UnixListener
//!   │        socket.read(buf), socket.recv(), socket.writev(bufs) ...
//!   ▼
//!  io/     Source: one method per operation; io_uring: Op futures,
//!   │        multishot RECV/ACCEPT; epoll: non-blocking syscalls
//!   │        retried on readiness (sys.rs)
//!   ▼
//!  driver/ the ring and its slots, or the poller
//! ```
//!
//! `source.rs` holds the registration, the close and the readiness wait,
//! `stream.rs` reads, writes, accept and connect, `recv.rs` the zero-copy
//! receive from the pool, `op.rs` an io_uring operation as a future that owns
//! its memory, `sys.rs` the syscalls made outside the ring, `sockaddr.rs` the
//! kernel's socket address.

mod op;
mod recv;
mod sockaddr;
mod source;
mod stream;
pub(crate) mod sys;

pub(crate) use sockaddr::RawAddr;
pub(crate) use source::Source;

use crate::driver::DriverKind;
use crate::reactor;

/// Whether a descriptor for the current reactor must be non-blocking: epoll
/// needs non-blocking descriptors, io_uring arms its own poll on blocking ones.
/// (Decides the mode of a descriptor before its [`Source`] exists.)
pub(crate) fn nonblocking_sockets() -> bool {
    reactor::with(|r| r.kind()) == DriverKind::Epoll
}
