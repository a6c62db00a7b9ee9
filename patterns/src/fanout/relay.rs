//! The IO core's side of one link: the publishing socket's connections that
//! live on this core, run by the ordinary engine.
//!
//! The relay is the engines' owner here, as a socket is on its own core: it
//! hands each engine the publisher's session configuration (so handshakes,
//! heartbeats, security and the XPUB welcome are the engine's, unchanged)
//! and serves the pipes the engines report, through [`RelayPort`]:
//!
//! ```text
//!   control ring ─▶ Adopt: spawn engine::run(stream)     Release, Close
//!   data ring    ─▶ Publish{msg, targets}: a clone (shared frames) into each
//!                   target's pipe; a pipe at SNDHWM loses its copy, or under
//!                   XPUB_NODROP the relay waits (the ring fills, the socket waits)
//!   engines      ─▶ Attached / Detached / inbound messages
//!                ─▶ events ring: Joined, Upstream, Left, Monitor
//! ```
//!
//! Upstream messages are read from a pipe only while the events ring has
//! room, so a socket that does not keep up pushes back on its subscribers
//! exactly as RCVHWM does locally. Joined and Left are never dropped.

use rustc_hash::{FxHashMap, FxHashSet};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

use monocoque_runtime::net::{TcpStream, UnixStream};
use monocoque_runtime::{spawn, spsc};
use monocoque_zmtp::{Msg, SocketType};

use super::link::{Control, CoreEnd, CoreEvent, Publish};
use crate::admission::{decide_locally, internal_refusal, AdmissionPolicy, ZapRequest};
use crate::engine::stream::Stream;
use crate::engine::{self, EngineEnd, EngineEvent, EngineOwner, EngineSetup, PipePlan, Verdict};
use crate::host::{ConnectionTerms, MovableStream, StreamKind};
use crate::lifecycle::Lifecycle;
use crate::monitor::{MonitorEvent, MONITOR_CAPACITY};
use crate::options::Options;
use crate::pipe::{detach_from_pool, Pipe, Signals};
use crate::PeerId;

/// Runs one link until the socket has closed and every connection here has
/// finished (delivered within the linger, or dropped at its end).
pub(crate) async fn run(end: CoreEnd) {
    let mut relay = Relay::new(end);
    poll_fn(|cx| relay.poll(cx)).await
}

/// What the relay's engines see of it: a lifecycle, the greeting, and
/// where to report. Reports queue here until the relay loop applies them.
struct RelayPort {
    signals: Rc<Signals>,
    lifecycle: Lifecycle,
    /// XPUB_WELCOME_MSG, as the last adopted connection's options say.
    welcome: RefCell<Option<Msg>>,
    reports: RefCell<VecDeque<EngineEvent>>,
    next_peer: Cell<u64>,
}

impl EngineOwner for RelayPort {
    fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    fn greeting(&self) -> Vec<Msg> {
        self.welcome.borrow().iter().cloned().collect()
    }

    fn report(&self, event: EngineEvent) {
        self.reports.borrow_mut().push_back(event);
        self.signals.wake_recv();
    }

    fn admit(&self, request: ZapRequest, policy: &AdmissionPolicy) -> Verdict {
        if let Some(decision) = decide_locally(policy, &request) {
            return Verdict::Now(decision);
        }
        // The ZAP handler lives on the socket's thread, out of reach from an
        // IO core: refuse rather than admit unasked.
        if let Some(suppressed) = crate::log_limit::ZAP_UNREACHABLE.admit() {
            tracing::warn!(
                suppressed,
                "a client on an IO core needs the ZAP handler, which IO cores cannot reach; \
                 refused (use CURVE_AUTHENTICATOR on a socket that spreads its connections)"
            );
        }
        Verdict::Now(internal_refusal())
    }
}

struct Relay {
    kind: SocketType,
    port: Rc<RelayPort>,
    /// The socket's options as of the last adopted connection.
    options: Options,
    control: spsc::Receiver<Control>,
    data: spsc::Receiver<Publish>,
    events: spsc::Sender<CoreEvent>,
    pipes: FxHashMap<PeerId, Pipe>,
    /// Peers whose connection ended; they leave once their inbound is read.
    gone: FxHashSet<PeerId>,
    /// Peers with inbound messages not yet forwarded.
    readable: VecDeque<PeerId>,
    /// Joined, Left and monitor events waiting for room in the events ring.
    outbox: VecDeque<CoreEvent>,
    /// XPUB_NODROP: a message still owed to targets that were full.
    pending: Option<Publish>,
    closing: bool,
}

