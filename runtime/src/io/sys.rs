//! Thin, checked wrappers over the few socket syscalls made outside the ring:
//! the epoll path's non-blocking IO, and the socket options and addresses
//! `net/` sets and reads.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::sockaddr::RawAddr;

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A new stream socket for `family`; non-blocking if asked.
pub(crate) fn socket(family: libc::c_int, nonblocking: bool) -> io::Result<OwnedFd> {
    let mut ty = libc::SOCK_STREAM | libc::SOCK_CLOEXEC;
    if nonblocking {
        ty |= libc::SOCK_NONBLOCK;
    }
    // SAFETY: socket(2) has no pointer arguments.
    let fd = check(unsafe { libc::socket(family, ty, 0) })?;
    // SAFETY: a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(crate) fn set_nodelay(fd: RawFd) -> io::Result<()> {
    set_int_option(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)
}

/// SO_SNDBUF and SO_RCVBUF where given (`None` keeps the system's).
pub(crate) fn set_buffer_sizes(fd: RawFd, send: Option<u32>, recv: Option<u32>) -> io::Result<()> {
    let int = |n: u32| libc::c_int::try_from(n).unwrap_or(libc::c_int::MAX);
    if let Some(n) = send {
        set_int_option(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, int(n))?;
    }
    if let Some(n) = recv {
        set_int_option(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, int(n))?;
    }
    Ok(())
}

/// SO_SNDBUF and SO_RCVBUF as the kernel keeps them (Linux doubles what
/// was asked, for its own bookkeeping).
pub(crate) fn buffer_sizes(fd: RawFd) -> io::Result<(u32, u32)> {
    let send = get_int_option(fd, libc::SOL_SOCKET, libc::SO_SNDBUF)?;
    let recv = get_int_option(fd, libc::SOL_SOCKET, libc::SO_RCVBUF)?;
    Ok((send.max(0) as u32, recv.max(0) as u32))
}

/// bind(2) to `addr`.
pub(crate) fn bind(fd: RawFd, addr: &RawAddr) -> io::Result<()> {
    // SAFETY: `addr` holds a live sockaddr of `addr.len` bytes for the call.
    check(unsafe { libc::bind(fd, addr.as_ptr(), addr.len) })?;
    Ok(())
}

/// listen(2) again on a listening socket: Linux takes the new backlog
/// (capped by net.core.somaxconn).
pub(crate) fn listen(fd: RawFd, backlog: u32) -> io::Result<()> {
    let backlog = libc::c_int::try_from(backlog).unwrap_or(libc::c_int::MAX);
    // SAFETY: listen(2) takes no pointers; an invalid descriptor is an error.
    check(unsafe { libc::listen(fd, backlog) })?;
    Ok(())
}

/// setsockopt with a c_int value.
pub(crate) fn set_int_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: passes a live c_int and its size; the kernel validates level and name.
    check(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// getsockopt of a c_int value.
pub(crate) fn get_int_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value and len are live and sized for a c_int.
    check(unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok(value)
}

/// SO_BINDTODEVICE: confines the socket to the interface `name`.
pub(crate) fn set_device(fd: RawFd, name: &str) -> io::Result<()> {
    if name.len() >= libc::IFNAMSIZ || name.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is no interface name (at most 15 bytes, no NUL)"),
        ));
    }
    // SAFETY: passes the name's live bytes and their length; the kernel
    // copies at most IFNAMSIZ of them and does not need a terminator.
    check(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            name.as_ptr().cast(),
            name.len() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// The interface SO_BINDTODEVICE confines the socket to ("" for none).
pub(crate) fn device(fd: RawFd) -> io::Result<String> {
    let mut name = [0u8; libc::IFNAMSIZ];
    let mut len = name.len() as libc::socklen_t;
    // SAFETY: the buffer and its length are live; the kernel writes at most `len` bytes.
    check(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            name.as_mut_ptr().cast(),
            &mut len,
        )
    })?;
    let name = &name[..(len as usize).min(name.len())];
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    Ok(String::from_utf8_lossy(&name[..end]).into_owned())
}

