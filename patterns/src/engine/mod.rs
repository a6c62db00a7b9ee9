//! The engine: one connection's task. It runs a ZMTP [`Session`] over a
//! [`Stream`] and moves whole messages between the session and a pipe.
//!
//! ```text
//!   stream.recv ─▶ Session::handle_input ─▶ poll_event ─▶ pipe.inbound ─▶ owner reads
//!   owner writes ─▶ pipe.outbound ─▶ Session::send ─▶ transmit chunks ─▶ stream.write
//! ```
//!
//! It is handed an [`EngineSetup`] when spawned (session configuration, the
//! pipe's shape or the persistent pipe, the endpoint) and reports to its
//! owner (a socket, or a fan-out relay) through [`EngineOwner`]: the pipe
//! once the handshake completes, and how the connection ended. It never
//! touches the owner's state.
//!
//! Each turn runs seven phases, in this order; a poll runs turns until none
//! makes progress, or [`TURNS_PER_POLL`] have run (then the engine goes
//! behind the thread's other ready tasks, those other threads woke
//! included):
//!
//! 1. **decode** ([`Engine::drive_decode`]): events the session decoded go
//!    to the pipe while the inbound queue has room (RCVHWM);
//! 2. **outbound** ([`Engine::drive_outbound`]): queued messages move into
//!    the session, up to [`WRITE_BATCH_BYTES`], while no write is in flight;
//! 3. **write** ([`Engine::drive_write`]): the session's output leaves in
//!    one gathered write;
//! 4. **release** ([`Engine::drive_release`]): has the owner let go of the
//!    pipe, or has its linger run out?
//! 5. **read** ([`Engine::drive_read`]) unless a decoded message waits for
//!    room or a write is stuck with too much of our own output behind it;
//! 6. **timers** ([`Engine::drive_timers`]): the session's (handshake,
//!    heartbeats) and the owner's linger;
//! 7. **admission** ([`Engine::drive_admission`]): the owner's decision on
//!    a client whose session deferred it (asked with [`EngineOwner::admit`]
//!    when the session reported the credentials; a ZAP handler's reply
//!    arrives here).
//!
//! Decoding before reading is the back-pressure: when the inbound queue is
//! at RCVHWM the engine stops decoding and stops reading, so the kernel's
//! buffers fill and TCP pushes back on the peer. It also stops reading
//! while a write is stuck and more than [`TRANSMIT_CAP`] bytes of the
//! session's own output (replies to the peer's commands) wait behind it: a
//! peer that sends but never reads is pushed back instead of growing our
//! memory.
//!
//! Receive buffers: the session copies small frames and commands out of them
//! at decode; what stays a loan (large frames) is copied out by the pipe when
//! a queue backs up while the reactor's pool runs short (`pipe/queue.rs`).
//! So no connection, and no application holding messages, keeps others
//! from reading.
//!
//! The engine ends when the peer closes, the session fails (the reason is
//! logged and reported), the owner drops the pipe, or the owner closes and
//! its linger allows no more.

mod io_slots;
mod owner;
pub(crate) mod raw;
pub(crate) mod stream;
#[cfg(test)]
mod tests;

use std::future::poll_fn;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use monocoque_runtime::{after_io_turn, AfterIoTurn};
use monocoque_zmtp::{AuthDecision, Event, Msg, PeerInfo, Session, SessionState, SocketType};

use io_slots::{IoSlots, StreamOps};

pub(crate) use owner::{EngineEnd, EngineEvent, EngineOwner, EngineSetup, PipePlan, Verdict};
use stream::Stream;

use crate::admission::{zap_address, AdmissionPolicy, ZapRequest};
use crate::close_reason::CloseReason;
use crate::log_limit;
use crate::pipe::{FarEnd, Notify, Pipe, Queued};
use crate::subscription::{subscription_msg, subscription_of};

/// Outbound bytes gathered into one write at most.
pub(crate) const WRITE_BATCH_BYTES: usize = 256 * 1024;

/// Reading stops while a write is in flight and more than this much of the
/// session's own output waits behind it. (The session owes at most
/// `MAX_OWED_PONGS` PONGs between writes, so only a future command that
/// answers per input could pass it; the cap keeps such growth tied to TCP's
/// push-back rather than to memory.)
pub(crate) const TRANSMIT_CAP: usize = WRITE_BATCH_BYTES;

