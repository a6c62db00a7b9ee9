//! The receive lane: messages the context's thread moves to a socket's
//! handle, so that a stream of receives asks the context's thread as
//! little as the socket type's rules allow.
//!
//! A receive that must ask the context's thread costs two thread wake-ups
//! (the question, the answer); libzmq's `local_thr`, 64 B: 16 % of the
//! samples were those switches (docs/BENCHMARKS.md). Here the serve task's
//! [`RecvPump`] fills an SPSC ring the handle takes from; the handle asks
//! (`Command::FillLane`) only when it finds the ring empty: to wait,
//! within RCVTIMEO, or to be told there is nothing (ZMQ_DONTWAIT).
//!
//! **HWM counts stay libzmq's**: a message in the lane still counts
//! against the RCVHWM of the pipe it came from (a [`HeldCredit`]) until the
//! handle takes it, as a message in libzmq's pipe counts until the
//! application reads it. The pump gives the credits back, in order, for
//! what the handle took; when a pipe with messages in the lane is full it
//! asks to be woken at the handle's next take, so a sender at SNDHWM +
//! RCVHWM resumes once the application has read LWM of them (the pipe's
//! reads reach its writer half an HWM at a time, as libzmq's:
//! `pipe/queue.rs`). (SUB and XSUB once took a batch out of their pipes
//! at each receive instead, without the credit: the room it freed let a
//! publisher with XPUB_NODROP behind a proxy send more than libzmq's
//! pipes hold, libzmq's test_proxy_hwm.)
//!
//! **Taken ahead only where receiving filters nothing, and only from a
//! single pipe** ([`takes_ahead`]: all but SUB). With several pipes, the fair queue chooses the next
//! message when the application receives (one from each pipe that has one
//! then, in turn, as libzmq's test_spec_pushpull checks), so the lane is
//! filled only when the handle asks, with what is queued then, in the fair
//! queue's order. SUB's lane is filled only on asking too: its filter is
//! the one in force at the receive (libzmq's `xsub_t::xrecv` filters at
//! the read; XSUB's does not filter). Under CONFLATE only
//! the newest message is kept: one at a time, on asking.
//!
//! **A ZMQ_DONTWAIT receive on an empty lane asks nothing when the lane is
//! caught up**: taking ahead, the pump sets [`RecvLaneHandle::caught_up`]
//! once the socket has nothing more for it, and the socket's signals clear
//! it at anything new (a message in an empty pipe, a pipe coming or going),
//! as does every command (a ROUTER's own connect or disconnect queues a
//! ROUTER_NOTIFY notice without a signal), on the context's thread, before
//! any command that caused it answers. So
//! the handle answers EAGAIN itself (no round trip, as libzmq's is local)
//! unless something may be on its way: the flag is clear, this thread sent
//! into a send lane since its last command, or a send lane of the context
//! holds a message its pump has not taken yet (`lane_backlog.rs`), which a
//! command would first let reach its socket.
//!
//! No lane for REQ and REP (their receive moves their turn), XPUB (MANUAL
//! acts on the notice read last) or STREAM.
//!
//! ```text
//!  context thread                               user thread
//!  Socket ──poll_recv_held──▶ RecvPump ──▶ [lane ring] ──▶ recv
//!        ◀── credits dropped as the lane empties ──┘   (empty: FillLane)
//! ```

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use monocoque_runtime::spsc::{self, TrySendError};
use monocoque_runtime::{sleep_until, EventFd};
use monocoque_zmtp::{Msg, SocketType, WireRun};

use super::command::Received;
use super::lane_properties::{LaneItem, Properties, PropertiesStamp, PropertiesTrack};
use crate::pipe::{HeldCredit, Queued};
use crate::{Error, Result, Socket};

/// Messages a receive lane holds at most (each still counted against its
/// pipe's HWM, so never more than that HWM from one pipe). Each handover of a full lane costs
/// the receiving thread a wake-up; libzmq's `local_thr` at 64 B over tcp,
/// 5 runs each, medians: 128 slots 2.34-2.36 M msg/s, 512 slots 2.52-2.59,
/// 1,024 slots 2.64 (docs/BENCHMARKS.md, attempt 5). 512 slots of 56 bytes
/// (28 KiB a socket, touched only as used) take most of that.
pub(super) const RECV_LANE_CAPACITY: usize = 512;

