//! The socket's end of its links to IO cores, for every socket type but the
//! publishers (whose end is [`Fanout`](super::Fanout)): PUSH, PULL, DEALER,
//! ROUTER, REQ, REP, PAIR, SUB and XSUB.
//!
//! To the socket, a peer on an IO core is an ordinary pipe: the load
//! balancer, the fair queue, routing ids, HWMs and departures work on it
//! unchanged. Its far end is not an engine but the core's owner task
//! (`pipe_owner_task.rs`), which moves the pipe's messages over the rings
//! within the peer's windows (`window.rs`). The socket itself only hands
//! accepted connections and connects out, reads the figures, and says when
//! it closes.

use rustc_hash::FxHashMap;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::rc::{Rc, Weak};
use std::time::Duration;

use monocoque_runtime::spsc;
use monocoque_zmtp::SocketType;

use super::link::{ConnectOrder, Control, CONNECT_ID_BIT};
use super::window::window;
use super::{CoreThread, IoCoreStatistics, RemoteConnect};
use crate::endpoint::Endpoint;
use crate::host::{SocketHost, StreamKind};
use crate::options::Options;
use crate::pipe::{FarEnd, PipeShape, Signals};
use crate::PeerId;

/// One IO core's link, as the socket and that core's owner task share it
/// (both on the socket's thread).
#[derive(Debug)]
pub(crate) struct PipeLink {
    /// Adopt, sent by the socket (a full ring keeps the connection here).
    pub(crate) control: RefCell<spsc::Sender<Control>>,
    /// Everything else for the control ring (the socket's Close, the owner
    /// task's Credit and Release), which must not be lost to a full ring:
    /// the owner task sends them as the ring has room.
    pub(crate) outbox: RefCell<VecDeque<Control>>,
    /// The owner task's signals: the remote pipes' edges, and its wake-up
    /// when the socket queues something in `outbox`.
    pub(crate) signals: Rc<Signals>,
    /// Peers connected through this core now.
    pub(crate) connections: Cell<usize>,
    /// Messages handed to this core for its peers.
    pub(crate) handed: Cell<u64>,
    /// The socket closed: a peer that joins now is released at once, and
    /// the peers it let go of still get what it queued to them.
    pub(crate) closed: Cell<bool>,
    /// Persistent pipes of connects whose Connect is still in `outbox`, by
    /// the core's id: the owner task serves each once its Connect is on the
    /// ring, so no message for it can reach the core first.
    pub(crate) new_connects: RefCell<FxHashMap<PeerId, LocalConnect>>,
}

/// The socket's side of a connect handed to an IO core with a persistent
/// pipe (IMMEDIATE off): the far end of the socket's pipe, which the owner
/// task serves, and the window of messages to the peer both sides count
/// with (the other way, the pipe's inbound HWM is the window).
#[derive(Debug)]
pub(crate) struct LocalConnect {
    pub(crate) far: FarEnd,
    pub(crate) down: usize,
}

impl PipeLink {
    pub(crate) fn new(control: spsc::Sender<Control>) -> PipeLink {
        PipeLink {
            control: RefCell::new(control),
            outbox: RefCell::new(VecDeque::new()),
            signals: Rc::new(Signals::default()),
            connections: Cell::new(0),
            handed: Cell::new(0),
            closed: Cell::new(false),
            new_connects: RefCell::new(FxHashMap::default()),
        }
    }
}

/// A spread socket's links, one per IO core it has handed a connection to.
pub(crate) struct PipeLinks {
    /// The socket, to link a core on first use (weak: the socket holds this).
    host: Weak<dyn SocketHost>,
    /// The cores (weak: `IoCores::join` must not wait for this socket to
    /// drop its handle; a core being joined is not linked any more).
    cores: Vec<std::sync::Weak<CoreThread>>,
    links: Vec<CoreLink>,
    /// The core the next connection goes to.
    next: usize,
}

/// This socket's link to one core.
#[derive(Debug, Clone)]
enum CoreLink {
    /// No connection handed there yet.
    None,
    Linked(Rc<PipeLink>),
    /// Could not be linked (its ring of new links stayed full, or it is
    /// ending): connections that would go there stay on the socket's core.
    Failed,
}

impl std::fmt::Debug for PipeLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipeLinks")
            .field("cores", &self.links.len())
            .field(
                "linked",
                &self
                    .links
                    .iter()
                    .filter(|l| matches!(l, CoreLink::Linked(_)))
                    .count(),
            )
            .finish()
    }
}

impl PipeLinks {
    /// Links to `cores` (none made yet), the first connection going to
    /// core `first`.
    pub(super) fn new(
        host: Weak<dyn SocketHost>,
        cores: Vec<std::sync::Weak<CoreThread>>,
        first: usize,
    ) -> PipeLinks {
        PipeLinks {
            host,
            links: vec![CoreLink::None; cores.len()],
            cores,
            next: first,
        }
    }

    /// The link to core `i`, made now if it is the socket's first
    /// connection there; `None` if it cannot be (logged once per core).
    fn link(&mut self, i: usize) -> Option<Rc<PipeLink>> {
        match &self.links[i] {
            CoreLink::Linked(l) => return Some(l.clone()),
            CoreLink::Failed => return None,
            CoreLink::None => {}
        }
        let host = self.host.upgrade()?;
        let linked = match self.cores[i].upgrade() {
            Some(core) => super::link_pipes(&host, &core, i),
            None => Err(crate::Error::InvalidState("the IO core is being joined")),
        };
        match linked {
            Ok(l) => {
                self.links[i] = CoreLink::Linked(l.clone());
                Some(l)
            }
            Err(e) => {
                tracing::warn!(core = i, error = %e, "IO core could not be linked; this socket's connections that would go there stay on its core");
                self.links[i] = CoreLink::Failed;
                None
            }
        }
    }

