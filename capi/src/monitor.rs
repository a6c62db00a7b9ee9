//! `zmq_socket_monitor`: the socket's events, in libzmq's format, on a PAIR
//! socket bound at an inproc endpoint the application connects to.
//!
//! Each event is two frames, as libzmq 4.3 sends them: six bytes (the event
//! number, 16 bits, and its value, 32 bits, both little-endian) and the
//! endpoint. A thread per monitor forwards the socket's
//! [`BlockingMonitor`](monocoque_patterns::BlockingMonitor) events whose
//! number is in the mask, and ends after MONITOR_STOPPED (the socket closed)
//! or when the monitor is replaced or stopped.
//!
//! Values: HANDSHAKE_FAILED_* carry libzmq's code (protocol error or ZAP
//! status), CONNECT_RETRIED the interval in milliseconds. Where libzmq puts
//! a descriptor (CONNECTED, ACCEPTED, LISTENING, DISCONNECTED, CLOSED) or an
//! errno (BIND_FAILED, ACCEPT_FAILED, CLOSE_FAILED) the value is 0: no
//! descriptor is exposed per connection, and those failures are reported
//! with the system's message, not its number.

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use monocoque_patterns::{BlockingMonitor, BlockingSocket, MonitorEvent};
use monocoque_zmtp::{Msg, SocketType};

use crate::boundary::{c_str, guarded};
use crate::errno::errno_of;
use crate::socket::socket;

const CONNECTED: u16 = 0x0001;
const CONNECT_DELAYED: u16 = 0x0002;
const CONNECT_RETRIED: u16 = 0x0004;
const LISTENING: u16 = 0x0008;
const BIND_FAILED: u16 = 0x0010;
const ACCEPTED: u16 = 0x0020;
const ACCEPT_FAILED: u16 = 0x0040;
const CLOSED: u16 = 0x0080;
const CLOSE_FAILED: u16 = 0x0100;
const DISCONNECTED: u16 = 0x0200;
const MONITOR_STOPPED: u16 = 0x0400;
const HANDSHAKE_SUCCEEDED: u16 = 0x1000;

/// libzmq's number, value and endpoint for an event.
fn libzmq_event(event: &MonitorEvent) -> Option<(u16, u32, &str)> {
    use MonitorEvent as E;
    Some(match event {
        E::Listening { endpoint } => (LISTENING, 0, endpoint),
        E::BindFailed { endpoint, .. } => (BIND_FAILED, 0, endpoint),
        E::Accepted { endpoint, .. } => (ACCEPTED, 0, endpoint),
        E::AcceptFailed { endpoint, .. } => (ACCEPT_FAILED, 0, endpoint),
        E::ConnectDelayed { endpoint } => (CONNECT_DELAYED, 0, endpoint),
        E::Connected { endpoint, .. } => (CONNECTED, 0, endpoint),
        E::ConnectRetried { endpoint, after } => (
            CONNECT_RETRIED,
            after.as_millis().min(u32::MAX as u128) as u32,
            endpoint,
        ),
        E::HandshakeSucceeded { endpoint, .. } => (HANDSHAKE_SUCCEEDED, 0, endpoint),
        E::HandshakeFailed {
            endpoint, reason, ..
        } => {
            let (id, value) = reason.handshake_failure().zmq_event();
            (id, value, endpoint)
        }
        E::Disconnected { endpoint, .. } => (DISCONNECTED, 0, endpoint),
        E::Closed { endpoint } => (CLOSED, 0, endpoint),
        E::CloseFailed { endpoint, .. } => (CLOSE_FAILED, 0, endpoint),
        E::Stopped => (MONITOR_STOPPED, 0, ""),
        _ => return None,
    })
}

/// A running monitor: its thread stops forwarding once `stop` is set (the
/// monitor was replaced or stopped). Closing the socket does not set it: the
/// thread then forwards the last events and MONITOR_STOPPED, and ends.
pub(crate) struct MonitorThread {
    stop: Arc<AtomicBool>,
}

/// Forwards `monitor`'s events in `mask` to `pair` until the socket is gone,
/// the monitor is stopped, or nobody can be sent to any more.
fn forward(monitor: BlockingMonitor, pair: BlockingSocket, mask: u16, stop: Arc<AtomicBool>) {
    while let Some(event) = monitor.recv() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Some((id, value, endpoint)) = libzmq_event(&event) else {
            continue;
        };
        if id & mask != 0 {
            let mut head = Vec::with_capacity(6);
            head.extend_from_slice(&id.to_le_bytes());
            head.extend_from_slice(&value.to_le_bytes());
            let msg = Msg::from(vec![
                Bytes::from(head),
                Bytes::copy_from_slice(endpoint.as_bytes()),
            ]);
            if pair.send(msg).is_err() {
                return;
            }
        }
        if id == MONITOR_STOPPED {
            return;
        }
    }
}

/// `zmq_socket_monitor`: events in `events` (a mask of ZMQ_EVENT_*) go to a
/// PAIR bound at `endpoint` (inproc only, as libzmq; EPROTONOSUPPORT
/// otherwise). A NULL endpoint stops monitoring; a new call replaces the
/// monitor before it.
#[no_mangle]
pub unsafe extern "C" fn zmq_socket_monitor(
    s: *mut c_void,
    endpoint: *const c_char,
    events: c_int,
) -> c_int {
    guarded(-1, || {
        // SAFETY: the caller passes a socket from zmq_socket.
        let h = unsafe { socket(s) }?;
        if let Some(previous) = h.monitor.take() {
            previous.stop.store(true, Ordering::SeqCst);
        }
        if endpoint.is_null() {
            return Ok(0);
        }
        // SAFETY: the caller passes a C string.
        let endpoint = unsafe { c_str(endpoint) }?;
        if !endpoint.starts_with("inproc://") {
            return Err(libc::EPROTONOSUPPORT);
        }
        let pair = h
            .context
            .context
            .socket(SocketType::Pair)
            .map_err(|e| errno_of(&e))?;
        pair.bind(endpoint).map_err(|e| errno_of(&e))?;
        let monitor = h.socket.monitor().map_err(|e| errno_of(&e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let mask = events as u32 as u16;
        std::thread::Builder::new()
            .name("zmq-monitor".into())
            .spawn(move || forward(monitor, pair, mask, flag))
            .map_err(|_| libc::EMFILE)?;
        h.monitor = Some(MonitorThread { stop });
        Ok(0)
    })
}