/// Whether receives on `kind` go through a receive lane: its receive
/// changes no state of the socket.
pub(super) fn has_recv_lane(kind: SocketType) -> bool {
    use SocketType::*;
    matches!(kind, Pull | Dealer | Router | Pair | Sub | XSub)
}

/// Whether the pump may take `kind`'s messages before the handle asks: its
/// receive filters nothing either (not SUB, whose filter is the one in
/// force when the application receives).
pub(super) fn takes_ahead(kind: SocketType) -> bool {
    kind != SocketType::Sub
}

/// A new receive lane: the handle's side, and the context's.
pub(super) fn recv_lane() -> (RecvLaneHandle, RecvLane) {
    let (tx, rx) = spsc::channel(RECV_LANE_CAPACITY);
    let caught_up = Arc::new(AtomicBool::new(false));
    (
        RecvLaneHandle {
            ring: rx,
            run: None,
            properties: PropertiesTrack::default(),
            caught_up: caught_up.clone(),
        },
        RecvLane {
            ring: tx,
            caught_up,
        },
    )
}

/// The handle's side of a receive lane.
pub(super) struct RecvLaneHandle {
    ring: spsc::Receiver<LaneItem>,
    /// The run in wire form taken last, while it has messages: they come
    /// before the ring's, with the properties taken last.
    run: Option<Box<WireRun>>,
    /// The senders' properties as the ring's messages change them
    /// (`lane_properties.rs`).
    properties: PropertiesTrack,
    /// Set by the pump when the lane holds all the socket had, cleared by
    /// the socket's signals at anything new (see the module's comment).
    caught_up: Arc<AtomicBool>,
}

impl RecvLaneHandle {
    /// The lane's next message, with its sender's properties.
    pub(super) fn take(&mut self) -> Option<Received> {
        if let Some(msg) = self.next_of_run() {
            return Some((msg, self.properties.last().clone()));
        }
        let (item, properties) = self.properties.resolve(self.ring.try_recv()?);
        Some((self.open(item)?, properties))
    }

    /// The lane's next message, its sender's properties put in `slot`
    /// (untouched when they are there already).
    #[inline]
    pub(super) fn take_into(
        &mut self,
        slot: &mut Option<Arc<crate::PeerProperties>>,
    ) -> Option<Msg> {
        if let Some(msg) = self.next_of_run() {
            self.properties.fill(slot);
            return Some(msg);
        }
        let item = self.ring.try_recv()?;
        let item = self.properties.resolve_into(item, slot);
        self.open(item)
    }

    /// The open run's next message (or, with none open, the first of the
    /// ring's next entry when that is a run) handed to `take` in place,
    /// when it is a single frame, its sender's properties put in `slot`
    /// first (`BlockingSocket::take_single_held`).
    #[inline]
    pub(super) fn take_single_into<R>(
        &mut self,
        slot: &mut Option<Arc<crate::PeerProperties>>,
        take: impl FnOnce(&[u8], &Option<Arc<crate::PeerProperties>>) -> R,
    ) -> Option<R> {
        if self.run.is_none() {
            // The ring's next entry, when it is a run: opened here, so
            // that its first message too is copied in place (taken as a
            // message, it was decoded into a buffer of its own).
            if !matches!(self.ring.peek(), Some((Queued::Wire(_), _))) {
                return None;
            }
            let item = self.ring.try_recv()?;
            if let Queued::Wire(run) = self.properties.resolve_into(item, slot) {
                self.run = Some(run);
            }
        }
        let run = self.run.as_mut()?;
        let body = run.next_single()?;
        self.properties.fill(slot);
        let taken = take(body, slot);
        if run.is_empty() {
            self.run = None;
        }
        Some(taken)
    }

