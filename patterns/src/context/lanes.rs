//! The message stream between a user thread and its context's thread,
//! without a round trip per message.
//!
//! A command (see `command.rs`) parks the user's thread until the context's
//! thread answers: two thread wake-ups per call. For a stream of messages
//! that is most of the cost (libzmq's perf tools measured 0.4 % to 20 % of
//! libzmq's throughput, docs/BENCHMARKS.md), so the stream takes two short
//! cuts, each only where the socket type's rules allow it:
//!
//! - **Send lane**: a blocking send on a socket whose send has no state and
//!   no per-message answer (PUSH, PUB, XPUB, DEALER, PAIR, XSUB) goes into an
//!   SPSC ring the context's thread drains into the socket, while the
//!   socket could take a message when last looked at (`writable`). The
//!   user's thread then returns at once, as libzmq's returns once the
//!   message is in its pipe. A send under SNDTIMEO 0, or one that finds
//!   the lane shut, is a command, which runs after every message already
//!   in the lane: its answer is exact. A ZMQ_DONTWAIT send is one too,
//!   unless the answer to the last one said the socket takes more
//!   (`send_credit.rs`: it then goes into the lane, as libzmq's goes into
//!   its pipe on the room it knew of, and once that is spent fails with
//!   EAGAIN without asking for a moment; ROUTER's lane is for those
//!   alone). Except where a send never waits (PUB, XPUB
//!   without XPUB_NODROP, XSUB: what a full peer cannot take is dropped,
//!   and libzmq's never return EAGAIN): there ZMQ_DONTWAIT changes nothing
//!   and the send takes the lane as a blocking one does. A full lane is
//!   waited on then, for the context's thread only (it always drains such
//!   a lane), never for a peer: libzmq's would drop the message instead. What the lane holds beyond SNDHWM is bounded
//!   by its capacity, [`SEND_LANE_CAPACITY`], and, for PUSH, DEALER and
//!   PAIR, by its encoded ring's ([`ENCODED_LANE_BYTES`],
//!   [`ENCODED_LANE_MESSAGES`]).
//!
//!   REQ and REP take the lane too, for a send the handle knows their rule
//!   accepts ([`Turn`]: a REQ's request once the last reply is in, a REP's
//!   reply to the request it returned); any other send is a command, which
//!   answers exactly (EFSM, REQ_RELAXED). Their receive then runs once the
//!   lane's message is in the socket, as it follows that send in their
//!   state machine. A request-reply round trip so costs the two wake-ups
//!   libzmq's does (the request out, the reply in), not four.
//!
//! - **Receive lane**: the other direction, `receive_lane.rs` (all types
//!   whose receive moves no state: PULL, DEALER, ROUTER, PAIR, SUB, XSUB).
//!
//! ```text
//!  user thread                         context thread
//!  send ──▶ [send lane ring] ──▶ LanePump::drive ──▶ Socket::offer
//!      ◀── writable flag ◀────────── false when the socket made a message
//!                                    wait; true again once that message
//!                                    went (Socket::send_until)
//!  recv ◀── [receive lane ring] ◀── RecvPump (receive_lane.rs)
//! ```

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use monocoque_runtime::byte_lane::{self, ByteReader, ByteWriter};
use monocoque_runtime::spsc::{self, TrySendError};
use monocoque_runtime::PoolPressure;
use monocoque_runtime::{sleep, sleep_until};
use monocoque_zmtp::{Msg, SocketType, WireRun};

use super::follow_sender;
use super::lane_backlog::{Backlog, LaneCounts, QueuedCount};
use crate::pipe::{Queue, Queued};
use crate::socket::MessageRun;
use crate::{Result, Socket};

/// Messages a send lane holds at most: the most a blocking sender can be
/// ahead of SNDHWM.
pub(super) const SEND_LANE_CAPACITY: usize = 256;

