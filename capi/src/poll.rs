//! `zmq_poll`: sockets and plain descriptors, with libzmq's
//! `zmq_pollitem_t` and its timeout in milliseconds (-1: for ever).

use std::ffi::{c_int, c_long, c_short, c_void};
use std::time::Duration;

use monocoque_patterns::{poll, Events, PollItem};

use crate::boundary::guarded;
use crate::errno::errno_of;
use crate::socket::{socket, SocketHandle};

/// ZMQ_POLLIN.
const POLLIN: c_short = 1;
/// ZMQ_POLLOUT.
const POLLOUT: c_short = 2;
/// ZMQ_POLLERR.
const POLLERR: c_short = 4;

/// `zmq_pollitem_t` as libzmq lays it out on POSIX systems.
#[repr(C)]
pub struct ZmqPollItem {
    socket: *mut c_void,
    fd: c_int,
    events: c_short,
    revents: c_short,
}

fn interest(events: c_short) -> Events {
    Events::new(events & POLLIN != 0, events & POLLOUT != 0)
}

fn revents(found: Events) -> c_short {
    (found.is_readable() as c_short * POLLIN)
        | (found.is_writable() as c_short * POLLOUT)
        | (found.is_error() as c_short * POLLERR)
}

/// `zmq_poll`: waits until an item has one of its events, up to `timeout`
/// ms (-1: for ever); returns how many items have events.
#[no_mangle]
pub unsafe extern "C" fn zmq_poll(
    items: *mut ZmqPollItem,
    nitems: c_int,
    timeout: c_long,
) -> c_int {
    guarded(-1, || {
        let n = usize::try_from(nitems).map_err(|_| libc::EINVAL)?;
        if n == 0 {
            if timeout > 0 {
                std::thread::sleep(Duration::from_millis(timeout as u64));
            }
            return Ok(0);
        }
        if items.is_null() {
            return Err(libc::EFAULT);
        }
        // SAFETY: the caller gives `nitems` items at `items`, which it owns
        // for the call.
        let items = unsafe { std::slice::from_raw_parts_mut(items, n) };
        let mut handles: Vec<Option<&SocketHandle>> = Vec::with_capacity(n);
        for item in items.iter() {
            handles.push(if item.socket.is_null() {
                None
            } else {
                // SAFETY: the caller passes sockets from zmq_socket; they are
                // only read here (the same socket may appear twice).
                Some(&*unsafe { socket(item.socket) }?)
            });
        }
        // A message partly received is readable now, whatever the socket says.
        let partial = items
            .iter()
            .zip(&handles)
            .any(|(i, h)| i.events & POLLIN != 0 && h.is_some_and(|h| !h.incoming.is_empty()));
        let wait = if partial {
            Some(Duration::ZERO)
        } else if timeout < 0 {
            None
        } else {
            Some(Duration::from_millis(timeout as u64))
        };
        let mut poll_items: Vec<PollItem<'_>> = items
            .iter()
            .zip(&handles)
            .map(|(item, h)| match h {
                Some(h) => PollItem::socket(&h.socket, interest(item.events)),
                None => PollItem::fd(item.fd, interest(item.events)),
            })
            .collect();
        poll(&mut poll_items, wait).map_err(|e| errno_of(&e))?;
        let mut ready = 0;
        for ((item, found), h) in items.iter_mut().zip(&poll_items).zip(&handles) {
            let mut r = revents(found.events());
            if item.events & POLLIN != 0 && h.is_some_and(|h| !h.incoming.is_empty()) {
                r |= POLLIN;
            }
            item.revents = r;
            ready += (r != 0) as c_int;
        }
        Ok(ready)
    })
}
