//! The publishing socket's side of one IO core: a task on the socket's own
//! reactor that turns the core's events into ordinary pipes.
//!
//! A subscriber on an IO core is, to the socket, a pipe like any other: its
//! inbound queue receives the subscriptions the core forwards, so the fair
//! queue, RCVHWM, XPUB notices and departures all work unchanged. Its
//! outbound queue is never used: the socket's publish
//! sends remote subscribers' copies through the data ring instead.

use rustc_hash::FxHashMap;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;

use monocoque_runtime::spsc;
use monocoque_zmtp::Msg;

use super::link::CoreEvent;
use crate::host::SocketHost;
use crate::pipe::{Notify, Pipe, PipeEvent, PipeShape, SharedQueue};
use crate::PeerId;

/// Applies `core`'s events to the socket until the core ends the link (after
/// the socket closed and the core's connections finished).
pub(crate) async fn run(
    host: Rc<dyn SocketHost>,
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
                    host.signals().event(PipeEvent::Detached(peer));
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
                ..
            } => {
                let (peer, inbound) = attach(&*host, core, id, identity, socket_type, endpoint);
                peers.insert(id, (peer, inbound));
            }
            CoreEvent::Upstream { peer, msg } => held = Some((peer, msg)),
            CoreEvent::Left(id) => {
                if let Some((peer, q)) = peers.remove(&id) {
                    q.borrow_mut().close_writer();
                    host.signals().event(PipeEvent::Detached(peer));
                }
            }
            CoreEvent::Monitor(e) => host.post(e),
            // Publishers' links keep no windows, hear of a departure with
            // the peer's Left, and their connects join as accepted peers.
            CoreEvent::Credit { .. }
            | CoreEvent::Gone(_)
            | CoreEvent::Connected { .. }
            | CoreEvent::Disconnected { .. } => {}
        }
    })
    .await
}

/// A subscriber on IO core `core` (its id there: `id`) becomes a pipe of the socket.
fn attach(
    host: &dyn SocketHost,
    core: usize,
    id: PeerId,
    identity: bytes::Bytes,
    socket_type: monocoque_zmtp::SocketType,
    endpoint: String,
) -> (PeerId, SharedQueue) {
    let peer = host.allocate_peer();
    let shape = host.terms().shape;
    // No conflation on a subscriber's requests; the outbound queue is never
    // written: copies for this peer go through the data ring. A reader that
    // is gone makes any push refused rather than silently queued.
    let shape = PipeShape {
        conflate_in: false,
        conflate_out: false,
        ..shape
    };
    let mut pipe = Pipe::new(peer, shape, host.signals(), &endpoint);
    pipe.outbound.borrow_mut().close_reader();
    // This task writes the inbound queue, and waits on it at RCVHWM.
    pipe.inbound.borrow_mut().writer = Notify::Task(None);
    pipe.identity = identity;
    pipe.peer_type = Some(socket_type);
    pipe.connected = true;
    let inbound = pipe.inbound.clone();
    host.signals()
        .event(PipeEvent::AttachedRemote { pipe, core, id });
    (peer, inbound)
}
