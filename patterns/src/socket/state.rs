//! A socket's state on its reactor thread: the options, the pipes every type
//! has ([`Peers`]), the type's own state ([`Role`]) and the endpoints. The
//! socket's calls work on it; engines and transports never do (they report
//! through the socket's signals, applied here by [`SocketState::sync`]).

use bytes::Bytes;
use monocoque_zmtp::{Msg, SocketType};

use super::message_run::MessageRun;
use super::peers::{Peers, RunEnd};
use super::role::{Pump, Registered, Role, Step};
use super::shared::EndpointEntry;
use super::SendRoom;
use crate::close_reason::CloseReason;
use crate::fanout::{Fanout, PipeLinks, Spread};
use crate::log_limit;
use crate::monitor::{MonitorEvent, MonitorSink};
use crate::options::Options;
use crate::pipe::{Pipe, PipeEvent, Signals};
use crate::strategy::OverLimit;
use crate::{Error, PeerId, Result};

/// One socket's state.
pub(crate) struct SocketState {
    pub(crate) kind: SocketType,
    pub(crate) options: Options,
    peers: Peers,
    role: Role,
    /// Messages dropped for a peer at its SNDHWM since the socket opened
    /// (PUB/XPUB count one per subscriber that missed a message; ROUTER one
    /// per message to a full peer). See `Socket::hwm_drops`.
    pub(crate) hwm_drops: u64,
    pub(crate) endpoints: Vec<EndpointEntry>,
    pub(crate) last_endpoint: Option<String>,
    pub(crate) closed: bool,
    /// The IO cores a socket other than a publisher spread its accepted
    /// connections over (a publisher's are its role's fan-out).
    pipe_links: Option<PipeLinks>,
    /// The socket's monitors (shared with `SocketShared::monitor`), for the
    /// peers the socket drops itself.
    monitor: MonitorSink,
    /// Spare list for the readiness edges `sync` applies.
    edges: Vec<PeerId>,
    /// The signals' generation `sync` last applied.
    synced: u64,
    /// A message `recv_readiness` took to learn that one was there, with
    /// its sender's properties: the next receive returns it first.
    prefetched: Option<(Msg, Option<std::sync::Arc<crate::PeerProperties>>)>,
    /// The properties of the prefetched message the last receive returned
    /// (`None`: it returned no prefetched message).
    prefetched_returned: Option<Option<std::sync::Arc<crate::PeerProperties>>>,
}

/// An inproc queue's new limit when our part of it goes from `old` to
/// `new` (0 is unbounded, for either part and for the whole).
fn shared_hwm(hwm: usize, old: usize, new: usize) -> usize {
    match (hwm, old, new) {
        (_, _, 0) => 0,
        // Unbounded by the other side: it stays so.
        (0, old, _) if old != 0 => 0,
        // Unbounded by us: the other side's part is not known; ours alone.
        (0, _, new) => new,
        (hwm, old, new) => hwm.saturating_sub(old).saturating_add(new).max(1),
    }
}

impl SocketState {
    pub(crate) fn new(kind: SocketType, seed: u32, monitor: MonitorSink) -> SocketState {
        let options = Options::new(kind);
        SocketState {
            kind,
            role: Role::new(kind, seed, &options),
            options,
            peers: Peers::default(),
            hwm_drops: 0,
            endpoints: Vec::new(),
            last_endpoint: None,
            closed: false,
            pipe_links: None,
            monitor,
            edges: Vec::new(),
            synced: u64::MAX,
            prefetched: None,
            prefetched_returned: None,
        }
    }

    /// Applies an option (the type checks are the options' own).
    pub(crate) fn apply(&mut self, option: crate::SocketOption) -> Result<()> {
        let old = (self.options.sndhwm, self.options.rcvhwm);
        self.options.apply(self.kind, option)?;
        self.role.configure(&self.options);
        let new = (self.options.sndhwm, self.options.rcvhwm);
        if new != old {
            self.update_pipe_hwms(old, new);
        }
        Ok(())
    }

