//! The socket handle of the blocking API: usable from any thread, one thread
//! at a time, like a libzmq socket.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use monocoque_runtime::{spsc, EventFd};
use monocoque_zmtp::{Msg, SocketType};

use super::command::{expect_reply, Command, Received, Reply, Request};
use super::lanes::{self, LaneSender, Turn};
use super::receive_lane::RecvLaneHandle;
use super::send_credit::{Credits, Verdict};
use super::{BlockingMonitor, Context};
use crate::options::{Options, SocketOption};
use crate::{Error, Events, IoCoreStatistics, IoCores, PeerProperties, Result, MONITOR_CAPACITY};

/// What a ZMQ_DONTWAIT send meets once its credit is spent
/// (`send_credit.rs`).
const SPENT_CREDIT: &str = "the socket had no room when it last looked (less than 1 ms ago)";

/// A socket of a [`Context`]. `Send` but not `Sync`: move it to the thread
/// that uses it (as with libzmq, a socket is used by one thread at a time).
///
/// Each call hands one command to the context's thread over an SPSC ring and
/// parks this thread until the answer comes back on another; the socket itself
/// (its pipes, connections and timers) lives on the context's thread. A
/// stream of messages skips that round trip where the type allows: a
/// blocking send on PUSH, PUB, XPUB, DEALER, PAIR or XSUB (and on REQ and
/// REP when their turn is known to be a send) goes into a ring the
/// context's thread drains, while the socket has room; on PULL, DEALER,
/// ROUTER, PAIR and XSUB the context moves arriving messages into a ring
/// this handle receives from (still counted in RCVHWM until taken), and on
/// SUB a receive that finds that ring empty fills it with what is queued.
/// Dropping the handle closes the socket; its queued messages still leave
/// within LINGER, and the last handle of the context waits for that.
///
/// ```
/// use monocoque_patterns::Context;
/// use monocoque_zmtp::SocketType;
/// let ctx = Context::new().unwrap();
/// let pull = ctx.socket(SocketType::Pull).unwrap();
/// pull.bind("inproc://jobs").unwrap();
/// let push = ctx.socket(SocketType::Push).unwrap();
/// push.connect("inproc://jobs").unwrap();
/// let worker = std::thread::spawn(move || pull.recv().unwrap());
/// push.send(["job", "42"]).unwrap();
/// assert_eq!(&worker.join().unwrap()[1][..], b"42");
/// ```
pub struct BlockingSocket {
    rings: RefCell<Rings>,
    kind: SocketType,
    /// REQ and REP: whether their rule takes a send now, as far as this
    /// handle knows (a send the socket surely takes may use the lane).
    turn: Option<Turn>,
    /// SNDTIMEO as last set (`None`: -1, sends wait as long as they
    /// must). 0 makes a blocking send a ZMQ_DONTWAIT one, answered
    /// exactly, so it never takes the send lane; any other timeout keeps
    /// the lane's encoded ring from waiting for room (a timed send then
    /// waits only where its timeout is counted).
    sndtimeo: Cell<Option<Duration>>,
    /// A send never waits (PUB, XPUB and XSUB drop what a full peer cannot
    /// take, unless XPUB_NODROP): ZMQ_DONTWAIT, or SNDTIMEO 0, changes
    /// nothing, so such a send takes the send lane too.
    sends_never_wait: Cell<bool>,
    /// The room the context's thread reported at its last answer to a
    /// ZMQ_DONTWAIT send or route check, which the next ones count on
    /// (`send_credit.rs`).
    credits: RefCell<Credits>,
    /// The readiness descriptor, once asked for (kept open while the
    /// handle lives).
    readiness: OnceCell<Arc<EventFd>>,
    // Last: the context may only stop after the rings above are closed.
    _context: Context,
}

struct Rings {
    commands: spsc::Sender<Request>,
    replies: spsc::Receiver<Reply>,
    /// Blocking sends while the socket has room (types with a lane).
    lane: Option<LaneSender>,
    /// Messages taken from the receive lane to skip a dropped pipe's, or
    /// those of a SUB's that still pass its filter after an unsubscribe,
    /// in order: they come before the lane's.
    received: VecDeque<Received>,
    /// What the context moved out of the socket for this handle, for a
    /// type with a receive lane.
    recv_lane: Option<RecvLaneHandle>,
}

impl Rings {
    /// Messages this handle holds and the socket no longer does: the
    /// receive lane's.
    fn held(&self) -> usize {
        self.received.len() + self.recv_lane.as_ref().map_or(0, RecvLaneHandle::len)
    }

    /// Whether no message is held, taken ahead or in the receive lane.
    fn holds_nothing(&self) -> bool {
        self.received.is_empty() && self.recv_lane.as_ref().is_none_or(|l| l.len() == 0)
    }

    /// The next message this handle already holds.
    fn take_held(&mut self) -> Option<Received> {
        if let Some(received) = self.received.pop_front() {
            return Some(received);
        }
        self.recv_lane.as_mut()?.take()
    }

    /// [`take_held`](Self::take_held), the sender's properties put in
    /// `slot` (untouched when they are there already).
    #[inline]
    fn take_held_into(&mut self, slot: &mut Option<Arc<PeerProperties>>) -> Option<Msg> {
        if let Some((msg, properties)) = self.received.pop_front() {
            *slot = properties;
            return Some(msg);
        }
        self.recv_lane.as_mut()?.take_into(slot)
    }