/// Runs one connection to its end, reporting to `owner` as it goes.
pub(crate) async fn run<S: Stream>(
    stream: S,
    setup: EngineSetup,
    owner: Rc<dyn EngineOwner>,
) -> EngineEnd {
    let remote = stream.remote_address();
    let mut engine = match Engine::new(setup, owner, remote, stream.source_fd()) {
        Ok(e) => e,
        Err(end) => return end,
    };
    let end = drive(&stream, &mut engine).await;
    engine.finish(end)
}

/// What a connection task drives: an engine's turns over its stream's
/// operation slots (the ZMTP [`Engine`], and STREAM's [`raw::RawEngine`]).
trait Driven {
    /// Registers the task with the owner's lifecycle (its close wakes it).
    fn register(&self, cx: &mut Context<'_>);
    /// One pass over the engine's phases: whether any made progress, or
    /// the end of the connection.
    fn turn(&mut self, cx: &mut Context<'_>, io: &mut impl StreamOps) -> Result<bool, EngineEnd>;
}

/// Turns until no phase makes progress (`Pending`) or the connection ends.
/// Turns one poll of an engine runs before it lets the thread's other tasks
/// go first. On epoll a read completes at once while the kernel holds data,
/// so without a bound a peer that floods keeps its engine decoding the
/// socket's whole buffer (megabytes of small messages: a conflating PULL
/// answered each receive in milliseconds) while every other connection and
/// command of the thread waits. io_uring hands over what arrived per driver
/// turn, which bounds it there already.
const TURNS_PER_POLL: usize = 32;

fn poll_turns(
    engine: &mut impl Driven,
    cx: &mut Context<'_>,
    io: &mut impl StreamOps,
) -> Poll<EngineEnd> {
    engine.register(cx);
    for _ in 0..TURNS_PER_POLL {
        match engine.turn(cx, io) {
            Ok(true) => continue,
            Ok(false) => return Poll::Pending,
            Err(end) => return Poll::Ready(end),
        }
    }
    // More to do: behind every task already ready, those other threads
    // woke (the application's commands) included; a local wake would run
    // before them at every turn for as long as the flood lasts.
    monocoque_runtime::wake_behind_remote(cx.waker());
    Poll::Pending
}

/// Drives `engine` over `stream` until it ends. What is still in flight is
/// cancelled before the caller reports the end.
async fn drive<S: Stream>(stream: &S, engine: &mut impl Driven) -> EngineEnd {
    let new_read = || stream.recv_bytes();
    let new_write = |chunks| stream.write_chunks(chunks);
    // Typed by a first value that is never polled (futures do nothing
    // until polled), then emptied: the slots hold the stream's own future
    // types, so each new operation replaces the last in place.
    let mut read = std::pin::pin!(Some(new_read()));
    read.set(None);
    let mut write = std::pin::pin!(Some(new_write(Vec::new())));
    write.set(None);
    let mut io = IoSlots {
        read,
        write,
        timer: std::pin::pin!(None),
        new_read,
        new_write,
    };
    let end = poll_fn(|cx| poll_turns(engine, cx, &mut io)).await;
    io.read.set(None);
    io.write.set(None);
    io.timer.set(None);
    end
}

/// One connection's state between turns.
struct Engine {
    owner: Rc<dyn EngineOwner>,
    session: Session,
    endpoint: String,
    /// The peer's address, for logs.
    remote: Option<String>,
    /// The connection's descriptor, for the peer's properties (ZMQ_SRCFD).
    source_fd: Option<RawFd>,
    pipe: PipePlan,
    probe_router: bool,
    /// SUB/XSUB: subscription messages become SUBSCRIBE/CANCEL commands.
    subscriber: bool,
    /// The owner's receive is a plain pop of the pipe (PULL, DEALER, PAIR):
    /// whole messages may go to it in their wire form (`pipe/queued.rs`).
    takes_runs: bool,
    /// This task's waker slot in the owner's lifecycle.
    lifecycle_key: u64,
    /// The pipe's far end, once the handshake completed.
    attached: Option<FarEnd>,
    /// A decoded message waiting for room in the inbound queue.
    held: Option<Msg>,
    /// The owner's decision on the client, while it is awaited (ZAP).
    admission: Option<std::pin::Pin<Box<dyn std::future::Future<Output = AuthDecision>>>>,
    /// Our routing id and ZAP domain, for admission requests.
    zap: ZapFacts,
    /// CONNECT_ROUTING_ID: reported as the peer's identity instead of its own.
    peer_routing_id: Option<Bytes>,
    /// While the closing owner's connection, all written, waits one driver
    /// turn before it ends (`drive_release`).
    close_grace: Option<AfterIoTurn>,
}

/// How an engine's client is admitted, fixed when the connection starts
/// (options changed later apply to later connections), and what goes in the
/// request besides the credentials.
#[derive(Debug, Clone)]
pub(crate) struct ZapFacts {
    /// ZAP_DOMAIN.
    pub(crate) domain: bytes::Bytes,
    /// Our socket's routing id.
    pub(crate) identity: bytes::Bytes,
    /// Who decides.
    pub(crate) policy: AdmissionPolicy,
}

impl Driven for Engine {
    fn register(&self, cx: &mut Context<'_>) {
        self.owner
            .lifecycle()
            .register(self.lifecycle_key, cx.waker());
    }

    fn turn(&mut self, cx: &mut Context<'_>, io: &mut impl StreamOps) -> Result<bool, EngineEnd> {
        let mut progress = self.drive_decode(cx, io)?;
        progress |= self.drive_outbound(cx, io);
        progress |= self.drive_write(cx, io)?;
        self.drive_release(cx, io)?;
        if self.drive_read(cx, io)? {
            // What came goes to the owner in this turn, not the next: a
            // receive waited one more turn of every phase (a request-reply
            // round trip's critical path) before its reader was woken.
            self.drive_decode(cx, io)?;
            progress = true;
        }
        progress |= self.drive_timers(cx, io);
        progress |= self.drive_admission(cx);
        Ok(progress)
    }
}

impl Engine {
    /// A session for `setup`; a configuration the session refuses ends the
    /// connection before it starts (reported like any failed handshake).
    fn new(
        setup: EngineSetup,
        owner: Rc<dyn EngineOwner>,
        remote: Option<String>,
        source_fd: Option<RawFd>,
    ) -> Result<Engine, EngineEnd> {
        let EngineSetup {
            endpoint,
            session,
            pipe,
            probe_router,
            zap,
            peer_routing_id,
            raw: _,
        } = setup;
        let subscriber = session
            .as_ref()
            .is_ok_and(|c| c.socket_type.is_subscriber());
        let takes_runs = session.as_ref().is_ok_and(|c| {
            matches!(
                c.socket_type,
                SocketType::Pull | SocketType::Dealer | SocketType::Pair
            )
        });
        let session = match session.and_then(|c| Session::new(c, Instant::now())) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(%endpoint, reason = %e, "connection refused: bad session configuration");
                let end = EngineEnd::HandshakeFailed(CloseReason::Configuration(e));
                owner.report(EngineEvent::Ended {
                    endpoint,
                    remote,
                    pipe: None,
                    persistent: false,
                    end: end.clone(),
                });
                return Err(end);
            }
        };
        let lifecycle_key = owner.lifecycle().task_key();
        Ok(Engine {
            owner,
            session,
            endpoint,
            remote,
            source_fd,
            pipe,
            probe_router,
            subscriber,
            takes_runs,
            lifecycle_key,
            attached: None,
            held: None,
            admission: None,
            zap,
            peer_routing_id,
            close_grace: None,
        })
    }

