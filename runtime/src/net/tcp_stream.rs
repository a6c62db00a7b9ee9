//! A TCP connection whose reads and writes run on the reactor (see `stream_io.rs`).

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::OwnedFd;

use bytes::{Bytes, BytesMut};

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

    /// Receives the next chunk without a copy, as `Bytes` borrowing a buffer of the
    /// reactor's receive pool (returned to the pool when the last `Bytes` referring
    /// to it is dropped); empty at end of stream. With io_uring a multishot RECV
    /// stays armed between calls, and cancelling a call loses no data.
    pub async fn recv(&self) -> io::Result<Bytes> {
        stream_io::recv(&self.socket).await
    }

    /// Reads into `buf`'s spare capacity (reserving 16 KiB if it has none) and
    /// returns the count (0 at end of stream) with the buffer.
    pub async fn read(&self, buf: BytesMut) -> (io::Result<usize>, BytesMut) {
        stream_io::read(&self.socket, buf).await
    }

    /// Writes some of `buf` with one send; returns the count written with the buffer.
    pub async fn write(&self, buf: Bytes) -> (io::Result<usize>, Bytes) {
        stream_io::write(&self.socket, buf).await
    }

    /// Writes every byte of `buf` (one send per partial write, no allocation).
    pub async fn write_all(&self, buf: Bytes) -> io::Result<()> {
        stream_io::write_all(&self.socket, buf).await
    }

    /// Writes some of `bufs` with one gathered write; returns the count written
    /// with the buffers (unchanged: advance them yourself, or use
    /// [`write_all_vectored`](Self::write_all_vectored)).
    pub async fn writev(&self, bufs: Vec<Bytes>) -> (io::Result<usize>, Vec<Bytes>) {
        stream_io::writev(&self.socket, bufs).await
    }

    /// Writes every byte of `bufs`, in as few gathered writes as the socket allows.
    pub async fn write_all_vectored(&self, bufs: Vec<Bytes>) -> io::Result<()> {
        stream_io::write_all_vectored(&self.socket, bufs).await
    }

    /// Shuts down one or both directions.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        sys::shutdown(self.socket.raw(), how)
    }
}
