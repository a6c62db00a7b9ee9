//! inproc://: sockets on the same reactor thread joined by a pipe of two
//! queues. No framing, no syscalls: a sent `Msg` is the received `Msg`.
//!
//! Names live per thread (a thread-per-core runtime's equivalent of libzmq's
//! per-context names; the blocking `Context` runs all its sockets on one
//! thread). Connecting before the bind works: the connecting socket gets its
//! pipe at once, messages queue in it (up to SNDHWM), and the bind completes
//! the pipe.
//!
//! As in libzmq, inproc does not check that the two sockets' types may talk
//! (ZMTP's handshake does that on tcp and ipc): a PAIR connected to a PULL
//! sends to it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::Instant;

use monocoque_zmtp::{Msg, SocketType};

use crate::host::{ConnectionTerms, SocketHost};
use crate::monitor::MonitorEvent;
use crate::pipe::{Pipe, PipeEvent, PipeShape, SharedQueue};
use crate::{Error, PeerId, Result};

struct PendingConnect {
    connecter: Connecter,
    peer: PeerId,
    /// The connecting socket's outbound queue (its messages to the binder).
    to_binder: SharedQueue,
    /// The connecting socket's inbound queue.
    from_binder: SharedQueue,
    /// CONNECT_ROUTING_ID: the binder's name at the connecting socket.
    peer_routing_id: Option<bytes::Bytes>,
}

/// The socket a waiting connect belongs to.
enum Connecter {
    /// Open: the bind joins it as any peer.
    Open(Weak<dyn SocketHost>),
    /// Closed with messages queued and LINGER not yet out: the bind still
    /// gets them, as libzmq's pending inproc connects outlive their socket.
    Closed {
        kind: SocketType,
        terms: Rc<ConnectionTerms>,
        /// The end of LINGER (`None`: it never ends).
        deadline: Option<Instant>,
    },
}

/// The connecting side of a pipe the bind completes.
struct ConnectingSide {
    kind: SocketType,
    terms: Rc<ConnectionTerms>,
    greeting: Vec<Msg>,
    /// Where to tell the connecting socket that the binder dropped the pipe
    /// (dangling for a closed one).
    signals: Weak<crate::pipe::Signals>,
    peer: PeerId,
}

#[derive(Default)]
struct Registry {
    bound: HashMap<String, Weak<dyn SocketHost>>,
    pending: HashMap<String, Vec<PendingConnect>>,
}

thread_local! {
    static REGISTRY: RefCell<Registry> = RefCell::new(Registry::default());
}

/// Whether `weak` is `socket`.
fn same(weak: &Weak<dyn SocketHost>, socket: &Rc<dyn SocketHost>) -> bool {
    std::ptr::addr_eq(weak.as_ptr(), Rc::as_ptr(socket))
}

/// Whether a live socket on this thread is bound to `name`.
pub(crate) fn is_bound(name: &str) -> bool {
    REGISTRY.with(|r| {
        r.borrow()
            .bound
            .get(name)
            .is_some_and(|w| w.strong_count() > 0)
    })
}

/// Binds `name` to `socket`, completing every connect that waited for it.
pub(crate) fn bind(socket: &Rc<dyn SocketHost>, name: &str) -> Result<()> {
    let pending = REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        if r.bound.get(name).is_some_and(|w| w.strong_count() > 0) {
            return Err(Error::InprocInUse(name.to_string()));
        }
        r.bound.insert(name.to_string(), Rc::downgrade(socket));
        Ok(r.pending.remove(name).unwrap_or_default())
    })?;
    let endpoint = format!("inproc://{name}");
    for p in pending {
        let open = match &p.connecter {
            Connecter::Open(weak) => match weak.upgrade() {
                Some(c) => Some(c),
                None => continue,
            },
            Connecter::Closed { deadline, .. } => {
                if deadline.is_some_and(|d| d <= Instant::now()) {
                    continue;
                }
                None
            }
        };
        let side = match (&open, &p.connecter) {
            (Some(c), _) => ConnectingSide {
                kind: c.kind(),
                terms: c.terms(),
                greeting: c.greeting(),
                signals: Rc::downgrade(c.signals()),
                peer: p.peer,
            },
            (None, Connecter::Closed { kind, terms, .. }) => ConnectingSide {
                kind: *kind,
                terms: terms.clone(),
                greeting: Vec::new(),
                signals: Weak::new(),
                peer: p.peer,
            },
            (None, Connecter::Open(_)) => continue,
        };
        let remote = join(&side, &p.to_binder, &p.from_binder, socket, &endpoint);
        let Some(connecter) = open else {
            // The connecting socket is gone: the binder reads what it left,
            // then the pipe ends.
            socket.signals().event(PipeEvent::Detached(remote.1));
            continue;
        };
        connecter.signals().event(PipeEvent::Connected {
            peer: p.peer,
            properties: std::sync::Arc::new(crate::PeerProperties::inproc(
                socket.kind(),
                p.peer_routing_id
                    .clone()
                    .unwrap_or_else(|| socket.terms().routing_id()),
            )),
            identity: p
                .peer_routing_id
                .unwrap_or_else(|| socket.terms().routing_id()),
            socket_type: Some(socket.kind()),
            inproc_peer: Some(remote),
        });
    }
    Ok(())
}

/// Removes the binding (unbind, close).
pub(crate) fn unbind(socket: &Rc<dyn SocketHost>, name: &str) -> bool {
    REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        match r.bound.get(name) {
            Some(w) if same(w, socket) => {
                r.bound.remove(name);
                true
            }
            _ => false,
        }
    })
}

