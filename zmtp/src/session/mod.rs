//! One connection's protocol state machine, sans-IO: [`Session`].

mod config;
mod event;
mod legacy;
mod timers;

pub use config::{
    SessionConfig, DEFAULT_HANDSHAKE_TIMEOUT, HANDSHAKE_FRAME_LIMIT, MAX_HEARTBEAT_TTL,
};
pub use event::Event;

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::command::{self, Cancel, ErrorCommand, Ping, Pong, Subscribe};
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::frame_decoder::{FrameDecoder, FrameLimit, INLINE_COPY_MAX};
use crate::greeting::{
    encode_greeting_rest, encode_signature, Greeting, GreetingParser, GreetingStep, PeerGreeting,
    ProtocolVersion, OUR_REVISION,
};
use crate::input_buffer::InputBuffer;
use crate::mechanism::{AuthDecision, HandshakeStatus, LocalProperties, Mechanism, MessageCodec};
use crate::message::Msg;
use crate::message_budget::MessageBudget;
use crate::peer::{PeerInfo, PeerProperties};
use crate::transmit_queue::TransmitQueue;
use crate::wire_run::WireRun;
use legacy::LegacyHandshake;
use timers::{Expired, Timers};

/// PONGs owed at most between two writes: one per PING, the latest kept
/// when a peer pings faster than it reads.
pub const MAX_OWED_PONGS: usize = 4;

/// Where a session stands.
///
/// ```text
///            peer greeting accepted           mechanism complete
///            (sent in stages)                 (a 1.0/2.0 peer: its identity)
///  Greeting ───────────────────────▶ Handshaking ───────────────────▶ Active
///     │                                  │                              │
///     │ bad greeting, handshake timeout  │ ERROR, bad command, timeout  │ heartbeat timeout,
///     ▼                                  ▼                              ▼ TTL, bad frame, ERROR
///  Closed ◀──────────────────────────────┴──────────────────────────────┘
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// The peer's greeting is being read; ours goes out in stages as it is.
    Greeting,
    /// The security mechanism's commands are being exchanged.
    Handshaking,
    /// Messages flow.
    Active,
    /// The session ended; see [`Session::close_reason`].
    Closed,
}

/// Counters a session keeps for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Messages delivered as [`Event::Message`].
    pub messages_received: u64,
    /// Messages queued with [`Session::send`].
    pub messages_sent: u64,
    /// PINGs received (each answered with a PONG).
    pub pings_received: u64,
    /// PINGs we sent.
    pub pings_sent: u64,
    /// PONGs received.
    pub pongs_received: u64,
    /// Body bytes that had to be copied because they straddled two receives,
    /// or were frames of a long multipart message (see [`ZERO_COPY_FRAMES`]).
    pub input_bytes_copied: u64,
}

/// Frames of one message kept as slices of the receive buffers; later large
/// frames of the same message are copied out (small ones are copies already,
/// see `INLINE_COPY_MAX`). A message still arriving must not pin the bounded
/// receive pool, shared by every connection on the thread, frame by frame.
pub const ZERO_COPY_FRAMES: usize = 16;