    /// Takes the receive lane's messages up to the last of `dropped`
    /// (positions from its front, ascending), keeping all but those.
    fn discard_from_lane(&mut self, dropped: &[usize]) {
        let Some(lane) = self.recv_lane.as_mut() else {
            return;
        };
        if let Some((run, properties)) = lane.take_opened() {
            for msg in run.into_messages() {
                self.received.push_back((msg, properties.clone()));
            }
        }
        let mut dropped = dropped.iter().peekable();
        let mut at = 0;
        while dropped.peek().is_some() {
            let Some((entry, properties)) = lane.take_entry() else {
                break;
            };
            if dropped.next_if_eq(&&at).is_none() {
                for msg in entry.into_messages() {
                    self.received.push_back((msg, properties.clone()));
                }
            }
            at += 1;
        }
    }
}

impl std::fmt::Debug for BlockingSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingSocket")
            .field("type", &self.kind)
            .finish_non_exhaustive()
    }
}

impl BlockingSocket {
    pub(super) fn new(
        kind: SocketType,
        commands: spsc::Sender<Request>,
        replies: spsc::Receiver<Reply>,
        lane: Option<LaneSender>,
        recv_lane: Option<RecvLaneHandle>,
        context: Context,
    ) -> BlockingSocket {
        BlockingSocket {
            rings: RefCell::new(Rings {
                commands,
                replies,
                lane,
                received: VecDeque::new(),
                recv_lane,
            }),
            kind,
            turn: Turn::of(kind),
            sndtimeo: Cell::new(None),
            sends_never_wait: Cell::new(lanes::sends_never_wait(kind, false)),
            credits: RefCell::new(Credits::default()),
            readiness: OnceCell::new(),
            _context: context,
        }
    }

    /// Sends `command` and waits for its answer.
    fn call(&self, command: Command) -> Result<Reply> {
        // The context's thread may run this before the shutdown's own
        // message, which the short cuts (lanes.rs) have already seen.
        if command.fails_after_shutdown() && self._context.is_shut_down() {
            return Err(Error::Terminated);
        }
        // Any other command is where libzmq's application thread would
        // process its commands: the next ZMQ_DONTWAIT send asks afresh.
        if !matches!(
            command,
            Command::Send { wait: false, .. } | Command::CheckRoute(_)
        ) {
            self.credits.borrow_mut().forget();
        }
        // REQ's reply and REP's next request come from the network while
        // the context's thread waits idle (spinning, yielding): this
        // thread yields as it waits too, even when it shares that CPU,
        // and is found awake (`recv_blocking_yielding`).
        let round_trip =
            matches!(command, Command::Recv { wait: true }) && lanes::recv_follows_send(self.kind);
        let request = Request {
            command,
            after_lane_sends: lanes::take_sent_into_lanes(self._context.backlog()),
        };
        let mut rings = self.rings.borrow_mut();
        rings
            .commands
            .send_blocking(request)
            .map_err(|_| Error::Terminated)?;
        let reply = if round_trip {
            rings.replies.recv_blocking_yielding()
        } else {
            rings.replies.recv_blocking()
        };
        reply.ok_or(Error::Terminated)
    }

    /// Filters the messages this SUB's handle holds with its subscriptions
    /// as they stand: libzmq's SUB filters at the read, so after an
    /// unsubscribe returns no message of that topic is received, queued
    /// or not. The lane's messages leave it (their RCVHWM credit is given
    /// back); those that pass wait in `received`, ahead of what a later
    /// fill brings.
    fn refilter_held(&self) -> Result<()> {
        let held: VecDeque<Received> = {
            let mut rings = self.rings.borrow_mut();
            let mut held = std::mem::take(&mut rings.received);
            if let Some(lane) = rings.recv_lane.as_mut() {
                while let Some(received) = lane.take() {
                    held.push_back(received);
                }
            }
            held
        };
        if held.is_empty() {
            return Ok(());
        }
        let kept = expect_reply!(self.call(Command::Refilter(held))?, Refiltered);
        self.rings.borrow_mut().received = kept;
        Ok(())
    }

    /// The socket's type.
    pub fn socket_type(&self) -> SocketType {
        self.kind
    }

    /// Sets an option; see [`Socket::set_option`](crate::Socket::set_option).
    pub fn set_option(&self, option: SocketOption) -> Result<()> {
        let sndtimeo = match &option {
            SocketOption::SndTimeo(t) => Some(*t),
            _ => None,
        };
        let nodrop = match &option {
            SocketOption::XpubNodrop(on) => Some(*on),
            _ => None,
        };
        // Fewer messages may pass a SUB's filter now.
        let narrows = self.kind == SocketType::Sub
            && matches!(
                option,
                SocketOption::Unsubscribe(_) | SocketOption::InvertMatching(_)
            );
        expect_reply!(self.call(Command::SetOption(option))?, Done)?;
        if narrows {
            self.refilter_held()?;
        }
        if let Some(timeout) = sndtimeo {
            self.sndtimeo.set(timeout);
        }
        if let Some(on) = nodrop {
            self.sends_never_wait
                .set(lanes::sends_never_wait(self.kind, on));
        }
        Ok(())
    }

