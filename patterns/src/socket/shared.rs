//! What a socket shares with its connection tasks, and the core state the
//! socket type's rules work on.

use rustc_hash::{FxHashMap, FxHashSet};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use bytes::Bytes;
use monocoque_runtime::JoinHandle;
use monocoque_zmtp::{Msg, SocketType};

use crate::fanout::Fanout;
use crate::lifecycle::Lifecycle;
use crate::monitor::{MonitorEvent, MonitorSink};
use crate::options::Options;
use crate::pipe::{Pipe, PipeEvent, Signals};
use crate::strategy::{
    FairQueue, LoadBalancer, PublisherState, RepState, ReqOptions, ReqState, RoutingTable,
    SubscriberFilter,
};
use crate::PeerId;

/// Shared between the socket handle and its tasks (listeners, connecters,
/// engines). Lives on one reactor thread.
pub(crate) struct SocketShared {
    pub(crate) kind: SocketType,
    pub(crate) signals: Rc<Signals>,
    pub(crate) core: RefCell<Core>,
    pub(crate) monitor: RefCell<MonitorSink>,
    pub(crate) lifecycle: Lifecycle,
    next_peer: Cell<u64>,
    /// Values kept alive until the socket and every task serving it are gone:
    /// the blocking `Context` puts a token here to learn when a closed socket
    /// has finished lingering.
    held_until_gone: RefCell<Vec<Box<dyn std::any::Any>>>,
}

impl SocketShared {
    pub(crate) fn new(kind: SocketType) -> Rc<SocketShared> {
        let seed = random_seed();
        let monitor = MonitorSink::default();
        Rc::new(SocketShared {
            kind,
            signals: Rc::new(Signals::default()),
            core: RefCell::new(Core::new(kind, seed, monitor.clone())),
            monitor: RefCell::new(monitor),
            lifecycle: Lifecycle::default(),
            next_peer: Cell::new(1),
            held_until_gone: RefCell::new(Vec::new()),
        })
    }

    /// Keeps `value` alive until this socket and all its tasks are dropped.
    pub(crate) fn hold_until_gone(&self, value: Box<dyn std::any::Any>) {
        self.held_until_gone.borrow_mut().push(value);
    }

    pub(crate) fn allocate_peer(&self) -> PeerId {
        let p = self.next_peer.get();
        self.next_peer.set(p + 1);
        PeerId(p)
    }
}

impl Drop for SocketShared {
    /// The last task serving the socket has ended (after close and linger):
    /// monitors hear that nothing more will come.
    fn drop(&mut self) {
        self.monitor.get_mut().post(MonitorEvent::Stopped);
    }
}

/// A bound or connected endpoint and the task serving it.
pub(crate) struct EndpointEntry {
    /// The endpoint as `last_endpoint` reports it (port resolved).
    pub(crate) resolved: String,
    /// The endpoint as the user wrote it (disconnect and unbind accept either).
    pub(crate) given: String,
    pub(crate) bound: bool,
    /// The listener or connecter task (none for inproc).
    pub(crate) task: Option<JoinHandle<()>>,
    /// The persistent pipe of a connect (IMMEDIATE off) or an inproc connect.
    pub(crate) pipe: Option<PeerId>,
}

/// The socket type's state: pipes and the routing strategies over them.
pub(crate) struct Core {
    pub(crate) kind: SocketType,
    pub(crate) options: Options,
    pub(crate) pipes: FxHashMap<PeerId, Pipe>,
    /// Pipes whose peer is gone but which still hold messages to read.
    pub(crate) dying: FxHashSet<PeerId>,
    pub(crate) lb: LoadBalancer,
    pub(crate) fq: FairQueue,
    pub(crate) routing: RoutingTable,
    pub(crate) req: ReqState,
    pub(crate) rep: RepState,
    /// PUB/XPUB: the subscribers' subscriptions.
    pub(crate) publisher: PublisherState<PeerId>,
    /// SUB/XSUB: this socket's own subscriptions.
    pub(crate) subscriber: SubscriberFilter,
    /// XPUB: subscription requests and upstream messages for `recv`, with the
    /// peer each came from (none for cancels of a departed peer).
    pub(crate) notices: VecDeque<(Msg, Option<PeerId>)>,
    /// XPUB_MANUAL: the peer of the request read last.
    pub(crate) last_notice_peer: Option<PeerId>,
    /// Reused for each published message's targets.
    pub(crate) scratch: Vec<PeerId>,
    /// PUB/XPUB spread over IO cores: the links and the remote peers.
    pub(crate) fanout: Option<Fanout>,
    /// PUB/XPUB: the last publish dropped the message for a subscriber at
    /// SNDHWM. The async send then yields once: a publisher that never waits
    /// would otherwise keep its own engines (same thread) from draining the
    /// pipes, and every message after the first SNDHWM would be lost.
    pub(crate) dropped_at_hwm: bool,
    /// Messages dropped for a peer at its SNDHWM since the socket opened
    /// (PUB/XPUB count one per subscriber that missed a message; ROUTER one
    /// per message to a full peer). See `Socket::hwm_drops`.
    pub(crate) hwm_drops: u64,
    pub(crate) endpoints: Vec<EndpointEntry>,
    pub(crate) last_endpoint: Option<String>,
    pub(crate) closed: bool,
    /// The socket's monitors (shared with `SocketShared::monitor`), for the
    /// peers the core drops itself.
    pub(crate) monitor: MonitorSink,
    seed: u32,
}