/// One connection's ZMTP state machine, sans-IO.
///
/// The layer above owns the socket. It feeds received bytes with
/// [`Session::handle_input`], drains [`Session::poll_event`], writes what
/// [`Session::transmit`] holds (a [`bytes::Buf`], ready for `writev`), and calls
/// [`Session::handle_timeout`] when [`Session::poll_timeout`] falls due. Nothing
/// here reads a clock or touches a descriptor.
///
/// ```
/// use std::time::Instant;
/// use monocoque_zmtp::{Event, Msg, Session, SessionConfig, SocketType};
///
/// let now = Instant::now();
/// let mut a = Session::new(SessionConfig::new(SocketType::Dealer), now).unwrap();
/// let mut b = Session::new(SessionConfig::new(SocketType::Router), now).unwrap();
/// // Wire them together in memory until both finish the handshake.
/// // Greetings go out in three stages (signature, revision, rest), then READY.
/// for _ in 0..4 {
///     let ab = a.transmit().take_all();
///     let ba = b.transmit().take_all();
///     a.handle_input(ba, now);
///     b.handle_input(ab, now);
///     while a.poll_event().is_some() {}
///     while let Some(e) = b.poll_event() {
///         if let Event::HandshakeSucceeded(peer) = e { assert_eq!(peer.socket_type, Some(SocketType::Dealer)) }
///     }
/// }
/// a.send(&Msg::from("hello")).unwrap();
/// let ab = a.transmit().take_all();
/// b.handle_input(ab, now);
/// assert_eq!(b.poll_event(), Some(Event::Message(Msg::from("hello"))));
/// ```
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    local: LocalProperties,
    state: SessionState,
    input: InputBuffer,
    greeting: GreetingParser,
    decoder: FrameDecoder,
    transmit: TransmitQueue,
    mechanism: Box<dyn Mechanism>,
    codec: Option<Box<dyn MessageCodec>>,
    /// The mechanism reported credentials and waits for `admit`.
    awaiting_admission: bool,
    /// Under a codec, the unboxed frames' message against MAXMSGSIZE,
    /// MAXMSGFRAMES and the ceiling (the wire frames say nothing of it).
    unboxed_budget: MessageBudget,
    version: Option<ProtocolVersion>,
    /// A ZMTP 1.0 or 2.0 peer whose identity message is awaited.
    legacy: Option<LegacyHandshake>,
    /// Frames go out in ZMTP 1.0's grammar.
    zmtp1_framing: bool,
    peer: Option<PeerInfo>,
    /// The frames of the message being received (a single frame stays
    /// inline in the `Msg`: no allocation per message).
    partial: Msg,
    /// Bytes of `partial` copied out of the receive buffers.
    partial_bytes_copied: u64,
    events: VecDeque<Event>,
    timers: Timers,
    now: Instant,
    close_reason: Option<Error>,
    stats: SessionStats,
    /// The PONGs owed for the latest PINGs (at most [`MAX_OWED_PONGS`]),
    /// encoded only when the transmit queue is next taken. Each PING gets
    /// its PONG, as libzmq answers each (its test_heartbeats sends two in a
    /// row and reads two PONGs); past the bound the oldest owed is dropped,
    /// so a PING flood from a peer that never reads costs no more memory.
    owed_pongs: VecDeque<Pong>,
}

impl Session {
    /// A new session with the mechanism `config` names. The first stage of
    /// our greeting, the signature, is queued; the rest follows as the peer's
    /// greeting is read.
    pub fn new(config: SessionConfig, now: Instant) -> Result<Session> {
        let mechanism = config.mechanism.build();
        Session::with_mechanism(config, mechanism, now)
    }

    /// A new session running `mechanism` (for mechanisms defined outside this
    /// crate); `config.mechanism` is then not used.
    pub fn with_mechanism(
        config: SessionConfig,
        mechanism: Box<dyn Mechanism>,
        now: Instant,
    ) -> Result<Session> {
        config.validate()?;
        let mut transmit = TransmitQueue::new();
        transmit.push_raw(&encode_signature(config.identity.len()));
        let timers = Timers::new(
            now,
            config.handshake_timeout,
            config.heartbeat_interval,
            config.heartbeat_timeout,
        );
        let mut decoder = FrameDecoder::new(FrameLimit::Handshake(HANDSHAKE_FRAME_LIMIT));
        if let Some(ceiling) = config.memory_ceiling {
            decoder.set_ceiling(ceiling);
        }
        Ok(Session {
            local: config.local_properties(),
            config,
            state: SessionState::Greeting,
            input: InputBuffer::new(),
            greeting: GreetingParser::new(),
            decoder,
            transmit,
            mechanism,
            codec: None,
            awaiting_admission: false,
            unboxed_budget: MessageBudget::new(),
            version: None,
            legacy: None,
            zmtp1_framing: false,
            peer: None,
            partial: Msg::new(),
            partial_bytes_copied: 0,
            events: VecDeque::new(),
            timers,
            now,
            close_reason: None,
            stats: SessionStats::default(),
            owed_pongs: VecDeque::new(),
        })
    }