/// Bytes a send lane's encoded ring holds (`byte_lane`). With the
/// application's thread and the context's sharing a CPU (libzmq's perf
/// tools as `scripts/libzmq-perf` places them), what one takes of the
/// other's turn is what the ring holds: `local_thr`/`remote_thr` at 64 B,
/// 16.9 KiB (256 messages) 8.0-8.2 M msg/s, 64 KiB 9.2-9.7 M, 128 KiB
/// 10.0-10.6 M, 256 KiB 10.0-10.8 M (docs/BENCHMARKS.md, attempt 15); at
/// 1 KiB a message 512 KiB, where what is lent to the connection's write
/// is not the writer's until the write completes (attempt 19). Allocated
/// with the socket, its pages touched only as used.
pub(super) const ENCODED_LANE_BYTES: usize = 512 * 1024;

/// Messages the encoded ring, with what the lane holds besides, lets a
/// blocking sender be ahead of its socket at most: about what 128 KiB
/// holds at 64 B, and a bound on what it holds of empty frames (two bytes
/// each).
pub(super) const ENCODED_LANE_MESSAGES: usize = 2048;

/// The largest body a send goes into the encoded ring with: what the
/// connection copies into its output anyway (`DEFAULT_COPY_THRESHOLD`),
/// where the encoded ring's run is written from the ring itself. A larger
/// body is moved, not copied, through the message ring, and written as a
/// chunk of its own.
pub(super) const ENCODED_BODY_MAX: usize = monocoque_zmtp::DEFAULT_COPY_THRESHOLD;

/// How long a blocking send waits for room in the encoded ring before it
/// goes the message way ([`LaneSender::offer_encoded`]): time for the
/// context's thread to write a ringful to a peer that reads (a 512 KiB run
/// takes a few hundred microseconds), so that only a peer that stopped
/// reading makes a send wait the whole of it, once.
pub(super) const ENCODED_ROOM_PATIENCE: Duration = Duration::from_millis(1);

/// Whether `kind`'s lane also carries sends encoded (`byte_lane`): the
/// types whose send is a plain push to the one peer (their runs go to a
/// sole peer whole, `SocketState::try_send_each`).
pub(super) fn has_encoded_lane(kind: SocketType) -> bool {
    matches!(
        kind,
        SocketType::Push | SocketType::Dealer | SocketType::Pair
    )
}

/// Whether `kind` has a send lane: blocking sends on it may go through
/// the lane ([`blocking_sends_take_lane`]), or ZMQ_DONTWAIT ones the
/// socket surely takes (`send_credit.rs`: ROUTER's, to a peer whose room
/// its last route check counted).
pub(super) fn has_send_lane(kind: SocketType) -> bool {
    blocking_sends_take_lane(kind) || kind == SocketType::Router
}

/// Whether blocking sends on `kind` may go through its send lane: its send
/// never answers anything but "wait" (no EFSM, no EHOSTUNREACH), or only
/// when the handle's [`Turn`] says so (REQ, REP).
pub(super) fn blocking_sends_take_lane(kind: SocketType) -> bool {
    use SocketType::*;
    matches!(kind, Push | Pub | XPub | Dealer | Pair | XSub | Req | Rep)
}

/// Whether a send on `kind` never waits, so that ZMQ_DONTWAIT (or SNDTIMEO
/// 0) needs no exact answer and may take the send lane: PUB, XPUB and XSUB
/// drop what a full peer cannot take (libzmq's never return EAGAIN), unless
/// XPUB_NODROP (`nodrop`) makes a publisher wait for room instead.
pub(super) fn sends_never_wait(kind: SocketType, nodrop: bool) -> bool {
    match kind {
        SocketType::Pub | SocketType::XPub => !nodrop,
        SocketType::XSub => true,
        _ => false,
    }
}

/// Whether a receive on `kind` must wait until the send lane's messages
/// are in the socket: REQ's reply and REP's next request follow the send
/// before them in the type's state machine.
pub(super) fn recv_follows_send(kind: SocketType) -> bool {
    matches!(kind, SocketType::Req | SocketType::Rep)
}

/// REQ's and REP's turn as their handle knows it, from its own calls: a
/// send may take the lane only when the socket's rule takes it for sure
/// (REQ: the reply to the last request is in; REP: the request it
/// returned awaits its reply). When unsure, the send is a command: the
/// socket answers it exactly.
#[derive(Debug)]
pub(super) struct Turn {
    send_due: Cell<bool>,
}