    /// SNDHWM and RCVHWM changed: the pipes live now take the new limits,
    /// as libzmq's `update_pipe_options` gives them. A tcp or ipc pipe's
    /// queues are this socket's alone; an inproc queue is shared, sized by
    /// our HWM plus the other socket's, so only our part changes. The
    /// inbound queue of a peer on an IO core keeps its HWM: it is the window
    /// the core keeps to (`fanout/window.rs`), and a new one would leave the
    /// two sides counting differently (the peer stalled for good).
    fn update_pipe_hwms(&mut self, (old_snd, old_rcv): (usize, usize), (snd, rcv): (usize, usize)) {
        for p in self.peers.iter() {
            if p.endpoint.starts_with("inproc://") {
                let mut out = p.outbound.borrow_mut();
                let hwm = shared_hwm(out.hwm(), old_snd, snd);
                out.set_hwm(hwm);
                drop(out);
                let mut inb = p.inbound.borrow_mut();
                let hwm = shared_hwm(inb.hwm(), old_rcv, rcv);
                inb.set_hwm(hwm);
            } else {
                p.outbound.borrow_mut().set_hwm(snd);
                let mut inb = p.inbound.borrow_mut();
                if !inb.reports_each_lwm() {
                    inb.set_hwm(rcv);
                }
            }
        }
    }

    /// Applies every readiness change and pipe event signalled since last time.
    pub(crate) fn sync(&mut self, signals: &Signals) {
        // Every signal bumps the generation: unchanged, there is nothing
        // to apply (the common case of a busy reader between edges).
        let generation = signals.generation.get();
        if generation == self.synced {
            return;
        }
        self.synced = generation;
        loop {
            let event = signals.events.borrow_mut().pop_front();
            let Some(event) = event else { break };
            self.on_event(event);
        }
        // The lists are swapped with this state's spare ones, not taken, so
        // neither side allocates again on the next edge.
        std::mem::swap(&mut self.edges, &mut *signals.readable.borrow_mut());
        for i in 0..self.edges.len() {
            self.refresh_readable(self.edges[i]);
        }
        self.edges.clear();
        if self.kind.is_publisher() {
            self.pump_upstream();
        }
        std::mem::swap(&mut self.edges, &mut *signals.writable.borrow_mut());
        for &peer in &self.edges {
            self.peers.refresh_writable(peer);
        }
        self.edges.clear();
    }

    fn refresh_readable(&mut self, peer: PeerId) {
        if self.peers.refresh_readable(peer) {
            self.role.peer_removed(peer);
        }
    }

    fn on_event(&mut self, event: PipeEvent) {
        match event {
            PipeEvent::Attached(pipe) => self.attach(pipe),
            PipeEvent::AttachedRemote { pipe, core, id } => {
                if let Some(p) = self.role.publisher() {
                    p.note_remote(pipe.peer, core, id);
                }
                self.attach(pipe);
            }
            PipeEvent::Connected {
                peer,
                identity,
                socket_type,
                inproc_peer,
                properties,
            } => {
                let Some(p) = self.peers.get_mut(peer) else {
                    return;
                };
                p.connected = true;
                p.properties = Some(properties);
                if inproc_peer.is_some() {
                    p.inproc_peer = inproc_peer;
                }
                p.identity = identity.clone();
                p.peer_type = socket_type;
                if self.options.immediate {
                    self.peers.balance(peer);
                }
                self.register_identity(peer, &identity);
            }
            PipeEvent::Disconnected(peer) => self.disconnected(peer),
            PipeEvent::Detached(peer) => self.detach(peer),
        }
    }

    /// The connection under a persistent pipe dropped; the pipe stays.
    fn disconnected(&mut self, peer: PeerId) {
        let departure_in_pipe = self.role.peer_disconnected(peer);
        if let Some(p) = self.peers.get_mut(peer) {
            p.connected = false;
            if departure_in_pipe {
                p.inbound.borrow_mut().push(Msg::from(vec![Bytes::new()]));
            }
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
            self.peers.refresh_writable(peer);
        }
        if self.options.immediate {
            self.peers.unbalance(peer);
        }
    }