/// Forgets connects of `socket` still waiting for `name` (disconnect).
pub(crate) fn forget_pending(socket: &Rc<dyn SocketHost>, name: &str) {
    REGISTRY.with(|r| {
        if let Some(v) = r.borrow_mut().pending.get_mut(name) {
            v.retain(|p| !p.belongs_to(socket));
        }
    })
}

/// The socket closes: of its connects still waiting for `name`, the ones
/// holding messages wait on for the bind until `deadline` (LINGER; `None`
/// waits as long as the thread lives, as libzmq's do until the context
/// ends), the others are forgotten.
pub(crate) fn close_pending(socket: &Rc<dyn SocketHost>, name: &str, deadline: Option<Instant>) {
    REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        let Some(v) = r.pending.get_mut(name) else {
            return;
        };
        let now = Instant::now();
        v.retain_mut(|p| {
            if let Connecter::Closed {
                deadline: Some(d), ..
            } = p.connecter
            {
                return d > now;
            }
            if !p.belongs_to(socket) {
                return true;
            }
            if p.to_binder.borrow().is_empty() {
                return false;
            }
            p.connecter = Connecter::Closed {
                kind: socket.kind(),
                terms: socket.terms(),
                deadline,
            };
            true
        });
    })
}

impl PendingConnect {
    fn belongs_to(&self, socket: &Rc<dyn SocketHost>) -> bool {
        matches!(&self.connecter, Connecter::Open(w) if same(w, socket))
    }
}

/// Connects `socket` to `name`: returns the connecting side's pipe, complete if
/// the name is bound, or waiting for the bind otherwise.
pub(crate) fn connect(
    socket: &Rc<dyn SocketHost>,
    name: &str,
    endpoint: &str,
    peer_routing_id: Option<bytes::Bytes>,
) -> Result<Pipe> {
    let peer = socket.allocate_peer();
    let shape = socket.terms().shape;
    // The inbound queue's bound is the binder's to set (its SNDHWM plus our
    // RCVHWM); until the bind, only the outbound queue's SNDHWM applies.
    let mut pipe = Pipe::new(
        peer,
        PipeShape { rcvhwm: 0, ..shape },
        socket.signals(),
        endpoint,
    );
    let binder = REGISTRY.with(|r| r.borrow().bound.get(name).and_then(Weak::upgrade));
    match binder {
        Some(binder) => {
            let side = ConnectingSide {
                kind: socket.kind(),
                terms: socket.terms(),
                greeting: socket.greeting(),
                signals: Rc::downgrade(socket.signals()),
                peer,
            };
            let remote = join(&side, &pipe.outbound, &pipe.inbound, &binder, endpoint);
            pipe.identity = peer_routing_id.unwrap_or_else(|| binder.terms().routing_id());
            pipe.properties = Some(std::sync::Arc::new(crate::PeerProperties::inproc(
                binder.kind(),
                pipe.identity.clone(),
            )));
            pipe.peer_type = Some(binder.kind());
            pipe.connected = true;
            pipe.inproc_peer = Some(remote);
        }
        None => REGISTRY.with(|r| {
            r.borrow_mut()
                .pending
                .entry(name.to_string())
                .or_default()
                .push(PendingConnect {
                    connecter: Connecter::Open(Rc::downgrade(socket)),
                    peer,
                    to_binder: pipe.outbound.clone(),
                    from_binder: pipe.inbound.clone(),
                    peer_routing_id,
                })
        }),
    }
    Ok(pipe)
}

/// Gives the binder its end of the pipe; returns the binder's (signals, peer)
/// for the connecter's pipe, so that either side can tell the other it left.
fn join(
    connecter: &ConnectingSide,
    to_binder: &SharedQueue,
    from_binder: &SharedQueue,
    binder: &Rc<dyn SocketHost>,
    endpoint: &str,
) -> (Weak<crate::pipe::Signals>, PeerId) {
    let binder_peer = binder.allocate_peer();
    let (b, c) = (binder.terms(), connecter.terms.clone());
    // PROBE_ROUTER: an empty message first, from each side that asks for it.
    for (terms, q) in [(&c, to_binder), (&b, from_binder)] {
        if terms.probe_router {
            q.borrow_mut()
                .push_front(Msg::from(vec![bytes::Bytes::new()]));
        }
    }
    // Each side's greeting (subscriptions, an XPUB welcome) goes first.
    for (greeting, q) in [
        (connecter.greeting.clone(), to_binder),
        (binder.greeting(), from_binder),
    ] {
        let mut q = q.borrow_mut();
        for m in greeting {
            q.push(m);
        }
    }
    for (q, sender, receiver) in [
        (to_binder, c.shape, b.shape),
        (from_binder, b.shape, c.shape),
    ] {
        let (hwm, conflate) = PipeShape::inproc_queue(sender, receiver);
        let mut q = q.borrow_mut();
        q.set_hwm(hwm);
        q.set_conflate(conflate);
    }
    binder.post(MonitorEvent::Accepted {
        endpoint: endpoint.to_string(),
        remote: None,
    });
    let mut pipe = Pipe::over(
        binder_peer,
        to_binder.clone(),
        from_binder.clone(),
        binder.signals(),
        endpoint,
    );
    pipe.identity = c.routing_id();
    pipe.properties = Some(std::sync::Arc::new(crate::PeerProperties::inproc(
        connecter.kind,
        pipe.identity.clone(),
    )));
    pipe.peer_type = Some(connecter.kind);
    pipe.connected = true;
    pipe.inproc_peer = Some((connecter.signals.clone(), connecter.peer));
    binder.signals().event(PipeEvent::Attached(pipe));
    (Rc::downgrade(binder.signals()), binder_peer)
}
