//! What travels between a socket and one IO core, and a publishing
//! socket's end of those rings (other sockets' end: `pipe_links.rs`).
//!
//! Each (socket, IO core) pair has three SPSC rings, so that one kind of
//! traffic never waits behind another:
//!
//! ```text
//!   owner ──control──▶ core   Adopt a connection, Connect to an endpoint,
//!                             Release one, Disconnect, Close,
//!                             Credit (the socket read a peer's messages)
//!   owner ───data────▶ core   Publish: one message and the subscribers it is for
//!                             Deliver: one message for one peer (other types)
//!   owner ◀──events─── core   Joined, Upstream (what a peer sent), Left, Monitor,
//!                             Connected, Disconnected (a connect's pipe),
//!                             Credit (a peer's engine took messages delivered to it)
//! ```

use rustc_hash::FxHashMap;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::task::Context;
use std::time::Duration;

use bytes::Bytes;
use monocoque_runtime::spsc;
use monocoque_zmtp::{Msg, SocketType};

use crate::endpoint::Endpoint;
use crate::host::StreamKind;
use crate::monitor::MonitorEvent;
use crate::options::Options;
use crate::{PeerId, PeerProperties};

/// Control messages stay few (one per connection at most), so this bound is
/// generous; a full ring makes the listener keep the connection on its own core.
pub(crate) const CONTROL_CAPACITY: usize = 1024;

/// Joined, Left and monitor events per IO core the owner has not applied yet;
/// past it the IO core holds them (and reads no more subscriptions) until room.
pub(crate) const EVENTS_CAPACITY: usize = 1024;

/// The largest data ring (for SNDHWM 0, unlimited, which a ring cannot be).
const MAX_DATA_CAPACITY: usize = 65_536;

/// The data ring holds at most SNDHWM messages (at least 64), each shared by
/// all its targets: memory follows from SNDHWM as it does for a local pipe.
pub(crate) fn data_capacity(sndhwm: usize) -> usize {
    if sndhwm == 0 {
        MAX_DATA_CAPACITY
    } else {
        sndhwm.clamp(64, MAX_DATA_CAPACITY)
    }
}

/// Owner to IO core: connections.
#[derive(Debug)]
pub(crate) enum Control {
    /// Run this accepted connection with these options (the socket's, as the
    /// connection was accepted).
    Adopt {
        fd: OwnedFd,
        stream: StreamKind,
        endpoint: String,
        options: Box<Options>,
    },
    /// Connect to an endpoint and keep reconnecting, from the core (never
    /// for publishers; `connect_port.rs`).
    Connect(Box<ConnectOrder>),
    /// The socket let go of this peer (unbind): finish its connection.
    Release(PeerId),
    /// The socket dropped this connect (disconnect): stop reconnecting and
    /// end its connection now.
    Disconnect(PeerId),
    /// The socket closed: deliver what is queued within `linger`, then end.
    Close { linger: Option<Duration> },
    /// The socket read `n` more of the messages this peer sent (a window's
    /// credit, `window.rs`; never for publishers).
    Credit { peer: PeerId, n: usize },
}

/// A connect the socket hands to an IO core: the core connects, reconnects
/// after RECONNECT_IVL and runs each connection, as the socket's own
/// connecter would.
#[derive(Debug)]
pub(crate) struct ConnectOrder {
    /// The core's name for the connect's peer: the socket's own id with
    /// [`CONNECT_ID_BIT`] set, so it never meets an id the core gives.
    pub(crate) id: PeerId,
    pub(crate) endpoint: Endpoint,
    /// The endpoint as monitors and logs show it.
    pub(crate) shown: String,
    /// The socket's options at the connect.
    pub(crate) options: Box<Options>,
    /// The reconnect jitter's seed.
    pub(crate) seed: u64,
    /// CONNECT_ROUTING_ID: the name the socket knows the peer by.
    pub(crate) peer_routing_id: Option<Bytes>,
    /// IMMEDIATE off: the socket made the pipe at the connect, and the core
    /// keeps one that outlives each connection, with these windows
    /// (`window.rs`): messages to the peer, messages from it. `None`
    /// (IMMEDIATE): each connection joins as an accepted one does.
    pub(crate) persistent: Option<(usize, usize)>,
}

