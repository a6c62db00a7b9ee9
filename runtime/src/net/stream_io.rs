//! The stream methods TCP and Unix sockets share. Each is one call to the
//! socket's [`Source`], which runs the operation on whichever driver the
//! reactor has (see `io/`); the write-everything loops are built on those.
//!
//! Buffers are passed by value and handed back with the result: with io_uring the
//! kernel owns a buffer until the operation completes, and a future dropped before
//! then leaves the buffer with the driver, never freed under the kernel.

use std::io;

use bytes::{Buf, Bytes};

use crate::io::Source;

/// Writes every byte of `bufs`, in as few gathered writes as the socket allows.
pub(crate) async fn write_all_vectored(sock: &Source, mut bufs: Vec<Bytes>) -> io::Result<()> {
    bufs.retain(|b| !b.is_empty());
    while !bufs.is_empty() {
        let (r, back) = sock.writev(bufs).await;
        bufs = back;
        let n = r?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        consume(&mut bufs, n);
    }
    Ok(())
}

/// Drops the first `n` bytes of `bufs`: the chunks written whole in one
/// drain (a chunk removed at a time shifted the rest each time, quadratic in
/// a write of thousands of chunks: a large message's body and header are
/// two), then the written part of the next.
fn consume(bufs: &mut Vec<Bytes>, mut n: usize) {
    let whole = bufs
        .iter()
        .take_while(|b| {
            let written = b.len() <= n;
            if written {
                n -= b.len();
            }
            written
        })
        .count();
    bufs.drain(..whole);
    if n > 0 {
        if let Some(first) = bufs.first_mut() {
            first.advance(n.min(first.len()));
        }
    }
}

/// Writes every byte of `buf` (one send per partial write, no allocation).
pub(crate) async fn write_all(sock: &Source, mut buf: Bytes) -> io::Result<()> {
    while !buf.is_empty() {
        let (r, back) = sock.write(buf).await;
        buf = back;
        match r? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => buf.advance(n),
        }
    }
    Ok(())
}

/// The stream methods TCP and Unix sockets share, all delegating to the socket's
/// [`Source`] (or to this module for the write-everything loops).
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
            std.set_nonblocking($crate::io::nonblocking_sockets())?;
            Ok(Self {
                socket: $crate::io::Source::new(std::os::fd::OwnedFd::from(std))?,
            })
        }

        /// Receives the next chunk without a copy, as `Bytes` borrowing a buffer of
        /// the reactor's receive pool (returned to the pool when the last `Bytes`
        /// referring to it is dropped); empty at end of stream. With io_uring a
        /// multishot RECV stays armed between calls, and cancelling a call loses no data.
        pub async fn recv(&self) -> std::io::Result<bytes::Bytes> {
            self.socket.recv().await
        }

        /// Reads into `buf`'s spare capacity (reserving 16 KiB if it has none) and
        /// returns the count (0 at end of stream) with the buffer.
        pub async fn read(
            &self,
            buf: bytes::BytesMut,
        ) -> (std::io::Result<usize>, bytes::BytesMut) {
            self.socket.read(buf).await
        }

        /// Writes some of `buf` with one send; returns the count written with the buffer.
        pub async fn write(&self, buf: bytes::Bytes) -> (std::io::Result<usize>, bytes::Bytes) {
            self.socket.write(buf).await
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
            self.socket.writev(bufs).await
        }

        /// Writes every byte of `bufs`, in as few gathered writes as the socket allows.
        pub async fn write_all_vectored(&self, bufs: Vec<bytes::Bytes>) -> std::io::Result<()> {
            $crate::net::stream_io::write_all_vectored(&self.socket, bufs).await
        }

        /// Shuts down one or both directions.
        pub fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
            self.socket.shutdown(how)
        }
    };
}
pub(crate) use stream_methods;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumed_bytes_leave_the_rest_in_order() {
        let parts = || {
            vec![
                Bytes::from_static(b"ab"),
                Bytes::from_static(b"cde"),
                Bytes::from_static(b"f"),
            ]
        };
        let mut bufs = parts();
        consume(&mut bufs, 0);
        assert_eq!(bufs, parts());
        consume(&mut bufs, 3);
        assert_eq!(
            bufs,
            vec![Bytes::from_static(b"de"), Bytes::from_static(b"f")]
        );
        consume(&mut bufs, 2);
        assert_eq!(bufs, vec![Bytes::from_static(b"f")]);
        consume(&mut bufs, 1);
        assert!(bufs.is_empty());
        let mut bufs = parts();
        consume(&mut bufs, 6);
        assert!(bufs.is_empty());
    }
}
