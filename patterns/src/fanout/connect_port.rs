//! What one connect a socket handed to an IO core sees of that core: the
//! socket's connecter (`transport/network.rs`) runs there unchanged, with
//! this as its host.
//!
//! ```text
//!   socket's core                          IO core
//!   connect(endpoint) ─Connect{order}──▶   relay: spawn network::connect(ConnectPort)
//!     persistent pipe (IMMEDIATE off)        its own persistent pipe, W↓/W↑ deep
//!     whose far end is the owner task        engine per connection ─▶ Reattached / Ended
//!   ◀──Connected / Disconnected / Gone ──    (Fresh pipes under IMMEDIATE: Joined, as accepted)
//!   disconnect ─Disconnect{id}──▶            lifecycle closed now: the connection ends
//! ```
//!
//! Each connect has a lifecycle of its own, so that a disconnect ends just
//! that one, while the socket's close ends every connect within the linger
//! once the owner task has passed on what the socket queued.

use std::cell::Cell;
use std::rc::Rc;

use monocoque_zmtp::{Msg, SocketType};

use super::relay_port::RelayPort;
use super::window::window;
use crate::admission::{AdmissionPolicy, ZapRequest};
use crate::engine::{EngineEvent, EngineOwner, Verdict};
use crate::host::{ConnectionTerms, NetStream, SocketHost};
use crate::lifecycle::Lifecycle;
use crate::monitor::MonitorEvent;
use crate::options::Options;
use crate::pipe::{PipeShape, Signals};
use crate::PeerId;

/// One connect's host on an IO core.
pub(super) struct ConnectPort {
    relay: Rc<RelayPort>,
    kind: SocketType,
    /// This connect's closing state (its engines and its reconnect loop
    /// watch it): closed with the socket's linger when the socket closes,
    /// at once when it disconnects.
    pub(super) lifecycle: Lifecycle,
    /// The options at the connect, the pipes sized to the windows.
    terms: Rc<ConnectionTerms>,
    /// The pipe the connect's engine feeds now, once its handshake
    /// completed: while there is none, the connect can stop at once.
    attached: Cell<Option<PeerId>>,
}

impl ConnectPort {
    /// A connect's host; `windowed`: its pipes cross to the socket within
    /// windows (every type but the publishers, whose pipes are shaped as
    /// the socket's options say).
    pub(super) fn new(
        relay: Rc<RelayPort>,
        kind: SocketType,
        options: &Options,
        windowed: bool,
    ) -> ConnectPort {
        let mut terms = ConnectionTerms::of(options, kind);
        if windowed {
            // The engines' queues are the windows, as for accepted
            // connections (`relay/mod.rs`); nothing conflates here.
            terms.shape = PipeShape {
                sndhwm: window(terms.shape.sndhwm),
                rcvhwm: window(terms.shape.rcvhwm),
                conflate_in: false,
                conflate_out: false,
            };
        }
        ConnectPort {
            relay,
            kind,
            lifecycle: Lifecycle::default(),
            terms: Rc::new(terms),
            attached: Cell::new(None),
        }
    }

    /// Whether a connection of this connect has completed its handshake
    /// and not ended.
    pub(super) fn is_attached(&self) -> bool {
        self.attached.get().is_some()
    }
}

impl EngineOwner for ConnectPort {
    fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    /// Nothing: what the socket says first (a SUB's subscriptions) comes
    /// from the socket's core when it hears of the connection, ahead of
    /// anything it queues after.
    fn greeting(&self) -> Vec<Msg> {
        Vec::new()
    }

    fn report(&self, event: EngineEvent) {
        match &event {
            EngineEvent::Attached(pipe) => self.attached.set(Some(pipe.peer)),
            EngineEvent::Reattached { peer, .. } => self.attached.set(Some(*peer)),
            EngineEvent::Ended { .. } => self.attached.set(None),
        }
        self.relay.report(event);
    }

    fn admit(&self, request: ZapRequest, policy: &AdmissionPolicy) -> Verdict {
        self.relay.admit(request, policy)
    }
}

impl SocketHost for ConnectPort {
    fn kind(&self) -> SocketType {
        self.kind
    }

    fn signals(&self) -> &Rc<Signals> {
        &self.relay.signals
    }

    fn post(&self, event: MonitorEvent) {
        self.relay.monitor_events.borrow_mut().push_back(event);
        self.relay.signals.wake_recv();
    }

    fn allocate_peer(&self) -> PeerId {
        self.relay.allocate_peer()
    }

    fn terms(&self) -> Rc<ConnectionTerms> {
        self.terms.clone()
    }

    /// Never asked: only listeners hand connections off.
    fn hand_off(&self, stream: NetStream, _endpoint: &str) -> Option<NetStream> {
        Some(stream)
    }
}