    /// The current option values.
    pub fn options(&self) -> Result<Options> {
        Ok(*expect_reply!(self.call(Command::Options)?, Options))
    }

    /// The endpoint of the last bind, with the port the kernel chose
    /// (ZMQ_LAST_ENDPOINT).
    pub fn last_endpoint(&self) -> Result<Option<String>> {
        Ok(expect_reply!(
            self.call(Command::LastEndpoint)?,
            LastEndpoint
        ))
    }

    /// Messages queued in the socket's pipes, `(inbound, outbound)`
    /// (inbound counts what the context moved towards this handle and it
    /// has not handed out yet).
    pub fn queued(&self) -> Result<(usize, usize)> {
        // The answer counts the receive lane's messages: only those this
        // handle took out of it aside are added here.
        let (inbound, outbound) = expect_reply!(self.call(Command::Queued)?, Queued);
        Ok((inbound + self.rings.borrow().received.len(), outbound))
    }

    /// Peers connected now.
    pub fn peer_count(&self) -> Result<usize> {
        Ok(expect_reply!(self.call(Command::PeerCount)?, PeerCount))
    }

    /// Distinct topics subscribed (ZMQ_TOPICS_COUNT): see
    /// [`Socket::topics_count`](crate::Socket::topics_count).
    pub fn topics_count(&self) -> Result<usize> {
        Ok(expect_reply!(self.call(Command::TopicsCount)?, TopicsCount))
    }

    /// Spreads the connections this socket accepts from now on over the IO
    /// cores `cores`, as [`Socket::spread_connections`] does: the context's
    /// thread keeps the socket's rules (a publisher's subscriptions and
    /// matching among them), each IO core serves its share of the
    /// connections.
    ///
    /// ```
    /// use monocoque_patterns::{Context, IoCores};
    /// use monocoque_runtime::RuntimeBuilder;
    /// use monocoque_zmtp::SocketType;
    /// let cores = IoCores::start(vec![RuntimeBuilder::default(); 2]).unwrap();
    /// let ctx = Context::new().unwrap();
    /// let publisher = ctx.socket(SocketType::Pub).unwrap();
    /// publisher.spread_connections(&cores).unwrap();
    /// publisher.bind("tcp://127.0.0.1:0").unwrap();
    /// ```
    ///
    /// [`Socket::spread_connections`]: crate::Socket::spread_connections
    pub fn spread_connections(&self, cores: &IoCores) -> Result<()> {
        expect_reply!(self.call(Command::SpreadConnections(cores.clone()))?, Done)
    }

    /// Per IO core: connections, messages handed over and lost; `None` if
    /// the socket is not spread (see [`spread_connections`](Self::spread_connections)).
    pub fn io_core_statistics(&self) -> Result<Option<Vec<IoCoreStatistics>>> {
        Ok(expect_reply!(
            self.call(Command::IoCoreStatistics)?,
            IoCoreStatistics
        ))
    }

    /// Starts queueing the socket's monitor events to a new [`BlockingMonitor`].
    pub fn monitor(&self) -> Result<BlockingMonitor> {
        let (events, receiver) = spsc::channel(MONITOR_CAPACITY);
        let lost = Arc::new(AtomicU64::new(0));
        expect_reply!(
            self.call(Command::Monitor {
                events,
                lost: lost.clone()
            })?,
            Done
        )?;
        Ok(BlockingMonitor::new(receiver, lost))
    }

    /// Binds to an endpoint; see [`Socket::bind`](crate::Socket::bind).
    /// inproc names are shared by the sockets of one context.
    pub fn bind(&self, endpoint: &str) -> Result<()> {
        expect_reply!(self.call(Command::Bind(endpoint.into()))?, Done)
    }

    /// Connects to an endpoint; see [`Socket::connect`](crate::Socket::connect).
    pub fn connect(&self, endpoint: &str) -> Result<()> {
        expect_reply!(self.call(Command::Connect(endpoint.into()))?, Done)
    }

    /// Stops listening on a bound endpoint.
    pub fn unbind(&self, endpoint: &str) -> Result<()> {
        self.detach(Command::Unbind(endpoint.into()))
    }

    /// Drops a connection made with `connect`.
    pub fn disconnect(&self, endpoint: &str) -> Result<()> {
        self.detach(Command::Disconnect(endpoint.into()))
    }

    /// Unbind or Disconnect: what the dropped pipes held is discarded,
    /// what the receive lane holds of it included.
    fn detach(&self, command: Command) -> Result<()> {
        let (result, dropped) = expect_reply!(self.call(command)?, Detached);
        if !dropped.is_empty() {
            self.rings.borrow_mut().discard_from_lane(&dropped);
        }
        result
    }

    /// Sends a multipart message, blocking this thread while the socket type's
    /// rule says wait, up to SNDTIMEO (then [`Error::WouldBlock`]).
    pub fn send(&self, msg: impl Into<Msg>) -> Result<()> {
        match self.offer_to_lane(msg.into()) {
            Ok(()) => Ok(()),
            Err(back) => self.send_asking(back),
        }
    }

