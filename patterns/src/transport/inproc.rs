//! inproc://: sockets on the same reactor thread joined by a pipe of two
//! queues. No framing, no syscalls: a sent `Msg` is the received `Msg`.
//!
//! Names live per thread (a thread-per-core runtime's equivalent of libzmq's
//! per-context names; the blocking `Context` runs all its sockets on one
//! thread). Connecting before the bind works: the connecting socket gets its
//! pipe at once, messages queue in it (up to SNDHWM), and the bind completes
//! the pipe.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use bytes::Bytes;
use monocoque_zmtp::SocketType;

use crate::monitor::MonitorEvent;
use crate::pipe::{Notify, Pipe, PipeEvent, Queue, SharedQueue};
use crate::socket::pubsub::greeting_messages;
use crate::socket::shared::SocketShared;
use crate::{Error, PeerId, Result};

struct PendingConnect {
    socket: Weak<SocketShared>,
    peer: PeerId,
    /// The connecting socket's outbound queue (its messages to the binder).
    to_binder: SharedQueue,
    /// The connecting socket's inbound queue.
    from_binder: SharedQueue,
}

#[derive(Default)]
struct Registry {
    bound: HashMap<String, Weak<SocketShared>>,
    pending: HashMap<String, Vec<PendingConnect>>,
}

thread_local! {
    static REGISTRY: RefCell<Registry> = RefCell::new(Registry::default());
}

/// Binds `name` to `socket`, completing every connect that waited for it.
pub(crate) fn bind(socket: &Rc<SocketShared>, name: &str) -> Result<()> {
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
        let Some(connecter) = p.socket.upgrade() else {
            continue;
        };
        if !connecter.kind.is_compatible_with(socket.kind) {
            let e = incompatible(connecter.kind, socket.kind, &endpoint);
            tracing::warn!(error = %e, "inproc connection refused");
            connecter
                .monitor
                .borrow()
                .post(MonitorEvent::HandshakeFailed {
                    endpoint: endpoint.clone(),
                    reason: e.to_string(),
                });
            connecter.signals.event(PipeEvent::Detached(p.peer));
            continue;
        }
        let remote = join(
            &connecter,
            p.peer,
            &p.to_binder,
            &p.from_binder,
            socket,
            &endpoint,
        );
        connecter.signals.event(PipeEvent::Connected {
            peer: p.peer,
            identity: routing_id_of(socket),
            socket_type: socket.kind,
            inproc_peer: Some(remote),
        });
    }
    Ok(())
}

/// Removes the binding (unbind, close).
pub(crate) fn unbind(socket: &Rc<SocketShared>, name: &str) -> bool {
    REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        match r.bound.get(name) {
            Some(w) if std::ptr::eq(w.as_ptr(), Rc::as_ptr(socket)) => {
                r.bound.remove(name);
                true
            }
            _ => false,
        }
    })
}

/// Forgets connects of `socket` still waiting for `name` (disconnect, close).
pub(crate) fn forget_pending(socket: &Rc<SocketShared>, name: &str) {
    REGISTRY.with(|r| {
        if let Some(v) = r.borrow_mut().pending.get_mut(name) {
            v.retain(|p| !std::ptr::eq(p.socket.as_ptr(), Rc::as_ptr(socket)));
        }
    })
}

/// Connects `socket` to `name`: returns the connecting side's pipe, complete if
/// the name is bound, or waiting for the bind otherwise.
pub(crate) fn connect(socket: &Rc<SocketShared>, name: &str, endpoint: &str) -> Result<Pipe> {
    let peer = socket.allocate_peer();
    let (sndhwm, conflate_out, conflate_in) = {
        let c = socket.core.borrow();
        (
            c.options.sndhwm,
            c.options.conflate_outbound(socket.kind),
            c.options.conflate_inbound(socket.kind),
        )
    };
    let to_binder = Queue::new(sndhwm);
    let from_binder = Queue::new(0);
    to_binder.borrow_mut().set_conflate(conflate_out);
    from_binder.borrow_mut().set_conflate(conflate_in);
    let signals = Rc::downgrade(&socket.signals);
    to_binder.borrow_mut().writer = Notify::Socket {
        signals: signals.clone(),
        peer,
    };
    from_binder.borrow_mut().reader = Notify::Socket { signals, peer };
    let binder = REGISTRY.with(|r| r.borrow().bound.get(name).and_then(Weak::upgrade));
    let mut pipe = Pipe {
        peer,
        inbound: from_binder.clone(),
        outbound: to_binder.clone(),
        identity: Bytes::new(),
        peer_type: None,
        connected: false,
        endpoint: endpoint.to_string(),
        remote: None,
        inproc_peer: None,
    };
    match binder {
        Some(binder) => {
            if !socket.kind.is_compatible_with(binder.kind) {
                return Err(incompatible(socket.kind, binder.kind, endpoint));
            }
            let remote = join(socket, peer, &to_binder, &from_binder, &binder, endpoint);
            pipe.identity = routing_id_of(&binder);
            pipe.peer_type = Some(binder.kind);
            pipe.connected = true;
            pipe.inproc_peer = Some(remote);
        }
        None => REGISTRY.with(|r| {
            r.borrow_mut()
                .pending
                .entry(name.to_string())
                .or_default()
                .push(PendingConnect {
                    socket: Rc::downgrade(socket),
                    peer,
                    to_binder,
                    from_binder,
                })
        }),
    }
    Ok(pipe)
}