    /// What is left of the run opened last, with its sender's
    /// properties: it comes before the ring's entries, and is no longer
    /// the pump's to drop (it counts it taken).
    pub(super) fn take_opened(&mut self) -> Option<(Queued, Option<Arc<crate::PeerProperties>>)> {
        let run = self.run.take().filter(|r| !r.is_empty())?;
        Some((Queued::Wire(run), self.properties.last().clone()))
    }

    /// The ring's next whole entry (a run in wire form as one), with its
    /// sender's properties: to skip a dropped pipe's, by the positions the
    /// pump counts ([`take_opened`](Self::take_opened) first).
    pub(super) fn take_entry(&mut self) -> Option<(Queued, Option<Arc<crate::PeerProperties>>)> {
        Some(self.properties.resolve(self.ring.try_recv()?))
    }

    /// The next message of the run opened last.
    #[inline]
    fn next_of_run(&mut self) -> Option<Msg> {
        let run = self.run.as_mut()?;
        let msg = run.next_message();
        if run.is_empty() {
            self.run = None;
        }
        msg
    }

    /// An entry just taken from the ring: a message, or a run whose first
    /// message it returns (the rest wait in `run`).
    #[inline]
    fn open(&mut self, item: Queued) -> Option<Msg> {
        match item {
            Queued::Msg(msg) => Some(msg),
            Queued::Wire(run) => {
                self.run = Some(run);
                self.next_of_run()
            }
        }
    }

    /// Entries in the lane, a run counted once, what is left of an opened
    /// run included: not zero while it holds a message.
    pub(super) fn len(&self) -> usize {
        self.ring.len() + usize::from(self.run.is_some())
    }

    /// Whether the lane held everything the socket had to give when the
    /// pump last looked, with nothing new since (read before the ring:
    /// what the pump moved before it said so is there to take).
    pub(super) fn caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Acquire)
    }
}

/// The context's side of a receive lane, before a serve task takes it into
/// a [`RecvPump`].
pub(super) struct RecvLane {
    ring: spsc::Sender<LaneItem>,
    caught_up: Arc<AtomicBool>,
}

/// Moves a socket's messages into its receive lane, on the socket's serve
/// task: driven while the task waits for a command and while a receive
/// waits for the lane.
pub(super) struct RecvPump<'a> {
    socket: &'a Socket,
    lane: spsc::Sender<LaneItem>,
    /// The senders' properties as the lane's messages change them
    /// (`lane_properties.rs`).
    stamp: PropertiesStamp,
    /// See [`RecvLaneHandle::caught_up`].
    caught_up: Arc<AtomicBool>,
    /// The messages put in the lane, in order, as runs taken together: each
    /// run's RCVHWM credit (none for a message no pipe holds, such as a
    /// ROUTER_NOTIFY notice) and how many of it the handle has not taken.
    credits: VecDeque<CreditRun>,
    /// The entries the runs in `credits` count.
    in_runs: usize,
    /// The messages of each entry of the run being taken (a buffer kept
    /// between runs).
    wire_counts: Vec<usize>,
    /// The socket's type lets the pump take messages before the handle
    /// asks ([`takes_ahead`]).
    takes_ahead: bool,
    /// The socket refused a receive: the pump stops.
    stopped: bool,
    /// The socket's readiness descriptor (ZMQ_FD), once the handle asked
    /// for it: signalled when a message lands in an empty lane, since the
    /// socket's own signal may have been for the message the pump took.
    readiness: Option<Arc<EventFd>>,
}

impl<'a> RecvPump<'a> {
    pub(super) fn new(lane: RecvLane, socket: &'a Socket) -> Self {
        socket.watch_receives(lane.caught_up.clone());
        RecvPump {
            socket,
            lane: lane.ring,
            stamp: PropertiesStamp::default(),
            caught_up: lane.caught_up,
            credits: VecDeque::with_capacity(RECV_LANE_CAPACITY),
            in_runs: 0,
            wire_counts: Vec::new(),
            takes_ahead: takes_ahead(socket.socket_type()),
            stopped: false,
            readiness: None,
        }
    }

    /// Signals `fd`, the socket's readiness descriptor, from now on when a
    /// message lands in an empty lane.
    pub(super) fn signal_readiness(&mut self, fd: Arc<EventFd>) {
        // What the lane holds already came before the descriptor: the
        // socket's own signal will not tell of it.
        if !self.lane.is_empty() {
            fd.signal();
        }
        self.readiness = Some(fd);
    }

