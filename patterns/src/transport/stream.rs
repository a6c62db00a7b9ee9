//! What an engine needs from a connected byte stream, so one engine serves tcp
//! and ipc alike.

use std::future::Future;
use std::io;

use bytes::Bytes;
use monocoque_runtime::net::{TcpStream, UnixStream};

/// A connected stream on the current reactor.
pub(crate) trait Stream: 'static {
    /// Receives the next bytes (zero-copy where the runtime allows); empty at EOF.
    fn recv_bytes(&self) -> impl Future<Output = io::Result<Bytes>> + '_;
    /// Writes every chunk, in order, with gathered writes.
    fn write_chunks(&self, chunks: Vec<Bytes>) -> impl Future<Output = io::Result<()>> + '_;
}

impl Stream for TcpStream {
    fn recv_bytes(&self) -> impl Future<Output = io::Result<Bytes>> + '_ {
        self.recv()
    }
    fn write_chunks(&self, chunks: Vec<Bytes>) -> impl Future<Output = io::Result<()>> + '_ {
        self.write_all_vectored(chunks)
    }
}

impl Stream for UnixStream {
    fn recv_bytes(&self) -> impl Future<Output = io::Result<Bytes>> + '_ {
        self.recv()
    }
    fn write_chunks(&self, chunks: Vec<Bytes>) -> impl Future<Output = io::Result<()>> + '_ {
        self.write_all_vectored(chunks)
    }
}