/// Set in the ids of connects ([`ConnectOrder::id`]); the core numbers the
/// peers it accepts from 1 up.
pub(crate) const CONNECT_ID_BIT: u64 = 1 << 63;

/// Owner to IO core: one published message and the IO core's peers it goes to.
#[derive(Debug)]
pub(crate) struct Publish {
    pub(crate) msg: Msg,
    pub(crate) targets: Vec<PeerId>,
}

/// Owner to IO core on the data ring.
#[derive(Debug)]
pub(crate) enum Downstream {
    /// A publisher's message for some of the core's subscribers.
    Publish(Publish),
    /// Another socket type's message for one peer, within its window.
    /// `epoch`: how many times the peer's connect had lost its connection
    /// when the socket's side sent it (0 for accepted peers); the core
    /// discards one sent before a loss it has seen, as the socket discards
    /// what it queued for a peer that disconnected.
    Deliver { peer: PeerId, epoch: u32, msg: Msg },
}

/// IO core to owner. Peer ids are the IO core's own.
#[derive(Debug)]
pub(crate) enum CoreEvent {
    /// A connection completed its handshake.
    Joined {
        peer: PeerId,
        identity: Bytes,
        socket_type: SocketType,
        endpoint: String,
        /// The peer's address, where the endpoint does not say it.
        remote: Option<String>,
        /// What the peer's handshake said (message properties).
        properties: Option<Arc<PeerProperties>>,
        /// The windows the core keeps to for this peer (`window.rs`; unused
        /// for publishers): messages delivered to it, messages it sent.
        down_window: usize,
        up_window: usize,
    },
    /// A message the subscriber sent (a subscription, or XSUB data).
    Upstream { peer: PeerId, msg: Msg },
    /// A connect's persistent pipe (IMMEDIATE off) has a connection again:
    /// its handshake completed.
    Connected {
        peer: PeerId,
        identity: Bytes,
        socket_type: Option<SocketType>,
        properties: Arc<PeerProperties>,
    },
    /// A connect's persistent pipe lost its connection; the pipe stays,
    /// and (unless the socket is closing) what the core held for the peer
    /// was discarded, as a socket discards its own queue to a peer that
    /// disconnected. `epoch`: the pipe's count of such discards, which the
    /// socket's side sends with from now on (`Downstream::Deliver`).
    Disconnected { peer: PeerId, epoch: u32 },
    /// The connection ended (windowed links only): nothing more can reach
    /// the peer, while what it sent may still be on its way (`Left` follows
    /// the last of it). Sent at once, so the socket stops sending to it.
    Gone(PeerId),
    /// The connection ended; everything it sent came before this.
    Left(PeerId),
    /// A monitor event of a connection on the IO core.
    Monitor(MonitorEvent),
    /// `n` more of the messages delivered to this peer left for the wire
    /// (a window's credit, `window.rs`; never for publishers).
    Credit { peer: PeerId, n: usize },
}

/// The IO core's ends of one link, sent to it when a socket spreads its
/// connections.
#[derive(Debug)]
pub(crate) struct CoreEnd {
    pub(crate) kind: SocketType,
    pub(crate) control: spsc::Receiver<Control>,
    pub(crate) data: spsc::Receiver<Downstream>,
    pub(crate) events: spsc::Sender<CoreEvent>,
}

/// The socket's end of the link to one IO core.
#[derive(Debug)]
pub(crate) struct OwnerEnd {
    pub(crate) control: spsc::Sender<Control>,
    pub(crate) data: spsc::Sender<Downstream>,
    /// Messages handed to this core (one per published message that had
    /// subscribers there).
    pub(crate) handed: u64,
    /// Messages this core's subscribers lost because the data ring was full.
    pub(crate) dropped: u64,
}

/// A new link: the socket keeps the [`OwnerEnd`] and the receiver of events;
/// the IO core gets the [`CoreEnd`].
pub(crate) fn link(
    kind: SocketType,
    sndhwm: usize,
) -> (OwnerEnd, spsc::Receiver<CoreEvent>, CoreEnd) {
    let (control_tx, control_rx) = spsc::channel(CONTROL_CAPACITY);
    let (data_tx, data_rx) = spsc::channel(data_capacity(sndhwm));
    let (events_tx, events_rx) = spsc::channel(EVENTS_CAPACITY);
    (
        OwnerEnd {
            control: control_tx,
            data: data_tx,
            handed: 0,
            dropped: 0,
        },
        events_rx,
        CoreEnd {
            kind,
            control: control_rx,
            data: data_rx,
            events: events_tx,
        },
    )
}