impl Core {
    fn new(kind: SocketType, seed: u32, monitor: MonitorSink) -> Core {
        Core {
            kind,
            options: Options::new(kind),
            pipes: FxHashMap::default(),
            dying: FxHashSet::default(),
            lb: LoadBalancer::default(),
            fq: FairQueue::default(),
            routing: RoutingTable::new(seed),
            req: ReqState::new(ReqOptions::default(), seed),
            rep: RepState::default(),
            publisher: PublisherState::default(),
            subscriber: SubscriberFilter::default(),
            notices: VecDeque::new(),
            last_notice_peer: None,
            scratch: Vec::new(),
            fanout: None,
            dropped_at_hwm: false,
            hwm_drops: 0,
            endpoints: Vec::new(),
            last_endpoint: None,
            closed: false,
            monitor,
            seed,
        }
    }

    /// Options that change the REQ state machine take effect for the next request.
    pub(crate) fn refresh_req(&mut self) {
        if self.kind == SocketType::Req && !self.req.can_recv() {
            self.req = ReqState::new(
                ReqOptions {
                    correlate: self.options.req_correlate,
                    relaxed: self.options.req_relaxed,
                },
                self.seed,
            );
        }
    }

    /// Applies every readiness change and pipe event signalled since last time.
    pub(crate) fn sync(&mut self, signals: &Signals) {
        loop {
            let event = signals.events.borrow_mut().pop_front();
            let Some(event) = event else { break };
            self.on_event(event);
        }
        let readable: Vec<PeerId> = std::mem::take(&mut *signals.readable.borrow_mut());
        for peer in readable {
            self.refresh_readable(peer);
        }
        if self.kind.is_publisher() {
            self.pump_upstream();
        }
        let writable: Vec<PeerId> = std::mem::take(&mut *signals.writable.borrow_mut());
        for peer in writable {
            if let Some(p) = self.pipes.get(&peer) {
                if !self.dying.contains(&peer) {
                    let full = p.outbound.borrow().is_full();
                    self.lb.set_full(peer, full);
                }
            }
        }
    }

    /// Re-reads a pipe's inbound state: readable, or finished and removed.
    pub(crate) fn refresh_readable(&mut self, peer: PeerId) {
        let Some(p) = self.pipes.get(&peer) else {
            return;
        };
        let (empty, writer_gone) = {
            let q = p.inbound.borrow();
            (q.is_empty(), q.writer_gone())
        };
        if empty && writer_gone && self.dying.contains(&peer) {
            self.remove(peer);
        } else {
            self.fq.set_readable(peer, !empty);
        }
    }

    fn on_event(&mut self, event: PipeEvent) {
        match event {
            PipeEvent::Attached(pipe) => self.attach(pipe),
            PipeEvent::Connected {
                peer,
                identity,
                socket_type,
                inproc_peer,
            } => {
                let Some(p) = self.pipes.get_mut(&peer) else {
                    return;
                };
                p.connected = true;
                if inproc_peer.is_some() {
                    p.inproc_peer = inproc_peer;
                }
                p.identity = identity.clone();
                p.peer_type = Some(socket_type);
                if self.options.immediate {
                    self.lb.attach(peer);
                }
                if self.kind == SocketType::Router {
                    self.register_identity(peer, &identity);
                }
            }
            PipeEvent::Disconnected(peer) => {
                // The subscriptions were the connection's: a reconnecting
                // subscriber sends its own again.
                self.publisher_peer_gone(peer);
                if let Some(p) = self.pipes.get_mut(&peer) {
                    p.connected = false;
                    // RFC 28/30/31: messages for a peer that disconnected are
                    // discarded; none is replayed to the next connection.
                    let dropped = p.outbound.borrow_mut().clear();
                    if dropped > 0 {
                        tracing::debug!(
                            ?peer,
                            dropped,
                            "peer disconnected; its queued messages were discarded"
                        );
                    }
                    self.lb.set_full(peer, false);
                }
                if self.kind == SocketType::Router {
                    self.routing.remove(peer);
                }
                if self.options.immediate {
                    self.lb.detach(peer);
                }
                self.req.peer_gone(peer);
            }
            PipeEvent::Detached(peer) => self.detach(peer),
        }
    }

