//! The publishing socket's side of one IO core: a task on the socket's own
//! reactor that turns the core's events into ordinary pipes.
//!
//! A subscriber on an IO core is, to the socket, a pipe like any other: its
//! inbound queue receives the subscriptions the core forwards, so the fair
//! queue, RCVHWM, XPUB notices and departures all work unchanged. Its
//! outbound queue is never used: [`publish`](crate::socket::shared::Core)
//! sends remote subscribers' copies through the data ring instead.

use rustc_hash::FxHashMap;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;

use monocoque_runtime::spsc;
use monocoque_zmtp::Msg;

use super::link::CoreEvent;
use crate::pipe::{Notify, Pipe, PipeEvent, Queue, SharedQueue};
use crate::socket::shared::SocketShared;
use crate::PeerId;

/// Applies `core`'s events to the socket until the core ends the link (after
/// the socket closed and the core's connections finished).
pub(crate) async fn run(
    shared: Rc<SocketShared>,
    core: usize,
    mut events: spsc::Receiver<CoreEvent>,
) {
    // The core's peer id -> the socket's peer id and the pipe's inbound queue.
    let mut peers: FxHashMap<PeerId, (PeerId, SharedQueue)> = FxHashMap::default();
    // An upstream message waiting for room in its pipe (RCVHWM).
    let mut held: Option<(PeerId, Msg)> = None;
    poll_fn(|cx| loop {
        if let Some((id, msg)) = held.take() {
            if let Some((_, q)) = peers.get(&id) {
                let mut q = q.borrow_mut();
                if q.is_full() && !q.reader_gone() {
                    q.writer.register(cx.waker());
                    drop(q);
                    held = Some((id, msg));
                    return Poll::Pending;
                }
                q.push(msg);
            }
        }
        let event = match events.poll_recv(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {
                for (_, (peer, q)) in peers.drain() {
                    q.borrow_mut().close_writer();
                    shared.signals.event(PipeEvent::Detached(peer));
                }
                return Poll::Ready(());
            }
            Poll::Ready(Some(e)) => e,
        };
        match event {
            CoreEvent::Joined {
                peer: id,
                identity,
                socket_type,
                endpoint,
            } => {
                let (peer, inbound) = attach(&shared, core, id, identity, socket_type, endpoint);
                peers.insert(id, (peer, inbound));
            }
            CoreEvent::Upstream { peer, msg } => held = Some((peer, msg)),
            CoreEvent::Left(id) => {
                if let Some((peer, q)) = peers.remove(&id) {
                    q.borrow_mut().close_writer();
                    shared.signals.event(PipeEvent::Detached(peer));
                }
            }
            CoreEvent::Monitor(e) => shared.monitor.borrow().post(e),
        }
    })
    .await
}

/// A subscriber on IO core `core` (its id there: `id`) becomes a pipe of the socket.
fn attach(
    shared: &Rc<SocketShared>,
    core: usize,
    id: PeerId,
    identity: bytes::Bytes,
    socket_type: monocoque_zmtp::SocketType,
    endpoint: String,
) -> (PeerId, SharedQueue) {
    let peer = shared.allocate_peer();
    let (rcvhwm, sndhwm) = {
        let c = shared.core.borrow();
        (c.options.rcvhwm, c.options.sndhwm)
    };
    let inbound = Queue::new(rcvhwm);
    {
        let mut q = inbound.borrow_mut();
        q.reader = Notify::Socket {
            signals: Rc::downgrade(&shared.signals),
            peer,
        };
        q.writer = Notify::Task(None);
    }
    // Never written: copies for this peer go through the data ring. A reader
    // that is gone makes any push refused rather than silently queued.
    let outbound = Queue::new(sndhwm);
    outbound.borrow_mut().close_reader();
    if let Some(f) = shared.core.borrow_mut().fanout.as_mut() {
        f.remote.insert(peer, (core, id));
    }
    shared.signals.event(PipeEvent::Attached(Pipe {
        peer,
        inbound: inbound.clone(),
        outbound,
        identity,
        peer_type: Some(socket_type),
        connected: true,
        endpoint,
        remote: None,
        inproc_peer: None,
    }));
    (peer, inbound)
}
