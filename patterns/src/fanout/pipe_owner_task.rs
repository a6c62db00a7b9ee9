//! A spread socket's side of one IO core, for every type but the publishers:
//! a task on the socket's own reactor that is the far end of the pipes of
//! the peers on that core, as an engine is of a local peer's pipe.
//!
//! ```text
//!   socket ─▶ pipe outbound ─▶ this task ─Deliver (window W↓)─▶ data ring ─▶ IO core
//!   socket ◀─ pipe inbound  ◀─ this task ◀─Upstream (window W↑)─ events ring ◀─ IO core
//!            (reads reported each LWM) ─Credit─▶ control ring (outbox) ─▶ IO core
//! ```
//!
//! The task learns of its pipes through its own [`Signals`](crate::pipe::Signals):
//! a readable edge is an outbound queue with something to pass on (or whose
//! writer, the socket, let go of it), a writable edge is the socket having
//! read another LWM of an inbound queue. Joined peers become pipes of the
//! socket; Gone ones are detached at once (nothing more is sent to them),
//! and their pipe ends with Left, once the core has passed on everything
//! they sent.
//!
//! A pipe the socket lets go of is released to the core at once, as a
//! local engine ends at once, except while the socket closes: then what
//! it queued still goes first, within the linger the core keeps.
//!
//! A connect the socket handed to the core with a persistent pipe
//! (IMMEDIATE off) is served from the moment its Connect is on the control
//! ring, but its messages cross only while it is connected: while not, they
//! wait in the socket's pipe, as on a local one. Connected and Disconnected
//! reach the socket as a local engine's would. At each Connected, what the
//! socket says first to every peer (a SUB's subscriptions, read then) goes
//! ahead of its queue; a Disconnected advances the peer's epoch, so that
//! what was sent to the lost connection and is still on the ring is
//! discarded by the core (`Deliver`).

use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};

use monocoque_runtime::spsc;
use monocoque_zmtp::Msg;

use super::link::{Control, CoreEvent, Downstream};
use super::pipe_links::{LocalConnect, PipeLink};
use super::window::{Intake, Window};
use crate::host::SocketHost;
use crate::pipe::{FarEnd, Notify, Pipe, PipeEvent, PipeShape, SharedQueue};
use crate::PeerId;

/// Runs until the core ends the link (after the socket closed and the core's
/// connections finished).
pub(crate) async fn run(
    host: Rc<dyn SocketHost>,
    link: Rc<PipeLink>,
    data: spsc::Sender<Downstream>,
    events: spsc::Receiver<CoreEvent>,
) {
    let mut owner = PipeOwner {
        host,
        link,
        data,
        events,
        peers: FxHashMap::default(),
        by_core_id: FxHashMap::default(),
        sendable: VecDeque::new(),
    };
    poll_fn(|cx| owner.poll(cx)).await
}

/// One peer on the core, as this task serves its pipe.
struct RemotePeer {
    /// The core's id for it.
    id: PeerId,
    inbound: SharedQueue,
    outbound: SharedQueue,
    /// What went down the data ring and the core has not credited.
    down: Window,
    /// What came up from the core, credited back as the socket reads it.
    up: Intake,
    /// Release sent: the socket let go of the pipe.
    released: bool,
    /// The core said the connection ended; the socket was told (Detached).
    gone: bool,
    /// A connection is up (always, but between a persistent pipe's
    /// connections): counted in the core's figures, and messages cross.
    connected: bool,
    /// Connections the persistent pipe lost, as the core counts them.
    epoch: u32,
    /// The socket's greeting for the current connection, sent first.
    greeting: VecDeque<Msg>,
}

struct PipeOwner {
    host: Rc<dyn SocketHost>,
    link: Rc<PipeLink>,
    data: spsc::Sender<Downstream>,
    events: spsc::Receiver<CoreEvent>,
    /// By the socket's peer id.
    peers: FxHashMap<PeerId, RemotePeer>,
    /// The core's peer id -> the socket's.
    by_core_id: FxHashMap<PeerId, PeerId>,
    /// Peers whose outbound queue may have something to pass on.
    sendable: VecDeque<PeerId>,
}