    /// Registers a ROUTER peer's routing id; refuses a duplicate (terminating the
    /// newcomer) or hands the id over (terminating the old holder).
    fn register_identity(&mut self, peer: PeerId, identity: &Bytes) -> bool {
        match self
            .routing
            .register(peer, identity, self.options.router_handover)
        {
            Ok(reg) => {
                if let Some(p) = self.pipes.get_mut(&peer) {
                    p.identity = reg.identity;
                }
                if let Some(old) = reg.evicted {
                    tracing::info!(?old, "ROUTER_HANDOVER: routing id taken over by a new peer");
                    self.terminate(old);
                }
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "peer refused");
                self.terminate(peer);
                false
            }
        }
    }

    /// A new pipe joins the socket.
    pub(crate) fn attach(&mut self, pipe: Pipe) {
        let peer = pipe.peer;
        if self.closed {
            pipe.inbound.borrow_mut().close_reader();
            pipe.outbound.borrow_mut().close_writer();
            return;
        }
        if self.kind == SocketType::Pair && self.pipes.len() > self.dying.len() {
            tracing::warn!(endpoint = %pipe.endpoint, "PAIR already has its peer; connection refused");
            pipe.inbound.borrow_mut().close_reader();
            pipe.outbound.borrow_mut().close_writer();
            return;
        }
        let identity = pipe.identity.clone();
        let connected = pipe.connected;
        let readable = !pipe.inbound.borrow().is_empty();
        let full = pipe.outbound.borrow().is_full();
        self.pipes.insert(peer, pipe);
        self.fq.attach(peer);
        self.fq.set_readable(peer, readable);
        if connected || !self.options.immediate {
            self.lb.attach(peer);
            self.lb.set_full(peer, full);
        }
        if connected && self.kind == SocketType::Router {
            self.register_identity(peer, &identity);
        }
    }

    /// The peer is gone: no more sending to it; what it sent is still read.
    pub(crate) fn detach(&mut self, peer: PeerId) {
        if !self.pipes.contains_key(&peer) {
            return;
        }
        self.lb.detach(peer);
        self.routing.remove(peer);
        self.rep.peer_gone(peer);
        self.req.peer_gone(peer);
        self.dying.insert(peer);
        self.refresh_readable(peer);
    }

    /// The socket drops a pipe: its engine (or inproc peer) is told to finish.
    pub(crate) fn terminate(&mut self, peer: PeerId) {
        if let Some(f) = self.fanout.as_mut() {
            // A peer on an IO core: its core ends the connection.
            f.release(peer);
        }
        if let Some(p) = self.pipes.get(&peer) {
            p.inbound.borrow_mut().close_reader();
            p.outbound.borrow_mut().close_writer();
            if let Some((signals, their_peer)) = &p.inproc_peer {
                if let Some(s) = signals.upgrade() {
                    s.event(PipeEvent::Detached(*their_peer));
                }
            }
        }
        self.remove(peer);
    }

    fn remove(&mut self, peer: PeerId) {
        if self.pipes.contains_key(&peer) {
            self.publisher_peer_gone(peer);
        }
        self.pipes.remove(&peer);
        self.dying.remove(&peer);
        if let Some(f) = self.fanout.as_mut() {
            f.remote.remove(&peer);
        }
        self.lb.detach(peer);
        self.fq.detach(peer);
        self.routing.remove(peer);
        self.rep.peer_gone(peer);
        self.req.peer_gone(peer);
    }

    /// Takes the next message from `peer`'s inbound queue, keeping readiness true.
    pub(crate) fn pop_from(&mut self, peer: PeerId) -> Option<Msg> {
        let msg = self.pipes.get(&peer)?.inbound.borrow_mut().pop();
        self.refresh_readable(peer);
        msg
    }

    /// Queues `msg` to `peer`, keeping the load balancer's view of room true.
    pub(crate) fn push_to(&mut self, peer: PeerId, msg: Msg) {
        if let Some(p) = self.pipes.get(&peer) {
            let mut q = p.outbound.borrow_mut();
            q.push(msg);
            if q.is_full() {
                drop(q);
                self.lb.set_full(peer, true);
            }
        }
    }

    pub(crate) fn is_full(&self, peer: PeerId) -> bool {
        if let Some(full) = self.fanout.as_ref().and_then(|f| f.is_full(peer)) {
            return full;
        }
        self.pipes
            .get(&peer)
            .is_none_or(|p| p.outbound.borrow().is_full())
    }
}

/// A seed for automatic routing ids and request ids, as libzmq starts them at
/// a random value. Taken from the standard library's per-process random keys.
pub(crate) fn random_seed() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    h.finish() as u32
}