impl Relay {
    fn new(end: CoreEnd) -> Relay {
        let port = Rc::new(RelayPort {
            signals: Rc::new(Signals::default()),
            lifecycle: Lifecycle::default(),
            welcome: RefCell::new(None),
            reports: RefCell::new(VecDeque::new()),
            next_peer: Cell::new(1),
        });
        Relay {
            kind: end.kind,
            port,
            options: Options::new(end.kind),
            control: end.control,
            data: end.data,
            events: end.events,
            pipes: FxHashMap::default(),
            gone: FxHashSet::default(),
            readable: VecDeque::new(),
            outbox: VecDeque::new(),
            pending: None,
            closing: false,
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // Pipe events and readiness wake both lists; register once per poll.
        self.port.signals.register_recv(cx.waker());
        self.port.signals.register_send(cx.waker());
        loop {
            let mut progress = self.control(cx);
            progress |= self.engine_reports();
            progress |= self.upstream(cx);
            progress |= self.flush_outbox(cx);
            progress |= self.deliver(cx);
            if self.closing && self.pipes.is_empty() && self.outbox.is_empty() {
                return Poll::Ready(());
            }
            if !progress {
                return Poll::Pending;
            }
        }
    }

    fn control(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while !self.closing {
            let command = match self.control.poll_recv(cx) {
                Poll::Pending => break,
                Poll::Ready(c) => c,
            };
            progress = true;
            match command {
                Some(Control::Adopt {
                    fd,
                    stream,
                    endpoint,
                    options,
                }) => {
                    self.options = *options;
                    let welcome = &self.options.xpub_welcome_msg;
                    *self.port.welcome.borrow_mut() = (self.kind == SocketType::XPub
                        && !welcome.is_empty())
                    .then(|| Msg::from(welcome.clone()));
                    self.adopt(fd, stream, endpoint);
                }
                Some(Control::Release(peer)) => self.release(peer, false),
                Some(Control::Close { linger }) => self.close(linger),
                None => self.close(self.options.linger),
            }
        }
        progress
    }

    fn adopt(&self, fd: std::os::fd::OwnedFd, stream: StreamKind, endpoint: String) {
        match stream {
            StreamKind::Tcp => self.start::<TcpStream>(fd, endpoint),
            StreamKind::Ipc => self.start::<UnixStream>(fd, endpoint),
        }
    }

    /// Runs an adopted connection in the ordinary engine.
    fn start<S: MovableStream + Stream>(&self, fd: std::os::fd::OwnedFd, endpoint: String) {
        let terms = ConnectionTerms::of(&self.options, self.kind);
        let peer = self.port.next_peer.get();
        self.port.next_peer.set(peer + 1);
        let zap = terms.zap_facts();
        let setup = EngineSetup {
            endpoint: endpoint.clone(),
            session: terms.session,
            pipe: PipePlan::Fresh {
                peer: PeerId(peer),
                shape: terms.shape,
                signals: self.port.signals.clone(),
            },
            probe_router: terms.probe_router,
            zap,
            peer_routing_id: None,
            raw: false,
        };
        let owner: Rc<dyn EngineOwner> = self.port.clone();
        match S::from_fd(fd) {
            Ok(s) => spawn(async move {
                engine::run(s, setup, owner).await;
            })
            .detach(),
            Err(e) => tracing::warn!(%endpoint, error = %e, "IO core could not adopt a connection"),
        }
    }

    /// Ends a peer's connection: what is queued to it still leaves (within
    /// the linger), unless `now`.
    fn release(&mut self, peer: PeerId, now: bool) {
        if let Some(p) = self.pipes.get(&peer) {
            p.inbound.borrow_mut().close_reader();
            let mut out = p.outbound.borrow_mut();
            if now {
                out.close_reader();
            }
            out.close_writer();
        }
    }

    /// The socket closed: what the data ring holds still goes out, then every
    /// connection finishes within the linger.
    fn close(&mut self, linger: Option<std::time::Duration>) {
        self.closing = true;
        if let Some(p) = self.pending.take() {
            self.push(p, false);
        }
        while let Some(p) = self.data.try_recv() {
            self.push(p, false);
        }
        let now = linger.is_some_and(|l| l.is_zero());
        let peers: Vec<PeerId> = self.pipes.keys().copied().collect();
        for peer in peers {
            self.release(peer, now);
        }
        self.port
            .lifecycle
            .close(linger.map(|l| Instant::now() + l));
    }

    /// Applies what the engines reported: new pipes join, ended ones leave
    /// once their inbound is read; monitor events go to the socket.
    fn engine_reports(&mut self) -> bool {
        let mut progress = false;
        loop {
            let report = self.port.reports.borrow_mut().pop_front();
            let Some(report) = report else { break };
            progress = true;
            match report {
                EngineEvent::Attached(pipe) => self.joined(pipe),
                EngineEvent::Ended {
                    endpoint,
                    pipe,
                    end,
                    remote,
                    ..
                } => {
                    if let Some(peer) = pipe {
                        self.gone.insert(peer);
                        self.readable.push_back(peer);
                    }
                    let event = match end {
                        EngineEnd::HandshakeFailed(reason) => MonitorEvent::HandshakeFailed {
                            endpoint,
                            remote,
                            reason,
                        },
                        EngineEnd::Disconnected(reason) => MonitorEvent::Disconnected {
                            endpoint,
                            remote,
                            reason,
                        },
                        EngineEnd::Released => continue,
                    };
                    self.monitor(event);
                }
                // Only connect-side pipes persist, and the relay has none.
                EngineEvent::Reattached { .. } => {}
            }
        }
        let readable = std::mem::take(&mut *self.port.signals.readable.borrow_mut());
        progress |= !readable.is_empty();
        self.readable.extend(readable);
        // Writable edges matter only to a message waiting under XPUB_NODROP,
        // which `deliver` retries on every turn.
        self.port.signals.writable.borrow_mut().clear();
        progress
    }

    fn joined(&mut self, pipe: Pipe) {
        self.outbox.push_back(CoreEvent::Joined {
            peer: pipe.peer,
            identity: pipe.identity.clone(),
            socket_type: pipe.peer_type.unwrap_or(self.kind),
            endpoint: pipe.endpoint.clone(),
        });
        self.monitor(MonitorEvent::HandshakeSucceeded {
            endpoint: pipe.endpoint.clone(),
            remote: pipe.remote.clone(),
        });
        if self.closing {
            pipe.inbound.borrow_mut().close_reader();
            pipe.outbound.borrow_mut().close_writer();
        }
        self.readable.push_back(pipe.peer);
        self.pipes.insert(pipe.peer, pipe);
    }

    /// Queues a monitor event for the socket; a socket whose monitors fall
    /// this far behind loses the newest, as a monitor queue would.
    fn monitor(&mut self, event: MonitorEvent) {
        if self.outbox.len() < MONITOR_CAPACITY {
            self.outbox.push_back(CoreEvent::Monitor(event));
        }
    }

    /// Forwards what subscribers sent, in order per peer, while the events
    /// ring has room; a peer that is gone leaves after its last message.
    fn upstream(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while let Some(&peer) = self.readable.front() {
            // Joined and Left go first, in order with the messages.
            if !self.outbox.is_empty() {
                break;
            }
            let Some(p) = self.pipes.get(&peer) else {
                self.readable.pop_front();
                continue;
            };
            loop {
                if self.events.is_full() {
                    let _ = self.events.poll_ready(cx);
                    return progress;
                }
                let msg = p.inbound.borrow_mut().pop();
                let Some(msg) = msg else { break };
                progress = true;
                // Copied out of this core's receive buffers: the socket may
                // hold it a while, and must not pin this reactor's pool.
                let msg = detach_from_pool(msg);
                if self
                    .events
                    .try_send(CoreEvent::Upstream { peer, msg })
                    .is_err()
                {
                    return progress;
                }
            }
            self.readable.pop_front();
            if self.gone.remove(&peer) {
                self.pipes.remove(&peer);
                self.outbox.push_back(CoreEvent::Left(peer));
                progress = true;
            }
        }
        progress
    }

    fn flush_outbox(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while let Some(event) = self.outbox.pop_front() {
            match self.events.try_send(event) {
                Ok(()) => progress = true,
                Err(spsc::TrySendError::Full(event)) => {
                    self.outbox.push_front(event);
                    let _ = self.events.poll_ready(cx);
                    break;
                }
                // The socket's side is gone: nobody to tell.
                Err(spsc::TrySendError::Closed(_)) => {
                    self.outbox.clear();
                    break;
                }
            }
        }
        progress
    }

    /// Moves published messages into their targets' pipes.
    fn deliver(&mut self, cx: &mut Context<'_>) -> bool {
        let nodrop = self.options.xpub_nodrop && !self.closing;
        let mut progress = false;
        loop {
            let publish = match self.pending.take() {
                Some(p) => p,
                None => match self.data.poll_recv(cx) {
                    Poll::Ready(Some(p)) => p,
                    Poll::Ready(None) | Poll::Pending => return progress,
                },
            };
            if let Some(rest) = self.push(publish, nodrop) {
                self.pending = Some(rest);
                return progress;
            }
            progress = true;
        }
    }

    /// Queues `p.msg` to each target with room. A full target loses its copy,
    /// or under `nodrop` the targets still owed are handed back.
    fn push(&mut self, p: Publish, nodrop: bool) -> Option<Publish> {
        let Publish { msg, mut targets } = p;
        let mut dropped = 0usize;
        let mut owed = Vec::new();
        for peer in targets.drain(..) {
            let Some(pipe) = self.pipes.get(&peer) else {
                continue;
            };
            let mut q = pipe.outbound.borrow_mut();
            if q.reader_gone() {
                continue;
            }
            if q.is_full() {
                if nodrop {
                    owed.push(peer);
                } else {
                    dropped += 1;
                }
            } else {
                q.push(msg.clone());
            }
        }
        if dropped > 0 {
            tracing::trace!(dropped, "PUB: subscribers at SNDHWM lost this message");
        }
        if owed.is_empty() {
            None
        } else {
            Some(Publish { msg, targets: owed })
        }
    }
}
