//! What a socket shares with the tasks that serve it (listeners,
//! connecters, engines): its state, signals, monitors and lifecycle, and
//! the [`SocketHost`] and [`EngineOwner`] faces those tasks see.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use monocoque_runtime::JoinHandle;
use monocoque_zmtp::{AuthDecision, Msg, SocketType};

use super::state::SocketState;
use super::zap_client;
use crate::admission::{
    decide_locally, internal_refusal, AdmissionPolicy, ZapRequest, ZAP_ENDPOINT,
};
use crate::engine::{EngineEnd, EngineEvent, EngineOwner, Verdict};
use crate::host::{ConnectionTerms, NetStream, SocketHost};
use crate::lifecycle::Lifecycle;
use crate::monitor::{MonitorEvent, MonitorSink};
use crate::options::Options;
use crate::pipe::{PipeEvent, Signals};
use crate::transport::inproc;
use crate::PeerId;

/// Shared between the socket handle and its tasks (listeners, connecters,
/// engines). Lives on one reactor thread.
pub(crate) struct SocketShared {
    pub(crate) kind: SocketType,
    pub(crate) signals: Rc<Signals>,
    pub(crate) state: RefCell<SocketState>,
    pub(crate) monitor: RefCell<MonitorSink>,
    pub(crate) lifecycle: Lifecycle,
    /// The options new connections start with, kept apart from the state so
    /// that transports read them without borrowing it.
    terms: RefCell<Rc<ConnectionTerms>>,
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
        let state = SocketState::new(kind, seed, monitor.clone());
        let terms = ConnectionTerms::of(&state.options, kind);
        Rc::new(SocketShared {
            kind,
            signals: Rc::new(Signals::default()),
            state: RefCell::new(state),
            monitor: RefCell::new(monitor),
            lifecycle: Lifecycle::default(),
            terms: RefCell::new(Rc::new(terms)),
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

    /// Whether a new connection stays on this core, spread or not.
    pub(crate) fn keeps_connections_here(&self) -> bool {
        let terms = self.terms();
        // A connection whose admission asks the ZAP handler (or may: a
        // CURVE or PLAIN server, a ZAP_DOMAIN) stays here, where the
        // handler is asked; an IO core would have to refuse it.
        if matches!(terms.admission, AdmissionPolicy::Zap { .. }) {
            return true;
        }
        // A socket that conflates keeps its connections: the windows that
        // carry a pipe across cores count every message. (A publisher's
        // fan-out has no windows: its CONFLATE applies on the IO cores.)
        let shape = terms.shape;
        !self.kind.is_publisher() && (shape.conflate_in || shape.conflate_out)
    }

    /// The options changed: connections from now on start with these.
    pub(crate) fn refresh_terms(&self, options: &Options) {
        *self.terms.borrow_mut() = Rc::new(ConnectionTerms::of(options, self.kind));
    }
}

impl EngineOwner for SocketShared {
    fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    /// As libzmq: the socket's authenticator if it has one; else the ZAP
    /// handler bound at `inproc://zeromq.zap.01` on this thread; else
    /// admitted, unless the mechanism requires a handler (PLAIN).
    fn admit(&self, request: ZapRequest, policy: &AdmissionPolicy) -> Verdict {
        if let Some(decision) = decide_locally(policy, &request) {
            return Verdict::Now(decision);
        }
        if !inproc::is_bound(ZAP_ENDPOINT) {
            let required = matches!(policy, AdmissionPolicy::Zap { required: true });
            return Verdict::Now(if required {
                internal_refusal()
            } else {
                AuthDecision::accept(None)
            });
        }
        Verdict::Later(zap_client::ask(request))
    }

    fn greeting(&self) -> Vec<Msg> {
        match self.state.try_borrow() {
            Ok(state) => state.greeting(),
            // Engines and joins run only while no socket call holds the state
            // (calls do not await with it borrowed), so this does not happen.
            Err(_) => {
                tracing::error!("socket state busy at handshake; greeting not sent");
                Vec::new()
            }
        }
    }

    fn report(&self, event: EngineEvent) {
        let monitor = self.monitor.borrow();
        match event {
            EngineEvent::Attached(pipe) => {
                monitor.post(MonitorEvent::HandshakeSucceeded {
                    endpoint: pipe.endpoint.clone(),
                    remote: pipe.remote.clone(),
                });
                self.signals.event(PipeEvent::Attached(pipe));
            }
            EngineEvent::Reattached {
                peer,
                remote,
                properties,
                identity,
                socket_type,
                endpoint,
            } => {
                monitor.post(MonitorEvent::HandshakeSucceeded { endpoint, remote });
                self.signals.event(PipeEvent::Connected {
                    peer,
                    identity,
                    socket_type,
                    inproc_peer: None,
                    properties,
                });
            }
            EngineEvent::Ended {
                endpoint,
                remote,
                pipe,
                persistent,
                end,
            } => {
                if let Some(peer) = pipe {
                    self.signals.event(if persistent {
                        PipeEvent::Disconnected(peer)
                    } else {
                        PipeEvent::Detached(peer)
                    });
                }
                match end {
                    EngineEnd::HandshakeFailed(reason) => {
                        monitor.post(MonitorEvent::HandshakeFailed {
                            endpoint,
                            remote,
                            reason,
                        })
                    }
                    EngineEnd::Disconnected(reason) => monitor.post(MonitorEvent::Disconnected {
                        endpoint,
                        remote,
                        reason,
                    }),
                    EngineEnd::Released => {}
                }
            }
        }
    }
}

impl SocketHost for SocketShared {
    fn kind(&self) -> SocketType {
        self.kind
    }

    fn signals(&self) -> &Rc<Signals> {
        &self.signals
    }

    fn post(&self, event: MonitorEvent) {
        self.monitor.borrow().post(event);
    }

    fn allocate_peer(&self) -> PeerId {
        SocketShared::allocate_peer(self)
    }

    fn terms(&self) -> Rc<ConnectionTerms> {
        self.terms.borrow().clone()
    }

    fn hand_off(&self, stream: NetStream, endpoint: &str) -> Option<NetStream> {
        if self.keeps_connections_here() {
            return Some(stream);
        }
        let mut state = self.state.borrow_mut();
        let Some((spread, options)) = state.spread_with_options() else {
            return Some(stream);
        };
        match stream {
            NetStream::Tcp(s) => {
                crate::fanout::hand_off(spread, options, s, endpoint).map(NetStream::Tcp)
            }
            NetStream::Ipc(s) => {
                crate::fanout::hand_off(spread, options, s, endpoint).map(NetStream::Ipc)
            }
        }
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
    /// Bound on the application's listening socket (ZMQ_USE_FD): an ipc
    /// socket file is the application's to remove.
    pub(crate) adopted: bool,
    /// The listener or connecter task (none for inproc).
    pub(crate) task: Option<JoinHandle<()>>,
    /// The persistent pipe of a connect (IMMEDIATE off) or an inproc connect.
    pub(crate) pipe: Option<PeerId>,
    /// A connect running on an IO core.
    pub(crate) remote: Option<crate::fanout::RemoteConnect>,
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
