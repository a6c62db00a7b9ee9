//! A TCP connection whose reads and writes run on the reactor (see `stream_io.rs`).

use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

use super::sockaddr::RawAddr;
use super::socket::Socket;
use super::{stream_io, sys};

/// A connected TCP socket. `!Send`: it belongs to the reactor that made it.
#[derive(Debug)]
pub struct TcpStream {
    socket: Socket,
}

impl TcpStream {
    pub(crate) fn from_fd(fd: OwnedFd) -> io::Result<TcpStream> {
        Ok(TcpStream {
            socket: Socket::new(fd)?,
        })
    }

    /// Connects to `addr`; TCP_NODELAY is set.
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let family = if addr.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        let stream = TcpStream {
            socket: stream_io::connect(family, RawAddr::from_std(addr)).await?,
        };
        sys::set_nodelay(stream.socket.raw())?;
        Ok(stream)
    }

    stream_io::stream_methods!();
}