    /// CONNECT_ROUTING_ID on a ROUTER: the connect's pipe is routable under
    /// `identity` from now on, before its connection is made.
    pub(crate) fn register_connect_routing_id(&mut self, peer: PeerId, identity: &Bytes) {
        let Role::Router(router) = &mut self.role else {
            return;
        };
        let registered = router.register_early(peer, identity);
        self.apply_registration(peer, identity, registered);
    }

    /// A ROUTER registers a connected peer's routing id; a duplicate is
    /// refused (the newcomer goes) or handed over (the old holder goes).
    fn register_identity(&mut self, peer: PeerId, identity: &Bytes) {
        let Role::Router(router) = &mut self.role else {
            return;
        };
        let registered = router.register(peer, identity);
        self.apply_registration(peer, identity, registered);
    }

    fn apply_registration(&mut self, peer: PeerId, identity: &Bytes, registered: Registered) {
        match registered {
            Registered::As(id) => {
                if self.kind == SocketType::Stream && identity.is_empty() {
                    // libzmq's STREAM reads back (ZMQ_ROUTING_ID) the id it
                    // made last, for a connection it named itself.
                    self.options.routing_id = id.clone();
                }
                self.set_identity(peer, id)
            }
            Registered::TookOver { identity, evicted } => {
                self.set_identity(peer, identity);
                tracing::info!(old = ?evicted, "ROUTER_HANDOVER: routing id taken over by a new peer");
                self.terminate(evicted);
            }
            Registered::Refused => self.terminate(peer),
        }
    }

    fn set_identity(&mut self, peer: PeerId, identity: Bytes) {
        if let Some(p) = self.peers.get_mut(peer) {
            p.identity = identity;
        }
    }

    /// A new pipe joins the socket.
    pub(crate) fn attach(&mut self, pipe: Pipe) {
        if self.closed {
            pipe.inbound.borrow_mut().close_reader();
            pipe.outbound.borrow_mut().close_writer();
            return;
        }
        if self.kind == SocketType::Pair && self.peers.live_count() > 0 {
            tracing::warn!(endpoint = %pipe.endpoint, "PAIR already has its peer; connection refused");
            pipe.inbound.borrow_mut().close_reader();
            pipe.outbound.borrow_mut().close_writer();
            return;
        }
        let peer = pipe.peer;
        let identity = pipe.identity.clone();
        let connected = pipe.connected;
        self.peers
            .insert(pipe, connected || !self.options.immediate);
        if connected {
            self.register_identity(peer, &identity);
        }
    }

    /// The peer is gone: no more sending to it; what it sent is still read.
    pub(crate) fn detach(&mut self, peer: PeerId) {
        if !self.peers.contains(peer) {
            return;
        }
        self.role.peer_dying(peer);
        if self.peers.mark_dying(peer) {
            self.role.peer_removed(peer);
        }
    }

    /// The socket drops a pipe: its engine (or inproc peer) is told to finish.
    pub(crate) fn terminate(&mut self, peer: PeerId) {
        if let Some(p) = self.role.publisher() {
            // A peer on an IO core: its core ends the connection.
            p.release(peer);
        }
        if let Some(p) = self.peers.get(peer) {
            p.inbound.borrow_mut().close_reader();
            p.outbound.borrow_mut().close_writer();
            if let Some((signals, their_peer)) = &p.inproc_peer {
                if let Some(s) = signals.upgrade() {
                    s.event(PipeEvent::Detached(*their_peer));
                }
            }
        }
        if self.peers.remove(peer).is_some() {
            self.role.peer_removed(peer);
        } else {
            self.role.peer_dying(peer);
        }
    }