impl Turn {
    /// The turn of a new socket of `kind`; `None` for a type without one.
    pub(super) fn of(kind: SocketType) -> Option<Turn> {
        let send_due = match kind {
            SocketType::Req => true,
            SocketType::Rep => false,
            _ => return None,
        };
        Some(Turn {
            send_due: Cell::new(send_due),
        })
    }

    /// Whether the socket's rule takes a send now.
    pub(super) fn send_due(&self) -> bool {
        self.send_due.get()
    }

    /// A send went, or failed: after a failure the socket's turn is not
    /// known here, and the next send asks the socket.
    pub(super) fn sent(&self) {
        self.send_due.set(false);
    }

    /// A receive returned a message: REQ's reply, REP's request. Both may
    /// send next.
    pub(super) fn received(&self) {
        self.send_due.set(true);
    }
}

/// The user's side of a send lane.
///
/// Two rings: messages, and single small frames encoded as they go on the
/// wire (`byte_lane`: the application's thread encodes, the context's takes
/// a batch at once and hands it to the socket as one run, attempt 15). A
/// send uses one only while the other is empty (the pump has taken all of
/// it), so the pump, taking from either and keeping what it took in order,
/// keeps the sends' order.
pub(super) struct LaneSender {
    ring: spsc::Sender<Msg>,
    encoded: Option<ByteWriter>,
    /// The lane's `gone` count as last read here (`QueuedCount::at_least`).
    gone_seen: usize,
    writable: Arc<AtomicBool>,
    counts: LaneCounts,
}

thread_local! {
    /// The `queued` counts of the lanes this thread sent into since its
    /// last command on their context (one, nearly always), each with its
    /// context's [`Backlog`] (compared by address).
    static SENT_INTO: RefCell<Vec<(*const Backlog, Arc<QueuedCount>)>> = const { RefCell::new(Vec::new()) };
}

/// The `queued` counts of the lanes of `context` this thread put messages
/// in since it last asked, forgotten here: a command that follows such
/// sends waits until they are in their sockets, for a few turns
/// (`Settle::own`). Another context's lanes stay listed for its own next
/// command (a socket of this one cannot see their messages) while they
/// hold some of this thread's messages: the list never outgrows the lanes
/// with messages on their way (a closed lane's count falls to zero).
pub(super) fn take_sent_into_lanes(context: &Backlog) -> Vec<Arc<QueuedCount>> {
    let context: *const Backlog = context;
    SENT_INTO.with(|sent| {
        let mut sent = sent.borrow_mut();
        if sent.is_empty() {
            return Vec::new();
        }
        let mut taken = Vec::new();
        sent.retain(|(of, queued)| {
            if std::ptr::eq(*of, context) {
                taken.push(queued.clone());
                return false;
            }
            !queued.is_empty()
        });
        taken
    })
}

/// Whether this thread put a message in a send lane of `context` since it
/// last asked (without forgetting it).
pub(super) fn sent_into_a_lane(context: &Backlog) -> bool {
    let context: *const Backlog = context;
    SENT_INTO.with(|sent| {
        sent.borrow()
            .iter()
            .any(|(of, _)| std::ptr::eq(*of, context))
    })
}

impl LaneSender {
    /// Whether the socket could take a message when last looked at.
    pub(super) fn is_open(&self) -> bool {
        self.writable.load(Ordering::Acquire)
    }

    /// Puts `msg` in the lane if the socket could take a message when last
    /// looked at and the lane has room; otherwise hands it back, for a
    /// command. `wait_for_room`: a full lane is waited on instead (for a
    /// socket whose sends never wait, whose lane the context's thread
    /// always drains: a command would wait as long, and cost a round trip).
    pub(super) fn offer(&mut self, msg: Msg, wait_for_room: bool) -> std::result::Result<(), Msg> {
        if !self.writable.load(Ordering::Acquire) {
            return Err(msg);
        }
        // Encoded sends not taken yet come first: this one waits for them
        // as a command (see the type's comment).
        if self.encoded.as_ref().is_some_and(|e| !e.is_empty()) {
            return Err(msg);
        }
        // `try_send` and `send_blocking` end with the ring's wake, the
        // fence `put_in` counts on.
        let sent = match self.ring.try_send(msg) {
            Err(TrySendError::Full(m)) if wait_for_room => {
                self.ring.send_blocking(m).map_err(|spsc::Closed(m)| m)
            }
            Err(TrySendError::Full(m) | TrySendError::Closed(m)) => Err(m),
            Ok(()) => Ok(()),
        };
        sent?;
        if self.put_in() {
            self.ring.wake_receiver();
        }
        Ok(())
    }

