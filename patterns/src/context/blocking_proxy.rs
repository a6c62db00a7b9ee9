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

use crate::{Error, Events, ProxyStatistics, Result};
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
    let mut proxy = Proxy::new(frontend, backend, capture);
    loop {
        proxy.step(None)?;
    }
}

/// The two directions of a proxy and what they have moved. As libzmq's
/// proxy, a side is read only while the other can take a message: a
/// message taken that found no room is held, and its side is not read
/// again until the message is sent. So a full (or peerless) destination
/// never blocks the proxy, and the control socket is always heard.
struct Proxy<'a> {
    frontend: &'a BlockingSocket,
    backend: &'a BlockingSocket,
    capture: Option<&'a BlockingSocket>,
    /// Frontend to backend, then backend to frontend: a message waiting for
    /// room in its destination.
    held: [Option<Msg>; 2],
    stats: ProxyStatistics,
}

impl<'a> Proxy<'a> {
    fn new(
        frontend: &'a BlockingSocket,
        backend: &'a BlockingSocket,
        capture: Option<&'a BlockingSocket>,
    ) -> Proxy<'a> {
        Proxy {
            frontend,
            backend,
            capture,
            held: [None, None],
            stats: ProxyStatistics::default(),
        }
    }

    /// Waits until a direction can move (or `control` is readable, which
    /// this returns), then moves what it can without waiting.
    fn step(&mut self, control: Option<&BlockingSocket>) -> Result<bool> {
        let ends = [(self.frontend, self.backend), (self.backend, self.frontend)];
        let watch = |i: usize| match self.held[i] {
            Some(_) => PollItem::socket(ends[i].1, Events::POLLOUT),
            None => PollItem::socket(ends[i].0, Events::POLLIN),
        };
        // The third item is watched only with a control socket.
        let mut items = [
            watch(0),
            watch(1),
            PollItem::socket(control.unwrap_or(self.frontend), Events::POLLIN),
        ];
        let watched = if control.is_some() { 3 } else { 2 };
        poll(&mut items[..watched], None)?;
        let control_ready = control.is_some() && items[2].is_readable();
        for (i, item) in items[..2].iter().enumerate() {
            if item.is_readable() || item.is_writable() {
                self.forward(i)?;
            }
        }
        Ok(control_ready)
    }

    /// Moves direction `i`'s held message, then up to a burst more, until
    /// the source is empty or the destination full.
    fn forward(&mut self, i: usize) -> Result<()> {
        let (from, to) = if i == 0 {
            (self.frontend, self.backend)
        } else {
            (self.backend, self.frontend)
        };
        let ProxyStatistics { frontend, backend } = &mut self.stats;
        let (received, sent) = if i == 0 {
            (frontend, backend)
        } else {
            (backend, frontend)
        };
        for _ in 0..BURST {
            let msg = match self.held[i].take() {
                Some(msg) => msg,
                None => {
                    let msg = match from.try_recv() {
                        Ok(msg) => msg,
                        Err(Error::WouldBlock(_)) => return Ok(()),
                        Err(e) => return Err(e),
                    };
                    received.messages_in += 1;
                    received.bytes_in += msg.byte_len() as u64;
                    if let Some(c) = self.capture {
                        send_when_room(c, &msg)?;
                    }
                    msg
                }
            };
            let bytes = msg.byte_len() as u64;
            match to.try_send(msg.clone()) {
                Ok(()) => {
                    sent.messages_out += 1;
                    sent.bytes_out += bytes;
                }
                Err(Error::WouldBlock(_)) => {
                    self.held[i] = Some(msg);
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Sends `msg` to the capture socket, waiting for room past any SNDTIMEO
/// (libzmq's proxy waits on its capture socket too).
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
/// - `STATISTICS`: reply with [`ProxyStatistics::to_msg`] (messages and bytes
///   in and out of each side, as libzmq 4.3.4 counts them).
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
/// assert_eq!((stats.frontend.messages_in, stats.backend.bytes_out), (1, 3));
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
    let mut proxy = Proxy::new(frontend, backend, capture);
    loop {
        // While paused only the control socket is watched.
        let control_ready = if paused {
            poll(&mut [PollItem::socket(control, Events::POLLIN)], None)?;
            true
        } else {
            proxy.step(Some(control))?
        };
        if control_ready {
            let command = control.recv()?;
            let word = command.frames().first().map(|f| &f[..]).unwrap_or(b"");
            match word {
                b"STATISTICS" => {
                    control.send(proxy.stats.to_msg())?;
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