    /// Runs turns until one makes no progress (pending) or the connection ends.
    /// Phase 1: the held message, then every decoded event, while the
    /// inbound queue has room.
    fn drive_decode(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut impl StreamOps,
    ) -> Result<bool, EngineEnd> {
        let mut progress = false;
        if let Some(msg) = self.held.take() {
            progress = self.deliver(msg, cx)?;
        }
        let mut next = None;
        if self.held.is_none() {
            (progress, next) = self.deliver_batch(progress)?;
        }
        while self.held.is_none() {
            let Some(event) = next.take().or_else(|| self.session.poll_event()) else {
                break;
            };
            progress = true;
            match event {
                Event::HandshakeSucceeded(info) => self.attach(info),
                Event::Message(msg) => {
                    self.deliver(msg, cx)?;
                }
                // Subscriptions reach the PUB/XPUB in their message form, as
                // inproc subscribers send them.
                Event::Subscribe(t) => {
                    self.deliver(subscription_msg(true, &t), cx)?;
                }
                Event::Cancel(t) => {
                    self.deliver(subscription_msg(false, &t), cx)?;
                }
                Event::AuthenticationRequested(credentials) => {
                    self.ask_owner(credentials);
                }
                Event::Closed(e) => {
                    // Flush what the session queued last (an ERROR for a
                    // refused client) without waiting for it.
                    if self.session.wants_write() && !io.writing() {
                        io.start_write(self.session.transmit().take_chunks());
                        let _ = io.poll_write(cx);
                    }
                    return Err(self.lost(CloseReason::Protocol(e)));
                }
                _ => {}
            }
        }
        Ok(progress)
    }

