//! A TCP listener whose accepts run on the reactor.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use super::{TcpStream, TcpTuning};
use crate::io::{nonblocking_sockets, sys, RawAddr, Source};

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
    socket: Source,
    local: SocketAddr,
}

impl TcpListener {
    /// Binds and listens (a backlog of 128; SO_REUSEADDR as std sets it).
    /// Port 0 picks a free port.
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        TcpListener::bind_with(addr, None, &TcpTuning::default())
    }

    /// As [`bind`](Self::bind), with a backlog of pending connections
    /// (libzmq's ZMQ_BACKLOG; the kernel caps it at net.core.somaxconn).
    pub fn bind_with_backlog(addr: SocketAddr, backlog: Option<u32>) -> io::Result<TcpListener> {
        TcpListener::bind_with(addr, backlog, &TcpTuning::default())
    }

    /// As [`bind_with_backlog`](Self::bind_with_backlog), with `tuning` set
    /// before the bind; Linux passes it on to each accepted connection.
    pub fn bind_with(
        addr: SocketAddr,
        backlog: Option<u32>,
        tuning: &TcpTuning,
    ) -> io::Result<TcpListener> {
        TcpListener::open(addr, backlog, tuning, |_| Ok(()))
    }

    /// Listens on every IPv4 and IPv6 address at `port` with one socket
    /// (IPV6_V6ONLY off, whatever net.ipv6.bindv6only says): libzmq's
    /// `tcp://*` under ZMQ_IPV6.
    pub fn bind_dual_stack(
        port: u16,
        backlog: Option<u32>,
        tuning: &TcpTuning,
    ) -> io::Result<TcpListener> {
        let addr = SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), port);
        TcpListener::open(addr, backlog, tuning, |fd| {
            sys::set_int_option(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0)
        })
    }

    /// Takes over `fd`, a TCP socket the caller bound and made listen
    /// (libzmq's ZMQ_USE_FD); closed with the listener. Refused
    /// (`InvalidInput`) unless it is a listening TCP socket.
    ///
    /// ```
    /// use monocoque_runtime::{net::TcpListener, Runtime};
    /// let rt = Runtime::builder().build().unwrap();
    /// let made = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = made.local_addr().unwrap();
    /// rt.block_on(async {
    ///     let listener = TcpListener::from_listener(made.into()).unwrap();
    ///     assert_eq!(listener.local_addr().unwrap(), addr);
    /// });
    /// ```
    pub fn from_listener(fd: OwnedFd) -> io::Result<TcpListener> {
        TcpListener::check_listener(fd.as_fd())?;
        // io_uring arms its own poll on blocking sockets; epoll needs non-blocking ones.
        let std = std::net::TcpListener::from(fd);
        std.set_nonblocking(nonblocking_sockets())?;
        let fd = OwnedFd::from(std);
        let local = sys::local_addr(fd.as_raw_fd())?;
        Ok(TcpListener {
            socket: Source::new(fd)?,
            local,
        })
    }

    /// Whether `fd` is a listening TCP socket, as
    /// [`from_listener`](Self::from_listener) requires (`InvalidInput` if
    /// not): a caller can ask before it gives the descriptor up, and keep
    /// it when refused.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use monocoque_runtime::net::TcpListener;
    /// let made = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(TcpListener::check_listener(made.as_fd()).is_ok());
    /// let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(TcpListener::check_listener(udp.as_fd()).is_err());
    /// ```
    pub fn check_listener(fd: BorrowedFd<'_>) -> io::Result<()> {
        let raw = fd.as_raw_fd();
        let domain = sys::get_int_option(raw, libc::SOL_SOCKET, libc::SO_DOMAIN)?;
        let kind = sys::get_int_option(raw, libc::SOL_SOCKET, libc::SO_TYPE)?;
        let listening = sys::get_int_option(raw, libc::SOL_SOCKET, libc::SO_ACCEPTCONN)?;
        if !matches!(domain, libc::AF_INET | libc::AF_INET6)
            || kind != libc::SOCK_STREAM
            || listening != 1
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the descriptor is not a listening TCP socket",
            ));
        }
        Ok(())
    }

    /// socket, SO_REUSEADDR, `tuning`, `prepare`, bind, listen.
    fn open(
        addr: SocketAddr,
        backlog: Option<u32>,
        tuning: &TcpTuning,
        prepare: impl FnOnce(RawFd) -> io::Result<()>,
    ) -> io::Result<TcpListener> {
        let family = if addr.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        // io_uring arms its own poll on blocking sockets; epoll needs non-blocking ones.
        let fd = sys::socket(family, nonblocking_sockets())?;
        let raw = fd.as_raw_fd();
        sys::set_int_option(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        tuning.apply(raw, addr.is_ipv6())?;
        prepare(raw)?;
        sys::bind(raw, &RawAddr::from_std(addr))?;
        sys::listen(raw, backlog.unwrap_or(128))?;
        let local = sys::local_addr(raw)?;
        Ok(TcpListener {
            socket: Source::new(fd)?,
            local,
        })
    }

    /// The [`TcpTuning`] options as the kernel holds them on the listener.
    pub fn tuning(&self) -> io::Result<TcpTuning> {
        TcpTuning::read(self.socket.raw())
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
        let (fd, addr) = loop {
            let (fd, raw) = self.socket.accept().await?;
            // Where the driver's accept did not read the address, the socket is
            // asked for it: that is where a connection reset before we looked shows.
            let addr = match raw {
                Some(raw) => raw.to_std()?,
                None => match sys::peer_addr(fd.as_raw_fd()) {
                    Ok(addr) => addr,
                    Err(e) if is_gone_before_accept(&e) => continue,
                    Err(e) => return Err(e),
                },
            };
            break (fd, addr);
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