    /// A command came: every take the handle made before it is seen now
    /// (the command's ring orders them), so their credits go back first,
    /// and a count of what is queued leaves out what the handle has (the
    /// last drive may have looked just before the take). The command may
    /// change the socket (a connect or disconnect may queue a ROUTER_NOTIFY
    /// notice without a signal): until the pump has looked again, a
    /// ZMQ_DONTWAIT receive asks.
    pub(super) fn before_command(&mut self) {
        self.release_taken();
        self.caught_up.store(false, Ordering::Release);
    }

    /// Messages in the lane the handle has not taken yet.
    pub(super) fn in_lane(&self) -> usize {
        self.lane.len()
    }

    /// Whether the lane holds a message for the handle.
    pub(super) fn has_message(&self) -> bool {
        !self.lane.is_empty()
    }

    /// Gives back the credits of the messages the handle took: the lane
    /// holds fewer than were put in, and the oldest went first.
    fn release_taken(&mut self) {
        // Never below zero: a run cut short by a closed lane is not
        // recorded, though part of it went in.
        let mut taken = self.in_runs.saturating_sub(self.lane.len());
        self.in_runs -= taken;
        while taken > 0 {
            let Some(run) = self.credits.front_mut() else {
                return;
            };
            if run.entries > taken {
                // Entries of one message each (a run in wire form is an
                // entry of its own, `record_entries`).
                run.entries -= taken;
                if let Some(credit) = run.credit.as_mut() {
                    credit.release(taken);
                }
                return;
            }
            taken -= run.entries;
            self.credits.pop_front();
        }
    }

    /// Puts `run` in the lane's accounts (its entries are in the lane).
    fn record(&mut self, run: CreditRun) {
        self.in_runs += run.entries;
        self.credits.push_back(run);
    }

    /// Puts `entries` entries taken from one pipe under `credit` in the
    /// lane's accounts. With a run in wire form among them (`wire`), each
    /// entry gets its part of the credit, which goes back whole when the
    /// handle takes it: the lane counts entries, the credit messages.
    fn record_entries(&mut self, credit: Option<HeldCredit>, entries: usize, wire: bool) {
        let mut credit = match credit {
            Some(credit) if wire => credit,
            credit => {
                self.record(CreditRun { credit, entries });
                return;
            }
        };
        let counts = std::mem::take(&mut self.wire_counts);
        for &messages in counts.iter().take(entries) {
            let part = credit.split_first(messages);
            self.record(CreditRun {
                credit: Some(part),
                entries: 1,
            });
        }
        self.wire_counts = counts;
    }

    /// Moves what the socket has into the lane while it has room,
    /// registering `cx` for what lets it go on: the socket's next message,
    /// room in the lane, or a take that frees a full pipe. Only ahead of
    /// the handle's asking while the socket reads from one pipe at most
    /// (see [`fill`](Self::fill) for the others).
    pub(super) fn drive(&mut self, cx: &mut std::task::Context<'_>) {
        self.pump(cx, false);
    }

    /// `demand`: the handle found the lane empty and waits for it.
    fn pump(&mut self, cx: &mut std::task::Context<'_>, demand: bool) {
        self.release_taken();
        let before = self.in_runs;
        self.move_into_lane(cx, demand);
        // The messages went in without a wake each (a full fence): one wake
        // for all of them, before the task does anything else. Counted by
        // `in_runs`, which only `move_into_lane` changes here, and only up
        // (a run cut short by a closed lane is not counted, and nobody is
        // left to wake then).
        if self.in_runs > before {
            self.lane.wake_receiver();
        }
    }