    /// The fast path of phase 1: every message decoded from the input goes
    /// to the inbound queue under one borrow and one read of the receive
    /// pool's pressure, while the queue has room. Returns the progress and
    /// the first event that is not a message, for the general path.
    fn deliver_batch(&mut self, mut progress: bool) -> Result<(bool, Option<Event>), EngineEnd> {
        let Some(a) = &self.attached else {
            return Ok((progress, None));
        };
        let mut q = a.inbound.borrow_mut();
        if q.reader_gone() {
            // The general path decides: a closing owner's engine lingers to
            // write what is queued, and ends only if a message arrives.
            return Ok((progress, None));
        }
        // Read at the first message: most turns deliver none (five turns a
        // request-reply round trip, one with a message), and the read is a
        // thread-local lookup through the dynamic linker in the C API's
        // library.
        let mut pressure = None;
        let runs = self.takes_runs && q.takes_runs();
        while !q.is_full() {
            // Whole messages left in their wire form where the socket's
            // receive is a plain pop (`pipe/queued.rs`): the taker decodes
            // them, on the application's thread for a blocking socket.
            if runs {
                if let Some(run) = self.session.poll_run(q.room()) {
                    let pressure =
                        *pressure.get_or_insert_with(monocoque_runtime::recv_pool_pressure);
                    q.push_run(run, pressure);
                    progress = true;
                    continue;
                }
            }
            // Single-frame data first, without an event around it.
            let msg = match self.session.poll_message() {
                Some(msg) => msg,
                None => match self.session.poll_event() {
                    Some(Event::Message(msg)) => msg,
                    other => return Ok((progress, other)),
                },
            };
            let pressure = *pressure.get_or_insert_with(monocoque_runtime::recv_pool_pressure);
            q.push_under(msg, pressure);
            progress = true;
        }
        Ok((progress, None))
    }

    /// Queues `msg` to the owner, or holds it while the queue is full.
    /// Before the handshake there is no pipe and nothing to deliver.
    fn deliver(&mut self, msg: Msg, cx: &mut Context<'_>) -> Result<bool, EngineEnd> {
        let Some(a) = &self.attached else {
            return Ok(false);
        };
        self.held = offer(a, msg, cx)?;
        Ok(self.held.is_none())
    }