    /// Puts a one-frame message of `body` in the encoded ring, if the lane
    /// has one, the socket could take a message when last looked at, the
    /// message ring is empty and the encoded one has room, or has it within
    /// `patience` ([`ByteWriter::write_waiting`]: a ring that a peer's slow
    /// write pins is waited on once); `false` otherwise (send it with
    /// [`offer`](Self::offer)).
    ///
    /// Waiting is what a blocking send does best when the ring is full:
    /// the context's thread, often on the same CPU (`follow_sender`), is
    /// then left to write what the ring holds. Going the message way
    /// instead kept the CPU and gave that thread a message to encode and
    /// copy for every send until the message ring emptied: 40 % of the
    /// messages at 1 KiB (docs/BENCHMARKS.md, attempt 20).
    #[inline]
    pub(super) fn offer_encoded(&mut self, body: &[u8], patience: Duration) -> bool {
        let Some(encoded) = self.encoded.as_mut() else {
            return false;
        };
        if body.len() > ENCODED_BODY_MAX
            || !self.writable.load(Ordering::Acquire)
            || !self.ring.is_empty()
            || self
                .counts
                .queued()
                .at_least(&mut self.gone_seen, ENCODED_LANE_MESSAGES)
                >= ENCODED_LANE_MESSAGES
        {
            return false;
        }
        if !monocoque_zmtp::encode_single(body, |parts| encoded.try_write(parts))
            && !self.write_after_waiting(body, patience)
        {
            return false;
        }
        self.wake_reader_and_put_in();
        true
    }

    /// [`offer_encoded`](Self::offer_encoded) once the ring had no room:
    /// waits for room, then writes. Apart, so that the common send has
    /// one inlined write (a second one made the compiler call it).
    #[cold]
    #[inline(never)]
    fn write_after_waiting(&mut self, body: &[u8], patience: Duration) -> bool {
        let Some(encoded) = self.encoded.as_mut() else {
            return false;
        };
        // What changed while it waited is looked at again.
        if !monocoque_zmtp::encode_single(body, |parts| encoded.wait_for_room(parts, patience))
            || !self.writable.load(Ordering::Acquire)
        {
            return false;
        }
        monocoque_zmtp::encode_single(body, |parts| encoded.try_write(parts))
    }

    /// An encoded message went in: its reader woken if it waits, and the
    /// message counted (after the wake: its fence is the one `put_in`
    /// counts on).
    #[inline]
    fn wake_reader_and_put_in(&self) {
        if let Some(encoded) = &self.encoded {
            encoded.wake_reader();
            if self.put_in() {
                encoded.wake_reader();
            }
        }
    }

    /// A message went in, and its ring's wake has run: counted
    /// (`LaneCounts::put_in`), and the lane listed as one this thread sent
    /// into.
    ///
    /// Returns whether it counted the lane in: the pump may have taken the
    /// message and gone idle before (its last look found the lane not
    /// counted), so the caller wakes it again on the same ring. That wake's
    /// fence pairs with the pump's registration (on both rings whenever it
    /// goes idle): either it finds the pump waiting, or the pump's look
    /// finds the lane counted. The push's own wake cleared the ring's
    /// waiting flag, so the second finds it set only if the pump has
    /// registered since.
    #[must_use]
    fn put_in(&self) -> bool {
        let counted_in = self.counts.put_in();
        let queued = self.counts.queued();
        SENT_INTO.with(|sent| {
            let mut sent = sent.borrow_mut();
            if !sent.iter().any(|(_, q)| Arc::ptr_eq(q, queued)) {
                sent.push((self.counts.context(), queued.clone()));
            }
        });
        counted_in
    }
}