    /// What [`send`](Self::send) does first: sends `msg` if it can go
    /// without asking the context's thread (into the send lane, which is
    /// open for it), or gives it back untouched. For a caller that must
    /// keep a message whose send fails (the C API's `zmq_msg_send`): it
    /// keeps a copy only for [`send_asking`](Self::send_asking), the slow path.
    pub fn offer_to_lane(&self, msg: Msg) -> std::result::Result<(), Msg> {
        // An empty message is refused by the socket: a command says so.
        let in_turn = self.turn.as_ref().is_none_or(Turn::send_due);
        let exact = self.sndtimeo.get() == Some(Duration::ZERO) && !self.sends_never_wait.get();
        if !in_turn
            || exact
            || msg.is_empty()
            || !lanes::blocking_sends_take_lane(self.kind)
            || self._context.is_shut_down()
        {
            return Err(msg);
        }
        let mut rings = self.rings.borrow_mut();
        let Some(lane) = rings.lane.as_mut() else {
            return Err(msg);
        };
        lane.offer(msg, self.sends_never_wait.get())?;
        drop(rings);
        // A blocking send uses room no credit counted.
        self.credits.borrow_mut().forget();
        self.sent();
        Ok(())
    }

    /// [`offer_to_lane`](Self::offer_to_lane) for a one-frame message of
    /// `body`, copied as it goes on the wire into the send lane's encoded
    /// ring (PUSH, DEALER, PAIR; bodies up to 2 KiB): `true` if it
    /// went, `false` with nothing done (then send it as a message). The
    /// context's thread takes what the ring holds in one go and hands it
    /// to the socket as one run, which the connection writes as it is
    /// (docs/BENCHMARKS.md, attempts 15 and 19). The C API sends its single small
    /// frames this way, with no message or buffer made for them.
    ///
    /// A blocking send (no SNDTIMEO) whose ring is full waits for room up
    /// to a millisecond, while the context's thread writes what it holds,
    /// before giving up (attempt 20); a ring a peer that stopped reading
    /// holds is waited on once, until it moves again.
    ///
    /// ```
    /// use monocoque_patterns::Context;
    /// use monocoque_zmtp::SocketType;
    ///
    /// let ctx = Context::new().unwrap();
    /// let pull = ctx.socket(SocketType::Pull).unwrap();
    /// pull.bind("tcp://127.0.0.1:0").unwrap();
    /// let endpoint = pull.last_endpoint().unwrap().unwrap();
    /// let push = ctx.socket(SocketType::Push).unwrap();
    /// push.connect(&endpoint).unwrap();
    /// for i in 0..100 {
    ///     let body = format!("m{i}");
    ///     // Before the connection is up the lane is shut: a plain send.
    ///     if !push.offer_single_frame(body.as_bytes()) {
    ///         push.send(body.into_bytes()).unwrap();
    ///     }
    /// }
    /// for i in 0..100 {
    ///     assert_eq!(pull.recv().unwrap()[0], format!("m{i}").as_bytes());
    /// }
    /// ```
    #[inline]
    pub fn offer_single_frame(&self, body: &[u8]) -> bool {
        let in_turn = self.turn.as_ref().is_none_or(Turn::send_due);
        let exact = self.sndtimeo.get() == Some(Duration::ZERO) && !self.sends_never_wait.get();
        if !in_turn || exact || self._context.is_shut_down() {
            return false;
        }
        let mut rings = self.rings.borrow_mut();
        let Some(lane) = rings.lane.as_mut() else {
            return false;
        };
        let patience = match self.sndtimeo.get() {
            None => lanes::ENCODED_ROOM_PATIENCE,
            Some(_) => Duration::ZERO,
        };
        if !lane.offer_encoded(body, patience) {
            return false;
        }
        drop(rings);
        // A blocking send uses room no credit counted.
        self.credits.borrow_mut().forget();
        self.sent();
        true
    }

