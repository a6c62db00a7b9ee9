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
//!
//! For every other socket type (`windowed`) the data ring carries
//! `Deliver{peer, msg}`, one message for one peer, and each peer has a
//! window both ways (`window.rs`): upstream messages go only while the
//! socket has credited enough of them, and the engine's reads of what was
//! delivered go back as Credit. A close does not end the connections at
//! once: the socket's owner task releases each peer once it has passed on
//! everything the socket queued to it, and the close's linger bounds them.
//!
//! Windowed links also run the connects the socket hands over
//! (`connects.rs`): the socket's connecter, reconnects included, with this
//! core as its host.

mod connects;

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

use super::link::{Control, CoreEnd, CoreEvent, Downstream, Publish};
use super::relay_port::RelayPort;
use super::window::{window, Intake, Window};
use crate::engine::stream::Stream;
use crate::engine::{self, EngineEnd, EngineEvent, EngineOwner, EngineSetup, PipePlan};
use crate::host::{ConnectionTerms, MovableStream, StreamKind};
use crate::lifecycle::Lifecycle;
use crate::monitor::{MonitorEvent, MONITOR_CAPACITY};
use crate::options::Options;
use crate::pipe::{detach_from_pool, Pipe, PipeShape, Signals};
use crate::PeerId;

/// Runs one link until the socket has closed and every connection here has
/// finished (delivered within the linger, or dropped at its end).
pub(crate) async fn run(end: CoreEnd) {
    let mut relay = Relay::new(end);
    poll_fn(|cx| relay.poll(cx)).await
}

/// A windowed peer's counts (`window.rs`).
struct PeerWindows {
    /// Messages delivered to it, credited as its engine takes them.
    down: Intake,
    /// Messages it sent that went up, until the socket credits them.
    up: Window,
    /// A connect's pipe: how many connections it has lost (`Deliver`).
    epoch: u32,
}

struct Relay {
    kind: SocketType,
    /// Not a publisher: Deliver, windows, releases (the module's comment).
    windowed: bool,
    windows: FxHashMap<PeerId, PeerWindows>,
    /// The control ring ended: the socket's side is gone.
    control_done: bool,
    port: Rc<RelayPort>,
    /// The socket's options as of the last adopted connection.
    options: Options,
    control: spsc::Receiver<Control>,
    data: spsc::Receiver<Downstream>,
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
    /// The connects running here, by their id (`connects.rs`).
    connects: FxHashMap<PeerId, connects::CoreConnect>,
    closing: bool,
    /// While closing: the linger's deadline (`None`: forever).
    deadline: Option<Instant>,
}

