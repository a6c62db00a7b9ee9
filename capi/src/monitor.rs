//! `zmq_socket_monitor`: the socket's events, in libzmq's format, on a PAIR
//! socket bound at an inproc endpoint the application connects to.
//!
//! Each event is two frames, as libzmq 4.3 sends them: six bytes (the event
//! number, 16 bits, and its value, 32 bits, both little-endian) and the
//! endpoint. A thread per monitor forwards the socket's
//! [`BlockingMonitor`](monocoque_patterns::BlockingMonitor) events whose
//! number is in the mask, and ends after MONITOR_STOPPED: the socket
//! closed, or the monitor was replaced or stopped (`zmq_socket_monitor`
//! again, with a NULL endpoint or a new one), which sends MONITOR_STOPPED
//! at once, as libzmq's `stop_monitor` does.
//!
//! A failed handshake is HANDSHAKE_FAILED_* then DISCONNECTED, as libzmq
//! reports it.
//!
//! Values: HANDSHAKE_FAILED_* carry libzmq's code (protocol error or ZAP
//! status; for NO_DETAIL the errno, EPIPE for a peer that closed), CONNECT_RETRIED the interval in milliseconds. Where libzmq puts
//! a descriptor (CONNECTED, ACCEPTED, LISTENING, DISCONNECTED, CLOSED) or an
//! errno (BIND_FAILED, ACCEPT_FAILED, CLOSE_FAILED) the value is 0: no
//! descriptor is exposed per connection, and those failures are reported
//! with the system's message, not its number.

use std::ffi::c_int;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use monocoque_patterns::{
    BlockingMonitor, BlockingSocket, CloseReason, Context, HandshakeFailure, MonitorEvent,
};
use monocoque_zmtp::{Msg, SocketType};

use crate::errno::{errno_of, Errno};

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

/// The value libzmq gives HANDSHAKE_FAILED_NO_DETAIL: the errno the
/// connection's end left (EPIPE for a peer that closed, as libzmq's read
/// reports end of stream), 0 where there is none (a timeout).
fn no_detail_errno(reason: &CloseReason) -> u32 {
    use std::io::ErrorKind as K;
    let errno = match reason {
        CloseReason::PeerClosed => libc::EPIPE,
        CloseReason::ReadFailed { kind, .. } | CloseReason::WriteFailed { kind, .. } => {
            match kind {
                K::ConnectionReset => libc::ECONNRESET,
                K::BrokenPipe => libc::EPIPE,
                K::ConnectionAborted => libc::ECONNABORTED,
                K::TimedOut => libc::ETIMEDOUT,
                _ => 0,
            }
        }
        _ => 0,
    };
    errno as u32
}

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
        } => match reason.handshake_failure() {
            HandshakeFailure::NoDetail => (
                HandshakeFailure::NoDetail.zmq_event().0,
                no_detail_errno(reason),
                endpoint,
            ),
            failure => {
                let (id, value) = failure.zmq_event();
                (id, value, endpoint)
            }
        },
        E::Disconnected { endpoint, .. } => (DISCONNECTED, 0, endpoint),
        E::Closed { endpoint } => (CLOSED, 0, endpoint),
        E::CloseFailed { endpoint, .. } => (CLOSE_FAILED, 0, endpoint),
        E::Stopped => (MONITOR_STOPPED, 0, ""),
        _ => return None,
    })
}

/// Where events go out, shared by the forwarding thread and the socket's
/// handle.
#[derive(Default)]
struct OutletState {
    /// The PAIR, while no send holds it: the forwarding thread takes it out
    /// to send (a send may wait on the application), so that stopping the
    /// monitor never waits on a send.
    pair: Option<BlockingSocket>,
    /// The monitor was stopped or replaced: MONITOR_STOPPED has been sent
    /// (or is the sender's to send) and nothing may follow it.
    stopped: bool,
}

type Outlet = Arc<Mutex<OutletState>>;

fn lock(outlet: &Outlet) -> std::sync::MutexGuard<'_, OutletState> {
    outlet.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running monitor, as its socket's handle holds it.
pub(crate) struct MonitorThread {
    outlet: Outlet,
    mask: u16,
}

