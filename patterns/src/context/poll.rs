//! `poll`: waiting on several blocking sockets and descriptors at once, with
//! `zmq_poll`'s semantics.
//!
//! Each socket is watched through its readiness descriptor
//! ([`BlockingSocket::readiness_fd`]); a wake-up means "look again", so the
//! loop asks each socket for its events (clearing its descriptor first: a
//! change after the look signals it again, and nothing is missed), returns
//! if any item is ready, and otherwise waits on every descriptor with
//! what is left of the timeout.

use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use monocoque_runtime::{poll_fds, PollFd};

use super::BlockingSocket;
use crate::{Error, Events, Result};

/// One item of [`poll`]: a socket or a descriptor, the events wanted, and
/// after the call the events found.
#[derive(Debug)]
pub struct PollItem<'a> {
    target: Target<'a>,
    interest: Events,
    found: Events,
}

#[derive(Debug, Clone, Copy)]
enum Target<'a> {
    Socket(&'a BlockingSocket),
    Fd(RawFd),
}

impl<'a> PollItem<'a> {
    /// Watches `socket` for `interest` (POLLIN, POLLOUT or both).
    pub fn socket(socket: &'a BlockingSocket, interest: Events) -> PollItem<'a> {
        PollItem {
            target: Target::Socket(socket),
            interest,
            found: Events::NONE,
        }
    }

    /// Watches a descriptor of your own (a pipe, a TCP socket, a timerfd)
    /// for `interest`; POLLERR is reported whatever the interest.
    pub fn fd(fd: RawFd, interest: Events) -> PollItem<'a> {
        PollItem {
            target: Target::Fd(fd),
            interest,
            found: Events::NONE,
        }
    }

    /// The events found by the last [`poll`] (libzmq's `revents`).
    pub fn events(&self) -> Events {
        self.found
    }

    /// Whether the last [`poll`] found POLLIN.
    pub fn is_readable(&self) -> bool {
        self.found.is_readable()
    }

    /// Whether the last [`poll`] found POLLOUT.
    pub fn is_writable(&self) -> bool {
        self.found.is_writable()
    }
}

/// Waits until at least one item has an event it asked for, or `timeout`
/// passes (`None`: no limit; zero: just look), as `zmq_poll` does. Returns
/// how many items have events; each item's [`PollItem::events`] says which.
/// [`Context::shutdown`](crate::Context::shutdown) ends it with
/// [`Error::Terminated`].
///
/// ```
/// use std::time::Duration;
/// use monocoque_patterns::{poll, Context, Events, PollItem};
/// use monocoque_zmtp::SocketType;
/// let ctx = Context::new().unwrap();
/// let (a, b) = (ctx.socket(SocketType::Pull).unwrap(), ctx.socket(SocketType::Pull).unwrap());
/// a.bind("inproc://poll-a").unwrap();
/// b.bind("inproc://poll-b").unwrap();
/// let push = ctx.socket(SocketType::Push).unwrap();
/// push.connect("inproc://poll-b").unwrap();
/// push.send("for b").unwrap();
/// let mut items = [PollItem::socket(&a, Events::POLLIN), PollItem::socket(&b, Events::POLLIN)];
/// assert_eq!(poll(&mut items, Some(Duration::from_secs(5))).unwrap(), 1);
/// assert!(!items[0].is_readable() && items[1].is_readable());
/// assert_eq!(&b.try_recv().unwrap()[0][..], b"for b");
/// ```
pub fn poll(items: &mut [PollItem<'_>], timeout: Option<Duration>) -> Result<usize> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut fds = Vec::with_capacity(items.len());
    for item in items.iter() {
        fds.push(match item.target {
            Target::Socket(s) => PollFd::readable(s.readiness_fd()?),
            Target::Fd(fd) => {
                PollFd::new(fd, item.interest.is_readable(), item.interest.is_writable())
            }
        });
    }
    loop {
        let mut ready = 0;
        for item in items.iter_mut() {
            if let Target::Socket(s) = item.target {
                // Messages the handle holds are POLLIN without asking the
                // context (a receive loop driven by poll stays off the
                // round trip while they flow).
                item.found = if item.interest == Events::POLLIN && s.holds_messages() {
                    Events::POLLIN
                } else {
                    s.events()?.intersection(item.interest)
                };
                ready += !item.found.is_empty() as usize;
            }
        }
        let wait = if ready > 0 {
            Some(Duration::ZERO)
        } else {
            deadline.map(|d| d.saturating_duration_since(Instant::now()))
        };
        poll_fds(&mut fds, wait).map_err(|e| Error::io("poll", &e))?;
        for (item, fd) in items.iter_mut().zip(&fds) {
            if let Target::Fd(_) = item.target {
                let found = Events::new(fd.readable, fd.writable).intersection(item.interest);
                item.found = if fd.error {
                    found | Events::POLLERR
                } else {
                    found
                };
                ready += !item.found.is_empty() as usize;
            }
        }
        if ready > 0 || deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(ready);
        }
        // A socket's descriptor woke us (or a signal did): look again.
    }
}