    /// [`pump`](Self::pump) after its credits are released, without the
    /// wake at the end.
    fn move_into_lane(&mut self, cx: &mut std::task::Context<'_>, demand: bool) {
        if self.stopped || self.lane.is_closed() {
            return;
        }
        // With several pipes the fair queue picks the next message when the
        // application receives (libzmq's order: one from each in turn, for
        // those that have one then), and under CONFLATE only the newest
        // is kept: no taking ahead of the receive then.
        let conflate = self.socket.conflates();
        let ahead = self.takes_ahead && !conflate && self.socket.pipe_count() <= 1;
        let asked = demand && self.lane.is_empty();
        let limit = match (ahead || asked, conflate) {
            (false, _) => 0,
            (true, true) => 1,
            (true, false) => RECV_LANE_CAPACITY,
        };
        let mut moved = 0;
        // Taking ahead, the lane is caught up once the socket said it had
        // nothing more (its signals clear the flag at anything new).
        let mut emptied = false;
        let by_runs = match ahead.then(|| self.pump_runs(cx)).flatten() {
            Some(socket_emptied) => {
                emptied = socket_emptied;
                true
            }
            None => false,
        };
        while !by_runs && moved < limit && !self.lane.is_full() {
            match self.socket.poll_recv_held(cx) {
                Poll::Ready(Ok((msg, properties, credit))) => {
                    let first = self.lane.is_empty();
                    let properties = self.stamp.stamp(properties.as_ref());
                    match self.lane.try_send_quietly((Queued::Msg(msg), properties)) {
                        Ok(()) => {
                            moved += 1;
                            self.record(CreditRun { credit, entries: 1 });
                            if let Some(fd) = self.readiness.as_ref().filter(|_| first) {
                                fd.signal();
                            }
                        }
                        // Not full (checked above); closed: the handle is
                        // gone, and its serve task ends with the message.
                        Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                            self.stamp.lost();
                            return;
                        }
                    }
                }
                Poll::Ready(Err(e)) => {
                    tracing::debug!(error = %e, "the receive lane stops");
                    self.stopped = true;
                    return;
                }
                Poll::Pending => {
                    emptied = true;
                    break;
                }
            }
        }
        self.caught_up.store(ahead && emptied, Ordering::Release);
        if self.lane.is_full() || self.holds_up_a_writer(ahead) {
            self.lane.wake_on_take(cx);
            // A take between the check and the registration: look again.
            if self.lane.len() < self.in_runs {
                cx.waker().wake_by_ref();
            }
        }
    }

    /// Taking ahead from one pipe: moves runs of its messages into the
    /// lane, as many as the lane has room for, one borrow of the socket
    /// and one credit per run (a message at a time cost the context's
    /// thread a fair-queue turn, a credit and three pipe lookups each).
    /// Returns whether the socket had nothing more (it did not stop for
    /// want of room); `None` when the socket's type takes one message at a
    /// time (ROUTER), which [`pump`](Self::pump) then does.
    fn pump_runs(&mut self, cx: &mut std::task::Context<'_>) -> Option<bool> {
        loop {
            let room = self.lane.capacity() - self.lane.len();
            if room == 0 {
                return Some(false);
            }
            let first = self.lane.is_empty();
            let lane = &mut self.lane;
            let stamp = &mut self.stamp;
            let wire_counts = &mut self.wire_counts;
            wire_counts.clear();
            let mut lost = false;
            // Read at the first run in wire form only (a thread-local
            // lookup in the C API's library).
            let mut pressure = None;
            let run = self.socket.poll_recv_run(cx, room, |msgs, properties| {
                // One sender's messages: its properties stamped on the
                // first, the same for the rest. Moved into the lane at
                // once, each with no look at it on the way (a message at a
                // time went through the stack in parts of the wrong
                // widths, a store-forwarding stall each: docs/BENCHMARKS.md,
                // attempt 13). Room was counted above and only this side
                // fills the lane; short: the handle is gone, and its serve
                // task ends with these messages.
                // A run in wire form holds a receive buffer until the
                // application has read it: under the pool's pressure it is
                // copied out, as a queue copies its loans (`pipe/queue.rs`).
                let n = msgs.len();
                let mut first = Some(stamp.stamp(properties.as_ref()));
                // Each entry's messages, counted from the first run in
                // wire form on (a run of messages only counts nothing).
                let mut at = 0;
                let mut items = msgs.map(|item| {
                    at += 1;
                    let item = match item {
                        Queued::Wire(run) => {
                            if wire_counts.is_empty() {
                                wire_counts.resize(at - 1, 1);
                            }
                            wire_counts.push(run.messages());
                            let pressure =
                                *pressure.get_or_insert_with(monocoque_runtime::recv_pool_pressure);
                            match pressure {
                                monocoque_runtime::PoolPressure::Low => Queued::Wire(run),
                                _ => Queued::Wire(run).detached(),
                            }
                        }
                        msg => {
                            if !wire_counts.is_empty() {
                                wire_counts.push(1);
                            }
                            msg
                        }
                    };
                    (item, first.take().unwrap_or(Properties::Same))
                });
                if lane.send_run_quietly(&mut items, n) < n {
                    stamp.lost();
                    lost = true;
                }
            });
            match run? {
                Poll::Pending => return Some(true),
                Poll::Ready(Err(e)) => {
                    tracing::debug!(error = %e, "the receive lane stops");
                    self.stopped = true;
                    return Some(false);
                }
                Poll::Ready(Ok((entries, credit))) => {
                    if lost {
                        return Some(false);
                    }
                    self.record_entries(credit, entries, pressure.is_some());
                    if let Some(fd) = self.readiness.as_ref().filter(|_| first) {
                        fd.signal();
                    }
                }
            }
        }
    }

    /// Where in the lane (0: the next the handle takes) the messages of
    /// pipes the socket has dropped are: a disconnect or an unbind discards
    /// what such a pipe held, as libzmq's does, and the handle skips them.
    pub(super) fn dropped_positions(&mut self) -> Vec<usize> {
        self.release_taken();
        let mut positions = Vec::new();
        let mut at = 0;
        for run in &self.credits {
            if run.credit.as_ref().is_some_and(HeldCredit::pipe_dropped) {
                positions.extend(at..at + run.entries);
            }
            at += run.entries;
        }
        positions
    }

    /// Whether a pipe is at its RCVHWM with the lane's messages counted: its
    /// writer waits for the handle's next take. Taking ahead (`single`),
    /// every message in the lane came from the one pipe the newest came
    /// from, so that one is looked at (a look per message cost 5 % of the
    /// context thread); otherwise each pipe in the lane is.
    fn holds_up_a_writer(&self, single: bool) -> bool {
        let mut credits = self.credits.iter().rev().filter_map(|r| r.credit.as_ref());
        if single {
            return credits.next().is_some_and(HeldCredit::holds_up_writer);
        }
        let mut last: Option<&HeldCredit> = None;
        for credit in credits {
            if last.is_some_and(|l| l.same_pipe(credit)) {
                continue;
            }
            if credit.holds_up_writer() {
                return true;
            }
            last = Some(credit);
        }
        false
    }

    /// Fills the lane for a receive that found it empty: `Ok` once it holds
    /// a message; without `wait`, [`Error::WouldBlock`] if the socket has
    /// none now; with it, once `deadline` passes first.
    pub(super) async fn fill(&mut self, wait: bool, deadline: Option<Instant>) -> Result<()> {
        let mut timer = deadline.map(|d| Box::pin(sleep_until(d)));
        poll_fn(|cx| {
            self.pump(cx, true);
            if self.has_message() {
                return Poll::Ready(Ok(()));
            }
            if self.stopped {
                return Poll::Ready(Err(Error::WouldBlock("the socket cannot receive")));
            }
            if !wait {
                return Poll::Ready(Err(Error::WouldBlock("no message is ready")));
            }
            let timed_out = timer
                .as_mut()
                .is_some_and(|t| t.as_mut().poll(cx).is_ready());
            if timed_out {
                return Poll::Ready(Err(Error::WouldBlock("no message arrived within RCVTIMEO")));
            }
            Poll::Pending
        })
        .await
    }
}

/// Entries put in the lane together, and the credit that counts their
/// messages against their pipe's RCVHWM until the handle takes them.
struct CreditRun {
    /// `None` for a message no pipe holds (a ROUTER_NOTIFY notice).
    credit: Option<HeldCredit>,
    /// How many of the run the handle has not taken yet: messages, or one
    /// run in wire form.
    entries: usize,
}