    /// The next core in turn that can be linked, and its link (`None`: no
    /// core can take the connection, which stays on the socket's core).
    pub(crate) fn next_link(&mut self) -> Option<Rc<PipeLink>> {
        for _ in 0..self.links.len() {
            let core = self.next;
            self.next = (self.next + 1) % self.links.len();
            if let Some(l) = self.link(core) {
                return Some(l);
            }
        }
        None
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
        let mut item = Control::Adopt {
            fd,
            stream,
            endpoint: endpoint.to_string(),
            options: Box::new(options.clone()),
        };
        for _ in 0..self.links.len() {
            let Some(link) = self.next_link() else { break };
            let sent = link.control.borrow_mut().try_send(item);
            match sent {
                Ok(()) => return Ok(()),
                Err(spsc::TrySendError::Full(back) | spsc::TrySendError::Closed(back)) => {
                    item = back
                }
            }
        }
        match item {
            Control::Adopt { fd, .. } => Err(fd),
            _ => unreachable!("the item is the Adopt built above"),
        }
    }

    /// Hands a connect to the IO core of `link` (from
    /// [`next_link`](Self::next_link)), which connects and reconnects from
    /// there. The returned handle, dropped, stops the connect (disconnect).
    pub(crate) fn connect(link: Rc<PipeLink>, request: ConnectRequest<'_>) -> RemoteConnect {
        RemoteConnect::Pipes(Self::connect_on(link, request))
    }

    fn connect_on(link: Rc<PipeLink>, request: ConnectRequest<'_>) -> PipeConnect {
        let ConnectRequest {
            endpoint,
            shown,
            options,
            kind,
            seed,
            peer_routing_id,
            persistent,
            id,
        } = request;
        let id = PeerId(id.0 | CONNECT_ID_BIT);
        let shape = PipeShape::of(options, kind);
        let (down, up) = (window(shape.sndhwm), window(shape.rcvhwm));
        let order = ConnectOrder {
            id,
            endpoint,
            shown,
            options: Box::new(options.clone()),
            seed,
            peer_routing_id,
            persistent: persistent.is_some().then_some((down, up)),
        };
        if let Some(far) = persistent {
            debug_assert_eq!(far.inbound.borrow().hwm(), up);
            link.new_connects
                .borrow_mut()
                .insert(id, LocalConnect { far, down });
        }
        link.outbox
            .borrow_mut()
            .push_back(Control::Connect(Box::new(order)));
        link.signals.wake_send();
        PipeConnect { link, id }
    }

    /// Figures per IO core (nothing is ever dropped on these links: a full
    /// ring or window makes the socket's own pipe wait, as a full pipe does).
    pub(crate) fn statistics(&self) -> Vec<IoCoreStatistics> {
        self.links
            .iter()
            .map(|l| match l {
                CoreLink::Linked(l) => IoCoreStatistics {
                    connections: l.connections.get(),
                    handed: l.handed.get(),
                    dropped: 0,
                },
                CoreLink::None | CoreLink::Failed => IoCoreStatistics::default(),
            })
            .collect()
    }

    /// The socket closed: each core's connections finish within `linger`
    /// once their owner task has passed on what the socket queued to them.
    pub(crate) fn close(self, linger: Option<Duration>) {
        for link in self.links.into_iter().filter_map(|l| match l {
            CoreLink::Linked(l) => Some(l),
            CoreLink::None | CoreLink::Failed => None,
        }) {
            link.closed.set(true);
            link.outbox
                .borrow_mut()
                .push_back(Control::Close { linger });
            link.signals.wake_send();
        }
    }
}

/// A connect a spread socket hands to one of its IO cores.
pub(crate) struct ConnectRequest<'a> {
    pub(crate) endpoint: Endpoint,
    /// The endpoint as monitors and logs show it.
    pub(crate) shown: String,
    pub(crate) options: &'a Options,
    pub(crate) kind: SocketType,
    /// The reconnect jitter's seed.
    pub(crate) seed: u64,
    /// CONNECT_ROUTING_ID, if set for this connect.
    pub(crate) peer_routing_id: Option<bytes::Bytes>,
    /// The far end of the pipe the socket made for the connect (IMMEDIATE
    /// off), shaped by [`remote_pipe_shape`].
    pub(crate) persistent: Option<FarEnd>,
    /// Names the connect: the pipe's peer id if it has one, else a fresh one.
    pub(crate) id: PeerId,
}

/// The shape of the pipe a socket makes for a connect it hands to an IO
/// core: its inbound HWM is the window from the peer (so that its reads are
/// reported each LWM of it), and nothing conflates (such sockets keep their
/// connections).
pub(crate) fn remote_pipe_shape(options: &Options, kind: SocketType) -> PipeShape {
    let shape = PipeShape::of(options, kind);
    PipeShape {
        rcvhwm: window(shape.rcvhwm),
        conflate_in: false,
        conflate_out: false,
        ..shape
    }
}

/// A non-publisher's connect running on an IO core: stopped by
/// [`disconnect`](Self::disconnect); once the socket closes, its linger
/// governs it.
#[derive(Debug)]
pub(crate) struct PipeConnect {
    link: Rc<PipeLink>,
    id: PeerId,
}

impl PipeConnect {
    /// The socket disconnected: the connect stops on its core.
    pub(crate) fn disconnect(self) {
        if self.link.closed.get() {
            return;
        }
        self.link
            .outbox
            .borrow_mut()
            .push_back(Control::Disconnect(self.id));
        self.link.signals.wake_send();
    }
}