    /// [`try_send`](Self::try_send) of a one-frame message of `body`,
    /// decided where the handle knows enough without a message made:
    /// `Some(Ok(()))` if it went into the send lane's encoded ring on the
    /// room the last answer counted (`send_credit.rs`), `Some(Err(_))` with
    /// [`Error::WouldBlock`] if that room is spent (as `try_send` would
    /// say, without asking), `None` with nothing done otherwise (then send
    /// it with `try_send`).
    ///
    /// A run of ZMQ_DONTWAIT sends on a credit otherwise went the message
    /// way, each message made, encoded and freed by the context's thread:
    /// SNDHWM of them took it half a millisecond, and the next answer
    /// comes a millisecond after the last (docs/BENCHMARKS.md, attempt 21).
    /// A sender that meets EAGAIN and retries at once makes nothing here.
    ///
    /// ```
    /// use monocoque_patterns::{Context, Error};
    /// use monocoque_zmtp::SocketType;
    ///
    /// let ctx = Context::new().unwrap();
    /// let pull = ctx.socket(SocketType::Pull).unwrap();
    /// pull.bind("tcp://127.0.0.1:0").unwrap();
    /// let endpoint = pull.last_endpoint().unwrap().unwrap();
    /// let push = ctx.socket(SocketType::Push).unwrap();
    /// push.connect(&endpoint).unwrap();
    /// let mut sent = 0;
    /// while sent < 100 {
    ///     let body = format!("m{sent}");
    ///     let outcome = match push.try_send_single_frame(body.as_bytes()) {
    ///         Some(outcome) => outcome,
    ///         None => push.try_send(body.into_bytes()),
    ///     };
    ///     match outcome {
    ///         Ok(()) => sent += 1,
    ///         Err(Error::WouldBlock(_)) => continue,
    ///         Err(e) => panic!("{e}"),
    ///     }
    /// }
    /// for i in 0..100 {
    ///     assert_eq!(pull.recv().unwrap()[0], format!("m{i}").as_bytes());
    /// }
    /// ```
    #[inline]
    pub fn try_send_single_frame(&self, body: &[u8]) -> Option<Result<()>> {
        if self.sends_never_wait.get() || self._context.is_shut_down() {
            return None;
        }
        let verdict = self.credits.borrow().send_verdict();
        match verdict {
            Verdict::Spent => Some(Err(Error::WouldBlock(SPENT_CREDIT))),
            Verdict::Ask => None,
            // Only PUSH, DEALER, PAIR and XPUB under NODROP get a credit,
            // and none of them has a turn (as `try_send`'s credit path).
            Verdict::Room => {
                let mut rings = self.rings.borrow_mut();
                let lane = rings.lane.as_mut()?;
                // A full ring is waited on for a moment, as the message
                // ring is by a send on the credit (`offer_on_credit`): it
                // waits for the context's thread, which drains it, never
                // for a peer (a ring a peer's slow write holds is waited
                // on once). Given up, the send asks the context's thread,
                // whose answer is a new credit.
                if !lane.offer_encoded(body, lanes::ENCODED_ROOM_PATIENCE) {
                    return None;
                }
                drop(rings);
                self.credits.borrow_mut().spend_send();
                Some(Ok(()))
            }
        }
    }

    /// Whether a send on this socket never waits (PUB, XPUB without
    /// XPUB_NODROP, XSUB: a full peer's copy is dropped), so that
    /// ZMQ_DONTWAIT changes nothing and [`offer_to_lane`](Self::offer_to_lane)
    /// may take such a send too.
    pub fn sends_never_wait(&self) -> bool {
        self.sends_never_wait.get()
    }

    /// Whether the send lane says the socket could take a message when the
    /// context last looked (no round trip; `false` for a type without a
    /// lane, or before the socket had room). A caller that must wait for
    /// room before a message's first frame, as libzmq's multipart sends
    /// do, asks [`events`](Self::events) or [`poll`](crate::poll) only
    /// when this says no.
    pub fn has_room_now(&self) -> bool {
        self.rings
            .borrow()
            .lane
            .as_ref()
            .is_some_and(|lane| lane.is_open())
    }

    /// [`send`](Self::send) after [`offer_to_lane`](Self::offer_to_lane)
    /// gave the message back: asks the socket, and waits as `send` does.
    pub fn send_asking(&self, msg: Msg) -> Result<()> {
        // Seen here (and by the lane), not only on the context's thread,
        // which may run this before the shutdown's own message.
        if self._context.is_shut_down() {
            return Err(Error::Terminated);
        }
        let sent = self.call(Command::Send { msg, wait: true });
        self.sent();
        expect_reply!(sent?, Done)
    }

    /// A send went or failed: REQ's and REP's turn is no longer known to
    /// be a send.
    fn sent(&self) {
        if let Some(turn) = &self.turn {
            turn.sent();
        }
    }

    /// Sends without waiting (ZMQ_DONTWAIT): [`Error::WouldBlock`] where
    /// `send` would wait. On a socket whose sends never wait (PUB, XPUB
    /// without XPUB_NODROP, XSUB) it is `send`, through the send lane.
    ///
    /// As libzmq's, it counts on the room the socket had when it last
    /// looked (`send_credit.rs`): on PUSH, DEALER, PAIR and XPUB under
    /// XPUB_NODROP, the answer to one such send says how many more the
    /// socket surely takes, and those go without asking the context's
    /// thread; once they are spent, a send within a millisecond of the
    /// last fails with [`Error::WouldBlock`] without asking, as libzmq's
    /// application thread learns of its pipes' progress at most once a
    /// millisecond in a run of sends. A pause as long, or any other call
    /// (a blocking send, [`events`](Self::events), [`poll`](crate::poll),
    /// a receive that asks), looks afresh.
    ///
    /// ```
    /// use monocoque_patterns::{Context, Error, SocketOption};
    /// use monocoque_zmtp::SocketType;
    /// let ctx = Context::new().unwrap();
    /// let pull = ctx.socket(SocketType::Pull).unwrap();
    /// pull.set_option(SocketOption::RcvHwm(2)).unwrap();
    /// pull.bind("inproc://try-send-doc").unwrap();
    /// let push = ctx.socket(SocketType::Push).unwrap();
    /// push.set_option(SocketOption::SndHwm(2)).unwrap();
    /// push.connect("inproc://try-send-doc").unwrap();
    /// // inproc: SNDHWM + RCVHWM, then EAGAIN while nobody receives.
    /// for _ in 0..4 {
    ///     push.try_send("job").unwrap();
    /// }
    /// assert!(matches!(push.try_send("job"), Err(Error::WouldBlock(_))));
    /// ```
    pub fn try_send(&self, msg: impl Into<Msg>) -> Result<()> {
        if self._context.is_shut_down() {
            return Err(Error::Terminated);
        }
        let mut msg = msg.into();
        if self.sends_never_wait.get() {
            match self.offer_to_lane(msg) {
                Ok(()) => return Ok(()),
                Err(back) => msg = back,
            }
        } else if !msg.is_empty() {
            let verdict = self.credits.borrow().send_verdict();
            match verdict {
                Verdict::Room => match self.offer_on_credit(msg) {
                    Ok(()) => {
                        self.credits.borrow_mut().spend_send();
                        return Ok(());
                    }
                    Err(back) => msg = back,
                },
                Verdict::Spent => return Err(Error::WouldBlock(SPENT_CREDIT)),
                Verdict::Ask => {}
            }
        }
        let routed_to = match self.kind {
            // A routing id alone is refused by the socket: it asks.
            SocketType::Router if msg.len() > 1 => msg.frames().first().cloned(),
            _ => None,
        };
        if let Some(id) = &routed_to {
            // The route check of the message's first frame counted room
            // there: the socket surely takes it.
            if self.credits.borrow().route_verdict(id) == Verdict::Room {
                match self.offer_on_credit(msg) {
                    Ok(()) => {
                        self.credits.borrow_mut().sent_routed(id);
                        return Ok(());
                    }
                    Err(back) => msg = back,
                }
            }
        }
        let sent = self.call(Command::Send { msg, wait: false });
        self.sent();
        let answer = expect_reply!(sent?, Credit);
        let mut credits = self.credits.borrow_mut();
        credits.answered_send(&answer);
        if let (Ok(_), Some(id)) = (&answer, routed_to) {
            credits.sent_routed(&id);
        }
        answer.map(|_| ())
    }