    /// Phase 2: outbound messages into the session while no write is in flight.
    fn drive_outbound(&mut self, cx: &mut Context<'_>, io: &mut impl StreamOps) -> bool {
        let Some(a) = &self.attached else {
            return false;
        };
        let mut q = a.outbound.borrow_mut();
        // Whatever this turn does, the owner letting go of the pipe (its
        // writer gone) must wake the engine: with a write stuck on a peer
        // that reads nothing, nothing else would (`drive_release`).
        q.reader.register(cx.waker());
        if io.writing() || self.session.state() != SessionState::Active {
            return false;
        }
        if self.session.transmit().len() < WRITE_BATCH_BYTES && q.has_wire() {
            // Runs a send lane encoded (`pipe/queued.rs`): written as they
            // are, one entry a run.
            let (session, subscriber) = (&mut self.session, self.subscriber);
            q.pop_entries_while(|entry| {
                let sent = match entry {
                    Queued::Msg(msg) => to_session(session, &msg, subscriber),
                    Queued::Wire(run) => session.send_wire(*run),
                };
                if let Err(e) = sent {
                    tracing::debug!(error = %e, "message not sent");
                }
                session.transmit().len() < WRITE_BATCH_BYTES
            });
        }
        if self.session.transmit().len() < WRITE_BATCH_BYTES {
            let (session, subscriber) = (&mut self.session, self.subscriber);
            q.pop_while(|msg| {
                if let Err(e) = to_session(session, &msg, subscriber) {
                    tracing::debug!(error = %e, "message not sent");
                }
                // Its small bodies are copied into the output: their
                // buffers go back for the next message of their size.
                msg.recycle();
                session.transmit().len() < WRITE_BATCH_BYTES
            });
        }
        // Progress is the write this enables, which phase 3 counts.
        false
    }

    /// Phase 3: starts a gathered write of the session's output, and polls
    /// the one in flight.
    fn drive_write(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut impl StreamOps,
    ) -> Result<bool, EngineEnd> {
        if !io.writing() && self.session.wants_write() {
            io.start_write(self.session.transmit().take_chunks());
        }
        if !io.writing() {
            return Ok(false);
        }
        match io.poll_write(cx) {
            Poll::Ready(Ok(())) => Ok(true),
            Poll::Ready(Err(e)) => Err(self.lost(CloseReason::write(&e))),
            Poll::Pending => Ok(false),
        }
    }

    /// Phase 4: ends the connection once the owner let go of the pipe (and
    /// everything queued to it is written), or its linger ran out.
    ///
    /// A closing owner's connection ends one driver turn after it has
    /// nothing left to write, not in the run of tasks that notices: a
    /// socket on this thread closed just before (its LINGER flushing to
    /// this very connection) may have a write queued or in flight in that
    /// run, and the close would reset the connection under it. libzmq's
    /// close reaches the connection through its reaper and I/O threads, by
    /// which time such a write has gone; a peer that closes a PUSH then at
    /// once its PULL relies on that.
    fn drive_release(
        &mut self,
        cx: &mut Context<'_>,
        io: &impl StreamOps,
    ) -> Result<(), EngineEnd> {
        let idle = !io.writing() && !self.session.wants_write();
        let lifecycle = self.owner.lifecycle();
        match &self.attached {
            Some(a) => {
                let out = a.outbound.borrow();
                if out.writer_gone() && out.is_empty() && idle {
                    if lifecycle.is_closing()
                        && !self
                            .close_grace
                            .get_or_insert_with(after_io_turn)
                            .poll_passed(cx)
                    {
                        return Ok(());
                    }
                    return Err(EngineEnd::Released);
                }
                if a.inbound.borrow().reader_gone() && !lifecycle.is_closing() {
                    return Err(EngineEnd::Released);
                }
            }
            // A closing owner still completes connections that have messages
            // queued for them (LINGER); others stop here.
            None if lifecycle.is_closing() && !self.has_queued_before_handshake() => {
                return Err(EngineEnd::Released)
            }
            None => {}
        }
        // The clock is read only while closing: this runs on every turn.
        if lifecycle.is_closing() && lifecycle.expired(Instant::now()) {
            return Err(EngineEnd::Released);
        }
        Ok(())
    }

    /// Whether a closing owner still has something for this connection:
    /// queued messages, or a writer that has not let go (an IO core's
    /// connect, whose socket may still be passing its queue on; a socket
    /// lets go of its pipes as it starts closing).
    fn has_queued_before_handshake(&self) -> bool {
        match &self.pipe {
            PipePlan::Persistent(p) => {
                let out = p.outbound.borrow();
                !out.is_empty() || !out.writer_gone()
            }
            PipePlan::Fresh { .. } => false,
        }
    }