impl Drop for LaneSender {
    /// Once the pump is gone, what went into the rings as it went is never
    /// taken, and nobody else counts the lane out.
    fn drop(&mut self) {
        if self.ring.is_closed() {
            self.counts.leave();
        }
    }
}

/// A new send lane of a context whose lanes' messages are counted in
/// `backlog`: the user's side and the context's.
pub(super) fn send_lane(backlog: Arc<Backlog>, kind: SocketType) -> (LaneSender, SendLane) {
    let counts = LaneCounts::new(backlog);
    let (ring, incoming) = spsc::channel(SEND_LANE_CAPACITY);
    let (encoded, encoded_in) = match has_encoded_lane(kind) {
        true => {
            let (w, r) = byte_lane::channel(ENCODED_LANE_BYTES);
            (Some(w), Some(r))
        }
        false => (None, None),
    };
    let writable = Arc::new(AtomicBool::new(false));
    (
        LaneSender {
            ring,
            encoded,
            gone_seen: 0,
            writable: writable.clone(),
            counts: counts.clone(),
        },
        SendLane {
            incoming,
            encoded: encoded_in,
            writable,
            counts,
        },
    )
}

/// The context's side of a send lane, before a socket's serve task takes
/// it into a [`LanePump`].
pub(super) struct SendLane {
    incoming: spsc::Receiver<Msg>,
    /// The encoded ring, for the types that have one.
    encoded: Option<ByteReader>,
    /// Shared with the user's side: the lane may take messages.
    writable: Arc<AtomicBool>,
    counts: LaneCounts,
}

/// How often a closed socket's pump looks whether anyone is left to take
/// what its lane still holds.
const CLOSE_CHECK: Duration = Duration::from_millis(100);

/// How many messages one [`LanePump::drive`] takes out of the ring before
/// it lets the reactor run the tasks other threads woke (a ringful): a
/// publisher's ZMQ_DONTWAIT stream on another CPU can refill the ring as
/// fast as it is drained, and the context's other sockets, their commands,
/// connections and timers would wait for it to pause.
const DRIVE_BUDGET: usize = SEND_LANE_CAPACITY;

/// A send from the lane that waits for room.
type InFlight<'a> = Pin<Box<dyn Future<Output = Result<()>> + 'a>>;

/// Moves a send lane's messages into its socket, in order, on the socket's
/// serve task: driven beside every command and while waiting for the next,
/// so a message the socket made wait goes as soon as there is room, even
/// while the user waits for a reply.
pub(super) struct LanePump<'a> {
    socket: &'a Socket,
    incoming: spsc::Receiver<Msg>,
    /// The encoded ring (`LaneSender`), for the types that have one.
    encoded: Option<ByteReader>,
    writable: Arc<AtomicBool>,
    counts: LaneCounts,
    /// The message the socket made wait, on its way: the lane stays shut
    /// until it has gone. Boxed once per stall, not per message.
    in_flight: Option<InFlight<'a>>,
    /// What was taken out of the rings and is not in the socket yet, in
    /// order: messages behind the one in flight (or that came while the
    /// lane was shut), taken at once, so that the context's `unlooked`
    /// count never waits for a peer (`lane_backlog.rs`); and the encoded
    /// ring's batch being handed over. At most the rings' capacities, and
    /// a message a send put in as the lane was shutting.
    parked: VecDeque<Queued>,
    /// Whether to watch the socket for room to open the lane: not once it
    /// says it can never send.
    watch: bool,
}

/// What a pump hands its socket in one go: what is parked, then the
/// rings', at most `left` messages of these taken.
struct LaneRun<'p> {
    parked: &'p mut VecDeque<Queued>,
    incoming: &'p mut spsc::Receiver<Msg>,
    encoded: Option<&'p mut ByteReader>,
    /// How many messages were taken out of the rings.
    taken: usize,
    /// How many more may be.
    left: usize,
}

impl LaneRun<'_> {
    /// Takes the encoded ring's batch, if there is one and the budget
    /// allows, into `parked` as one run (the other ring is empty while it
    /// holds anything: `LaneSender`).
    fn take_encoded(&mut self) -> bool {
        if self.left == 0 {
            return false;
        }
        let n = park_encoded(self.encoded.as_deref_mut(), self.parked);
        self.taken += n;
        self.left = self.left.saturating_sub(n);
        n > 0
    }
}