    /// A ZMQ_DONTWAIT send the socket surely takes (its credit says so):
    /// into the send lane, or handed back if the lane is shut. A full lane
    /// is waited on, for the context's thread only: it drains a lane whose
    /// socket takes the messages (asking instead would wait behind the
    /// same messages, and look afresh, as libzmq's sends do not).
    fn offer_on_credit(&self, msg: Msg) -> std::result::Result<(), Msg> {
        let mut rings = self.rings.borrow_mut();
        match rings.lane.as_mut() {
            Some(lane) => lane.offer(msg, true),
            None => Err(msg),
        }
    }

    /// What a ZMQ_DONTWAIT send would meet, from what this handle knows
    /// without asking (`send_credit.rs`): `Some(true)` room, `Some(false)`
    /// none (EAGAIN), `None` unknown (ask with [`events`](Self::events)).
    /// For a caller that checks before a message's first frame, as
    /// libzmq's multipart sends do.
    pub fn known_room(&self) -> Option<bool> {
        match self.credits.borrow().send_verdict() {
            Verdict::Room => Some(true),
            Verdict::Spent => Some(false),
            Verdict::Ask => None,
        }
    }

    /// Receives the next message, blocking this thread up to RCVTIMEO (then
    /// [`Error::WouldBlock`]). [`Context::shutdown`] interrupts it with
    /// [`Error::Terminated`].
    pub fn recv(&self) -> Result<Msg> {
        self.receive(true).map(|(msg, _)| msg)
    }

    /// Receives without waiting (ZMQ_DONTWAIT): [`Error::WouldBlock`] if
    /// nothing is ready.
    pub fn try_recv(&self) -> Result<Msg> {
        self.receive(false).map(|(msg, _)| msg)
    }

    /// Whether the receive lane holds all the socket has, and no send of
    /// this context is on its way to a socket (`receive_lane.rs`): a
    /// ZMQ_DONTWAIT receive that finds the lane empty may say EAGAIN
    /// without asking.
    fn nothing_on_its_way(&self) -> bool {
        // In this order: a lane's message is in its socket (or parked, its
        // send one libzmq would still be blocked in) before it leaves the
        // unlooked count, and the flag was cleared when it got there, so
        // the flag is read after the count (`lane_backlog.rs`).
        if lanes::sent_into_a_lane(self._context.backlog()) || self._context.lanes_have_unlooked() {
            return false;
        }
        self.rings
            .borrow()
            .recv_lane
            .as_ref()
            .is_some_and(RecvLaneHandle::caught_up)
    }

    /// The next message a receive already took, or a new receive.
    fn receive(&self, wait: bool) -> Result<Received> {
        if self._context.is_shut_down() {
            return Err(Error::Terminated);
        }
        if let Some(received) = self.rings.borrow_mut().take_held() {
            return Ok(received);
        }
        if self.rings.borrow().recv_lane.is_some() {
            if !wait && self.nothing_on_its_way() {
                // What the pump moved before it caught up is in the lane.
                return self
                    .rings
                    .borrow_mut()
                    .take_held()
                    .ok_or(Error::WouldBlock("no message is ready"));
            }
            // The lane is empty: the context fills it, or says why not.
            expect_reply!(self.call(Command::FillLane { wait })?, Done)?;
            return self
                .rings
                .borrow_mut()
                .take_held()
                .ok_or(Error::WouldBlock("no message is ready"));
        }
        let received = expect_reply!(self.call(Command::Recv { wait })?, Received)?;
        if let Some(turn) = &self.turn {
            turn.received();
        }
        Ok(received)
    }