    /// Phase 5: reads, unless a decoded message is waiting for room, or a
    /// write is stuck with too much of our own output behind it.
    fn drive_read(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut impl StreamOps,
    ) -> Result<bool, EngineEnd> {
        let pushed_back = io.writing() && self.session.transmit_len() > TRANSMIT_CAP;
        if self.held.is_some() || pushed_back {
            return Ok(false);
        }
        match io.poll_read(cx) {
            Poll::Ready(Ok(data)) => {
                if data.is_empty() {
                    return Err(self.lost(CloseReason::PeerClosed));
                }
                self.session.handle_input(data, Instant::now());
                Ok(true)
            }
            Poll::Ready(Err(e)) => Err(self.lost(CloseReason::read(&e))),
            Poll::Pending => Ok(false),
        }
    }

    /// Asks the owner about the client; a decision made at once goes
    /// straight to the session, a later one is polled by
    /// [`drive_admission`](Self::drive_admission).
    fn ask_owner(&mut self, credentials: monocoque_zmtp::PresentedCredentials) {
        let request = ZapRequest {
            domain: self.zap.domain.clone(),
            address: zap_address(self.remote.as_deref()),
            identity: self.zap.identity.clone(),
            credentials,
        };
        match self.owner.admit(request, &self.zap.policy) {
            Verdict::Now(decision) => self.session.admit(decision),
            Verdict::Later(future) => self.admission = Some(future),
        }
    }

    /// Phase 7: the owner's decision on the client, once it comes.
    fn drive_admission(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(future) = self.admission.as_mut() else {
            return false;
        };
        match future.as_mut().poll(cx) {
            Poll::Ready(decision) => {
                self.admission = None;
                self.session.admit(decision);
                true
            }
            Poll::Pending => false,
        }
    }

    /// Phase 6: the session's timers (handshake, heartbeats) and, while the
    /// owner closes, its linger deadline.
    fn drive_timers(&mut self, cx: &mut Context<'_>, io: &mut impl StreamOps) -> bool {
        let lifecycle = self.owner.lifecycle();
        // Once all is written and the end only waits for its turn, the
        // linger has nothing left to bound (a passed deadline would fire
        // at every poll).
        let lingering = lifecycle.is_closing() && self.close_grace.is_none();
        let deadline = match (self.session.poll_timeout(), lifecycle.deadline()) {
            (Some(a), Some(b)) if lingering => Some(a.min(b)),
            (None, Some(b)) if lingering => Some(b),
            (a, _) => a,
        };
        if io.poll_timer(cx, deadline) {
            self.session.handle_timeout(Instant::now());
            return true;
        }
        false
    }

    /// The handshake succeeded: the pipe is made (or the persistent one
    /// taken up), the owner told, and the greeting queued ahead of anything.
    fn attach(&mut self, mut info: PeerInfo) {
        tracing::debug!(endpoint = %self.endpoint, version = %info.version, peer_type = ?info.socket_type, "handshake succeeded");
        if let Some(id) = &self.peer_routing_id {
            info.identity = id.clone();
        }
        let far = match &self.pipe {
            PipePlan::Persistent(p) => {
                p.inbound.borrow_mut().writer = Notify::Task(None);
                p.outbound.borrow_mut().reader = Notify::Task(None);
                self.owner.report(EngineEvent::Reattached {
                    peer: p.peer,
                    remote: self.remote.clone(),
                    properties: std::sync::Arc::new(crate::PeerProperties::of(
                        &info,
                        self.remote.as_deref(),
                        self.source_fd,
                    )),
                    identity: info.identity,
                    socket_type: info.socket_type,
                    endpoint: self.endpoint.clone(),
                });
                p.clone()
            }
            PipePlan::Fresh {
                peer,
                shape,
                signals,
            } => {
                let mut pipe = Pipe::new(*peer, *shape, signals, &self.endpoint);
                pipe.inbound.borrow_mut().writer = Notify::Task(None);
                pipe.outbound.borrow_mut().reader = Notify::Task(None);
                pipe.properties = Some(std::sync::Arc::new(crate::PeerProperties::of(
                    &info,
                    self.remote.as_deref(),
                    self.source_fd,
                )));
                pipe.identity = info.identity;
                pipe.peer_type = info.socket_type;
                pipe.connected = true;
                pipe.remote = self.remote.clone();
                let far = pipe.far_end();
                self.owner.report(EngineEvent::Attached(pipe));
                far
            }
        };
        for msg in self.owner.greeting() {
            if let Err(e) = to_session(&mut self.session, &msg, self.subscriber) {
                tracing::debug!(error = %e, "greeting message not sent");
            }
        }
        if self.probe_router {
            far.outbound
                .borrow_mut()
                .push_front(Msg::from(vec![Bytes::new()]));
        }
        self.attached = Some(far);
    }

