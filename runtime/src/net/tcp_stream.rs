//! A TCP connection whose reads and writes run on the reactor (see `stream_io.rs`).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::{stream_io, TcpTuning};
use crate::io::{sys, RawAddr, Source};

/// A connected TCP socket. `!Send`: it belongs to the reactor that made it.
#[derive(Debug)]
pub struct TcpStream {
    socket: Source,
}

impl AsRawFd for TcpStream {
    /// The connection's descriptor, to read an option or report it
    /// (libzmq's ZMQ_SRCFD); the stream owns it: never close it.
    fn as_raw_fd(&self) -> RawFd {
        self.socket.raw()
    }
}

impl TcpStream {
    pub(crate) fn from_fd(fd: OwnedFd) -> io::Result<TcpStream> {
        Ok(TcpStream {
            socket: Source::new(fd)?,
        })
    }

    /// Connects to `addr`; TCP_NODELAY is set.
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        TcpStream::connect_with(addr, None, &TcpTuning::default()).await
    }

    /// Connects to `addr` from `source` (an address and port to bind first,
    /// libzmq's `tcp://source;destination`; port 0 lets the kernel pick),
    /// with `tuning` set before the connection starts; TCP_NODELAY is set.
    ///
    /// The source address is bound with SO_REUSEADDR, as libzmq does, so one
    /// source port can reach several destinations.
    pub async fn connect_with(
        addr: SocketAddr,
        source: Option<SocketAddr>,
        tuning: &TcpTuning,
    ) -> io::Result<TcpStream> {
        let family = if addr.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        let prepare = |fd| {
            tuning.apply(fd, addr.is_ipv6())?;
            if let Some(source) = source {
                sys::set_int_option(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
                sys::bind(fd, &RawAddr::from_std(source)).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("binding the source address {source}: {e}"),
                    )
                })?;
            }
            Ok(())
        };
        let stream = TcpStream {
            socket: Source::connect(family, RawAddr::from_std(addr), prepare).await?,
        };
        sys::set_nodelay(stream.socket.raw())?;
        Ok(stream)
    }

    /// The address of this end (the source address and port).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        sys::local_addr(self.socket.raw())
    }

    /// The [`TcpTuning`] options as the kernel holds them.
    pub fn tuning(&self) -> io::Result<TcpTuning> {
        TcpTuning::read(self.socket.raw())
    }

    /// Sets `tuning` on the established connection (what a listener did not
    /// pass on; a device binding is better set before connecting).
    pub fn set_tuning(&self, tuning: &TcpTuning) -> io::Result<()> {
        let ipv6 = self.local_addr()?.is_ipv6();
        tuning.apply(self.socket.raw(), ipv6)
    }

    /// The address of the other end (fails once the peer has reset the connection).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        sys::peer_addr(self.socket.raw())
    }

    /// Sets the kernel's send and receive buffer sizes (SO_SNDBUF,
    /// SO_RCVBUF; libzmq's ZMQ_SNDBUF and ZMQ_RCVBUF); `None` keeps the
    /// system's.
    pub fn set_buffer_sizes(&self, send: Option<u32>, recv: Option<u32>) -> io::Result<()> {
        sys::set_buffer_sizes(self.socket.raw(), send, recv)
    }

    /// The send and receive buffer sizes as the kernel keeps them (Linux
    /// doubles what was set).
    pub fn buffer_sizes(&self) -> io::Result<(u32, u32)> {
        sys::buffer_sizes(self.socket.raw())
    }

    /// Applies TCP keepalive settings; `None` fields keep the system's values.
    pub fn set_keepalive(&self, keepalive: &Keepalive) -> io::Result<()> {
        let fd = self.socket.raw();
        if let Some(on) = keepalive.enabled {
            sys::set_int_option(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, on as libc::c_int)?;
        }
        let secs = |d: std::time::Duration| d.as_secs().clamp(1, i32::MAX as u64) as libc::c_int;
        if let Some(idle) = keepalive.idle {
            sys::set_int_option(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, secs(idle))?;
        }
        if let Some(intvl) = keepalive.interval {
            sys::set_int_option(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, secs(intvl))?;
        }
        if let Some(count) = keepalive.count {
            let count = count.clamp(1, i32::MAX as u32) as libc::c_int;
            sys::set_int_option(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT, count)?;
        }
        Ok(())
    }

    /// Reads the keepalive settings back from the kernel.
    pub fn keepalive(&self) -> io::Result<Keepalive> {
        let fd = self.socket.raw();
        let secs = |v: libc::c_int| std::time::Duration::from_secs(v.max(0) as u64);
        Ok(Keepalive {
            enabled: Some(sys::get_int_option(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE)? != 0),
            idle: Some(secs(sys::get_int_option(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_KEEPIDLE,
            )?)),
            interval: Some(secs(sys::get_int_option(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_KEEPINTVL,
            )?)),
            count: Some(
                sys::get_int_option(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT)?.max(0) as u32,
            ),
        })
    }

    stream_io::stream_methods!(std::net::TcpStream);
}

/// TCP keepalive settings (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL,
/// TCP_KEEPCNT); times are whole seconds, as the kernel takes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keepalive {
    /// SO_KEEPALIVE.
    pub enabled: Option<bool>,
    /// TCP_KEEPIDLE.
    pub idle: Option<std::time::Duration>,
    /// TCP_KEEPINTVL.
    pub interval: Option<std::time::Duration>,
    /// TCP_KEEPCNT.
    pub count: Option<u32>,
}
