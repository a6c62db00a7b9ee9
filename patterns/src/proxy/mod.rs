//! The proxy: libzmq's zmq_proxy and zmq_proxy_steerable. Messages go from
//! the frontend to the backend and back, whole (multipart intact), each
//! direction at the pace the receiving side accepts; a capture socket gets
//! a copy of everything.
//!
//! ```text
//!  frontend ──recv──▶ (capture) ──send──▶ backend      one direction waits for room
//!  frontend ◀──send── (capture) ◀──recv── backend      without stopping the other
//!  control: PAUSE | RESUME | TERMINATE | STATISTICS
//! ```
//!
//! Typical uses: an XSUB/XPUB forwarder (subscriptions travel upstream
//! through it), a ROUTER/DEALER broker, a PULL/PUSH streamer.
//!
//! Both directions and the control loop run in the calling task, on the
//! sockets' thread; nothing is spawned. RCVTIMEO and SNDTIMEO of the sockets
//! do not end the proxy: it waits for as long as it takes, as libzmq's (which
//! polls) does.

mod statistics;

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::{Poll, Waker};

use monocoque_zmtp::{Msg, SocketType};

pub use statistics::{ProxyStatistics, SideStatistics};

use crate::{Result, Socket};

/// Runs a proxy between `frontend` and `backend` until one of them fails
/// (closed, or its context shut down); `capture`, if given, receives a copy
/// of every message in both directions.
///
/// ```no_run
/// use monocoque_patterns::{proxy, Socket};
/// use monocoque_zmtp::SocketType;
/// let rt = monocoque_runtime::Runtime::builder().build().unwrap();
/// rt.block_on(async {
///     let publishers = Socket::new(SocketType::XSub).unwrap();
///     publishers.bind("tcp://*:5556").unwrap();
///     let subscribers = Socket::new(SocketType::XPub).unwrap();
///     subscribers.bind("tcp://*:5557").unwrap();
///     let error = proxy(&publishers, &subscribers, None).await;
///     eprintln!("forwarder stopped: {error:?}");
/// });
/// ```
pub async fn proxy(frontend: &Socket, backend: &Socket, capture: Option<&Socket>) -> Result<()> {
    let state = ProxyState::default();
    let there = pin!(forward(frontend, backend, capture, &state, Direction::Out));
    let back = pin!(forward(backend, frontend, capture, &state, Direction::Back));
    first_of(there, back).await
}

/// A proxy steered through `control` (libzmq 4.3's zmq_proxy_steerable):
/// each message received there is one command:
///
/// - `PAUSE`: stop forwarding (messages wait in the sockets' queues);
/// - `RESUME`: forward again;
/// - `TERMINATE`: stop; the call returns `Ok(())`;
/// - `STATISTICS`: reply with [`ProxyStatistics::to_msg`] (eight `u64` frames).
///
/// A REP control socket gets an empty reply to the other commands (its
/// send/receive alternation needs one); other types get none. Anything else
/// is logged and ignored.
pub async fn proxy_steerable(
    frontend: &Socket,
    backend: &Socket,
    capture: Option<&Socket>,
    control: &Socket,
) -> Result<()> {
    let state = ProxyState::default();
    let there = pin!(forward(frontend, backend, capture, &state, Direction::Out));
    let back = pin!(forward(backend, frontend, capture, &state, Direction::Back));
    let steer = pin!(steer(control, &state));
    let both = pin!(first_of(there, back));
    first_of(both, steer).await
}

/// Which way a message goes.
#[derive(Debug, Clone, Copy)]
enum Direction {
    /// frontend to backend
    Out,
    /// backend to frontend
    Back,
}

#[derive(Default)]
struct ProxyState {
    paused: Cell<bool>,
    /// Directions waiting for RESUME.
    resume: RefCell<Vec<Waker>>,
    stats: Cell<ProxyStatistics>,
}