/// Parks the encoded ring's batch, if there is one, behind what `parked`
/// holds, as one run (two when it passes the ring's end); returns its
/// messages. The runs borrow the ring's memory (`byte_lane`): the
/// connection writes them from there.
fn park_encoded(mut encoded: Option<&mut ByteReader>, parked: &mut VecDeque<Queued>) -> usize {
    let mut n = 0;
    // Twice at most: a take stops at the ring's end, and a writer that
    // keeps writing must not keep this thread here.
    for _ in 0..2 {
        let Some(bytes) = encoded.as_deref_mut().and_then(ByteReader::take_all) else {
            break;
        };
        let run = WireRun::from_encoded(bytes);
        n += run.messages();
        if !run.is_empty() {
            parked.push_back(Queued::Wire(Box::new(run)));
        }
    }
    n
}

impl MessageRun for LaneRun<'_> {
    fn next_message(&mut self) -> Option<Msg> {
        loop {
            match self.parked.front_mut() {
                Some(Queued::Wire(run)) => {
                    let msg = run.next_message();
                    if run.is_empty() {
                        self.parked.pop_front();
                    }
                    match msg {
                        Some(msg) => return Some(msg),
                        None => continue,
                    }
                }
                Some(Queued::Msg(_)) => match self.parked.pop_front() {
                    Some(Queued::Msg(msg)) => return Some(msg),
                    _ => continue,
                },
                None => {}
            }
            if self.take_encoded() {
                continue;
            }
            if self.left == 0 {
                return None;
            }
            let msg = self.incoming.try_recv_quietly()?;
            self.taken += 1;
            self.left -= 1;
            return Some(msg);
        }
    }

    /// The encoded batch as runs of up to `max` (one queue entry each),
    /// or the ring's messages, once no message is parked: none is empty (a
    /// send puts no empty message in the lane,
    /// `BlockingSocket::offer_to_lane`).
    fn move_into(&mut self, queue: &mut Queue, max: usize, pressure: PoolPressure) -> usize {
        if self.parked.is_empty() {
            self.take_encoded();
        }
        match self.parked.front_mut() {
            Some(Queued::Msg(_)) => return 0,
            Some(Queued::Wire(run)) => {
                let part = run.split_to(max);
                if run.is_empty() {
                    self.parked.pop_front();
                }
                let n = part.messages();
                // Never a receive-pool loan: the pressure keeps it as it is.
                queue.push_run(part, pressure);
                return n;
            }
            None => {}
        }
        let moved = self.incoming.recv_run_quietly(max.min(self.left), |msg| {
            debug_assert!(!msg.is_empty(), "no empty message in a send lane");
            queue.push_under(msg, pressure);
        });
        self.taken += moved;
        self.left -= moved;
        moved
    }
}

impl<'a> LanePump<'a> {
    /// The lane's `queued` count: a command on this socket needs no settle
    /// for it (the serve task hands the lane over before the command runs).
    pub(super) fn queued(&self) -> &Arc<QueuedCount> {
        self.counts.queued()
    }

    pub(super) fn new(lane: SendLane, socket: &'a Socket) -> Self {
        LanePump {
            socket,
            incoming: lane.incoming,
            encoded: lane.encoded,
            writable: lane.writable,
            counts: lane.counts,
            in_flight: None,
            parked: VecDeque::new(),
            watch: true,
        }
    }

