//! What an engine needs from a connected byte stream, so one engine serves tcp
//! and ipc alike.

use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

use bytes::Bytes;
use monocoque_runtime::net::{TcpStream, UnixStream};

/// A connected stream on the current reactor.
pub(crate) trait Stream: 'static {
    /// Receives the next bytes (zero-copy where the runtime allows); empty at EOF.
    fn recv_bytes(&self) -> impl Future<Output = io::Result<Bytes>> + '_;
    /// Writes every chunk, in order, with gathered writes.
    fn write_chunks(&self, chunks: Vec<Bytes>) -> impl Future<Output = io::Result<()>> + '_;
    /// The other end's address for logs (`None` where the transport has none
    /// worth showing, or the peer is already gone).
    fn remote_address(&self) -> Option<String>;
    /// The connection's descriptor (libzmq's ZMQ_SRCFD), where it has one.
    fn source_fd(&self) -> Option<RawFd>;
}

impl Stream for TcpStream {
    fn recv_bytes(&self) -> impl Future<Output = io::Result<Bytes>> + '_ {
        self.recv()
    }
    fn write_chunks(&self, chunks: Vec<Bytes>) -> impl Future<Output = io::Result<()>> + '_ {
        self.write_all_vectored(chunks)
    }
    fn remote_address(&self) -> Option<String> {
        self.peer_addr().ok().map(|a| a.to_string())
    }
    fn source_fd(&self) -> Option<RawFd> {
        Some(self.as_raw_fd())
    }
}

impl Stream for UnixStream {
    fn recv_bytes(&self) -> impl Future<Output = io::Result<Bytes>> + '_ {
        self.recv()
    }
    fn write_chunks(&self, chunks: Vec<Bytes>) -> impl Future<Output = io::Result<()>> + '_ {
        self.write_all_vectored(chunks)
    }
    fn remote_address(&self) -> Option<String> {
        // An ipc peer's address is unnamed; the endpoint says all there is.
        None
    }
    fn source_fd(&self) -> Option<RawFd> {
        Some(self.as_raw_fd())
    }
}