/// A publishing socket's view of its IO cores: the links and which of its
/// peers live on which core.
#[derive(Debug, Default)]
pub(crate) struct Fanout {
    pub(crate) links: Vec<OwnerEnd>,
    /// The socket's peer id of each remote subscriber: (core, the core's id).
    pub(crate) remote: FxHashMap<PeerId, (usize, PeerId)>,
    /// The core the next accepted connection goes to.
    next: usize,
    /// XPUB_NODROP: the cores whose full ring made the last send wait.
    waiting_on: Vec<usize>,
    /// The message being published: its targets on each core, gathered by
    /// [`add_target`](Self::add_target) and sent by [`publish`](Self::publish).
    per_core: Vec<Vec<PeerId>>,
}

impl Fanout {
    pub(crate) fn new(links: Vec<OwnerEnd>) -> Fanout {
        Fanout {
            per_core: vec![Vec::new(); links.len()],
            links,
            remote: FxHashMap::default(),
            next: 0,
            waiting_on: Vec::new(),
        }
    }

    /// Hands an accepted connection to the next IO core (round-robin), or
    /// gives it back if every core's control ring is full.
    pub(crate) fn adopt(
        &mut self,
        fd: OwnedFd,
        stream: StreamKind,
        endpoint: &str,
        options: &Options,
    ) -> Result<(), OwnedFd> {
        let links = &mut self.links;
        adopt_round_robin(
            links.len(),
            &mut self.next,
            fd,
            stream,
            endpoint,
            options,
            |core, c| links[core].control.try_send(c),
        )
    }

