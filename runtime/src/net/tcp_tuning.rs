//! Kernel options a TCP socket takes before it listens or connects: the
//! type of service, a bound device, the retransmission limit and busy
//! polling (libzmq's ZMQ_TOS, ZMQ_BINDTODEVICE, ZMQ_TCP_MAXRT, ZMQ_BUSY_POLL).
//!
//! They are set on the socket before `bind`/`connect` (a device must be bound
//! before the route is chosen) and, on a listener, Linux copies each of them
//! to the connections it accepts.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use crate::io::sys;

/// Kernel options for a TCP socket; `None` keeps the system's.
///
/// ```
/// use monocoque_runtime::net::TcpTuning;
/// let t = TcpTuning { tos: Some(0x28), ..TcpTuning::default() };
/// assert!(t.device.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpTuning {
    /// IP_TOS (and IPV6_TCLASS on an IPv6 socket): the type-of-service /
    /// traffic-class byte of every packet.
    pub tos: Option<u8>,
    /// SO_BINDTODEVICE: the interface (by name) the socket's traffic is
    /// confined to.
    pub device: Option<String>,
    /// TCP_USER_TIMEOUT: how long sent data may stay unacknowledged before
    /// the kernel drops the connection (it keeps whole milliseconds).
    pub user_timeout: Option<Duration>,
    /// SO_BUSY_POLL: how long a blocking read busy-polls the device queue
    /// (microseconds); raising it above the system's needs CAP_NET_ADMIN.
    pub busy_poll: Option<Duration>,
}

impl TcpTuning {
    /// Sets each given option on `fd`, a socket of the IPv6 family if `ipv6`.
    pub(crate) fn apply(&self, fd: RawFd, ipv6: bool) -> io::Result<()> {
        if let Some(tos) = self.tos {
            sys::set_int_option(fd, libc::IPPROTO_IP, libc::IP_TOS, tos.into())
                .map_err(|e| named(e, "IP_TOS"))?;
            if ipv6 {
                sys::set_int_option(fd, libc::IPPROTO_IPV6, libc::IPV6_TCLASS, tos.into())
                    .map_err(|e| named(e, "IPV6_TCLASS"))?;
            }
        }
        if let Some(device) = &self.device {
            sys::set_device(fd, device).map_err(|e| named(e, "SO_BINDTODEVICE"))?;
        }
        if let Some(t) = self.user_timeout {
            let ms = libc::c_int::try_from(t.as_millis()).unwrap_or(libc::c_int::MAX);
            sys::set_int_option(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, ms)
                .map_err(|e| named(e, "TCP_USER_TIMEOUT"))?;
        }
        if let Some(t) = self.busy_poll {
            let us = libc::c_int::try_from(t.as_micros()).unwrap_or(libc::c_int::MAX);
            sys::set_int_option(fd, libc::SOL_SOCKET, libc::SO_BUSY_POLL, us)
                .map_err(|e| named(e, "SO_BUSY_POLL"))?;
        }
        Ok(())
    }

    /// Reads every option back from the kernel (`Some` even where it is the
    /// system's value; `device` is `None` when no device is bound).
    pub(crate) fn read(fd: RawFd) -> io::Result<TcpTuning> {
        let int = |level, name| sys::get_int_option(fd, level, name);
        let device = sys::device(fd)?;
        Ok(TcpTuning {
            tos: Some(int(libc::IPPROTO_IP, libc::IP_TOS)? as u8),
            device: (!device.is_empty()).then_some(device),
            user_timeout: Some(Duration::from_millis(
                int(libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT)?.max(0) as u64,
            )),
            busy_poll: Some(Duration::from_micros(
                int(libc::SOL_SOCKET, libc::SO_BUSY_POLL)?.max(0) as u64,
            )),
        })
    }
}

/// Whether this process may set SO_BUSY_POLL to `value` (raising it above
/// net.core.busy_read needs CAP_NET_ADMIN), tried on a socket of its own, so
/// that a setting the kernel refuses is refused where it is made rather than
/// at each later connection.
pub fn check_busy_poll(value: Duration) -> io::Result<()> {
    let probe = sys::socket(libc::AF_INET, true)?;
    let tuning = TcpTuning {
        busy_poll: Some(value),
        ..TcpTuning::default()
    };
    tuning.apply(std::os::fd::AsRawFd::as_raw_fd(&probe), false)
}

/// Names the option in the error, so that a log line says which one failed.
fn named(e: io::Error, option: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{option}: {e}"))
}
