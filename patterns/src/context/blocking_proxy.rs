//! zmq_proxy for the blocking API: moves whole messages between two
//! [`BlockingSocket`]s (and copies them to a capture socket) on the calling
//! thread, waiting on both with [`poll`], until the context shuts down.
//!
//! Each message crosses to the context's thread and back, as each call of
//! the blocking API does: a few microseconds per message. For throughput,
//! run the async [`proxy`](crate::proxy) on the sockets' thread instead, or
//! the appliance.

use super::poll::{poll, PollItem};
use super::BlockingSocket;
use monocoque_zmtp::Msg;

use crate::{Error, Events, Result};

/// Messages moved per readable side before polling again, so one side's
/// burst cannot hold the other back for long.
const BURST: usize = 256;

/// Runs a proxy between `frontend` and `backend` until one of them fails
/// (its context shut down: [`Error::Terminated`], as `zmq_proxy` returns
/// ETERM); `capture`, if given, gets a copy of every message in both
/// directions. Waits for room as long as it takes, whatever SNDTIMEO says.
///
/// ```
/// use monocoque_patterns::{blocking_proxy, Context, Error};
/// use monocoque_zmtp::SocketType;
/// let ctx = Context::new().unwrap();
/// let frontend = ctx.socket(SocketType::Router).unwrap();
/// frontend.bind("inproc://clients").unwrap();
/// let backend = ctx.socket(SocketType::Dealer).unwrap();
/// backend.bind("inproc://workers").unwrap();
/// let broker = std::thread::spawn(move || blocking_proxy(&frontend, &backend, None));
/// let worker = ctx.socket(SocketType::Rep).unwrap();
/// worker.connect("inproc://workers").unwrap();
/// let client = ctx.socket(SocketType::Req).unwrap();
/// client.connect("inproc://clients").unwrap();
/// client.send("ping").unwrap();
/// let request = worker.recv().unwrap();
/// worker.send(request).unwrap();
/// assert_eq!(&client.recv().unwrap()[0][..], b"ping");
/// ctx.shutdown().unwrap();
/// assert_eq!(broker.join().unwrap(), Err(Error::Terminated));
/// ```
pub fn blocking_proxy(
    frontend: &BlockingSocket,
    backend: &BlockingSocket,
    capture: Option<&BlockingSocket>,
) -> Result<()> {
    loop {
        let mut items = [
            PollItem::socket(frontend, Events::POLLIN),
            PollItem::socket(backend, Events::POLLIN),
        ];
        poll(&mut items, None)?;
        if items[0].is_readable() {
            forward(frontend, backend, capture)?;
        }
        if items[1].is_readable() {
            forward(backend, frontend, capture)?;
        }
    }
}

/// Moves what `from` has queued, up to a burst.
fn forward(
    from: &BlockingSocket,
    to: &BlockingSocket,
    capture: Option<&BlockingSocket>,
) -> Result<()> {
    for _ in 0..BURST {
        let msg = match from.try_recv() {
            Ok(msg) => msg,
            Err(Error::WouldBlock(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        if let Some(c) = capture {
            send_when_room(c, &msg)?;
        }
        send_when_room(to, &msg)?;
    }
    Ok(())
}

/// Sends `msg`, waiting for room past any SNDTIMEO.
fn send_when_room(to: &BlockingSocket, msg: &Msg) -> Result<()> {
    loop {
        match to.send(msg.clone()) {
            Err(Error::WouldBlock(_)) => {
                poll(&mut [PollItem::socket(to, Events::POLLOUT)], None)?;
            }
            result => return result,
        }
    }
}
