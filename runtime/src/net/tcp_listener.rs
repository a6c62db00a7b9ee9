//! A TCP listener whose accepts run on the reactor.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use std::task::Poll;

use io_uring::{opcode, types};

use super::sockaddr::RawAddr;
use super::socket::{retry, Socket};
use super::sys;
use super::TcpStream;
use crate::driver::epoll::Direction;
use crate::driver::uring::MultiKind;
use crate::driver::{Driver, DriverKind};
use crate::reactor;

/// A listening TCP socket.
///
/// ```
/// use monocoque_runtime::{net::{TcpListener, TcpStream}, Runtime};
/// let rt = Runtime::builder().build().unwrap();
/// rt.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     let addr = listener.local_addr().unwrap();
///     let (client, accepted) = futures_join(TcpStream::connect(addr), listener.accept()).await;
///     let (server, _) = accepted.unwrap();
///     client.unwrap().write_all(bytes::Bytes::from_static(b"hi")).await.unwrap();
///     let (n, buf) = server.read(bytes::BytesMut::with_capacity(16)).await;
///     assert_eq!((n.unwrap(), &buf[..]), (2, &b"hi"[..]));
/// });
/// # async fn futures_join<A: std::future::Future, B: std::future::Future>(a: A, b: B) -> (A::Output, B::Output) {
/// #     let mut a = std::pin::pin!(a); let mut b = std::pin::pin!(b);
/// #     let (mut ra, mut rb) = (None, None);
/// #     std::future::poll_fn(|cx| {
/// #         if ra.is_none() { if let std::task::Poll::Ready(v) = a.as_mut().poll(cx) { ra = Some(v) } }
/// #         if rb.is_none() { if let std::task::Poll::Ready(v) = b.as_mut().poll(cx) { rb = Some(v) } }
/// #         if ra.is_some() && rb.is_some() { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
/// #     }).await;
/// #     (ra.unwrap(), rb.unwrap())
/// # }
/// ```
#[derive(Debug)]
pub struct TcpListener {
    socket: Socket,
    local: SocketAddr,
}

impl TcpListener {
    /// Binds and listens (backlog 1024, SO_REUSEADDR as std sets it). Port 0 picks a free port.
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        let std = std::net::TcpListener::bind(addr)?;
        // io_uring arms its own poll on blocking sockets; epoll needs non-blocking ones.
        std.set_nonblocking(Socket::current_kind() == DriverKind::Epoll)?;
        let local = std.local_addr()?;
        let fd = OwnedFd::from(std);
        Ok(TcpListener {
            socket: Socket::new(fd)?,
            local,
        })
    }

    /// The bound address (with the port chosen for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    /// Accepts one connection. TCP_NODELAY is set on it (as libzmq always does).
    ///
    /// A connection the peer reset between the kernel's accept and this call
    /// (its address can no longer be read: ENOTCONN) is closed and skipped,
    /// not reported: it is the peer's doing, and an error here would make the
    /// caller back off while the kernel keeps handing out connections.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (fd, addr) = match self.socket.kind() {
            DriverKind::Uring => loop {
                let fd = accept_multishot(&self.socket).await?;
                match sys::peer_addr(fd.as_raw_fd()) {
                    Ok(addr) => break (fd, addr),
                    Err(e) if is_gone_before_accept(&e) => continue,
                    Err(e) => return Err(e),
                }
            },
            DriverKind::Epoll => {
                let mut raw = RawAddr::empty();
                let fd = retry(&self.socket, Direction::Read, || {
                    sys::accept(self.socket.raw(), &mut raw)
                })
                .await?;
                (fd, raw.to_std()?)
            }
        };
        sys::set_nodelay(fd.as_raw_fd())?;
        Ok((TcpStream::from_fd(fd)?, addr))
    }
}

/// Whether an error on a just-accepted connection means the peer already
/// went away (reset before we looked at it).
fn is_gone_before_accept(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOTCONN | libc::ECONNRESET | libc::ECONNABORTED)
    )
}

/// Takes the next connection from the listener's multishot ACCEPT (armed on first
/// use, re-armed if the kernel ends it). Connections accepted between calls wait
/// in the operation's slot; dropping the listener closes any not taken.
pub(crate) async fn accept_multishot(socket: &Socket) -> io::Result<OwnedFd> {
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