    /// As [`recv`](Self::recv), with the properties of the peer the message
    /// came from (libzmq's `zmq_msg_gets`); see
    /// [`Socket::recv_with_properties`](crate::Socket::recv_with_properties).
    pub fn recv_with_properties(&self) -> Result<(Msg, Option<Arc<PeerProperties>>)> {
        self.receive(true)
    }

    /// As [`try_recv`](Self::try_recv), with the properties of the peer the
    /// message came from (libzmq's `zmq_msg_gets` after a ZMQ_DONTWAIT
    /// receive).
    pub fn try_recv_with_properties(&self) -> Result<(Msg, Option<Arc<PeerProperties>>)> {
        self.receive(false)
    }

    /// A message this handle already holds (its receive lane took it
    /// ahead), without asking the context's thread, its sender's
    /// properties put in `properties`; `None` when it holds none, or the
    /// context was shut down (then [`recv`](Self::recv) or
    /// [`try_recv`](Self::try_recv) answer). What
    /// [`recv_with_properties`](Self::recv_with_properties) would return
    /// first, for a loop that receives as fast as it can, such as the C
    /// API's receive: building and unpacking the `Result` of the general
    /// path was a tenth of a 64-byte stream's receiving thread, and
    /// `properties` is left alone when it holds the sender's already (no
    /// reference-count update per message from the same peer).
    ///
    /// ```
    /// use monocoque_patterns::Context;
    /// use monocoque_zmtp::SocketType;
    /// let ctx = Context::new().unwrap();
    /// let pull = ctx.socket(SocketType::Pull).unwrap();
    /// pull.bind("inproc://held").unwrap();
    /// let push = ctx.socket(SocketType::Push).unwrap();
    /// push.connect("inproc://held").unwrap();
    /// push.send("one").unwrap();
    /// let first = pull.recv().unwrap();
    /// assert_eq!(&first[0][..], b"one");
    /// push.send("two").unwrap();
    /// let mut sender = None;
    /// // The lane takes "two" ahead of the receive, soon.
    /// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    /// let two = loop {
    ///     if let Some(m) = pull.take_held(&mut sender) {
    ///         break m;
    ///     }
    ///     assert!(std::time::Instant::now() < deadline, "taken ahead");
    ///     std::thread::yield_now();
    /// };
    /// assert_eq!(&two[0][..], b"two");
    /// assert_eq!(sender.as_ref().unwrap().socket_type(), Some(SocketType::Push));
    /// assert!(pull.take_held(&mut sender).is_none(), "nothing more held");
    /// ```
    #[inline]
    pub fn take_held(&self, properties: &mut Option<Arc<PeerProperties>>) -> Option<Msg> {
        if self._context.is_shut_down() {
            return None;
        }
        self.rings.borrow_mut().take_held_into(properties)
    }

    /// The next message this handle holds, handed to `take` in place when
    /// it is a single frame still in its wire form (a run the socket's
    /// receive lane opened: `pipe/queued.rs`), with its sender's
    /// properties, which also go in `properties` as
    /// [`take_held`](Self::take_held) puts them. `None`, taking nothing,
    /// for anything else: then `take_held`. The C API copies the frame
    /// straight into the `zmq_msg_t` (into the buffer it holds, when that
    /// is the frame's size), with no message, queue slot or buffer of its
    /// own on the way.
    ///
    /// ```
    /// use monocoque_patterns::Context;
    /// use monocoque_zmtp::SocketType;
    ///
    /// let ctx = Context::new().unwrap();
    /// let pull = ctx.socket(SocketType::Pull).unwrap();
    /// pull.bind("tcp://127.0.0.1:0").unwrap();
    /// let endpoint = pull.last_endpoint().unwrap().unwrap();
    /// let push = ctx.socket(SocketType::Push).unwrap();
    /// push.connect(&endpoint).unwrap();
    /// for i in 0..100 {
    ///     push.send(format!("m{i}").into_bytes()).unwrap();
    /// }
    /// let mut sender = None;
    /// let mut got = Vec::new();
    /// while got.len() < 100 {
    ///     let copied = pull.take_single_held(&mut sender, |frame, _| frame.to_vec());
    ///     match copied {
    ///         Some(frame) => got.push(frame),
    ///         None => got.push(pull.recv().unwrap()[0].to_vec()),
    ///     }
    /// }
    /// let want: Vec<Vec<u8>> = (0..100).map(|i| format!("m{i}").into_bytes()).collect();
    /// assert_eq!(got, want);
    /// ```
    #[inline]
    pub fn take_single_held<R>(
        &self,
        properties: &mut Option<Arc<PeerProperties>>,
        take: impl FnOnce(&[u8], &Option<Arc<PeerProperties>>) -> R,
    ) -> Option<R> {
        if self._context.is_shut_down() {
            return None;
        }
        let mut rings = self.rings.borrow_mut();
        if !rings.received.is_empty() {
            return None;
        }
        rings.recv_lane.as_mut()?.take_single_into(properties, take)
    }