    /// The session's current state.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.state == SessionState::Closed
    }

    /// Why the session ended, once it has.
    pub fn close_reason(&self) -> Option<&Error> {
        self.close_reason.as_ref()
    }

    /// The peer, once the handshake has completed.
    pub fn peer(&self) -> Option<&PeerInfo> {
        self.peer.as_ref()
    }

    /// The configuration the session was built with.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> SessionStats {
        SessionStats {
            input_bytes_copied: self.input.copied_bytes() + self.partial_bytes_copied,
            ..self.stats
        }
    }

    /// Bytes received and not yet decoded (for read back-pressure).
    pub fn buffered_input(&self) -> usize {
        self.input.len()
    }

    /// Hands received bytes to the session. Nothing is decoded until
    /// [`poll_event`](Self::poll_event) is called, so the caller controls how
    /// much is in flight. Input after the session closed is dropped.
    pub fn handle_input(&mut self, data: Bytes, now: Instant) {
        self.now = now;
        if self.state != SessionState::Closed {
            self.input.push(data);
        }
    }

    /// Decodes buffered input until one event is ready, and returns it. Returns
    /// `None` when more input is needed (or the session is closed and every
    /// event, the last being [`Event::Closed`], has been returned).
    pub fn poll_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            let step = match self.state {
                SessionState::Closed => return None,
                SessionState::Greeting => match self.greeting_step() {
                    None => return None,
                    Some(step) => step.map(|()| None),
                },
                SessionState::Handshaking | SessionState::Active => {
                    match self.decoder.decode(&mut self.input) {
                        Ok(None) => return None,
                        Ok(Some(frame)) => self.on_frame(frame),
                        Err(e) => Err(self.refine_decode_error(e)),
                    }
                }
            };
            // An event a frame completed goes straight back: the queue is
            // empty here (it was drained above), so order is kept and the
            // common case (one data message) never touches the queue.
            match step {
                Ok(Some(event)) => return Some(event),
                Ok(None) => {}
                Err(e) => self.fail(e),
            }
        }
    }

    /// The next message, when it is the next thing in the input and a
    /// single frame of data: what [`poll_event`](Self::poll_event) would
    /// return as [`Event::Message`], without building a 96-byte event
    /// around it and copying that out through three calls (at 64 B the
    /// receiving context's thread spent most of `poll_event`'s samples
    /// there: docs/BENCHMARKS.md, attempt 10). `None` whenever anything
    /// else comes first, or the input holds no whole frame: then call
    /// `poll_event`, which goes on from where this stopped (a frame this
    /// decoded and did not return, a command say, is already handled, and
    /// any event it made is the next `poll_event` returns).
    ///
    /// Only on an active session without a codec (NULL and PLAIN) and not
    /// a publisher's (whose sessions read subscriptions from messages).
    ///
    /// ```
    /// use std::time::Instant;
    /// use bytes::Bytes;
    /// use monocoque_zmtp::{Event, Msg, Session, SessionConfig, SocketType};
    ///
    /// let now = Instant::now();
    /// let mut a = Session::new(SessionConfig::new(SocketType::Dealer), now).unwrap();
    /// let mut b = Session::new(SessionConfig::new(SocketType::Dealer), now).unwrap();
    /// for _ in 0..4 {
    ///     let ab = a.transmit().take_all();
    ///     let ba = b.transmit().take_all();
    ///     a.handle_input(ba, now);
    ///     b.handle_input(ab, now);
    ///     while a.poll_event().is_some() {}
    ///     while b.poll_event().is_some() {}
    /// }
    /// a.send(&Msg::from("one")).unwrap();
    /// let two = Msg::from(vec![Bytes::from("two"), Bytes::from("parts")]);
    /// a.send(&two).unwrap();
    /// let ab = a.transmit().take_all();
    /// b.handle_input(ab, now);
    /// assert_eq!(b.poll_message(), Some(Msg::from("one")));
    /// // Two frames: not this way, but the next event.
    /// assert_eq!(b.poll_message(), None);
    /// assert_eq!(b.poll_event(), Some(Event::Message(two)));
    /// assert_eq!(b.poll_message(), None);
    /// ```
    #[inline]
    pub fn poll_message(&mut self) -> Option<Msg> {
        if !self.takes_fast_path() {
            return None;
        }
        let step = match self.decoder.decode(&mut self.input) {
            Ok(None) => return None,
            Ok(Some(frame)) if !frame.command && !frame.more => {
                self.timers.traffic();
                self.stats.messages_received += 1;
                return Some(Msg::from(frame.body));
            }
            Ok(Some(frame)) => self.on_frame(frame),
            Err(e) => Err(self.refine_decode_error(e)),
        };
        // As `poll_event` does with what a frame completes; the queue was
        // empty, so what goes in is next.
        match step {
            Ok(Some(event)) => self.events.push_back(event),
            Ok(None) => {}
            Err(e) => self.fail(e),
        }
        None
    }

    /// Answers [`Event::AuthenticationRequested`]: the handshake goes on
    /// (or, for a refusal, the mechanism sends ERROR and the session closes
    /// with [`Error::AuthenticationDenied`]). Ignored when no decision is
    /// awaited (the session may have closed meanwhile).
    pub fn admit(&mut self, decision: AuthDecision) {
        if !self.awaiting_admission || self.state != SessionState::Handshaking {
            return;
        }
        self.awaiting_admission = false;
        match self
            .mechanism
            .on_admission(&self.local, decision, &mut self.transmit)
        {
            Ok(status) => self.on_handshake_status(status),
            Err(e) => self.fail(e),
        }
    }

    /// Output waiting to be written. Write what you can, then
    /// [`advance`](bytes::Buf::advance) by the count written.
    ///
    /// The PONGs owed to the peer are queued here, at most
    /// [`MAX_OWED_PONGS`] however many PINGs came since the last call: call this only when you are about to
    /// write (or to measure what waits), not while a write is in flight.
    pub fn transmit(&mut self) -> &mut TransmitQueue {
        while let Some(pong) = self.owed_pongs.pop_front() {
            if let Err(e) = self.queue_command(Pong::NAME, &[&pong.context]) {
                self.fail(e);
                self.owed_pongs.clear();
            }
        }
        &mut self.transmit
    }

    /// Bytes queued for the peer, not counting a PONG still owed (which
    /// [`transmit`](Self::transmit) would queue): for back-pressure checks that
    /// must not disturb the coalescing of PONGs.
    pub fn transmit_len(&self) -> usize {
        self.transmit.len()
    }

    /// Whether output is waiting.
    pub fn wants_write(&self) -> bool {
        !self.transmit.is_empty() || !self.owed_pongs.is_empty()
    }

    /// The next instant at which [`handle_timeout`](Self::handle_timeout) must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Acts on every deadline that has passed by `now`: closes the session on a
    /// handshake or heartbeat timeout, queues a PING when one is due. Drain
    /// [`poll_event`](Self::poll_event) first, so that traffic already received
    /// counts as a sign of life.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        while let Some(expired) = self.timers.expire(now) {
            match expired {
                Expired::Handshake(d) => return self.fail(Error::HandshakeTimeout(d)),
                Expired::HeartbeatTimeout(d) => return self.fail(Error::HeartbeatTimeout(d)),
                Expired::Ttl(d) => return self.fail(Error::HeartbeatTtlExpired(d)),
                Expired::SendPing => {
                    let ttl = self.config.ping_ttl_deciseconds().to_be_bytes();
                    if let Err(e) = self.queue_command(Ping::NAME, &[&ttl]) {
                        return self.fail(e);
                    }
                    self.stats.pings_sent += 1;
                }
            }
        }
    }

    /// Queues a multipart message. Fails before the handshake completes and after
    /// the session closes; nothing is queued then.
    pub fn send(&mut self, msg: &Msg) -> Result<()> {
        self.send_frames(msg.frames())
    }

    /// Queues the frames of one message (MORE on all but the last).
    pub fn send_frames(&mut self, frames: &[Bytes]) -> Result<()> {
        self.check_active()?;
        let Some((last, init)) = frames.split_last() else {
            return Err(Error::EmptyMessage);
        };
        for frame in init {
            self.encode_message_frame(true, frame)?;
        }
        self.encode_message_frame(false, last)?;
        self.stats.messages_sent += 1;
        Ok(())
    }

    /// Queues whole messages already in their wire form (a send lane's
    /// encoded run): as they are where the frames go out unchanged (NULL
    /// and PLAIN, ZMTP 2.0 and 3.x), else decoded and sent a message at a
    /// time (CURVE's boxes, ZMTP 1.0's framing).
    ///
    /// ```
    /// use std::time::Instant;
    /// use bytes::Bytes;
    /// use monocoque_zmtp::{encode_single, Msg, Session, SessionConfig, SocketType, WireRun};
    ///
    /// let now = Instant::now();
    /// let mut a = Session::new(SessionConfig::new(SocketType::Push), now).unwrap();
    /// let mut b = Session::new(SessionConfig::new(SocketType::Pull), now).unwrap();
    /// for _ in 0..4 {
    ///     let ab = a.transmit().take_all();
    ///     let ba = b.transmit().take_all();
    ///     a.handle_input(ba, now);
    ///     b.handle_input(ab, now);
    ///     while a.poll_event().is_some() {}
    ///     while b.poll_event().is_some() {}
    /// }
    /// let mut wire = Vec::new();
    /// for body in [&b"one"[..], b"two"] {
    ///     encode_single(body, |parts| parts.iter().for_each(|p| wire.extend_from_slice(p)));
    /// }
    /// a.send_wire(WireRun::from_encoded(Bytes::from(wire))).unwrap();
    /// b.handle_input(a.transmit().take_all(), now);
    /// assert_eq!(b.poll_message(), Some(Msg::from("one")));
    /// assert_eq!(b.poll_message(), Some(Msg::from("two")));
    /// ```
    pub fn send_wire(&mut self, mut run: WireRun) -> Result<()> {
        self.check_active()?;
        if self.codec.is_some() || self.zmtp1_framing {
            while let Some(msg) = run.next_message() {
                self.send(&msg)?;
            }
            return Ok(());
        }
        self.stats.messages_sent += run.messages() as u64;
        self.transmit.push_encoded(&run.remaining());
        Ok(())
    }

    /// Sends a subscription upstream (SUB and XSUB only): a SUBSCRIBE command to a
    /// ZMTP 3.1 peer, a `0x01 topic` message to a ZMTP 3.0 peer.
    pub fn subscribe(&mut self, topic: &[u8]) -> Result<()> {
        self.send_subscription(true, topic)
    }

    /// Withdraws one subscription (SUB and XSUB only): CANCEL to a 3.1 peer,
    /// `0x00 topic` to a 3.0 peer.
    pub fn cancel(&mut self, topic: &[u8]) -> Result<()> {
        self.send_subscription(false, topic)
    }

    fn send_subscription(&mut self, subscribe: bool, topic: &[u8]) -> Result<()> {
        self.check_active()?;
        if !self.config.socket_type.is_subscriber() {
            return Err(Error::NotSupportedBySocketType {
                socket_type: self.config.socket_type,
                operation: "send subscriptions",
            });
        }
        match self.version {
            Some(v) if v < ProtocolVersion::V3_1 => {
                let mut body = BytesMut::with_capacity(1 + topic.len());
                body.extend_from_slice(&[subscribe as u8]);
                body.extend_from_slice(topic);
                self.encode_message_frame(false, &body.freeze())?;
            }
            _ => {
                let name = if subscribe {
                    Subscribe::NAME
                } else {
                    Cancel::NAME
                };
                self.queue_command(name, &[topic])?;
            }
        }
        Ok(())
    }

    fn check_active(&self) -> Result<()> {
        match self.state {
            SessionState::Active => Ok(()),
            SessionState::Closed => Err(Error::SessionClosed),
            _ => Err(Error::HandshakeIncomplete),
        }
    }

    fn encode_message_frame(&mut self, more: bool, body: &Bytes) -> Result<()> {
        match &mut self.codec {
            None if self.zmtp1_framing => {
                self.transmit.push_frame_v1(more, body);
                Ok(())
            }
            None => {
                self.transmit.push_frame(more, false, body);
                Ok(())
            }
            Some(codec) => codec.encode(more, false, body, &mut self.transmit),
        }
    }

    /// Queues a command after the handshake: a command frame, or, under a
    /// mechanism that encrypts, a command inside its transformed frame (as
    /// libzmq sends PING, PONG and subscriptions under CURVE).
    fn queue_command(&mut self, name: &[u8], data: &[&[u8]]) -> Result<()> {
        match &mut self.codec {
            None => {
                command::encode_command(&mut self.transmit, name, data);
                Ok(())
            }
            Some(codec) => {
                let body = command::command_body(name, data);
                codec.encode(false, true, &body, &mut self.transmit)
            }
        }
    }

    fn fail(&mut self, error: Error) {
        if self.state == SessionState::Closed {
            return;
        }
        self.state = SessionState::Closed;
        self.timers.stop();
        self.partial = Msg::new();
        self.close_reason = Some(error.clone());
        self.events.push_back(Event::Closed(error));
    }

    /// One step of the peer's greeting, and the stage of ours it releases;
    /// `None` while more input is needed.
    fn greeting_step(&mut self) -> Option<Result<()>> {
        let step = match self.greeting.parse(&mut self.input) {
            GreetingStep::NeedMore => return None,
            GreetingStep::SendRevision => {
                self.transmit.push_raw(&[OUR_REVISION]);
                Ok(())
            }
            GreetingStep::SendRest { legacy: false } => {
                let rest = encode_greeting_rest(self.mechanism.name(), self.mechanism.as_server());
                self.transmit.push_raw(&rest);
                Ok(())
            }
            GreetingStep::SendRest { legacy: true } => {
                self.transmit
                    .push_raw(&[self.config.socket_type.zmq_number()]);
                Ok(())
            }
            GreetingStep::Done(PeerGreeting::V3(greeting)) => self.on_greeting(greeting),
            GreetingStep::Done(PeerGreeting::Legacy {
                version,
                socket_type,
            }) => self.on_legacy_greeting(version, Some(socket_type)),
            GreetingStep::Done(PeerGreeting::Unversioned) => {
                self.on_legacy_greeting(ProtocolVersion::V1_0, None)
            }
        };
        Some(step)
    }

    fn on_greeting(&mut self, greeting: Greeting) -> Result<()> {
        if !greeting.mechanism_is(self.mechanism.name()) {
            return Err(Error::MechanismMismatch {
                ours: self.mechanism.name(),
                theirs: greeting.mechanism_lossy(),
            });
        }
        self.version = Some(greeting.protocol_version());
        self.state = SessionState::Handshaking;
        let status = self.mechanism.start(&self.local, &mut self.transmit)?;
        self.on_handshake_status(status);
        Ok(())
    }

    fn on_handshake_status(&mut self, status: HandshakeStatus) {
        let (peer, codec) = match status {
            HandshakeStatus::InProgress => return,
            HandshakeStatus::Authenticate(credentials) => {
                self.awaiting_admission = true;
                self.events
                    .push_back(Event::AuthenticationRequested(credentials));
                return;
            }
            HandshakeStatus::Complete { peer, codec } => (peer, codec),
        };
        let PeerProperties {
            socket_type,
            identity,
            metadata,
            user_id,
        } = peer;
        let info = PeerInfo {
            version: self.version.unwrap_or(ProtocolVersion::V3_1),
            socket_type: Some(socket_type),
            identity,
            metadata,
            user_id,
        };
        self.codec = codec;
        self.timers.handshake_done(self.now);
        self.activate(info);
    }

    /// The handshake is over: the message limits apply, messages flow.
    fn activate(&mut self, info: PeerInfo) {
        self.unboxed_budget.limit = self.config.max_message_size;
        self.unboxed_budget.max_frames = self.config.max_message_frames;
        if let Some(ceiling) = self.config.memory_ceiling {
            self.unboxed_budget.ceiling = ceiling;
        }
        self.state = SessionState::Active;
        self.decoder
            .set_limit(FrameLimit::Message(self.config.max_message_size));
        self.decoder.set_max_frames(self.config.max_message_frames);
        self.peer = Some(info.clone());
        self.events.push_back(Event::HandshakeSucceeded(info));
    }

    /// The whole data messages at the front of the input, up to
    /// `max_messages`, as one [`WireRun`] in their wire form: what
    /// [`poll_message`](Self::poll_message) and
    /// [`poll_event`](Self::poll_event) would return one by one as
    /// [`Event::Message`]s, without decoding each (the taker does, where it
    /// uses them: `wire_run.rs`). `None` whenever anything else comes
    /// first (see
    /// [`FrameDecoder::scan_run`](crate::frame_decoder::FrameDecoder::scan_run));
    /// the other two then go on from there. Only where `poll_message` runs:
    /// an active session without a codec, not a publisher's.
    ///
    /// ```
    /// use std::time::Instant;
    /// use bytes::Bytes;
    /// use monocoque_zmtp::{Msg, Session, SessionConfig, SocketType};
    ///
    /// let now = Instant::now();
    /// let mut a = Session::new(SessionConfig::new(SocketType::Push), now).unwrap();
    /// let mut b = Session::new(SessionConfig::new(SocketType::Pull), now).unwrap();
    /// for _ in 0..4 {
    ///     let ab = a.transmit().take_all();
    ///     let ba = b.transmit().take_all();
    ///     a.handle_input(ba, now);
    ///     b.handle_input(ab, now);
    ///     while a.poll_event().is_some() {}
    ///     while b.poll_event().is_some() {}
    /// }
    /// a.send(&Msg::from("one")).unwrap();
    /// a.send(&Msg::from(vec![Bytes::from("two"), Bytes::from("parts")])).unwrap();
    /// b.handle_input(a.transmit().take_all(), now);
    /// let mut run = b.poll_run(16).unwrap();
    /// assert_eq!(run.messages(), 2);
    /// assert_eq!(run.next_message(), Some(Msg::from("one")));
    /// assert_eq!(run.next_frame(), Some((&b"two"[..], true)));
    /// assert_eq!(run.next_frame(), Some((&b"parts"[..], false)));
    /// assert_eq!(b.poll_run(16), None);
    /// ```
    pub fn poll_run(&mut self, max_messages: usize) -> Option<WireRun> {
        if !self.takes_fast_path() {
            return None;
        }
        let run = self.decoder.scan_run(&mut self.input, max_messages)?;
        self.timers.traffic();
        self.stats.messages_received += run.messages() as u64;
        Some(run)
    }

    /// Whether the data at the front of the input may be taken without
    /// `poll_event` (`poll_message`, `poll_run`): an active session without
    /// a codec, nothing queued or half built before it, not a publisher's
    /// (whose sessions read subscriptions from messages).
    #[inline]
    fn takes_fast_path(&self) -> bool {
        self.state == SessionState::Active
            && self.codec.is_none()
            && self.events.is_empty()
            && self.partial.is_empty()
            && !self.config.socket_type.is_publisher()
    }

    /// One decoded frame; the event it completes, if any (others, such as
    /// the handshake's, are queued).
    fn on_frame(&mut self, frame: Frame) -> Result<Option<Event>> {
        self.timers.traffic();
        if self.state == SessionState::Handshaking {
            if self.legacy.is_some() {
                self.on_legacy_identity(frame)?;
                return Ok(None);
            }
            if !frame.command {
                return Err(Error::MessageDuringHandshake {
                    expected: self.mechanism.expecting(),
                });
            }
            if let Some(data) = ErrorCommand::libzmq_plain_data(&frame.body) {
                return Err(peer_error(data));
            }
            let (name, data) = command::split_name(&frame.body)?;
            if &name[..] == ErrorCommand::NAME {
                return Err(peer_error(data));
            }
            let status = self
                .mechanism
                .on_command(&self.local, name, data, &mut self.transmit)?;
            self.on_handshake_status(status);
            return Ok(None);
        }
        let frame = match &mut self.codec {
            None => frame,
            Some(codec) => {
                let frame = codec.decode(frame)?;
                if !frame.command {
                    self.unboxed_budget
                        .account(frame.more, frame.body.len() as u64)?;
                }
                frame
            }
        };
        if frame.command {
            if self.version.is_some_and(ProtocolVersion::is_legacy) {
                // ZMTP 2.0 has no commands; the bit is reserved there.
                return Ok(None);
            }
            return self.on_command(frame.body);
        }
        let more = frame.more;
        if !more && self.partial.is_empty() {
            // A single-frame message: no partial to build.
            return Ok(Some(self.on_message(Msg::from(frame.body))));
        }
        if self.partial.len() >= ZERO_COPY_FRAMES && frame.body.len() > INLINE_COPY_MAX {
            self.partial_bytes_copied += frame.body.len() as u64;
            self.partial.push(Bytes::copy_from_slice(&frame.body));
        } else {
            self.partial.push(frame.body);
        }
        if more {
            return Ok(None);
        }
        let msg = std::mem::take(&mut self.partial);
        Ok(Some(self.on_message(msg)))
    }

    /// A command after the handshake. Unknown commands (and handshake commands
    /// repeated) are ignored, as libzmq ignores them.
    fn on_command(&mut self, body: Bytes) -> Result<Option<Event>> {
        let (name, data) = command::split_name(&body)?;
        match &name[..] {
            Ping::NAME => {
                let ping = Ping::parse(data)?;
                self.stats.pings_received += 1;
                self.timers.ping_received(self.now, ping.ttl());
                if self.owed_pongs.len() == MAX_OWED_PONGS {
                    self.owed_pongs.pop_front();
                }
                self.owed_pongs.push_back(Pong::echoing(&ping.context));
            }
            Pong::NAME => self.stats.pongs_received += 1,
            Subscribe::NAME if self.config.socket_type.is_publisher() => {
                return Ok(Some(Event::Subscribe(data)));
            }
            Cancel::NAME if self.config.socket_type.is_publisher() => {
                return Ok(Some(Event::Cancel(data)));
            }
            ErrorCommand::NAME => return Err(peer_error(data)),
            _ => {}
        }
        Ok(None)
    }

    /// A complete message, as the event it is.
    fn on_message(&mut self, msg: Msg) -> Event {
        // Subscriptions as messages (ZMTP 3.0 peers, XSUB users): 0x01 / 0x00 + topic.
        if self.config.socket_type.is_publisher() && msg.len() == 1 {
            match msg[0].first() {
                Some(1) => return Event::Subscribe(msg[0].slice(1..)),
                Some(0) => return Event::Cancel(msg[0].slice(1..)),
                _ => {}
            }
        }
        self.stats.messages_received += 1;
        Event::Message(msg)
    }
}

fn peer_error(data: Bytes) -> Error {
    match ErrorCommand::parse(data) {
        Ok(e) => Error::PeerError {
            reason: String::from_utf8_lossy(&e.reason).into_owned(),
        },
        Err(e) => e,
    }
}