    /// Sends `msg` if the socket type's rule allows it now.
    pub(crate) fn try_send(&mut self, msg: Msg) -> Result<Step<Msg>> {
        if msg.is_empty() {
            return Err(Error::Malformed("a message needs at least one frame"));
        }
        self.check_prefetch_received()?;
        let peers = &mut self.peers;
        match &mut self.role {
            Role::Plain
                if matches!(
                    self.kind,
                    SocketType::Push | SocketType::Dealer | SocketType::Pair
                ) =>
            {
                let Some(peer) = peers.next_writable() else {
                    return Ok(Step::Wait(msg));
                };
                peers.push_to(peer, msg);
                Ok(Step::Done(Msg::new()))
            }
            Role::Requester(r) => r.send(peers, msg),
            Role::Replier(r) => r.send(peers, msg),
            Role::Router(r) => r.send(peers, msg, &mut self.hwm_drops),
            Role::Publisher(p) => {
                let (step, dropped) = p.publish(peers, msg);
                self.hwm_drops += dropped;
                Ok(step)
            }
            Role::Subscriber(s) if self.kind == SocketType::XSub => s.send(peers, msg),
            _ => Err(not_supported(self.kind, "send")),
        }
    }

    /// [`try_send`](Self::try_send) of `msg`, then of each message `next`
    /// gives, until one must wait (handed back) or fails, or `next` runs
    /// dry. Returns how many went (a failed one counted: it is gone) and
    /// how it stopped. A PUSH, DEALER or PAIR with one peer with room puts
    /// a run of messages into that peer's queue at once
    /// ([`Peers::push_run_to`]): the same messages to the same peer, and
    /// about a fifth of the sending context's work per message fewer at
    /// 64 B (docs/BENCHMARKS.md, attempt 7).
    pub(crate) fn try_send_each(
        &mut self,
        mut msg: Msg,
        next: &mut impl MessageRun,
    ) -> (usize, Result<Option<Msg>>) {
        let mut went = 0;
        loop {
            if let Some(peer) = self.sole_taker(&msg) {
                let (n, end) = self.peers.push_run_to(peer, Some(msg), next);
                went += n;
                msg = match end {
                    RunEnd::Dry => return (went, Ok(None)),
                    RunEnd::Full => match next.next_message() {
                        Some(m) => m,
                        None => return (went, Ok(None)),
                    },
                    RunEnd::Refused(m) => m,
                };
                continue;
            }
            match self.try_send(msg) {
                Ok(Step::Done(_)) => went += 1,
                Ok(Step::Wait(back)) => return (went, Ok(Some(back))),
                Err(e) => return (went + 1, Err(e)),
            }
            msg = match next.next_message() {
                Some(m) => m,
                None => return (went, Ok(None)),
            };
        }
    }

    /// [`try_send_each`](Self::try_send_each) of each message `next`
    /// gives. With a sole taker, what `next` can move without a look goes
    /// first ([`MessageRun::move_into`]): a run in wire form stays whole,
    /// where its first message taken on its own was decoded, queued as a
    /// message and encoded again (every run of one message, inproc).
    pub(crate) fn try_send_run(
        &mut self,
        next: &mut impl MessageRun,
    ) -> (usize, Result<Option<Msg>>) {
        let mut went = 0;
        if let Some(peer) = self.sole_peer() {
            let (n, end) = self.peers.push_run_to(peer, None, next);
            went = n;
            match end {
                RunEnd::Dry => return (went, Ok(None)),
                RunEnd::Full => {}
                RunEnd::Refused(m) => {
                    let (n, stop) = self.try_send_each(m, next);
                    return (went + n, stop);
                }
            }
        }
        match next.next_message() {
            Some(msg) => {
                let (n, stop) = self.try_send_each(msg, next);
                (went + n, stop)
            }
            None => (went, Ok(None)),
        }
    }

    /// The peer a run of sends goes to without the load balancer's turn
    /// per message: a PUSH's, DEALER's or PAIR's only peer with room, for
    /// a message a send takes (not empty). Their sends have no other rule
    /// (no REQ or REP turn), so each message of the run would go there.
    fn sole_taker(&mut self, msg: &Msg) -> Option<PeerId> {
        if msg.is_empty() {
            return None;
        }
        self.sole_peer()
    }

