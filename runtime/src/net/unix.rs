//! Unix domain stream sockets (for `ipc://`), the same way as TCP.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use super::stream_io;
use crate::io::{nonblocking_sockets, RawAddr, Source};

/// A listening Unix domain socket. Removes its socket file when dropped
/// (unless told to leave it to the caller).
#[derive(Debug)]
pub struct UnixListener {
    socket: Source,
    path: PathBuf,
    unlink_on_drop: bool,
}

impl UnixListener {
    /// Binds and listens at `path`.
    ///
    /// A socket file left behind by a process that died (connecting to it is
    /// refused) is removed and the bind retried. A path where something is
    /// listening is refused with `AddrInUse`: unlike libzmq, which unlinks
    /// unconditionally, we never steal a live endpoint. (The probe is a
    /// connection, so the live listener accepts one connection that closes at once.)
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        UnixListener::bind_with_backlog(path, None)
    }

    /// As [`bind`](Self::bind), with a backlog of pending connections
    /// (libzmq's ZMQ_BACKLOG; the kernel caps it at net.core.somaxconn).
    pub fn bind_with_backlog(
        path: impl AsRef<Path>,
        backlog: Option<u32>,
    ) -> io::Result<UnixListener> {
        let path = path.as_ref();
        let std = match std::os::unix::net::UnixListener::bind(path) {
            Ok(l) => l,
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                match std::os::unix::net::UnixStream::connect(path) {
                    Err(c) if c.kind() == io::ErrorKind::ConnectionRefused => {
                        std::fs::remove_file(path)?;
                        std::os::unix::net::UnixListener::bind(path)?
                    }
                    _ => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        if let Some(backlog) = backlog {
            crate::io::sys::listen(std::os::fd::AsRawFd::as_raw_fd(&std), backlog)?;
        }
        std.set_nonblocking(nonblocking_sockets())?;
        Ok(UnixListener {
            socket: Source::new(OwnedFd::from(std))?,
            path: path.to_path_buf(),
            unlink_on_drop: true,
        })
    }

    /// Binds and listens in Linux's abstract namespace: `name` (at most 107
    /// bytes) names no file, so nothing is left behind, and it vanishes with
    /// the last socket (libzmq's `ipc://@name`). A name in use is refused
    /// with `AddrInUse`. [`path`](Self::path) reports `@name`.
    pub fn bind_abstract(name: &[u8], backlog: Option<u32>) -> io::Result<UnixListener> {
        use std::os::fd::AsRawFd;
        use std::os::unix::ffi::OsStrExt;
        let raw_addr = RawAddr::unix_abstract(name)?;
        let fd = crate::io::sys::socket(libc::AF_UNIX, nonblocking_sockets())?;
        crate::io::sys::bind(fd.as_raw_fd(), &raw_addr)?;
        crate::io::sys::listen(fd.as_raw_fd(), backlog.unwrap_or(128))?;
        let mut shown = b"@".to_vec();
        shown.extend_from_slice(name);
        Ok(UnixListener {
            socket: Source::new(fd)?,
            path: PathBuf::from(std::ffi::OsStr::from_bytes(&shown)),
            unlink_on_drop: false,
        })
    }

    /// Takes over `fd`, a Unix stream socket the caller bound and made
    /// listen (libzmq's ZMQ_USE_FD); closed with the listener, its socket
    /// file left to the caller. Refused (`InvalidInput`) unless it is a
    /// listening Unix stream socket.
    pub fn from_listener(fd: OwnedFd) -> io::Result<UnixListener> {
        use std::os::fd::AsFd;
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::ffi::OsStrExt;
        UnixListener::check_listener(fd.as_fd())?;
        let std = std::os::unix::net::UnixListener::from(fd);
        std.set_nonblocking(nonblocking_sockets())?;
        let address = std.local_addr()?;
        let path = match (address.as_pathname(), address.as_abstract_name()) {
            (Some(path), _) => path.to_path_buf(),
            (None, Some(name)) => {
                let mut shown = b"@".to_vec();
                shown.extend_from_slice(name);
                PathBuf::from(std::ffi::OsStr::from_bytes(&shown))
            }
            (None, None) => PathBuf::new(),
        };
        Ok(UnixListener {
            socket: Source::new(OwnedFd::from(std))?,
            path,
            unlink_on_drop: false,
        })
    }

    /// Whether `fd` is a listening Unix stream socket, as
    /// [`from_listener`](Self::from_listener) requires (`InvalidInput` if
    /// not): a caller can ask before it gives the descriptor up, and keep
    /// it when refused.
    pub fn check_listener(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let raw = fd.as_raw_fd();
        let option = |name| crate::io::sys::get_int_option(raw, libc::SOL_SOCKET, name);
        if option(libc::SO_DOMAIN)? != libc::AF_UNIX
            || option(libc::SO_TYPE)? != libc::SOCK_STREAM
            || option(libc::SO_ACCEPTCONN)? != 1
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the descriptor is not a listening Unix stream socket",
            ));
        }
        Ok(())
    }

    /// The path bound.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Leaves the socket file when dropped: the caller removes it, and so
    /// learns whether that failed (libzmq's ZMQ_EVENT_CLOSE_FAILED).
    pub fn leave_path_on_drop(&mut self) {
        self.unlink_on_drop = false;
    }

    /// Accepts one connection.
    pub async fn accept(&self) -> io::Result<UnixStream> {
        let (fd, _) = self.socket.accept().await?;
        Ok(UnixStream {
            socket: Source::new(fd)?,
        })
    }
}

impl Drop for UnixListener {
    fn drop(&mut self) {
        if self.unlink_on_drop {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A connected Unix domain stream socket. `!Send`: it belongs to its reactor.
#[derive(Debug)]
pub struct UnixStream {
    socket: Source,
}

impl AsRawFd for UnixStream {
    /// The connection's descriptor, to read an option or report it
    /// (libzmq's ZMQ_SRCFD); the stream owns it: never close it.
    fn as_raw_fd(&self) -> RawFd {
        self.socket.raw()
    }
}

impl UnixStream {
    /// Sets the kernel's send and receive buffer sizes (SO_SNDBUF,
    /// SO_RCVBUF); `None` keeps the system's.
    pub fn set_buffer_sizes(&self, send: Option<u32>, recv: Option<u32>) -> io::Result<()> {
        crate::io::sys::set_buffer_sizes(self.socket.raw(), send, recv)
    }

    /// The send and receive buffer sizes as the kernel keeps them.
    pub fn buffer_sizes(&self) -> io::Result<(u32, u32)> {
        crate::io::sys::buffer_sizes(self.socket.raw())
    }

    /// The process, user and group at the other end, as the kernel
    /// recorded them when it connected (SO_PEERCRED).
    pub fn peer_credentials(&self) -> io::Result<super::PeerCredentials> {
        super::PeerCredentials::of(self.socket.raw())
    }

    /// Connects to the socket at `path`.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let raw = RawAddr::unix(path.as_ref())?;
        let stream = UnixStream {
            socket: Source::connect(libc::AF_UNIX, raw, |_| Ok(())).await?,
        };
        Ok(stream)
    }

    /// Connects to the listener named `name` in Linux's abstract namespace
    /// (see [`UnixListener::bind_abstract`]).
    pub async fn connect_abstract(name: &[u8]) -> io::Result<UnixStream> {
        let raw = RawAddr::unix_abstract(name)?;
        Ok(UnixStream {
            socket: Source::connect(libc::AF_UNIX, raw, |_| Ok(())).await?,
        })
    }

    stream_io::stream_methods!(std::os::unix::net::UnixStream);
}