    /// Waits as [`recv`](Self::recv) does (RCVTIMEO, shutdown) until this
    /// handle holds a message, and takes nothing: `Ok(true)` then, for
    /// [`take_single_held`](Self::take_single_held) or
    /// [`take_held`](Self::take_held) to take it; `Ok(false)` at once for a
    /// socket with no receive lane (ask `recv`). A blocking receive that
    /// takes what it can in place, as the C API's does, waits here
    /// instead of in `recv`, which would take the first message as a
    /// message of its own.
    ///
    /// ```
    /// use monocoque_patterns::Context;
    /// use monocoque_zmtp::SocketType;
    /// let ctx = Context::new().unwrap();
    /// let pull = ctx.socket(SocketType::Pull).unwrap();
    /// pull.bind("inproc://wait-held").unwrap();
    /// let push = ctx.socket(SocketType::Push).unwrap();
    /// push.connect("inproc://wait-held").unwrap();
    /// push.send("hi").unwrap();
    /// assert!(pull.wait_held().unwrap());
    /// let mut sender = None;
    /// let taken = pull.take_single_held(&mut sender, |body, _| body.to_vec());
    /// let body = taken.or_else(|| pull.take_held(&mut sender).map(|m| m[0].to_vec()));
    /// assert_eq!(body.unwrap(), b"hi");
    /// ```
    pub fn wait_held(&self) -> Result<bool> {
        if self._context.is_shut_down() {
            return Err(Error::Terminated);
        }
        if self.rings.borrow().holds_nothing() {
            if self.rings.borrow().recv_lane.is_none() {
                return Ok(false);
            }
            expect_reply!(self.call(Command::FillLane { wait: true })?, Done)?;
            if self.rings.borrow().holds_nothing() {
                return Err(Error::WouldBlock("no message is ready"));
            }
        }
        Ok(true)
    }

    /// ROUTER and STREAM: whether a message to `routing_id` would be taken
    /// now; see [`Socket::check_route`](crate::Socket::check_route).
    ///
    /// Under ROUTER_MANDATORY it counts on what the last check of the same
    /// peer said, as [`try_send`](Self::try_send) does: while that peer had
    /// room for more, it answers without asking; once the messages sent
    /// since used it up, [`Error::WouldBlock`] for a millisecond.
    pub fn check_route(&self, routing_id: &[u8]) -> Result<()> {
        let verdict = self.credits.borrow().route_verdict(routing_id);
        match verdict {
            Verdict::Room => return Ok(()),
            Verdict::Spent => {
                return Err(Error::WouldBlock(
                    "the peer had no room when the socket last looked (less than 1 ms ago)",
                ))
            }
            Verdict::Ask => {}
        }
        let id = Bytes::copy_from_slice(routing_id);
        let answer = expect_reply!(self.call(Command::CheckRoute(id.clone()))?, Credit);
        self.credits.borrow_mut().answered_route(id, &answer);
        answer.map(|_| ())
    }

    /// Whether this handle holds received messages the socket no longer
    /// does (the receive lane's): POLLIN, known
    /// without asking the context.
    pub(super) fn holds_messages(&self) -> bool {
        self.rings.borrow().held() > 0
    }

    /// What the socket can do now without waiting (ZMQ_EVENTS); see
    /// [`Socket::events`](crate::Socket::events). Clears the readiness
    /// descriptor's signal.
    pub fn events(&self) -> Result<Events> {
        let events = expect_reply!(self.call(Command::Events)?, Events)?;
        if self.rings.borrow().held() == 0 {
            Ok(events)
        } else {
            Ok(events | Events::POLLIN)
        }
    }

    /// A descriptor that becomes readable when the socket may have an event
    /// (ZMQ_FD), to register with epoll, mio or tokio from any thread:
    /// when it reads readable, call [`events`](Self::events) and act until
    /// the event is gone, and check `events` again after each send or
    /// receive of your own before waiting on it (as with libzmq's ZMQ_FD).
    /// It stays open as long as this handle; never read or close it
    /// yourself. [`Context::shutdown`] signals it.
    ///
    /// ```
    /// use monocoque_patterns::{Context, Events};
    /// use monocoque_runtime::{poll_fds, PollFd};
    /// use monocoque_zmtp::SocketType;
    /// let ctx = Context::new().unwrap();
    /// let pull = ctx.socket(SocketType::Pull).unwrap();
    /// pull.bind("inproc://fd-doc").unwrap();
    /// let fd = pull.readiness_fd().unwrap();
    /// let push = ctx.socket(SocketType::Push).unwrap();
    /// push.connect("inproc://fd-doc").unwrap();
    /// push.send("hello").unwrap();
    /// // What an event loop does: wait on the descriptor, then look.
    /// while !pull.events().unwrap().contains(Events::POLLIN) {
    ///     poll_fds(&mut [PollFd::readable(fd)], None).unwrap();
    /// }
    /// assert_eq!(&pull.try_recv().unwrap()[0][..], b"hello");
    /// ```
    pub fn readiness_fd(&self) -> Result<RawFd> {
        if let Some(fd) = self.readiness.get() {
            return Ok(fd.as_raw_fd());
        }
        let fd = expect_reply!(self.call(Command::ReadinessFd)?, ReadinessFd)?;
        Ok(self.readiness.get_or_init(|| fd).as_raw_fd())
    }

    /// Closes the socket (the same as dropping it): returns at once, while
    /// queued messages leave within LINGER on the context's thread.
    pub fn close(self) {}
}