pub(crate) fn take_socket_error(fd: RawFd) -> io::Result<()> {
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: passes a live c_int and its size for the kernel to fill.
    check(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    if err == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(err))
    }
}

/// Non-blocking connect: Ok(true) connected, Ok(false) in progress.
pub(crate) fn connect(fd: &OwnedFd, addr: &RawAddr) -> io::Result<bool> {
    // SAFETY: the address pointer and length come from a live RawAddr.
    let r = unsafe { libc::connect(fd.as_raw_fd(), addr.as_ptr(), addr.len) };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EINPROGRESS) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// accept4 on a non-blocking listener.
pub(crate) fn accept(fd: RawFd, addr: &mut RawAddr) -> io::Result<OwnedFd> {
    addr.len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: the address buffer and its length live in `addr`.
    let new = check(unsafe {
        libc::accept4(
            fd,
            addr.as_mut_ptr(),
            &mut addr.len,
            libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
        )
    })?;
    // SAFETY: a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

pub(crate) fn recv(fd: RawFd, buf: &mut [std::mem::MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `recv` that never blocks, whatever the descriptor's mode (MSG_DONTWAIT):
/// for a read after the ring reported readiness.
pub(crate) fn recv_dontwait(fd: RawFd, buf: &mut [std::mem::MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// A send with MSG_NOSIGNAL (EPIPE, never SIGPIPE) and MSG_DONTWAIT (never
/// blocks, also on the io_uring driver's blocking sockets: `WouldBlock`).
pub(crate) fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    let flags = libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
    // SAFETY: the kernel reads at most `buf.len()` bytes from `buf`.
    let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), flags) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// A `sendmsg` header for `iov` (no address, no control data).
pub(crate) fn msghdr(iov: &[libc::iovec]) -> libc::msghdr {
    // SAFETY: an all-zero msghdr is valid: no name, no control data.
    let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
    header.msg_iov = iov.as_ptr().cast_mut();
    header.msg_iovlen = iov.len().min(1024) as _;
    header
}

/// A gathered write as `sendmsg` with MSG_NOSIGNAL (EPIPE, never SIGPIPE)
/// and MSG_DONTWAIT (never blocks: `WouldBlock`).
pub(crate) fn writev(fd: RawFd, iov: &[libc::iovec]) -> io::Result<usize> {
    let header = msghdr(iov);
    // SAFETY: the header points to the caller's iovecs, each into a live
    // `Bytes` held by the caller.
    let n = unsafe { libc::sendmsg(fd, &header, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

pub(crate) fn shutdown(fd: RawFd, how: std::net::Shutdown) -> io::Result<()> {
    let how = match how {
        std::net::Shutdown::Read => libc::SHUT_RD,
        std::net::Shutdown::Write => libc::SHUT_WR,
        std::net::Shutdown::Both => libc::SHUT_RDWR,
    };
    // SAFETY: shutdown(2) has no pointer arguments.
    check(unsafe { libc::shutdown(fd, how) })?;
    Ok(())
}

/// Builds iovecs for `bufs` (at most IOV_MAX).
pub(crate) fn iovecs(bufs: &[bytes::Bytes]) -> Box<[libc::iovec]> {
    bufs.iter()
        .filter(|b| !b.is_empty())
        .take(1024)
        .map(|b| libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        })
        .collect()
}

/// The local address of a socket.
pub(crate) fn local_addr(fd: RawFd) -> io::Result<std::net::SocketAddr> {
    let mut raw = RawAddr::empty();
    // SAFETY: the address buffer and its length live in `raw`.
    check(unsafe { libc::getsockname(fd, raw.as_mut_ptr(), &mut raw.len) })?;
    raw.to_std()
}

/// The peer address of a connected socket.
pub(crate) fn peer_addr(fd: RawFd) -> io::Result<std::net::SocketAddr> {
    let mut raw = RawAddr::empty();
    // SAFETY: the address buffer and its length live in `raw`.
    check(unsafe { libc::getpeername(fd, raw.as_mut_ptr(), &mut raw.len) })?;
    raw.to_std()
}