impl MonitorThread {
    /// Stops forwarding, as libzmq's `stop_monitor`: MONITOR_STOPPED goes
    /// out now if the mask has it (without waiting: if the application's
    /// PAIR cannot take it at once, nobody is listening), and the PAIR
    /// closes. If the forwarding thread is sending, it sends MONITOR_STOPPED
    /// after that send instead. The thread ends at the socket's next event,
    /// or when the socket closes.
    pub(crate) fn stop(self) {
        let mut state = lock(&self.outlet);
        state.stopped = true;
        if let Some(pair) = state.pair.take() {
            send_stopped(&pair, self.mask);
        }
    }
}

/// MONITOR_STOPPED, if the mask has it, without waiting.
fn send_stopped(pair: &BlockingSocket, mask: u16) {
    if MONITOR_STOPPED & mask != 0 {
        // A PAIR with no peer, or a full one, cannot take it: nobody listens.
        let _ = pair.try_send(event_message(MONITOR_STOPPED, 0, ""));
    }
}

/// libzmq's two frames for an event.
fn event_message(id: u16, value: u32, endpoint: &str) -> Msg {
    let mut head = Vec::with_capacity(6);
    head.extend_from_slice(&id.to_le_bytes());
    head.extend_from_slice(&value.to_le_bytes());
    Msg::from(vec![
        Bytes::from(head),
        Bytes::copy_from_slice(endpoint.as_bytes()),
    ])
}

/// Forwards `monitor`'s events in `mask` to the outlet until the socket is
/// gone, the monitor is stopped, or nobody can be sent to any more.
fn forward(monitor: BlockingMonitor, outlet: Outlet, mask: u16) {
    while let Some(event) = monitor.recv() {
        let Some((id, value, endpoint)) = libzmq_event(&event) else {
            continue;
        };
        if !deliver(&outlet, mask, id, value, endpoint) {
            return;
        }
        // libzmq reports a failed handshake's connection as disconnected
        // too, right after the failure.
        if matches!(event, MonitorEvent::HandshakeFailed { .. })
            && !deliver(&outlet, mask, DISCONNECTED, 0, endpoint)
        {
            return;
        }
    }
}

/// Sends one event to the outlet if the mask has it; whether forwarding
/// goes on.
fn deliver(outlet: &Outlet, mask: u16, id: u16, value: u32, endpoint: &str) -> bool {
    if id & mask == 0 && id != MONITOR_STOPPED {
        return true;
    }
    let Some(pair) = lock(outlet).pair.take() else {
        return false; // stopped
    };
    // Waits while the application's PAIR is full (or not connected yet).
    let sent = id & mask == 0 || pair.send(event_message(id, value, endpoint)).is_ok();
    let mut state = lock(outlet);
    if state.stopped {
        // Stopped during the send: MONITOR_STOPPED is this thread's to send.
        send_stopped(&pair, mask);
        return false;
    }
    if !sent || id == MONITOR_STOPPED {
        return false;
    }
    state.pair = Some(pair);
    true
}

impl MonitorThread {
    /// Starts a monitor of `socket` (`zmq_socket_monitor`): the events in
    /// `events` (a mask of ZMQ_EVENT_*) go to a PAIR of `context` bound at
    /// `endpoint` (inproc only, as libzmq; EPROTONOSUPPORT otherwise).
    pub(crate) fn start(
        context: &Context,
        socket: &BlockingSocket,
        endpoint: &str,
        events: c_int,
    ) -> Result<MonitorThread, Errno> {
        if !endpoint.starts_with("inproc://") {
            return Err(libc::EPROTONOSUPPORT);
        }
        let pair = context.socket(SocketType::Pair).map_err(|e| errno_of(&e))?;
        pair.bind(endpoint).map_err(|e| errno_of(&e))?;
        let monitor = socket.monitor().map_err(|e| errno_of(&e))?;
        let outlet: Outlet = Arc::new(Mutex::new(OutletState {
            pair: Some(pair),
            stopped: false,
        }));
        let mask = events as u32 as u16;
        let forwarded = outlet.clone();
        std::thread::Builder::new()
            .name("zmq-monitor".into())
            .spawn(move || forward(monitor, forwarded, mask))
            .map_err(|_| libc::EMFILE)?;
        Ok(MonitorThread { outlet, mask })
    }
}