    /// Hands what the lane holds to the socket until the socket makes a
    /// message wait, taking at most `budget` more out of the ring; then
    /// shuts the lane and starts that message's wait. Returns whether
    /// nothing waits (all went, or the budget ran out).
    fn pass_now(&mut self, budget: &mut usize) -> bool {
        loop {
            let mut run = LaneRun {
                parked: &mut self.parked,
                incoming: &mut self.incoming,
                encoded: self.encoded.as_mut(),
                taken: 0,
                left: *budget,
            };
            let (went, stop) = self.socket.offer_each(&mut run);
            let taken = run.taken;
            if taken > 0 {
                // One wake for the run (a full fence each), for a sender
                // waiting for room.
                self.incoming.wake_sender();
            }
            // An encoded batch is taken whole: it may pass the budget.
            *budget = budget.saturating_sub(taken);
            if taken > 0 {
                follow_sender::taken(self.sender_cpu(), taken);
            }
            self.counts.gone(went);
            match stop {
                Ok(None) => return true,
                Ok(Some(back)) => {
                    self.wait_with(back);
                    return false;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "a message from the send lane was dropped");
                }
            }
        }
    }

    /// The CPU the lane's sender last woke the pump from, by either ring.
    fn sender_cpu(&self) -> Option<usize> {
        self.encoded
            .as_ref()
            .and_then(ByteReader::woken_from_cpu)
            .or_else(|| self.incoming.woken_from_cpu())
    }

    /// The socket made `msg` wait: shuts the lane, starts that wait, and
    /// parks what the ring holds behind it.
    fn wait_with(&mut self, msg: Msg) {
        self.writable.store(false, Ordering::Release);
        self.in_flight = Some(Box::pin(self.socket.send_until(msg, None)));
        self.park_encoded();
        while let Some(msg) = self.incoming.try_recv() {
            self.parked.push_back(Queued::Msg(msg));
        }
    }

    /// Parks the encoded ring's batch, if any; returns its messages.
    fn park_encoded(&mut self) -> usize {
        park_encoded(self.encoded.as_mut(), &mut self.parked)
    }

    /// While the lane is shut: parks what comes into the rings (a send
    /// that found the lane open as it was shutting), registering `cx` for
    /// more.
    fn park_arrivals(&mut self, cx: &mut std::task::Context<'_>) {
        loop {
            self.park_encoded();
            if let Some(encoded) = self.encoded.as_mut() {
                if encoded.poll_readable(cx).is_ready() && !encoded.is_empty() {
                    continue;
                }
            }
            match self.incoming.poll_recv(cx) {
                Poll::Ready(Some(msg)) => self.parked.push_back(Queued::Msg(msg)),
                _ => return,
            }
        }
    }

    /// Hands `msg`, just taken from the lane, to the socket; if the socket
    /// makes it wait, shuts the lane and starts that wait. Returns whether
    /// it went (or was dropped: the socket is closed).
    fn pass(&mut self, msg: Msg) -> bool {
        match self.socket.offer(msg) {
            Ok(None) => self.done(),
            Ok(Some(back)) => {
                self.wait_with(back);
                return false;
            }
            Err(e) => {
                tracing::debug!(error = %e, "a message from the send lane was dropped");
                self.done();
            }
        }
        true
    }

    /// A message of the lane is in its socket (or dropped): it leaves the
    /// lane's `queued` count.
    fn done(&self) {
        self.counts.gone(1);
    }

    /// Whether everything the lane held is in the socket now (handing over
    /// what it can without waiting).
    pub(super) fn try_drain(&mut self) -> bool {
        let mut all = usize::MAX;
        self.in_flight.is_none() && self.pass_now(&mut all)
    }

    /// Makes what progress can be made now, registering `cx` for the rest:
    /// the waiting message, the lane's messages, or room to open the lane.
    /// After [`DRIVE_BUDGET`] messages taken from the ring it wakes `cx`
    /// behind the tasks other threads woke, and returns, so that a sender
    /// that keeps the lane from running dry does not keep the context's
    /// thread to itself.
    pub(super) fn drive(&mut self, cx: &mut std::task::Context<'_>) {
        // Gone idle, the lane leaves the context's backlog (`lane_backlog.rs`):
        // with nothing in its rings, all it took is in the socket or parked.
        // A message that came meanwhile is looked at after the tasks other
        // threads woke, as a spent budget is.
        if self.drive_until_idle(cx) && !self.counts.count_out(|| self.rings_are_empty()) {
            monocoque_runtime::wake_behind_remote(cx.waker());
        }
    }

    /// Whether both rings are empty (the pump has taken all they held).
    fn rings_are_empty(&self) -> bool {
        self.incoming.is_empty() && self.encoded.as_ref().is_none_or(ByteReader::is_empty)
    }

    /// [`drive`](Self::drive) until `cx` is registered for more (`true`:
    /// the rings were found empty) or the budget is spent (`false`).
    fn drive_until_idle(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        let mut budget = DRIVE_BUDGET;
        loop {
            if budget == 0 {
                monocoque_runtime::wake_behind_remote(cx.waker());
                return false;
            }
            if let Some(sending) = self.in_flight.as_mut() {
                match sending.as_mut().poll(cx) {
                    Poll::Ready(sent) => {
                        self.in_flight = None;
                        self.done();
                        if let Err(e) = sent {
                            tracing::debug!(error = %e, "a message from the send lane was dropped");
                        }
                        if self.pass_now(&mut budget) {
                            self.writable.store(true, Ordering::Release);
                        }
                        continue;
                    }
                    Poll::Pending => {
                        self.park_arrivals(cx);
                        return true;
                    }
                }
            }
            if !self.writable.load(Ordering::Acquire) {
                // Shut with nothing waiting: open it once the socket has room.
                if !self.watch {
                    self.park_arrivals(cx);
                    return true;
                }
                match self.socket.poll_send_room(cx) {
                    Poll::Ready(Ok(())) => {
                        if self.pass_now(&mut budget) {
                            self.writable.store(true, Ordering::Release);
                        }
                        continue;
                    }
                    Poll::Ready(Err(_)) => self.watch = false,
                    Poll::Pending => {}
                }
                self.park_arrivals(cx);
                return true;
            }
            // Open: hand over what the lane holds in one go, then wait for
            // more (a message that came between the two is passed here).
            if !self.pass_now(&mut budget) || budget == 0 {
                continue;
            }
            if let Some(encoded) = self.encoded.as_mut() {
                if encoded.poll_readable(cx).is_ready() && !encoded.is_empty() {
                    continue;
                }
            }
            match self.incoming.poll_recv(cx) {
                Poll::Ready(Some(msg)) => {
                    budget -= 1;
                    self.pass(msg);
                }
                // `None`: the user's side is gone; its command ring says so too.
                _ => return true,
            }
        }
    }

    /// Waits until everything the lane held is in the socket: `true`, or
    /// `false` once `deadline` passes first.
    pub(super) async fn drained_by(&mut self, deadline: Option<Instant>) -> bool {
        let mut timer = deadline.map(|d| Box::pin(sleep_until(d)));
        poll_fn(|cx| {
            self.drive(cx);
            if self.try_drain() {
                return Poll::Ready(true);
            }
            match timer.as_mut() {
                Some(t) => t.as_mut().poll(cx).map(|()| false),
                None => Poll::Pending,
            }
        })
        .await
    }

    /// The handle is gone: what the lane holds was sent as far as the user
    /// knows, so it goes as the socket's queued messages do, within LINGER,
    /// and while the socket has a peer (without one, the user's send would
    /// still be waiting in libzmq, and nothing would be queued).
    pub(super) async fn close(mut self, linger: Option<Duration>) {
        let mut timer = linger.map(|l| Box::pin(sleep_until(Instant::now() + l)));
        let mut check = Box::pin(sleep(CLOSE_CHECK));
        poll_fn(|cx| {
            self.drive(cx);
            if self.try_drain() {
                return Poll::Ready(());
            }
            if let Some(t) = timer.as_mut() {
                if t.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(());
                }
            }
            while check.as_mut().poll(cx).is_ready() {
                if self.socket.peer_count() == 0 {
                    tracing::debug!("a closed socket's lane had messages and no peer: dropped");
                    return Poll::Ready(());
                }
                check = Box::pin(sleep(CLOSE_CHECK));
            }
            Poll::Pending
        })
        .await
    }
}

impl Drop for LanePump<'_> {
    /// What the lane still holds leaves the backlog with it.
    fn drop(&mut self) {
        let parked: usize = self
            .parked
            .iter()
            .map(|p| match p {
                Queued::Msg(_) => 1,
                Queued::Wire(run) => run.messages(),
            })
            .sum();
        let mut gone = usize::from(self.in_flight.take().is_some()) + parked;
        gone += self.park_encoded();
        while self.incoming.try_recv().is_some() {
            gone += 1;
        }
        self.counts.gone(gone);
        self.counts.leave();
    }
}
