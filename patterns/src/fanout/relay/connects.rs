//! The connects a socket handed to this IO core: each runs the socket's own
//! connecter (`transport/network.rs`) with a [`ConnectPort`] as its host,
//! so connecting, reconnecting after RECONNECT_IVL, RECONNECT_STOP and the
//! handshake are the ones a local connect has.
//!
//! A publisher's connects have no such pipe: each connection joins as an
//! accepted subscriber does (until a peer subscribes, nothing is queued
//! for it anyway).
//!
//! With IMMEDIATE off the connect has a pipe that outlives its connections,
//! as on the socket's core: the socket made its end at the connect, the
//! core keeps the other (windows as for any peer here), and each new
//! connection takes it up (Connected) or leaves it (Disconnected: what the
//! core held for the peer is discarded, as the socket discards its own
//! queue). With IMMEDIATE on, each connection joins and leaves as an
//! accepted one does.
//!
//! ```text
//!   Connect{order}    spawn the connecter; persistent pipe under order.id
//!   Reattached        ─▶ Connected            Ended (persistent) ─▶ Disconnected
//!   connecter ended   ─▶ Gone, then Left once what the peer sent is passed on
//!   Disconnect / a Release outside a close: the connect's lifecycle closes now
//! ```

use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use monocoque_runtime::{spawn, JoinHandle};
use monocoque_zmtp::SocketType;

use super::{PeerWindows, Relay};
use crate::fanout::connect_port::ConnectPort;
use crate::fanout::link::{ConnectOrder, CoreEvent};
use crate::fanout::window::{Intake, Window};
use crate::host::SocketHost;
use crate::pipe::{Pipe, PipeShape};
use crate::transport::network;
use crate::{PeerId, PeerProperties};

/// A connect running on this core.
pub(super) struct CoreConnect {
    pub(super) port: Rc<ConnectPort>,
    /// The connecter; dropped, it stops (with the engine it runs).
    task: JoinHandle<()>,
}

impl Relay {
    /// Starts the connecter of `order`, with its persistent pipe if it has one.
    pub(super) fn connect(&mut self, order: ConnectOrder) {
        let ConnectOrder {
            id,
            endpoint,
            shown,
            options,
            seed,
            peer_routing_id,
            persistent,
        } = order;
        let port = Rc::new(ConnectPort::new(
            self.port.clone(),
            self.kind,
            &options,
            self.windowed,
        ));
        self.take_options(*options);
        if self.closing {
            // Handed over just before the socket closed: as a local connect
            // would, it still delivers within the linger.
            port.lifecycle.close(self.deadline);
        }
        let far = persistent.map(|(down, up)| {
            let shape = PipeShape {
                sndhwm: down,
                rcvhwm: up,
                conflate_in: false,
                conflate_out: false,
            };
            let pipe = Pipe::new(id, shape, &self.port.signals, &shown);
            pipe.outbound.borrow_mut().report_each_lwm();
            self.windows.insert(
                id,
                PeerWindows {
                    down: Intake::default(),
                    up: Window::new(up),
                    epoch: 0,
                },
            );
            let far = pipe.far_end();
            self.pipes.insert(id, pipe);
            far
        });
        let host: Rc<dyn SocketHost> = port.clone();
        let relay = self.port.clone();
        let task = spawn(async move {
            network::connect(host, endpoint, shown, far, seed, peer_routing_id).await;
            relay.connect_finished(id);
        });
        self.connects.insert(id, CoreConnect { port, task });
    }

    /// The socket disconnected: the connect stops now, its connection with it.
    pub(super) fn disconnect(&mut self, id: PeerId) {
        let Some(c) = self.connects.get(&id) else {
            return;
        };
        c.port.lifecycle.close(Some(Instant::now()));
        self.release(id, true);
        self.stop_if_unattached(id);
    }

    /// The owner task let go of the connect's pipe: outside a close the
    /// connect ends now, as a local one whose pipe the socket dropped;
    /// while closing, once what was queued has left (or the linger ends):
    /// the connecter looks at both between its attempts, and its engine is
    /// woken to look now. Not sooner, even with no connection up: while the
    /// socket closes, what was sent to a lost connection stays for the next
    /// one, and some of it may still be on the data ring, behind this.
    pub(super) fn release_connect(&mut self, id: PeerId) {
        if !self.closing {
            return self.disconnect(id);
        }
        self.release(id, false);
        if let Some(c) = self.connects.get(&id) {
            // The same deadline again: it wakes the connect's engine.
            c.port.lifecycle.close(self.deadline);
        }
    }

    /// A connect with no connection up has nothing to finish: it stops now
    /// rather than when its next attempt or back-off ends.
    fn stop_if_unattached(&mut self, id: PeerId) {
        if self
            .connects
            .get(&id)
            .is_some_and(|c| !c.port.is_attached())
        {
            if let Some(c) = self.connects.remove(&id) {
                drop(c.task);
            }
            self.connect_ended(id);
        }
    }

    /// The connect's pipe has a connection again.
    pub(super) fn reconnected(
        &mut self,
        peer: PeerId,
        identity: Bytes,
        socket_type: Option<SocketType>,
        properties: Arc<PeerProperties>,
    ) {
        self.outbox.push_back(CoreEvent::Connected {
            peer,
            identity,
            socket_type,
            properties,
        });
        self.readable.push_back(peer);
    }

    /// The connect's pipe lost its connection: what it held for the peer is
    /// discarded (credited back: the socket may send again), and the pipe
    /// waits for the next one. Not while the socket closes: a local
    /// connecter then keeps its queue for the next connection within the
    /// linger (the closed socket never applies the disconnect), and so
    /// does this one.
    pub(super) fn disconnected(&mut self, peer: PeerId) {
        let (Some(p), Some(w)) = (self.pipes.get(&peer), self.windows.get_mut(&peer)) else {
            return;
        };
        if self.closing {
            let epoch = w.epoch;
            self.outbox
                .push_back(CoreEvent::Disconnected { peer, epoch });
            return;
        }
        let mut out = p.outbound.borrow_mut();
        out.clear();
        let n = w.down.due(out.outstanding());
        drop(out);
        // What the socket sent before it hears of this is discarded too.
        w.epoch += 1;
        let epoch = w.epoch;
        if n > 0 {
            self.outbox.push_back(CoreEvent::Credit { peer, n });
        }
        self.outbox
            .push_back(CoreEvent::Disconnected { peer, epoch });
    }

    /// Applies what the connects said: their monitor events, and the end
    /// of their loops.
    pub(super) fn connect_reports(&mut self) -> bool {
        let events: Vec<_> = self.port.monitor_events.borrow_mut().drain(..).collect();
        let mut progress = !events.is_empty();
        for e in events {
            self.monitor(e);
        }
        // A connecter that gives up says so on its host's signals too; the
        // end of its loop (below) is what the relay goes by.
        self.port.signals.events.borrow_mut().clear();
        let finished = std::mem::take(&mut *self.port.finished_connects.borrow_mut());
        for id in finished {
            progress = true;
            self.connects.remove(&id);
            self.connect_ended(id);
        }
        progress
    }

    /// The connect is over for good: its pipe leaves once what the peer
    /// sent is passed on.
    fn connect_ended(&mut self, id: PeerId) {
        if self.pipes.contains_key(&id) && self.gone.insert(id) {
            self.readable.push_back(id);
            self.outbox.push_back(CoreEvent::Gone(id));
        }
    }
}
