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

use crate::{Error, Events, ProxyStatistics, Result, SideStatistics};
use monocoque_zmtp::SocketType;

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
        let mut stats = ProxyStatistics::default();
        let ProxyStatistics {
            frontend: f,
            backend: b,
        } = &mut stats;
        if items[0].is_readable() {
            forward(frontend, backend, capture, (&mut *f, &mut *b))?;
        }
        if items[1].is_readable() {
            forward(backend, frontend, capture, (b, f))?;
        }
    }
}

/// Moves what `from` has queued, up to a burst, counting what crosses in
/// `counts` (frames and bytes received on `from`, sent on `to`).
fn forward(
    from: &BlockingSocket,
    to: &BlockingSocket,
    capture: Option<&BlockingSocket>,
    counts: (&mut SideStatistics, &mut SideStatistics),
) -> Result<()> {
    let (received, sent) = counts;
    for _ in 0..BURST {
        let msg = match from.try_recv() {
            Ok(msg) => msg,
            Err(Error::WouldBlock(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let (frames, bytes) = (msg.len() as u64, msg.byte_len() as u64);
        received.frames_in += frames;
        received.bytes_in += bytes;
        if let Some(c) = capture {
            send_when_room(c, &msg)?;
        }
        send_when_room(to, &msg)?;
        sent.frames_out += frames;
        sent.bytes_out += bytes;
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

/// zmq_proxy_steerable for the blocking API: [`blocking_proxy`] steered
/// through `control`, whose messages are commands, as the async
/// [`proxy_steerable`](crate::proxy_steerable) takes them:
///
/// - `PAUSE`: stop forwarding (messages wait in the sockets' queues);
/// - `RESUME`: forward again;
/// - `TERMINATE`: stop; the call returns `Ok(())`;
/// - `STATISTICS`: reply with [`ProxyStatistics::to_msg`] (frames and bytes
///   in and out of each side, as libzmq 4.3.5 counts them).
///
/// A REP control socket gets an empty reply to the other commands (its
/// alternation needs one). Anything else is logged and ignored.
///
/// ```
/// use monocoque_patterns::{blocking_proxy_steerable, Context, ProxyStatistics};
/// use monocoque_zmtp::SocketType;
/// let ctx = Context::new().unwrap();
/// let (pull, push) = (ctx.socket(SocketType::Pull).unwrap(), ctx.socket(SocketType::Push).unwrap());
/// pull.bind("inproc://steer-in").unwrap();
/// push.bind("inproc://steer-out").unwrap();
/// let control = ctx.socket(SocketType::Pair).unwrap();
/// control.bind("inproc://steer").unwrap();
/// let steering = ctx.socket(SocketType::Pair).unwrap();
/// steering.connect("inproc://steer").unwrap();
/// let proxy = std::thread::spawn(move || blocking_proxy_steerable(&pull, &push, None, &control));
/// let (source, sink) = (ctx.socket(SocketType::Push).unwrap(), ctx.socket(SocketType::Pull).unwrap());
/// source.connect("inproc://steer-in").unwrap();
/// sink.connect("inproc://steer-out").unwrap();
/// source.send("job").unwrap();
/// assert_eq!(&sink.recv().unwrap()[0][..], b"job");
/// steering.send("STATISTICS").unwrap();
/// let stats = ProxyStatistics::from_msg(&steering.recv().unwrap()).unwrap();
/// assert_eq!((stats.frontend.frames_in, stats.backend.bytes_out), (1, 3));
/// steering.send("TERMINATE").unwrap();
/// proxy.join().unwrap().unwrap();
/// ```
pub fn blocking_proxy_steerable(
    frontend: &BlockingSocket,
    backend: &BlockingSocket,
    capture: Option<&BlockingSocket>,
    control: &BlockingSocket,
) -> Result<()> {
    let rep = control.socket_type() == SocketType::Rep;
    let mut paused = false;
    let mut stats = ProxyStatistics::default();
    loop {
        let mut items = [
            PollItem::socket(control, Events::POLLIN),
            PollItem::socket(frontend, Events::POLLIN),
            PollItem::socket(backend, Events::POLLIN),
        ];
        // While paused only the control socket is watched.
        let watched = if paused { 1 } else { 3 };
        poll(&mut items[..watched], None)?;
        let ready = items.map(|i| i.is_readable());
        let ProxyStatistics {
            frontend: f,
            backend: b,
        } = &mut stats;
        if watched == 3 && ready[1] {
            forward(frontend, backend, capture, (&mut *f, &mut *b))?;
        }
        if watched == 3 && ready[2] {
            forward(backend, frontend, capture, (b, f))?;
        }
        if ready[0] {
            let command = control.recv()?;
            let word = command.frames().first().map(|f| &f[..]).unwrap_or(b"");
            match word {
                b"STATISTICS" => {
                    control.send(stats.to_msg())?;
                    continue;
                }
                b"PAUSE" => paused = true,
                b"RESUME" => paused = false,
                b"TERMINATE" => {}
                other => tracing::warn!(
                    command = %String::from_utf8_lossy(other),
                    "proxy: unknown control command ignored"
                ),
            }
            if rep {
                control.send(Msg::from(vec![bytes::Bytes::new()]))?;
            }
            if word == b"TERMINATE" {
                return Ok(());
            }
        }
    }
}