impl Relay {
    fn new(end: CoreEnd) -> Relay {
        let port = Rc::new(RelayPort {
            signals: Rc::new(Signals::default()),
            lifecycle: Lifecycle::default(),
            welcome: RefCell::new(None),
            reports: RefCell::new(VecDeque::new()),
            monitor_events: RefCell::new(VecDeque::new()),
            finished_connects: RefCell::new(Vec::new()),
            next_peer: Cell::new(1),
        });
        Relay {
            kind: end.kind,
            windowed: !end.kind.is_publisher(),
            windows: FxHashMap::default(),
            control_done: false,
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
            connects: FxHashMap::default(),
            closing: false,
            deadline: None,
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
        // A publisher's close ends its link's traffic; a windowed link still
        // hears its owner's releases and credits while it lingers.
        while !self.control_done && (self.windowed || !self.closing) {
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
                    self.take_options(*options);
                    self.adopt(fd, stream, endpoint);
                }
                Some(Control::Connect(order)) => self.connect(*order),
                Some(Control::Release(peer)) if self.connects.contains_key(&peer) => {
                    self.release_connect(peer)
                }
                Some(Control::Release(peer)) => self.release(peer, false),
                Some(Control::Disconnect(id)) => self.disconnect(id),
                Some(Control::Close { linger }) => self.close(linger, !self.windowed),
                Some(Control::Credit { peer, n }) => {
                    if let Some(w) = self.windows.get_mut(&peer) {
                        w.up.credit(n);
                        self.readable.push_back(peer);
                    }
                }
                None => {
                    // Nobody is left to release the peers: all go now.
                    self.control_done = true;
                    self.close(self.options.linger, true);
                }
            }
        }
        progress
    }

    /// The socket's options as of the newest connection handed over: the
    /// linger of a control ring that ends, and XPUB_WELCOME_MSG.
    fn take_options(&mut self, options: Options) {
        self.options = options;
        let welcome = &self.options.xpub_welcome_msg;
        *self.port.welcome.borrow_mut() = (self.kind == SocketType::XPub && !welcome.is_empty())
            .then(|| Msg::from(welcome.clone()));
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
        let shape = if self.windowed {
            // The engine's queues are the windows; nothing conflates here
            // (a socket that conflates keeps its connections).
            PipeShape {
                sndhwm: window(terms.shape.sndhwm),
                rcvhwm: window(terms.shape.rcvhwm),
                conflate_in: false,
                conflate_out: false,
            }
        } else {
            terms.shape
        };
        let peer = self.port.allocate_peer();
        let zap = terms.zap_facts();
        let setup = EngineSetup {
            endpoint: endpoint.clone(),
            session: terms.session,
            pipe: PipePlan::Fresh {
                peer,
                shape,
                signals: self.port.signals.clone(),
            },
            probe_router: terms.probe_router,
            zap,
            peer_routing_id: None,
            // A STREAM's connections are raw bytes (`engine/raw.rs`).
            raw: self.kind == SocketType::Stream,
        };
        let owner: Rc<dyn EngineOwner> = self.port.clone();
        match S::from_fd(fd) {
            Ok(s) if setup.raw => spawn(async move {
                engine::raw::run(s, setup, owner).await;
            })
            .detach(),
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
            // Looked at again: a connection that already ended leaves once
            // its inbound (just discarded) is seen empty, even if its
            // window was shut and no credit will come.
            self.readable.push_back(peer);
        }
    }

    /// The socket closed: what the data ring holds still goes out, then every
    /// connection finishes within the linger; `release_all` ends them now
    /// rather than as the owner releases each (a windowed link's Close).
    fn close(&mut self, linger: Option<std::time::Duration>, release_all: bool) {
        let first = !self.closing;
        self.closing = true;
        if release_all {
            if let Some(p) = self.pending.take() {
                self.push(p, false);
            }
            while let Some(d) = self.data.try_recv() {
                self.take_downstream(d, false);
            }
            let now = linger.is_some_and(|l| l.is_zero());
            let peers: Vec<PeerId> = self.pipes.keys().copied().collect();
            for peer in peers {
                self.release(peer, now);
            }
        }
        if first {
            self.deadline = linger.map(|l| Instant::now() + l);
            self.port.lifecycle.close(self.deadline);
            for c in self.connects.values() {
                c.port.lifecycle.close(self.deadline);
            }
        }
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
                    persistent,
                } => {
                    if let (Some(peer), true) = (pipe, persistent) {
                        self.disconnected(peer);
                    } else if let Some(peer) = pipe {
                        self.gone.insert(peer);
                        self.readable.push_back(peer);
                        if self.windowed {
                            // At once, not behind what the peer sent (which
                            // may wait on its window): the socket must stop
                            // sending to it now, as for a local peer.
                            self.outbox.push_back(CoreEvent::Gone(peer));
                        }
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
                EngineEvent::Reattached {
                    peer,
                    remote,
                    properties,
                    identity,
                    socket_type,
                    endpoint,
                } => {
                    self.reconnected(peer, identity, socket_type, properties);
                    self.monitor(MonitorEvent::HandshakeSucceeded { endpoint, remote });
                }
            }
        }
        progress |= self.connect_reports();
        let readable = std::mem::take(&mut *self.port.signals.readable.borrow_mut());
        progress |= !readable.is_empty();
        self.readable.extend(readable);
        // A publisher's writable edges matter only to a message waiting under
        // XPUB_NODROP, which `deliver` retries on every turn; a windowed
        // peer's are its engine's reads of what was delivered: credit.
        let writable = std::mem::take(&mut *self.port.signals.writable.borrow_mut());
        if self.windowed {
            for peer in writable {
                let (Some(p), Some(w)) = (self.pipes.get(&peer), self.windows.get_mut(&peer))
                else {
                    continue;
                };
                let n = w.down.due(p.outbound.borrow().outstanding());
                if n > 0 {
                    self.outbox.push_back(CoreEvent::Credit { peer, n });
                    progress = true;
                }
            }
        }
        progress
    }

    fn joined(&mut self, pipe: Pipe) {
        let down_window = pipe.outbound.borrow().hwm();
        let up_window = pipe.inbound.borrow().hwm();
        if self.windowed {
            pipe.outbound.borrow_mut().report_each_lwm();
            self.windows.insert(
                pipe.peer,
                PeerWindows {
                    down: Intake::default(),
                    up: Window::new(up_window),
                    epoch: 0,
                },
            );
        }
        self.outbox.push_back(CoreEvent::Joined {
            peer: pipe.peer,
            identity: pipe.identity.clone(),
            socket_type: pipe.peer_type.unwrap_or(self.kind),
            endpoint: pipe.endpoint.clone(),
            remote: pipe.remote.clone(),
            properties: pipe.properties.clone(),
            down_window,
            up_window,
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
    /// this far behind loses the newest, as a monitor queue would. (Only
    /// monitor events count: credits and departures share the outbox. The
    /// count is a scan, once per connection event, never per message.)
    fn monitor(&mut self, event: MonitorEvent) {
        let queued = self
            .outbox
            .iter()
            .filter(|e| matches!(e, CoreEvent::Monitor(_)))
            .count();
        if queued < MONITOR_CAPACITY {
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
            // A windowed peer whose window is used up waits for credit,
            // which puts it back on the list.
            let mut window_shut = false;
            loop {
                if self.events.is_full() {
                    let _ = self.events.poll_ready(cx);
                    return progress;
                }
                if p.inbound.borrow().is_empty() {
                    break;
                }
                if let Some(w) = self.windows.get_mut(&peer) {
                    if !w.up.has_room() {
                        window_shut = true;
                        break;
                    }
                    w.up.sent();
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
            if !window_shut && self.gone.remove(&peer) {
                self.pipes.remove(&peer);
                self.windows.remove(&peer);
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
            if let Some(p) = self.pending.take() {
                if let Some(rest) = self.push(p, nodrop) {
                    self.pending = Some(rest);
                    return progress;
                }
                progress = true;
            }
            match self.data.poll_recv(cx) {
                Poll::Ready(Some(d)) => {
                    progress = true;
                    if let Some(rest) = self.take_downstream(d, nodrop) {
                        self.pending = Some(rest);
                        return progress;
                    }
                }
                Poll::Ready(None) | Poll::Pending => return progress,
            }
        }
    }

    /// One item of the data ring: a publisher's message (what is still owed
    /// under `nodrop` comes back), or a message for one windowed peer.
    fn take_downstream(&mut self, d: Downstream, nodrop: bool) -> Option<Publish> {
        match d {
            Downstream::Publish(p) => self.push(p, nodrop),
            Downstream::Deliver { peer, epoch, msg } => {
                // Within the peer's window, so never past its queue's HWM; a
                // connection that ended discards it (its Left follows).
                if let (Some(p), Some(w)) = (self.pipes.get(&peer), self.windows.get_mut(&peer)) {
                    let mut out = p.outbound.borrow_mut();
                    if epoch != w.epoch {
                        // Sent before the socket heard its connect lost the
                        // connection: discarded, and its slot credited back.
                        w.down.took();
                        let n = w.down.due(out.outstanding());
                        drop(out);
                        if n > 0 {
                            self.outbox.push_back(CoreEvent::Credit { peer, n });
                        }
                    } else if out.push(msg) {
                        w.down.took();
                    }
                }
                None
            }
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