    /// Hands a connect to the next IO core (round-robin), which connects and
    /// reconnects from there, each connection joining as an accepted
    /// subscriber does (a publisher's connects have no persistent pipe:
    /// until a peer subscribes nothing is queued for it anyway). The
    /// request comes back if every core's control ring is full.
    pub(crate) fn connect<'a>(
        &mut self,
        request: super::ConnectRequest<'a>,
    ) -> Result<super::RemoteConnect, Box<super::ConnectRequest<'a>>> {
        let id = PeerId(request.id.0 | CONNECT_ID_BIT);
        let mut order = Box::new(ConnectOrder {
            id,
            endpoint: request.endpoint,
            shown: request.shown,
            options: Box::new(request.options.clone()),
            seed: request.seed,
            peer_routing_id: request.peer_routing_id,
            persistent: None,
        });
        for _ in 0..self.links.len() {
            let core = self.next;
            self.next = (self.next + 1) % self.links.len();
            match self.links[core].control.try_send(Control::Connect(order)) {
                Ok(()) => return Ok(super::RemoteConnect::Publisher { core, id }),
                Err(
                    spsc::TrySendError::Full(Control::Connect(back))
                    | spsc::TrySendError::Closed(Control::Connect(back)),
                ) => order = back,
                Err(_) => unreachable!("the item is the Connect built above"),
            }
        }
        Err(Box::new(super::ConnectRequest {
            endpoint: order.endpoint,
            shown: order.shown,
            options: request.options,
            kind: request.kind,
            seed: order.seed,
            peer_routing_id: order.peer_routing_id,
            persistent: None,
            id: request.id,
        }))
    }

    /// The socket disconnected the connect `id` on `core`: it stops there.
    pub(crate) fn disconnect(&mut self, core: usize, id: PeerId) {
        if self.links[core]
            .control
            .try_send(Control::Disconnect(id))
            .is_err()
        {
            tracing::warn!(
                core,
                "IO core busy; the connect stops when the socket closes"
            );
        }
    }

    /// Whether `peer` lives on an IO core whose data ring is full (what a
    /// local pipe at SNDHWM is for XPUB_NODROP). `None` for local peers.
    pub(crate) fn is_full(&self, peer: PeerId) -> Option<bool> {
        let &(core, _) = self.remote.get(&peer)?;
        Some(self.links[core].data.is_full())
    }

    /// Adds `peer` to the current message's targets if it lives on an IO
    /// core; false for a local peer.
    pub(crate) fn add_target(&mut self, peer: PeerId) -> bool {
        match self.remote.get(&peer) {
            Some(&(core, id)) => {
                self.per_core[core].push(id);
                true
            }
            None => false,
        }
    }

    /// Hands `msg` to each core with targets there (from `add_target`): one
    /// ring slot per core, the frames shared, never copied. Returns the
    /// subscribers that lost it to a full ring.
    pub(crate) fn publish(&mut self, msg: &Msg) -> usize {
        let mut dropped = 0;
        for (core, link) in self.links.iter_mut().enumerate() {
            if self.per_core[core].is_empty() {
                continue;
            }
            // The list travels with the message; the next one starts empty.
            let targets = std::mem::take(&mut self.per_core[core]);
            let n = targets.len();
            match link.data.try_send(Downstream::Publish(Publish {
                msg: msg.clone(),
                targets,
            })) {
                Ok(()) => link.handed += 1,
                Err(spsc::TrySendError::Full(_)) => {
                    link.dropped += 1;
                    dropped += n;
                }
                // The core is finishing (the socket is closing).
                Err(spsc::TrySendError::Closed(_)) => {}
            }
        }
        dropped
    }

    /// XPUB_NODROP: a send must wait because `peer`'s core has a full ring
    /// (if `peer` is remote); remembered for [`wait_for_room`](Self::wait_for_room).
    pub(crate) fn note_full(&mut self, peer: PeerId) {
        if let Some(&(core, _)) = self.remote.get(&peer) {
            if self.links[core].data.is_full() && !self.waiting_on.contains(&core) {
                self.waiting_on.push(core);
            }
        }
    }

    /// Registers `cx` to be woken when a ring that made the send wait gets
    /// room; if one already has (it drained since the send looked), wakes
    /// `cx` at once so the send tries again rather than missing the change.
    pub(crate) fn wait_for_room(&mut self, cx: &mut Context<'_>) {
        for core in std::mem::take(&mut self.waiting_on) {
            if self.links[core].data.poll_ready(cx).is_ready() {
                cx.waker().wake_by_ref();
            }
        }
    }

    /// The socket let go of a remote peer: its core finishes the connection.
    pub(crate) fn release(&mut self, peer: PeerId) {
        if let Some((core, id)) = self.remote.remove(&peer) {
            if self.links[core]
                .control
                .try_send(Control::Release(id))
                .is_err()
            {
                tracing::warn!(
                    ?peer,
                    core,
                    "IO core busy; the connection ends when the socket closes"
                );
            }
        }
    }

    /// The socket closed: every core delivers what it holds within `linger`
    /// and ends its connections.
    pub(crate) fn close(self, linger: Option<Duration>) {
        for mut link in self.links {
            if link.control.try_send(Control::Close { linger }).is_err() {
                tracing::debug!("IO core link already closed");
            }
            // Dropping the senders also tells the core the socket is gone.
        }
    }
}

/// Offers an accepted connection to each of `cores` IO cores in turn from
/// `next` (which moves on), through `try_send`; gives the descriptor back if
/// every control ring is full or closed (the listener keeps it).
pub(crate) fn adopt_round_robin(
    cores: usize,
    next: &mut usize,
    fd: OwnedFd,
    stream: StreamKind,
    endpoint: &str,
    options: &Options,
    mut try_send: impl FnMut(usize, Control) -> Result<(), spsc::TrySendError<Control>>,
) -> Result<(), OwnedFd> {
    let mut item = Control::Adopt {
        fd,
        stream,
        endpoint: endpoint.to_string(),
        options: Box::new(options.clone()),
    };
    for _ in 0..cores {
        let core = *next;
        *next = (*next + 1) % cores;
        match try_send(core, item) {
            Ok(()) => return Ok(()),
            Err(spsc::TrySendError::Full(back) | spsc::TrySendError::Closed(back)) => item = back,
        }
    }
    match item {
        Control::Adopt { fd, .. } => Err(fd),
        _ => unreachable!("the item is the Adopt built above"),
    }
}
