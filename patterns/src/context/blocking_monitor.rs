//! Monitor events of a [`BlockingSocket`](super::BlockingSocket), readable
//! from any thread.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use monocoque_runtime::spsc;

use crate::MonitorEvent;

/// Receives a blocking socket's monitor events (zmq_socket_monitor). `Send`:
/// read it from whichever thread watches the socket.
///
/// The ring holds [`MONITOR_CAPACITY`](crate::MONITOR_CAPACITY) events; one
/// that finds it full is dropped and counted in [`lost`](Self::lost). The last
/// event is [`MonitorEvent::Stopped`], after which [`recv`](Self::recv)
/// returns `None`.
#[derive(Debug)]
pub struct BlockingMonitor {
    events: RefCell<spsc::Receiver<MonitorEvent>>,
    lost: Arc<AtomicU64>,
}

impl BlockingMonitor {
    pub(super) fn new(events: spsc::Receiver<MonitorEvent>, lost: Arc<AtomicU64>) -> Self {
        BlockingMonitor {
            events: RefCell::new(events),
            lost,
        }
    }

    /// The next event, blocking this thread until one comes; `None` once the
    /// socket is gone and every event has been read.
    pub fn recv(&self) -> Option<MonitorEvent> {
        self.events.borrow_mut().recv_blocking()
    }

    /// The next event if one is queued.
    pub fn try_recv(&self) -> Option<MonitorEvent> {
        self.events.borrow_mut().try_recv()
    }

    /// Events dropped because the monitor was not read fast enough.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}