    /// A PUSH's, DEALER's or PAIR's only peer with room ([`sole_taker`](Self::sole_taker)
    /// before a message is looked at).
    fn sole_peer(&mut self) -> Option<PeerId> {
        let plain = matches!(self.role, Role::Plain)
            && matches!(
                self.kind,
                SocketType::Push | SocketType::Dealer | SocketType::Pair
            );
        if !plain || !self.peers.one_writable() {
            return None;
        }
        self.peers.next_writable()
    }

    /// Whether a send would complete now without waiting (libzmq's POLLOUT
    /// in ZMQ_EVENTS); an error where no wait can make it so (a REQ owing
    /// a receive, a REP with no request, a type that cannot send).
    pub(crate) fn send_readiness(&mut self) -> Result<bool> {
        use SocketType as T;
        self.check_prefetch_received()?;
        match (&self.role, self.kind) {
            (Role::Plain, T::Push | T::Dealer | T::Pair) => Ok(self.peers.has_writable()),
            (Role::Requester(r), _) if r.can_send() => Ok(self.peers.has_writable()),
            (Role::Requester(_), _) => Err(Error::InvalidState(
                "REQ must receive the reply before sending again",
            )),
            (Role::Replier(r), _) if r.owes_reply() => Ok(true),
            (Role::Replier(_), _) => Err(Error::InvalidState(
                "REP must receive a request before sending",
            )),
            // ROUTER and PUB/XPUB drop what a full peer cannot take (ROUTER
            // under ROUTER_MANDATORY, and XPUB_NODROP, wait per message, which
            // readiness without the message cannot tell): always writable,
            // as libzmq reports them.
            (Role::Router(_) | Role::Publisher(_), _) => Ok(true),
            (Role::Subscriber(_), T::XSub) => Ok(true),
            _ => Err(not_supported(self.kind, "send")),
        }
    }

    /// How many messages [`try_send`](Self::try_send) takes now without
    /// waiting, for the types whose send waits for room alone (PUSH,
    /// DEALER, PAIR, XPUB under XPUB_NODROP, see `Publisher::nodrop_room`);
    /// `None` for the others, and where it is not known cheaply. What a blocking handle's
    /// ZMQ_DONTWAIT sends count on until they ask again
    /// (`context/send_credit.rs`).
    pub(crate) fn send_credit(&self) -> Option<SendRoom> {
        use SocketType as T;
        match (&self.role, self.kind) {
            (Role::Plain, T::Push | T::Dealer | T::Pair) => Some(self.peers.balanced_room()),
            (Role::Publisher(p), _) => {
                let new_pipe = match self.options.sndhwm {
                    0 => usize::MAX,
                    hwm => hwm,
                };
                p.nodrop_room(&self.peers, new_pipe)
            }
            _ => None,
        }
    }

    /// Under ROUTER_MANDATORY: how many more messages to `routing_id` are
    /// taken now (see [`send_credit`](Self::send_credit)).
    pub(crate) fn route_credit(&self, routing_id: &[u8]) -> Option<SendRoom> {
        match &self.role {
            Role::Router(r) => r.route_room(&self.peers, routing_id),
            _ => None,
        }
    }

    /// As [`send_readiness`](Self::send_readiness), whatever REQ's or REP's
    /// turn: whether a send in turn would find room.
    pub(crate) fn send_room(&mut self) -> Result<bool> {
        match &self.role {
            Role::Requester(_) => Ok(self.peers.has_writable()),
            Role::Replier(_) => Ok(true),
            _ => self.send_readiness(),
        }
    }

    /// The properties of the peer the last message `try_recv` returned
    /// came from (`None` for a message no peer sent: a ROUTER_NOTIFY notice).
    pub(crate) fn last_properties(&self) -> Option<std::sync::Arc<crate::PeerProperties>> {
        match &self.prefetched_returned {
            Some(properties) => properties.clone(),
            None => self.peers.last_properties(),
        }
    }

    /// Pipes a receive may read from (a dying peer's included).
    pub(crate) fn pipe_count(&self) -> usize {
        self.peers.pipe_count()
    }

    /// Keeps the message `try_recv` returned last counted against the
    /// RCVHWM of the pipe it came from, until the credit is dropped.
    pub(crate) fn hold_last(&self) -> Option<crate::pipe::HeldCredit> {
        self.peers.hold_last()
    }