    /// The connection was lost for `reason`: before the handshake that is a
    /// failed handshake.
    fn lost(&self, reason: CloseReason) -> EngineEnd {
        if self.attached.is_some() {
            EngineEnd::Disconnected(reason)
        } else {
            EngineEnd::HandshakeFailed(reason)
        }
    }

    /// The connection is over: the pipe's far end lets go, the log and the
    /// owner hear why.
    fn finish(self, end: EngineEnd) -> EngineEnd {
        let persistent = matches!(self.pipe, PipePlan::Persistent(_));
        report_end(
            &*self.owner,
            self.lifecycle_key,
            (self.endpoint, self.remote),
            self.attached.map(|a| (a, persistent)),
            end,
        )
    }
}

/// Queues `msg` on the pipe's inbound side, or gives it back to hold while
/// the queue is full (the reader's room wakes the task); the end of the
/// connection if the reader let go.
fn offer(far: &FarEnd, msg: Msg, cx: &mut Context<'_>) -> Result<Option<Msg>, EngineEnd> {
    let mut q = far.inbound.borrow_mut();
    if q.reader_gone() {
        return Err(EngineEnd::Released);
    }
    if q.is_full() {
        q.writer.register(cx.waker());
        return Ok(Some(msg));
    }
    q.push(msg);
    Ok(None)
}

/// A connection is over: the far end of its pipe (`attached`, and whether
/// it outlives the connection) lets go, the log and the owner hear why.
fn report_end(
    owner: &dyn EngineOwner,
    lifecycle_key: u64,
    (endpoint, remote): (String, Option<String>),
    attached: Option<(FarEnd, bool)>,
    end: EngineEnd,
) -> EngineEnd {
    owner.lifecycle().forget(lifecycle_key);
    let persistent = attached.as_ref().is_some_and(|(_, p)| *p);
    if let Some((a, persistent)) = &attached {
        if *persistent {
            a.inbound.borrow_mut().writer = Notify::Nobody;
            a.outbound.borrow_mut().reader = Notify::Nobody;
        } else {
            a.inbound.borrow_mut().close_writer();
            a.outbound.borrow_mut().close_reader();
        }
    }
    log_end(&endpoint, remote.as_deref(), &end);
    owner.report(EngineEvent::Ended {
        endpoint,
        remote,
        pipe: attached.map(|(a, _)| a.peer),
        persistent,
        end: end.clone(),
    });
    end
}

/// Says why a connection ended, rate-limited: a crowd of failing peers must
/// not make the log the bottleneck. Accepted connections are named by the
/// peer's address too: the endpoint alone is the same for every peer of a bind.
fn log_end(endpoint: &str, remote: Option<&str>, end: &EngineEnd) {
    let remote = remote.unwrap_or("-");
    match end {
        EngineEnd::HandshakeFailed(reason) => {
            if let Some(suppressed) = log_limit::HANDSHAKE_FAILED.admit() {
                tracing::warn!(%endpoint, %remote, %reason, suppressed, "handshake failed; connection closed");
            }
        }
        EngineEnd::Disconnected(reason) => {
            if let Some(suppressed) = log_limit::DISCONNECTED.admit() {
                tracing::info!(%endpoint, %remote, %reason, suppressed, "connection closed");
            }
        }
        EngineEnd::Released => {}
    }
}

/// Queues one message from the pipe in the session. A SUB/XSUB's
/// subscriptions become commands to a 3.1 peer, 0x01/0x00 messages to a 3.0 one.
fn to_session(session: &mut Session, msg: &Msg, subscriber: bool) -> monocoque_zmtp::Result<()> {
    if !subscriber {
        return session.send(msg);
    }
    match subscription_of(msg) {
        Some((true, topic)) => session.subscribe(topic),
        Some((false, topic)) => session.cancel(topic),
        _ => session.send(msg),
    }
}