impl PipeOwner {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let signals = self.link.signals.clone();
        signals.register_recv(cx.waker());
        signals.register_send(cx.waker());
        loop {
            let mut progress = self.edges();
            match self.core_events(cx) {
                Poll::Ready(()) => {
                    self.finish();
                    return Poll::Ready(());
                }
                Poll::Pending => {}
            }
            progress |= self.forward(cx);
            progress |= self.flush_controls(cx);
            if !progress {
                return Poll::Pending;
            }
        }
    }

    /// Applies the pipes' edges: outbound queues to look at, inbound reads
    /// to credit.
    fn edges(&mut self) -> bool {
        let signals = &self.link.signals;
        let readable = std::mem::take(&mut *signals.readable.borrow_mut());
        let writable = std::mem::take(&mut *signals.writable.borrow_mut());
        let progress = !readable.is_empty() || !writable.is_empty();
        self.sendable.extend(readable);
        for peer in writable {
            if let Some(p) = self.peers.get_mut(&peer) {
                let n = p.up.due(p.inbound.borrow().outstanding());
                if n > 0 && !p.released {
                    self.link
                        .outbox
                        .borrow_mut()
                        .push_back(Control::Credit { peer: p.id, n });
                }
            }
        }
        progress
    }

    /// Takes the core's events; `Ready` once the core has ended the link.
    fn core_events(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let event = match self.events.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Ready(Some(e)) => e,
            };
            match event {
                CoreEvent::Joined {
                    peer,
                    identity,
                    socket_type,
                    endpoint,
                    remote,
                    properties,
                    down_window,
                    up_window,
                } => {
                    if self.link.closed.get() {
                        // The socket closed meanwhile and will not look at
                        // a new pipe again: the core ends the connection.
                        self.link
                            .outbox
                            .borrow_mut()
                            .push_back(Control::Release(peer));
                        continue;
                    }
                    let mut pipe = self.attach(peer, &endpoint, down_window, up_window);
                    pipe.identity = identity;
                    pipe.peer_type = Some(socket_type);
                    pipe.remote = remote;
                    pipe.properties = properties;
                    self.host.signals().event(PipeEvent::Attached(pipe));
                }
                CoreEvent::Upstream { peer, msg } => {
                    if let Some(p) = self
                        .by_core_id
                        .get(&peer)
                        .and_then(|local| self.peers.get_mut(local))
                    {
                        // Within the window the core keeps to, so never past
                        // the queue's HWM; a socket that let go discards it.
                        p.up.took();
                        p.inbound.borrow_mut().push(msg);
                    }
                }
                CoreEvent::Credit { peer, n } => {
                    if let Some(&local) = self.by_core_id.get(&peer) {
                        if let Some(p) = self.peers.get_mut(&local) {
                            p.down.credit(n);
                            self.sendable.push_back(local);
                        }
                    }
                }
                CoreEvent::Gone(id) => {
                    if let Some(&local) = self.by_core_id.get(&id) {
                        self.gone(local);
                    }
                }
                CoreEvent::Left(id) => {
                    if let Some(local) = self.by_core_id.remove(&id) {
                        self.leave(local);
                    }
                }
                CoreEvent::Connected {
                    peer,
                    identity,
                    socket_type,
                    properties,
                } => self.connected(peer, identity, socket_type, properties),
                CoreEvent::Disconnected { peer, epoch } => self.disconnected(peer, epoch),
                CoreEvent::Monitor(e) => self.host.post(e),
            }
        }
    }

    /// A peer that joined on the core (its id there: `id`) becomes a pipe of
    /// the socket, whose far end is this task. `down` and `up` are the
    /// windows the core keeps to: both sides must count with the same.
    fn attach(&mut self, id: PeerId, endpoint: &str, down: usize, up: usize) -> Pipe {
        let peer = self.host.allocate_peer();
        let terms = self.host.terms();
        // The inbound queue's HWM is the window (a socket's RCVHWM 0 gets
        // the largest), so that its reads come back each LWM; what arrives
        // through the core is never conflated (such sockets stay local).
        let shape = PipeShape {
            rcvhwm: up,
            conflate_in: false,
            conflate_out: false,
            ..terms.shape
        };
        let mut pipe = Pipe::new(peer, shape, self.host.signals(), endpoint);
        // What the socket says first to every peer (a SUB's subscriptions),
        // ahead of anything it queues later.
        for msg in self.host.greeting() {
            pipe.outbound.borrow_mut().push(msg);
        }
        pipe.connected = true;
        self.serve(id, &pipe.far_end(), down, true);
        pipe
    }

    /// Serves the far end of a socket's pipe for the core's peer `id`,
    /// counting `down` and `up` as the core does.
    fn serve(&mut self, id: PeerId, far: &FarEnd, down: usize, connected: bool) {
        let peer = far.peer;
        let me: Weak<_> = Rc::downgrade(&self.link.signals);
        {
            let mut inbound = far.inbound.borrow_mut();
            inbound.writer = Notify::Socket {
                signals: me.clone(),
                peer,
            };
            inbound.report_each_lwm();
        }
        far.outbound.borrow_mut().reader = Notify::Socket { signals: me, peer };
        self.peers.insert(
            peer,
            RemotePeer {
                id,
                inbound: far.inbound.clone(),
                outbound: far.outbound.clone(),
                down: Window::new(down),
                up: Intake::default(),
                released: false,
                gone: false,
                connected,
                epoch: 0,
                greeting: VecDeque::new(),
            },
        );
        self.by_core_id.insert(id, peer);
        if connected {
            self.link.connections.set(self.link.connections.get() + 1);
        }
        self.sendable.push_back(peer);
    }

    /// A connect's Connect is on the ring: its persistent pipe is served
    /// from now on (the core knows its id before any message for it).
    fn connect_sent(&mut self, id: PeerId) {
        let local = self.link.new_connects.borrow_mut().remove(&id);
        if let Some(LocalConnect { far, down, .. }) = local {
            self.serve(id, &far, down, false);
        }
    }

    /// A connect's persistent pipe has a connection: the socket's greeting
    /// goes ahead of what it queued, and the socket hears of it as of a
    /// local connection.
    fn connected(
        &mut self,
        id: PeerId,
        identity: bytes::Bytes,
        socket_type: Option<monocoque_zmtp::SocketType>,
        properties: std::sync::Arc<crate::PeerProperties>,
    ) {
        let Some(&peer) = self.by_core_id.get(&id) else {
            return;
        };
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        if p.released || p.gone {
            return;
        }
        if !std::mem::replace(&mut p.connected, true) {
            self.link.connections.set(self.link.connections.get() + 1);
        }
        // Kept here, not in the socket's queue: a Disconnected the socket
        // has yet to apply would clear it there.
        p.greeting = self.host.greeting().into();
        self.host.signals().event(PipeEvent::Connected {
            peer,
            identity,
            socket_type,
            inproc_peer: None,
            properties,
        });
        self.sendable.push_back(peer);
    }

    /// A connect's persistent pipe lost its connection; it stays.
    fn disconnected(&mut self, id: PeerId, epoch: u32) {
        let Some(&peer) = self.by_core_id.get(&id) else {
            return;
        };
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        if std::mem::replace(&mut p.connected, false) {
            self.link
                .connections
                .set(self.link.connections.get().saturating_sub(1));
        }
        p.epoch = epoch;
        p.greeting.clear();
        if !p.released && !p.gone {
            self.host.signals().event(PipeEvent::Disconnected(peer));
        }
    }

    /// The peer's connection ended: nothing more can reach it (a sender
    /// waiting for room stops waiting, what is queued is discarded), and the
    /// socket stops sending to it; what it sent is still read.
    fn gone(&mut self, peer: PeerId) {
        if let Some(p) = self.peers.get_mut(&peer) {
            if !std::mem::replace(&mut p.gone, true) {
                p.outbound.borrow_mut().close_reader();
                self.host.signals().event(PipeEvent::Detached(peer));
                // Looked at again: a pipe the socket already let go of
                // (closing, its queue held up by the window) is released
                // now, so the core can drain and end it.
                self.sendable.push_back(peer);
            }
        }
    }

    /// The core passed on everything the peer sent and ended its connection.
    fn leave(&mut self, peer: PeerId) {
        self.gone(peer);
        if let Some(p) = self.peers.remove(&peer) {
            p.inbound.borrow_mut().close_writer();
            if p.connected {
                self.link
                    .connections
                    .set(self.link.connections.get().saturating_sub(1));
            }
        }
    }

    /// Passes queued messages down while their peer's window and the data
    /// ring have room; a peer whose pipe the socket let go of is released
    /// once its queue is empty.
    fn forward(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while let Some(&peer) = self.sendable.front() {
            let Some(p) = self.peers.get_mut(&peer) else {
                self.sendable.pop_front();
                continue;
            };
            // Let go of outside a close (unbind, handover, a second PAIR
            // peer): the connection ends now, what was queued with it.
            let let_go = !self.link.closed.get() && p.outbound.borrow().writer_gone();
            while p.down.has_room() && !let_go && !p.gone && p.connected {
                if self.data.is_full() {
                    // Woken when the core frees a slot; the peer stays first.
                    if self.data.poll_ready(cx).is_pending() {
                        return progress;
                    }
                    continue;
                }
                let msg = match p.greeting.pop_front() {
                    Some(m) => Some(m),
                    None => p.outbound.borrow_mut().pop(),
                };
                let Some(msg) = msg else { break };
                progress = true;
                let deliver = Downstream::Deliver {
                    peer: p.id,
                    epoch: p.epoch,
                    msg,
                };
                if self.data.try_send(deliver).is_err() {
                    // The core is gone: its Left events will follow.
                    break;
                }
                p.down.sent();
                self.link.handed.set(self.link.handed.get() + 1);
            }
            let q = p.outbound.borrow();
            let drained = q.is_empty() && p.greeting.is_empty();
            if !p.released && q.writer_gone() && (drained || let_go || p.gone) {
                drop(q);
                // What was queued goes with the connection, now.
                p.outbound.borrow_mut().close_reader();
                p.released = true;
                self.link
                    .outbox
                    .borrow_mut()
                    .push_back(Control::Release(p.id));
                progress = true;
            }
            self.sendable.pop_front();
        }
        progress
    }

    /// Sends the outbox's controls as the ring has room.
    fn flush_controls(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        let link = self.link.clone();
        let mut outbox = link.outbox.borrow_mut();
        let mut control = link.control.borrow_mut();
        while let Some(c) = outbox.pop_front() {
            let connect = match &c {
                Control::Connect(order) => Some(order.id),
                _ => None,
            };
            match control.try_send(c) {
                Ok(()) => {
                    progress = true;
                    if let Some(id) = connect {
                        self.connect_sent(id);
                    }
                }
                Err(spsc::TrySendError::Full(c)) => {
                    outbox.push_front(c);
                    if control.poll_ready(cx).is_ready() {
                        continue;
                    }
                    break;
                }
                Err(spsc::TrySendError::Closed(_)) => {
                    outbox.clear();
                    break;
                }
            }
        }
        progress
    }

    /// The core ended the link: every pipe still here is over.
    fn finish(&mut self) {
        let peers: Vec<PeerId> = self.peers.keys().copied().collect();
        for peer in peers {
            self.leave(peer);
        }
        self.by_core_id.clear();
    }
}