    /// Receives a message if one is ready under the socket type's rule.
    pub(crate) fn try_recv(&mut self) -> Result<Option<Msg>> {
        if let Some((msg, properties)) = self.prefetched.take() {
            self.prefetched_returned = Some(properties);
            return Ok(Some(msg));
        }
        self.prefetched_returned = None;
        self.peers.forget_last();
        match &mut self.role {
            Role::Plain
                if matches!(
                    self.kind,
                    SocketType::Pull | SocketType::Dealer | SocketType::Pair
                ) =>
            {
                Ok(self.next_plain())
            }
            Role::Requester(r) => r.recv(&mut self.peers),
            Role::Replier(r) => r.recv(&mut self.peers),
            Role::Router(r) => Ok(r.recv(&mut self.peers)),
            Role::Subscriber(s) => Ok(s.recv(&mut self.peers)),
            Role::Publisher(_) if self.kind == SocketType::XPub => Ok(self.next_notice()),
            _ => Err(not_supported(self.kind, "receive")),
        }
    }

    /// Takes up to `max` messages at once from the pipe the fair queue
    /// picks next, each still counted against that pipe's RCVHWM until the
    /// credit gives it back: the receive lane's fill when it may take
    /// ahead (`context/receive_lane.rs`). Only for the types whose receive
    /// is a plain pop (PULL, DEALER, PAIR; `None` for the others, which
    /// take one message at a time with [`try_recv`](Self::try_recv)).
    /// `Some((0, None))`: nothing is queued.
    pub(crate) fn try_recv_run(
        &mut self,
        max: usize,
        mut sink: impl FnMut(&mut crate::pipe::Run<'_>, &Option<std::sync::Arc<crate::PeerProperties>>),
    ) -> Option<(usize, Option<crate::pipe::HeldCredit>)> {
        let plain = matches!(self.role, Role::Plain)
            && matches!(
                self.kind,
                SocketType::Pull | SocketType::Dealer | SocketType::Pair
            );
        if !plain || self.prefetched.is_some() {
            return None;
        }
        self.prefetched_returned = None;
        self.peers.forget_last();
        let mut taken = 0;
        while let Some(peer) = self.peers.next_readable() {
            let (credit, removed) = self.peers.take_run_from(peer, max, |run, properties| {
                taken += run.len();
                sink(run, properties)
            });
            if removed {
                self.role.peer_removed(peer);
            }
            if credit.is_some() {
                return Some((taken, credit));
            }
        }
        Some((0, None))
    }

    /// A REQ's reply or a REP's request taken by `recv_readiness` moved
    /// its state machine on, but the user has not received it: until then
    /// it may not send, as if the message were still queued.
    fn check_prefetch_received(&self) -> Result<()> {
        match (&self.prefetched, &self.role) {
            (Some(_), Role::Requester(_)) => Err(Error::InvalidState(
                "REQ must receive the reply before sending again",
            )),
            (Some(_), Role::Replier(_)) => Err(Error::InvalidState(
                "REP must receive the request before sending",
            )),
            _ => Ok(()),
        }
    }

    /// Whether a receive would return a message now (POLLIN). To know, the
    /// next message is taken under the type's rule (a SUB's filter, a REQ's
    /// wait for its reply) and kept for the next receive, as libzmq's
    /// sockets prefetch to answer POLLIN. A type that cannot receive is
    /// never readable.
    pub(crate) fn recv_readiness(&mut self) -> bool {
        if self.prefetched.is_some() {
            return true;
        }
        match self.try_recv() {
            Ok(Some(msg)) => {
                let properties = self.last_properties();
                self.prefetched = Some((msg, properties));
                true
            }
            _ => false,
        }
    }

    fn next_plain(&mut self) -> Option<Msg> {
        loop {
            let peer = self.peers.next_readable()?;
            let (msg, removed) = self.peers.pop_from(peer);
            if removed {
                self.role.peer_removed(peer);
            }
            if msg.is_some() {
                return msg;
            }
        }
    }

    /// PUB/XPUB: applies what subscribers sent, one message per readable
    /// peer in turn, dropping those over their caps.
    pub(crate) fn pump_upstream(&mut self) {
        loop {
            let Some(p) = self.role.publisher() else {
                return;
            };
            match p.pump_one(&mut self.peers) {
                Pump::Idle => return,
                Pump::Applied(peer, removed) => {
                    if removed {
                        self.role.peer_removed(peer);
                    }
                }
                Pump::OverLimit(peer, over) => self.drop_over_limit(peer, over),
            }
        }
    }

    /// A subscriber asked for more than its caps allow: its connection goes
    /// (and with it its subscriptions, as on a disconnect), said in the log
    /// and to the monitors. The engine ends without an event of its own when
    /// the socket releases the pipe, so this is the one `Disconnected`.
    fn drop_over_limit(&mut self, peer: PeerId, over: OverLimit) {
        let (endpoint, remote) = self
            .peers
            .get(peer)
            .map(|p| (p.endpoint.clone(), p.remote.clone()))
            .unwrap_or_default();
        let shown = remote.as_deref().unwrap_or("-");
        let reason = CloseReason::SubscriptionLimit(over);
        // Rate-limited with the other disconnect warnings: a crowd of greedy
        // subscribers must not make the log the bottleneck.
        if let Some(suppressed) = log_limit::DISCONNECTED.admit() {
            tracing::warn!(%endpoint, remote = %shown, ?peer, %reason, suppressed, "subscriber over its cap; connection closed");
        }
        self.monitor.post(MonitorEvent::Disconnected {
            endpoint,
            remote,
            reason,
        });
        self.terminate(peer);
    }

    /// XPUB: the next subscription request or upstream message.
    fn next_notice(&mut self) -> Option<Msg> {
        if !self.role.publisher().is_some_and(|p| p.has_notices()) {
            self.pump_upstream();
        }
        let msg = self.role.publisher()?.next_notice()?;
        self.pump_upstream();
        Some(msg)
    }

    /// SUBSCRIBE/UNSUBSCRIBE: a SUB's or XSUB's own subscriptions, or under
    /// XPUB_MANUAL the XPUB user's decision for the peer it read last.
    pub(crate) fn subscription(&mut self, subscribe: bool, topic: &[u8]) -> Result<()> {
        match &mut self.role {
            Role::Subscriber(s) if subscribe => s.subscribe(&self.peers, topic),
            Role::Subscriber(s) => s.unsubscribe(&self.peers, topic),
            Role::Publisher(p) if self.kind == SocketType::XPub && self.options.xpub_manual => {
                p.apply_manually(&self.peers, subscribe, topic)
            }
            _ => {
                let kind = self.kind;
                return Err(Error::InvalidOption {
                    option: if subscribe {
                        "SUBSCRIBE"
                    } else {
                        "UNSUBSCRIBE"
                    },
                    reason: format!(
                        "not supported by {kind} sockets (XPUB takes it with XPUB_MANUAL)"
                    ),
                });
            }
        }
        Ok(())
    }

    /// What the socket says first to every new peer, ahead of anything
    /// queued: a SUB or XSUB every subscription it has (a new or reconnected
    /// publisher knows none), an XPUB its welcome message.
    pub(crate) fn greeting(&self) -> Vec<Msg> {
        match &self.role {
            Role::Subscriber(s) => s.greeting(),
            Role::Publisher(p) => p.greeting(),
            _ => Vec::new(),
        }
    }

    /// Whether a SUB's subscriptions let `msg` through now (any other
    /// type filters nothing at the receive).
    pub(crate) fn receive_filter_accepts(&self, msg: &Msg) -> bool {
        match &self.role {
            Role::Subscriber(s) => s.accepts(msg),
            _ => true,
        }
    }

    /// Distinct topics subscribed (ZMQ_TOPICS_COUNT).
    pub(crate) fn topics_count(&self) -> usize {
        match &self.role {
            Role::Subscriber(s) => s.topic_count(),
            Role::Publisher(p) => p.topic_count(),
            _ => 0,
        }
    }

    /// ROUTER and STREAM: whether a message to `routing_id` would be taken
    /// now (`Router::check_route`); other types cannot address a peer.
    pub(crate) fn check_route(&self, routing_id: &[u8]) -> Result<()> {
        match &self.role {
            Role::Router(r) => r.check_route(&self.peers, routing_id),
            _ => Err(not_supported(self.kind, "address a peer by routing id")),
        }
    }

    /// Peers connected now.
    pub(crate) fn peer_count(&self) -> usize {
        self.peers.connected_count()
    }

    /// Messages queued (inbound, outbound).
    pub(crate) fn queued(&self) -> (usize, usize) {
        let (inbound, outbound) = self.peers.queued();
        (inbound + self.prefetched.is_some() as usize, outbound)
    }

    /// Every peer, for close.
    pub(crate) fn peer_ids(&self) -> Vec<PeerId> {
        self.peers.peer_ids()
    }

    /// The peers whose pipes came from `endpoint` (unbind).
    pub(crate) fn peers_on(&self, endpoint: &str) -> Vec<PeerId> {
        self.peers
            .iter()
            .filter(|p| p.endpoint == endpoint)
            .map(|p| p.peer)
            .collect()
    }

    /// LINGER 0: what is queued to `peer` is discarded at close.
    pub(crate) fn discard_outbound(&mut self, peer: PeerId) {
        if let Some(p) = self.peers.get(peer) {
            // What went to a joined inproc peer is in its queue already and
            // stays for it to read, as in libzmq (LINGER covers messages
            // not yet delivered).
            if p.inproc_peer.is_none() {
                p.outbound.borrow_mut().close_reader();
            }
        }
    }

    pub(crate) fn fanout(&self) -> Option<&Fanout> {
        self.role.publisher_ref()?.fanout()
    }

    pub(crate) fn fanout_mut(&mut self) -> Option<&mut Fanout> {
        self.role.publisher()?.fanout_mut()
    }

    /// Where accepted connections go, if the socket is spread over IO
    /// cores, and the options an adopted connection starts with, both at
    /// once (the listener's hand-off needs the two; borrowing them
    /// separately would mean a copy of the options per connection).
    pub(crate) fn spread_with_options(&mut self) -> Option<(Spread<'_>, &Options)> {
        let spread = match (&mut self.role, &mut self.pipe_links) {
            (Role::Publisher(p), _) => Spread::Publisher(p.fanout_mut()?),
            (_, Some(links)) => Spread::Pipes(links),
            (_, None) => return None,
        };
        Some((spread, &self.options))
    }

    /// Whether the socket's accepted connections are spread over IO cores.
    pub(crate) fn is_spread(&self) -> bool {
        self.fanout().is_some() || self.pipe_links.is_some()
    }

    pub(crate) fn set_pipe_links(&mut self, links: PipeLinks) {
        self.pipe_links = Some(links);
    }

    pub(crate) fn pipe_links(&self) -> Option<&PipeLinks> {
        self.pipe_links.as_ref()
    }

    pub(crate) fn pipe_links_mut(&mut self) -> Option<&mut PipeLinks> {
        self.pipe_links.as_mut()
    }

    pub(crate) fn take_pipe_links(&mut self) -> Option<PipeLinks> {
        self.pipe_links.take()
    }

    pub(crate) fn set_fanout(&mut self, fanout: Fanout) {
        if let Some(p) = self.role.publisher() {
            p.set_fanout(fanout);
        }
    }

    pub(crate) fn take_fanout(&mut self) -> Option<Fanout> {
        self.role.publisher()?.take_fanout()
    }

    /// Whether the last publish dropped at SNDHWM (cleared): the async send
    /// yields once then (see `Publisher`).
    pub(crate) fn take_dropped_at_hwm(&mut self) -> bool {
        self.role
            .publisher()
            .is_some_and(|p| p.take_dropped_at_hwm())
    }
}

fn not_supported(kind: SocketType, operation: &'static str) -> Error {
    Error::NotSupported {
        socket_type: kind.as_str(),
        operation,
    }
}