fn incompatible(ours: SocketType, theirs: SocketType, endpoint: &str) -> Error {
    Error::InvalidEndpoint {
        endpoint: endpoint.to_string(),
        reason: format!("a {ours} socket cannot talk to the {theirs} socket bound there"),
    }
}

/// The routing id `of` presents to its peers (only REQ, DEALER and ROUTER send one).
fn routing_id_of(of: &Rc<SocketShared>) -> Bytes {
    if !of.kind.sends_identity() {
        return Bytes::new();
    }
    match of.core.try_borrow() {
        Ok(core) => core.options.routing_id.clone(),
        Err(_) => Bytes::new(),
    }
}

/// Gives the binder its end of the pipe; returns the binder's (signals, peer)
/// for the connecter's pipe, so that either side can tell the other it left.
fn join(
    connecter: &Rc<SocketShared>,
    connecter_peer: PeerId,
    to_binder: &SharedQueue,
    from_binder: &SharedQueue,
    binder: &Rc<SocketShared>,
    endpoint: &str,
) -> (Weak<crate::pipe::Signals>, PeerId) {
    let binder_peer = binder.allocate_peer();
    let shape = |s: &Rc<SocketShared>| match s.core.try_borrow() {
        Ok(c) => (
            c.options.sndhwm,
            c.options.rcvhwm,
            c.options.probe_router,
            c.options.conflate_inbound(s.kind),
            c.options.conflate_outbound(s.kind),
        ),
        Err(_) => (1000, 1000, false, false, false),
    };
    let (b_snd, b_rcv, b_probe, b_conflate_in, b_conflate_out) = shape(binder);
    let (c_snd, c_rcv, c_probe, c_conflate_in, c_conflate_out) = shape(connecter);
    // PROBE_ROUTER: an empty message first, from each side that asks for it.
    if c_probe {
        to_binder
            .borrow_mut()
            .push_front(monocoque_zmtp::Msg::from(vec![Bytes::new()]));
    }
    if b_probe {
        from_binder
            .borrow_mut()
            .push_front(monocoque_zmtp::Msg::from(vec![Bytes::new()]));
    }
    // Each side's greeting (subscriptions, an XPUB welcome) goes first.
    for (from, q) in [(connecter, to_binder), (binder, from_binder)] {
        if let Ok(core) = from.core.try_borrow() {
            let mut q = q.borrow_mut();
            for m in greeting_messages(&core) {
                q.push(m);
            }
        }
    }
    // libzmq sizes an inproc pipe as the sender's SNDHWM plus the receiver's
    // RCVHWM (unbounded if either is 0).
    let sum = |a: usize, b: usize| if a == 0 || b == 0 { 0 } else { a + b };
    let bsig = Rc::downgrade(&binder.signals);
    {
        let mut q = to_binder.borrow_mut();
        q.set_hwm(sum(c_snd, b_rcv));
        // CONFLATE on either end (the sender's outbound, the receiver's inbound).
        q.set_conflate(c_conflate_out || b_conflate_in);
        q.reader = Notify::Socket {
            signals: bsig.clone(),
            peer: binder_peer,
        };
    }
    {
        let mut q = from_binder.borrow_mut();
        q.set_hwm(sum(b_snd, c_rcv));
        q.set_conflate(b_conflate_out || c_conflate_in);
        q.writer = Notify::Socket {
            signals: bsig,
            peer: binder_peer,
        };
    }
    binder.monitor.borrow().post(MonitorEvent::Accepted {
        endpoint: endpoint.to_string(),
    });
    binder.signals.event(PipeEvent::Attached(Pipe {
        peer: binder_peer,
        inbound: to_binder.clone(),
        outbound: from_binder.clone(),
        identity: routing_id_of(connecter),
        peer_type: Some(connecter.kind),
        connected: true,
        endpoint: endpoint.to_string(),
        remote: None,
        inproc_peer: Some((Rc::downgrade(&connecter.signals), connecter_peer)),
    }));
    (Rc::downgrade(&binder.signals), binder_peer)
}