impl ProxyState {
    /// Counts one message of `bytes` (all frames) moved in `dir`.
    fn count(&self, dir: Direction, bytes: usize, received: bool) {
        let mut s = self.stats.get();
        let side = match (dir, received) {
            (Direction::Out, true) | (Direction::Back, false) => &mut s.frontend,
            (Direction::Back, true) | (Direction::Out, false) => &mut s.backend,
        };
        let b = bytes as u64;
        if received {
            side.messages_in += 1;
            side.bytes_in += b;
        } else {
            side.messages_out += 1;
            side.bytes_out += b;
        }
        self.stats.set(s);
    }

    fn set_paused(&self, paused: bool) {
        self.paused.set(paused);
        if !paused {
            for w in self.resume.borrow_mut().drain(..) {
                w.wake();
            }
        }
    }
}

/// Messages one direction moves before it lets the thread's other work run:
/// while both sockets are ready every await completes at once, and without
/// a yield a backlog on one side (a subscription flood) would hold the other
/// direction and every connection's IO until it ran dry.
const FORWARD_TURN: u32 = 64;

/// Moves messages from `from` to `to` for ever (or until an error).
async fn forward(
    from: &Socket,
    to: &Socket,
    capture: Option<&Socket>,
    state: &ProxyState,
    dir: Direction,
) -> Result<()> {
    let mut this_turn = 0u32;
    loop {
        this_turn += 1;
        if this_turn > FORWARD_TURN {
            this_turn = 0;
            monocoque_runtime::yield_now().await;
        }
        let msg = gated_recv(from, state).await?;
        let bytes = msg.byte_len();
        state.count(dir, bytes, true);
        if let Some(c) = capture {
            c.send_until(msg.clone(), None).await?;
        }
        to.send_until(msg, None).await?;
        state.count(dir, bytes, false);
    }
}

/// Receives from `s` while the proxy is not paused. A receive in progress is
/// abandoned on PAUSE (a socket's receive takes nothing until it completes,
/// so nothing is lost).
async fn gated_recv(s: &Socket, state: &ProxyState) -> Result<Msg> {
    let mut recv = None;
    poll_fn(|cx| {
        if state.paused.get() {
            recv = None;
            state.resume.borrow_mut().push(cx.waker().clone());
            return Poll::Pending;
        }
        let f = recv.get_or_insert_with(|| Box::pin(s.recv_until(None)));
        f.as_mut().poll(cx)
    })
    .await
}

/// Serves the control socket until TERMINATE (or an error).
async fn steer(control: &Socket, state: &ProxyState) -> Result<()> {
    let rep = control.socket_type() == SocketType::Rep;
    loop {
        let command = control.recv_until(None).await?;
        let word = command.frames().first().map(|f| &f[..]).unwrap_or(b"");
        match word {
            b"STATISTICS" => {
                control.send_until(state.stats.get().to_msg(), None).await?;
                continue;
            }
            b"PAUSE" => state.set_paused(true),
            b"RESUME" => state.set_paused(false),
            b"TERMINATE" => {}
            other => tracing::warn!(
                command = %String::from_utf8_lossy(other),
                "proxy: unknown control command ignored"
            ),
        }
        if rep {
            control
                .send_until(Msg::from(vec![bytes::Bytes::new()]), None)
                .await?;
        }
        if word == b"TERMINATE" {
            return Ok(());
        }
    }
}

/// Polls both futures; the first to finish gives the result.
async fn first_of<A, B>(mut a: A, mut b: B) -> Result<()>
where
    A: Future<Output = Result<()>> + Unpin,
    B: Future<Output = Result<()>> + Unpin,
{
    poll_fn(|cx| {
        if let Poll::Ready(r) = std::pin::Pin::new(&mut a).poll(cx) {
            return Poll::Ready(r);
        }
        std::pin::Pin::new(&mut b).poll(cx)
    })
    .await
}
