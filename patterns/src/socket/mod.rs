//! The async socket: one ZeroMQ socket owned by the current reactor thread.

mod message_run;
mod peers;
mod readiness;
mod role;
pub(crate) mod shared;
mod state;
mod zap_client;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use monocoque_runtime::net::{TcpListener, UnixListener};
use monocoque_runtime::{sleep_until, spawn, Sleep};
use monocoque_zmtp::{Msg, SocketType};

use crate::endpoint::Endpoint;
use crate::host::SocketHost;
use crate::monitor::{Monitor, MonitorEvent};
use crate::options::{Options, SocketOption};
use crate::pipe::{HeldCredit, Pipe};
use crate::transport::{inproc, ipc_wildcard, network, tcp_address};
use crate::{Error, PeerProperties, Result};

/// A received message, its sender's properties, and the RCVHWM credit it
/// still holds (`Socket::poll_recv_held`).
pub(crate) type HeldMessage = (Msg, Option<Arc<PeerProperties>>, Option<HeldCredit>);
/// How many messages one take moved at once, and the credit that counts
/// them against their pipe's RCVHWM ([`Socket::poll_recv_run`]).
pub(crate) type HeldRun = (usize, Option<HeldCredit>);

/// How many more messages a send surely finds room for now
/// ([`Socket::send_credit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SendRoom {
    /// Messages taken without waiting, at least.
    pub(crate) room: usize,
    /// Whether that is all the room there is (every pipe counted), so that
    /// once it is used up a send would wait; `false` for a lower bound.
    pub(crate) whole: bool,
}
pub(crate) use message_run::MessageRun;
use role::Step;
use shared::{EndpointEntry, SocketShared};

/// A ZeroMQ socket on the current reactor thread (`!Send`: it belongs to the
/// core that made it, and so do its connections).
///
/// ```
/// use monocoque_patterns::Socket;
/// use monocoque_zmtp::{Msg, SocketType};
/// let rt = monocoque_runtime::Runtime::builder().build().unwrap();
/// rt.block_on(async {
///     let rep = Socket::new(SocketType::Rep).unwrap();
///     rep.bind("tcp://127.0.0.1:0").unwrap();
///     let req = Socket::new(SocketType::Req).unwrap();
///     req.connect(&rep.last_endpoint().unwrap()).unwrap();
///     req.send("ping").await.unwrap();
///     let got = rep.recv().await.unwrap();
///     rep.send(got).await.unwrap();
///     assert_eq!(&req.recv().await.unwrap()[0][..], b"ping");
/// });
/// ```
pub struct Socket {
    shared: Rc<SocketShared>,
    /// The readiness descriptor, once asked for.
    readiness: std::cell::RefCell<Option<readiness::ReadinessFd>>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("type", &self.shared.kind)
            .finish_non_exhaustive()
    }
}

impl Socket {
    /// A new socket of `kind`, with libzmq's default options. Must be called
    /// inside a runtime's `block_on`.
    pub fn new(kind: SocketType) -> Result<Socket> {
        if !monocoque_runtime::in_runtime() {
            return Err(Error::NoRuntime);
        }
        Ok(Socket {
            shared: SocketShared::new(kind),
            readiness: std::cell::RefCell::new(None),
        })
    }

    /// The socket's type.
    pub fn socket_type(&self) -> SocketType {
        self.shared.kind
    }

    /// Sets an option (see [`SocketOption`]); refused if this socket type does
    /// not support it. Options that shape connections (heartbeats,
    /// identities, security) apply to connections made afterwards, as in
    /// libzmq; SNDHWM and RCVHWM reach the pipes live now too (libzmq's
    /// `update_pipe_options`).
    pub fn set_option(&self, option: SocketOption) -> Result<()> {
        let mut state = self.shared.state.borrow_mut();
        match option {
            SocketOption::Subscribe(ref topic) | SocketOption::Unsubscribe(ref topic) => {
                // Learn of new and gone peers first, so the request reaches
                // every publisher connected now.
                state.sync(&self.shared.signals);
                state.subscription(matches!(option, SocketOption::Subscribe(_)), topic)
            }
            option => {
                // Pipes attached since the last look take HWM changes too.
                state.sync(&self.shared.signals);
                state.apply(option)?;
                self.shared.refresh_terms(&state.options);
                Ok(())
            }
        }
    }

    /// The current option values.
    pub fn options(&self) -> Options {
        self.shared.state.borrow().options.clone()
    }

    /// RCVTIMEO (without cloning the options).
    pub(crate) fn rcvtimeo(&self) -> Option<Duration> {
        self.shared.state.borrow().options.rcvtimeo
    }

    /// SNDTIMEO (without cloning the options).
    pub(crate) fn sndtimeo(&self) -> Option<Duration> {
        self.shared.state.borrow().options.sndtimeo
    }

    /// Pipes a receive may read from now (a dying peer's included): with
    /// more than one, the next message is the fair queue's choice.
    pub(crate) fn pipe_count(&self) -> usize {
        self.shared.state.borrow().pipe_count()
    }

    /// Whether CONFLATE is on (without cloning the options).
    pub(crate) fn conflates(&self) -> bool {
        self.shared.state.borrow().options.conflate
    }

    /// The endpoint of the last bind, with the port the kernel chose
    /// (ZMQ_LAST_ENDPOINT).
    pub fn last_endpoint(&self) -> Option<String> {
        self.shared.state.borrow().last_endpoint.clone()
    }

    /// Messages queued in this socket's pipes: `(inbound, outbound)`, summed
    /// over peers (received but not yet read; sent but not yet written).
    pub fn queued(&self) -> (usize, usize) {
        let mut state = self.shared.state.borrow_mut();
        state.sync(&self.shared.signals);
        state.queued()
    }

    /// ROUTER and STREAM: whether a message to the peer `routing_id` names
    /// would be taken now, as libzmq answers at a message's first frame.
    /// Under ROUTER_MANDATORY (always on STREAM) an unknown id is
    /// [`Error::HostUnreachable`] and a peer at its SNDHWM is
    /// [`Error::WouldBlock`]; without it any id is taken (and a message that
    /// cannot go is dropped).
    ///
    /// ```
    /// use monocoque_patterns::{Error, Socket, SocketOption};
    /// use monocoque_zmtp::SocketType;
    /// let rt = monocoque_runtime::Runtime::builder().build().unwrap();
    /// rt.block_on(async {
    ///     let router = Socket::new(SocketType::Router).unwrap();
    ///     assert!(router.check_route(b"nobody").is_ok(), "dropped, not refused");
    ///     router.set_option(SocketOption::RouterMandatory(true)).unwrap();
    ///     assert!(matches!(router.check_route(b"nobody"), Err(Error::HostUnreachable)));
    /// });
    /// ```
    pub fn check_route(&self, routing_id: &[u8]) -> Result<()> {
        let mut state = self.shared.state.borrow_mut();
        state.sync(&self.shared.signals);
        state.check_route(routing_id)
    }

    /// A lower bound on how many messages [`try_send`](Self::try_send)
    /// takes now, for PUSH, DEALER, PAIR and XPUB under XPUB_NODROP
    /// (`None` for other types, or where it is not known cheaply).
    pub(crate) fn send_credit(&self) -> Option<SendRoom> {
        let mut state = self.shared.state.borrow_mut();
        state.sync(&self.shared.signals);
        state.send_credit()
    }

    /// Under ROUTER_MANDATORY: how many more messages to `routing_id` are
    /// taken now (`None` for an unknown id, or without it).
    pub(crate) fn route_credit(&self, routing_id: &[u8]) -> Option<SendRoom> {
        let mut state = self.shared.state.borrow_mut();
        state.sync(&self.shared.signals);
        state.route_credit(routing_id)
    }

    /// Peers connected now: handshake done (tcp, ipc) or joined (inproc).
    pub fn peer_count(&self) -> usize {
        let mut state = self.shared.state.borrow_mut();
        state.sync(&self.shared.signals);
        state.peer_count()
    }

    /// Distinct topics subscribed (libzmq's ZMQ_TOPICS_COUNT): for PUB and
    /// XPUB, the topics some subscriber wants (requests received so far
    /// applied); for SUB and XSUB, this socket's own; 0 for other types.
    pub fn topics_count(&self) -> usize {
        let mut state = self.shared.state.borrow_mut();
        state.sync(&self.shared.signals);
        state.topics_count()
    }

    /// Whether a receive would let `msg` through now: a SUB's
    /// subscriptions, as they stand (a blocking handle filters the
    /// messages its receive lane holds again after an unsubscribe:
    /// `context/blocking_socket.rs`).
    pub(crate) fn receive_filter_accepts(&self, msg: &Msg) -> bool {
        self.shared.state.borrow().receive_filter_accepts(msg)
    }

    /// Spreads the connections this socket accepts from now on over `cores`,
    /// round-robin, and those it makes with `connect` from now on: each
    /// connection (handshake, heartbeats, reads
    /// and writes, framing; for a connect, connecting and reconnecting
    /// too) runs on an IO core, while the socket's rules stay here. On a PUB or XPUB, subscriptions and matching stay here, and a
    /// published message is matched once and handed to each IO core with
    /// subscribers for it once, its payload shared, never copied per
    /// subscriber; each IO core's ring holds at most SNDHWM messages (as set
    /// now; see [`IoCores`](crate::IoCores)). On any other type a peer on an
    /// IO core is a pipe like any other (load balancing, fair queueing,
    /// routing ids and HWMs unchanged); its messages cross to the core
    /// within a window of SNDHWM (and RCVHWM the other way) messages, so a
    /// peer may hold up to twice the HWM in all (0, unbounded, crosses
    /// 65,536 at a time).
    ///
    /// A connect's pipe (IMMEDIATE off) exists from the `connect` on and
    /// queues while disconnected, as for a local connect; what the socket
    /// says first to a peer (a SUB's subscriptions) goes at each new
    /// connection. A PUB's or XPUB's connect has no pipe before its
    /// connection: each connection joins the fan-out as an accepted
    /// subscriber does (until a peer subscribes, nothing is queued for it
    /// anyway). Inproc peers, connections whose admission asks the ZAP handler (a CURVE or PLAIN server, a
    /// ZAP_DOMAIN) and the connections of a non-publisher with CONFLATE
    /// stay on this core. Options set later apply to connections accepted
    /// later (a remote peer's windows stay those it joined with).
    ///
    /// Refused if the socket is already spread. A STREAM's raw connections
    /// spread as any other type's peers do.
    ///
    /// ```
    /// use monocoque_patterns::{IoCores, Socket};
    /// use monocoque_runtime::{Runtime, RuntimeBuilder};
    /// use monocoque_zmtp::SocketType;
    /// let cores = IoCores::start(vec![RuntimeBuilder::default(); 2]).unwrap();
    /// Runtime::builder().build().unwrap().block_on(async {
    ///     let router = Socket::new(SocketType::Router).unwrap();
    ///     router.spread_connections(&cores).unwrap();
    ///     router.bind("tcp://127.0.0.1:0").unwrap();
    ///     let stats = router.io_core_statistics().unwrap();
    ///     assert_eq!(stats.len(), 2);
    ///     router.close();
    /// });
    /// ```
    pub fn spread_connections(&self, cores: &crate::IoCores) -> Result<()> {
        self.check_open()?;
        if self.shared.state.borrow().is_spread() {
            return Err(Error::InvalidState(
                "the socket's connections are already spread over IO cores",
            ));
        }
        if self.shared.kind.is_publisher() {
            let fanout = crate::fanout::spread(&self.host(), cores)?;
            self.shared.state.borrow_mut().set_fanout(fanout);
        } else {
            let links = crate::fanout::spread_pipes(&self.host(), cores);
            self.shared.state.borrow_mut().set_pipe_links(links);
        }
        Ok(())
    }

    /// Per IO core: connections, messages handed over and messages lost to a
    /// full ring (only a publisher loses any); `None` if the socket is not
    /// spread.
    pub fn io_core_statistics(&self) -> Option<Vec<crate::IoCoreStatistics>> {
        let mut state = self.shared.state.borrow_mut();
        state.sync(&self.shared.signals);
        if let Some(links) = state.pipe_links() {
            return Some(links.statistics());
        }
        state.fanout().map(crate::fanout::statistics)
    }

    /// Starts queueing this socket's connection events to a new [`Monitor`].
    pub fn monitor(&self) -> Monitor {
        self.shared.monitor.borrow_mut().subscribe()
    }

    /// Keeps `value` alive until the socket and every task serving it (its
    /// lingering connections included) are gone.
    pub(crate) fn hold_until_gone(&self, value: Box<dyn std::any::Any>) {
        self.shared.hold_until_gone(value);
    }

    /// The core with every signalled event applied, for a send or receive;
    /// [`Error::Closed`] once the socket is closed.
    fn open_state(&self) -> Result<std::cell::RefMut<'_, state::SocketState>> {
        let mut state = self.shared.state.borrow_mut();
        if state.closed {
            return Err(Error::Closed);
        }
        state.sync(&self.shared.signals);
        Ok(state)
    }

    /// The socket as its transports see it.
    fn host(&self) -> Rc<dyn SocketHost> {
        self.shared.clone()
    }

    fn check_open(&self) -> Result<()> {
        if self.shared.state.borrow().closed {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// Binds to an endpoint: `tcp://*:5555`, `tcp://127.0.0.1:0` (read the port
    /// back with [`last_endpoint`](Self::last_endpoint)), `ipc:///path`,
    /// `inproc://name`. A socket may bind several endpoints.
    pub fn bind(&self, endpoint: &str) -> Result<()> {
        self.check_open()?;
        let bound = self.bind_endpoint(endpoint);
        if let Err(e) = &bound {
            self.shared.monitor.borrow().post(MonitorEvent::BindFailed {
                endpoint: endpoint.to_string(),
                error: e.to_string(),
            });
        }
        bound
    }

    fn bind_endpoint(&self, endpoint: &str) -> Result<()> {
        let ep: Endpoint = endpoint.parse()?;
        self.check_transport(&ep, endpoint)?;
        if !matches!(ep, Endpoint::Inproc(_)) {
            self.check_security()?;
        }
        let io_err = |e: std::io::Error| Error::io(format!("bind {endpoint}"), &e);
        let (backlog, ipv6, tuning) = {
            let state = self.shared.state.borrow();
            let o = &state.options;
            (Some(o.backlog), o.ipv6, o.tcp_tuning.clone())
        };
        // ZMQ_USE_FD: the application's listening socket, for a tcp or
        // ipc bind (its address then names only the transport).
        // One that is not a listening socket of the transport is refused
        // and left where it is: the bind has not taken it.
        let adopted = {
            let state = self.shared.state.borrow();
            let use_fd = state.options.use_fd.as_ref();
            match &ep {
                Endpoint::Tcp { source: None, .. } => {
                    use_fd.and_then(|l| l.take_checked(TcpListener::check_listener))
                }
                Endpoint::Ipc(_) => {
                    use_fd.and_then(|l| l.take_checked(UnixListener::check_listener))
                }
                _ => None,
            }
        }
        .transpose()
        .map_err(io_err)?;
        let adopted_listener = adopted.is_some();
        let (resolved, listener) = match &ep {
            Endpoint::Tcp { source: None, .. } if adopted.is_some() => {
                let fd = adopted.expect("matched above");
                let listener = TcpListener::from_listener(fd).map_err(io_err)?;
                let local = listener.local_addr().map_err(io_err)?;
                let resolved = Endpoint::tcp_from_addr(local).to_string();
                (resolved, Some(network::Listener::Tcp(listener)))
            }
            Endpoint::Ipc(_) if adopted.is_some() => {
                let fd = adopted.expect("matched above");
                let listener = UnixListener::from_listener(fd).map_err(io_err)?;
                let resolved = Endpoint::Ipc(listener.path().to_path_buf()).to_string();
                (resolved, Some(network::Listener::Ipc(listener)))
            }
            Endpoint::Tcp {
                host,
                port,
                source: None,
            } => {
                let listener = if host == "*" && ipv6 {
                    TcpListener::bind_dual_stack(*port, backlog, &tuning)
                } else {
                    let addr = tcp_address::bind_address(host, *port, ipv6)?;
                    TcpListener::bind_with(addr, backlog, &tuning)
                }
                .map_err(io_err)?;
                let local = listener.local_addr().map_err(io_err)?;
                let resolved = Endpoint::tcp_from_addr(local).to_string();
                (resolved, Some(network::Listener::Tcp(listener)))
            }
            Endpoint::Tcp {
                source: Some(_), ..
            } => {
                return Err(Error::InvalidEndpoint {
                    endpoint: endpoint.into(),
                    reason: "a source address (source;destination) is for connect, not bind".into(),
                })
            }
            Endpoint::Ipc(path) => {
                let path = if path.as_os_str() == "*" {
                    ipc_wildcard::generated_path().map_err(io_err)?
                } else {
                    path.clone()
                };
                let mut listener = match Endpoint::abstract_name(&path) {
                    Some(name) => UnixListener::bind_abstract(name, backlog),
                    None => UnixListener::bind_with_backlog(&path, backlog),
                }
                .map_err(io_err)?;
                // Removed by `listener_closed`, which reports a failure.
                listener.leave_path_on_drop();
                (
                    Endpoint::Ipc(path).to_string(),
                    Some(network::Listener::Ipc(listener)),
                )
            }
            Endpoint::Inproc(name) => {
                inproc::bind(&self.host(), name)?;
                (ep.to_string(), None)
            }
        };
        // The accept filters in force now are the bind's (see `listen`).
        let terms = self.host().terms();
        let task =
            listener.map(|l| spawn(network::listen(self.host(), terms, l, resolved.clone())));
        let mut state = self.shared.state.borrow_mut();
        state.last_endpoint = Some(resolved.clone());
        state.endpoints.push(EndpointEntry {
            resolved: resolved.clone(),
            given: endpoint.to_string(),
            bound: true,
            adopted: adopted_listener,
            task,
            pipe: None,
            remote: None,
        });
        drop(state);
        tracing::debug!(endpoint = %resolved, "listening");
        self.shared
            .monitor
            .borrow()
            .post(MonitorEvent::Listening { endpoint: resolved });
        Ok(())
    }

    /// Connects to an endpoint. The connection is made (and remade after a
    /// failure, every RECONNECT_IVL) in the background; unless IMMEDIATE is
    /// set, messages queue for it at once.
    pub fn connect(&self, endpoint: &str) -> Result<()> {
        self.check_open()?;
        let ep: Endpoint = endpoint.parse()?;
        self.check_transport(&ep, endpoint)?;
        if !matches!(ep, Endpoint::Inproc(_)) {
            self.check_security()?;
        }
        let display = ep.to_string();
        // CONNECT_ROUTING_ID is this connect's to take, as in libzmq.
        let peer_routing_id = {
            let mut state = self.shared.state.borrow_mut();
            let id = std::mem::take(&mut state.options.connect_routing_id);
            (!id.is_empty()).then_some(id)
        };
        let ConnectTask { task, pipe, remote } = match &ep {
            Endpoint::Inproc(name) => {
                let pipe = inproc::connect(&self.host(), name, &display, peer_routing_id)?;
                let peer = pipe.peer;
                self.shared.state.borrow_mut().attach(pipe);
                ConnectTask {
                    task: None,
                    pipe: Some(peer),
                    remote: None,
                }
            }
            Endpoint::Tcp { port, host, .. } => {
                if *port == 0 || host == "*" {
                    return Err(Error::InvalidEndpoint {
                        endpoint: endpoint.into(),
                        reason: "connect needs a host and a non-zero port".into(),
                    });
                }
                self.connect_network(ep.clone(), display.clone(), peer_routing_id)
            }
            Endpoint::Ipc(_) => self.connect_network(ep.clone(), display.clone(), peer_routing_id),
        };
        self.shared
            .state
            .borrow_mut()
            .endpoints
            .push(EndpointEntry {
                resolved: display,
                given: endpoint.to_string(),
                bound: false,
                adopted: false,
                task,
                pipe,
                remote,
            });
        Ok(())
    }

    /// Refuses inproc to a STREAM socket, whose peers are raw byte
    /// streams (libzmq's STREAM works over tcp and ipc only).
    fn check_transport(&self, ep: &Endpoint, given: &str) -> Result<()> {
        if self.shared.kind == SocketType::Stream && matches!(ep, Endpoint::Inproc(_)) {
            return Err(Error::InvalidEndpoint {
                endpoint: given.into(),
                reason: "a STREAM socket talks to raw byte streams: tcp:// or ipc:// only".into(),
            });
        }
        Ok(())
    }

    /// Refuses a network bind or connect while the security options cannot
    /// make a mechanism (incomplete CURVE keys), naming the option. inproc
    /// has no security mechanism, as in libzmq.
    fn check_security(&self) -> Result<()> {
        self.shared
            .state
            .borrow()
            .options
            .mechanism_config()
            .map(|_| ())
    }

    fn connect_network(
        &self,
        ep: Endpoint,
        display: String,
        peer_routing_id: Option<bytes::Bytes>,
    ) -> ConnectTask {
        // A spread socket's connects run on its IO cores, as its accepted
        // connections do. The core is picked (and linked) first: the pipe's
        // shape depends on where its far end runs. A publisher's connects
        // make no pipe here: each connection joins the fan-out as an
        // accepted subscriber does.
        let mut state = self.shared.state.borrow_mut();
        let here = self.shared.keeps_connections_here();
        let link = if here {
            None
        } else {
            state.pipe_links_mut().and_then(|l| l.next_link())
        };
        let remote = link.is_some();
        let fan_out = !here && state.fanout().is_some();
        // A STREAM's connections are raw: each gets a fresh pipe (and a
        // fresh routing id), unless CONNECT_ROUTING_ID names the connect,
        // which is routable at once (as in libzmq).
        let fresh_each_time = state.kind == SocketType::Stream && peer_routing_id.is_none();
        let persistent = if state.options.immediate || fresh_each_time || fan_out {
            None
        } else {
            let peer = self.shared.allocate_peer();
            let shape = if remote {
                crate::fanout::remote_pipe_shape(&state.options, state.kind)
            } else {
                crate::pipe::PipeShape::of(&state.options, state.kind)
            };
            let pipe = Pipe::new(peer, shape, &self.shared.signals, &display);
            if remote {
                // Its inbound HWM is the window the core keeps to: a RCVHWM
                // set before the owner task serves it must leave it alone.
                pipe.inbound.borrow_mut().report_each_lwm();
            }
            let far = pipe.far_end();
            state.attach(pipe);
            if let Some(id) = &peer_routing_id {
                state.register_connect_routing_id(peer, id);
            }
            Some(far)
        };
        let peer = persistent.as_ref().map(|p| p.peer);
        // Each connecter's reconnect jitter starts from its own seed.
        let id = self.shared.allocate_peer();
        let seed = (u64::from(shared::random_seed()) << 32) | id.0;
        let (ep, display, peer_routing_id) = if fan_out {
            let options = state.options.clone();
            let request = crate::fanout::ConnectRequest {
                endpoint: ep,
                shown: display,
                options: &options,
                kind: state.kind,
                seed,
                peer_routing_id,
                persistent: None,
                id,
            };
            let fanout = state.fanout_mut().expect("checked above");
            match fanout.connect(request) {
                Ok(remote) => {
                    return ConnectTask {
                        task: None,
                        pipe: None,
                        remote: Some(remote),
                    }
                }
                // Every core's control ring full: the connect runs here.
                Err(r) => (r.endpoint, r.shown, r.peer_routing_id),
            }
        } else {
            (ep, display, peer_routing_id)
        };
        if let Some(link) = link {
            let kind = state.kind;
            let options = state.options.clone();
            drop(state);
            let request = crate::fanout::ConnectRequest {
                endpoint: ep,
                shown: display,
                options: &options,
                kind,
                seed,
                peer_routing_id,
                persistent,
                id: peer.unwrap_or(id),
            };
            return ConnectTask {
                task: None,
                pipe: peer,
                remote: Some(crate::fanout::PipeLinks::connect(link, request)),
            };
        }
        drop(state);
        let task = spawn(network::connect(
            self.host(),
            ep,
            display,
            persistent,
            seed,
            peer_routing_id,
        ));
        ConnectTask {
            task: Some(task),
            pipe: peer,
            remote: None,
        }
    }

    /// Stops listening on a bound endpoint and drops the connections accepted
    /// on it. `endpoint` may be as given to `bind` or as `last_endpoint` reports it.
    pub fn unbind(&self, endpoint: &str) -> Result<()> {
        self.remove_endpoint(endpoint, true)
    }

    /// Drops a connection made with `connect` (and stops reconnecting).
    pub fn disconnect(&self, endpoint: &str) -> Result<()> {
        self.remove_endpoint(endpoint, false)
    }

    /// Messages dropped for a peer at its SNDHWM since the socket opened, where
    /// the socket type's rule is to drop: PUB and XPUB count one per subscriber
    /// that missed a message, ROUTER one per message to a full peer. Drops by
    /// IO cores of a spread publisher are not included.
    pub fn hwm_drops(&self) -> u64 {
        self.shared.state.borrow().hwm_drops
    }

    /// Stops accepting connections on every bound tcp and ipc endpoint,
    /// keeping those already accepted (unlike `unbind`, which drops them):
    /// the first step of a graceful stop, before draining and `close`.
    /// libzmq has no equivalent. Monitors hear `Closed` for each endpoint; the
    /// listening sockets close at the reactor's next turn.
    pub fn stop_listening(&self) -> Result<()> {
        self.check_open()?;
        let mut state = self.shared.state.borrow_mut();
        let mut stopped = Vec::new();
        for e in state.endpoints.iter_mut().filter(|e| e.bound) {
            // Dropping the listener task closes the listening socket.
            if e.task.take().is_some() {
                stopped.push((e.resolved.clone(), e.adopted));
            }
        }
        drop(state);
        for (endpoint, adopted) in stopped {
            tracing::debug!(%endpoint, "stopped listening");
            self.listener_closed(endpoint, adopted);
        }
        Ok(())
    }

    /// A bound endpoint's listener is gone: an ipc one's socket file is
    /// removed (the listener leaves it to us; not when `adopted` from the
    /// application, ZMQ_USE_FD: its file is the application's), and the
    /// monitors hear `Closed`, or `CloseFailed` if the file could not be
    /// removed.
    fn listener_closed(&self, endpoint: String, adopted: bool) {
        let event = match endpoint.parse::<Endpoint>() {
            Ok(Endpoint::Ipc(_)) if adopted => MonitorEvent::Closed { endpoint },
            // An abstract name leaves no file behind.
            Ok(Endpoint::Ipc(path)) if Endpoint::abstract_name(&path).is_some() => {
                MonitorEvent::Closed { endpoint }
            }
            Ok(Endpoint::Ipc(path)) => match std::fs::remove_file(&path) {
                Ok(()) => {
                    ipc_wildcard::remove_generated_dir(&path);
                    MonitorEvent::Closed { endpoint }
                }
                Err(e) => {
                    tracing::warn!(%endpoint, error = %e, "the ipc socket file could not be removed");
                    MonitorEvent::CloseFailed {
                        endpoint,
                        error: e.to_string(),
                    }
                }
            },
            _ => MonitorEvent::Closed { endpoint },
        };
        self.shared.monitor.borrow().post(event);
    }

    fn remove_endpoint(&self, endpoint: &str, bound: bool) -> Result<()> {
        self.check_open()?;
        let mut state = self.shared.state.borrow_mut();
        state.sync(&self.shared.signals);
        let parsed = endpoint.parse::<Endpoint>().ok();
        // As in libzmq, an endpoint bound with a wildcard (tcp port * or 0,
        // ipc://*) is unbound by the address it got, never by the wildcard.
        let wildcard = matches!(&parsed, Some(Endpoint::Tcp { port: 0, .. }))
            || matches!(&parsed, Some(Endpoint::Ipc(p)) if p.as_os_str() == "*");
        let normalized = parsed.map(|e| e.to_string());
        let Some(i) = state.endpoints.iter().position(|e| {
            e.bound == bound
                && ((e.given == endpoint && !wildcard)
                    || e.resolved == endpoint
                    || normalized.as_deref() == Some(e.resolved.as_str()))
        }) else {
            return Err(Error::UnknownEndpoint(endpoint.to_string()));
        };
        let entry = state.endpoints.remove(i);
        drop(entry.task);
        // A connect on an IO core stops there.
        if let Some(remote) = entry.remote {
            remote.disconnect(state.fanout_mut());
        }
        if let Some(peer) = entry.pipe {
            state.terminate(peer);
        }
        // A bind's accepted connections go with it; so do a connect's under
        // IMMEDIATE, whose pipes are its connections' (the connecter just
        // dropped ended their engines without a word to the socket).
        for peer in state.peers_on(&entry.resolved) {
            state.terminate(peer);
        }
        drop(state);
        if let Ok(Endpoint::Inproc(name)) = entry.resolved.parse::<Endpoint>() {
            if bound {
                inproc::unbind(&self.host(), &name);
            } else {
                inproc::forget_pending(&self.host(), &name);
            }
        }
        if bound {
            self.listener_closed(entry.resolved, entry.adopted);
        }
        Ok(())
    }

    /// Sends a multipart message under the socket type's rule, waiting while
    /// the rule says block, up to SNDTIMEO (then [`Error::WouldBlock`]).
    pub async fn send(&self, msg: impl Into<Msg>) -> Result<()> {
        // Most sends complete at once: try before building the waiting
        // machinery (a timer, the poll loop), which cost a fifth of a
        // sender's time per message in perf.
        let attempt = {
            let mut state = self.open_state()?;
            match state.try_send(msg.into())? {
                // A PUB that dropped at SNDHWM gives its engines a turn
                // (see `Publisher::dropped_at_hwm`).
                Step::Done(_) => FirstTry::Sent {
                    dropped: state.take_dropped_at_hwm(),
                },
                Step::Wait(msg) => FirstTry::Wait {
                    msg,
                    timeout: state.options.sndtimeo,
                },
            }
        };
        match attempt {
            FirstTry::Sent { dropped } => {
                if dropped {
                    yield_once().await;
                }
                Ok(())
            }
            FirstTry::Wait { msg, timeout } => {
                self.send_until(msg, timeout.map(|t| Instant::now() + t))
                    .await
            }
        }
    }

    /// Sends without waiting: [`Error::WouldBlock`] where `send` would wait
    /// (libzmq's ZMQ_DONTWAIT).
    pub fn try_send(&self, msg: impl Into<Msg>) -> Result<()> {
        let mut state = self.open_state()?;
        let step = state.try_send(msg.into())?;
        // Nothing to yield to without an await (see `Publisher::dropped_at_hwm`).
        state.take_dropped_at_hwm();
        match step {
            Step::Done(_) => Ok(()),
            Step::Wait(_) => Err(Error::WouldBlock("no peer can take the message now")),
        }
    }

    /// Hands `msg` to the socket if it can take it now; hands it back where
    /// [`send`](Self::send) would wait (the blocking API's send lanes keep
    /// it for later, in order).
    pub(crate) fn offer(&self, msg: Msg) -> Result<Option<Msg>> {
        let mut state = self.open_state()?;
        let step = state.try_send(msg)?;
        // Nothing to yield to without an await (see `Publisher::dropped_at_hwm`).
        state.take_dropped_at_hwm();
        Ok(match step {
            Step::Done(_) => None,
            Step::Wait(msg) => Some(msg),
        })
    }

    /// As [`offer`](Self::offer) for each message `next` gives, under one
    /// borrow of the socket, until `next` runs dry, a message must wait
    /// (returned, not counted), or one fails (counted: it is dropped).
    /// Returns how many went, and how it stopped. A send lane's drain:
    /// per message, the borrow, its readiness sync and the close check were
    /// a tenth of the sending context's samples (docs/BENCHMARKS.md).
    pub(crate) fn offer_each(&self, next: &mut impl MessageRun) -> (usize, Result<Option<Msg>>) {
        let mut state = match self.open_state() {
            Ok(state) => state,
            // The next message is dropped with the error, as a send of it
            // would fail; with none, nothing failed.
            Err(e) => {
                return match next.next_message() {
                    Some(_) => (1, Err(e)),
                    None => (0, Ok(None)),
                }
            }
        };
        let (went, stop) = state.try_send_run(next);
        // Nothing to yield to without an await (see `Publisher::dropped_at_hwm`).
        state.take_dropped_at_hwm();
        (went, stop)
    }

    /// As [`send`](Self::send), waiting until `deadline` (`None`: for ever)
    /// whatever SNDTIMEO says.
    pub(crate) async fn send_until(&self, msg: Msg, deadline: Option<Instant>) -> Result<()> {
        let mut msg = Some(msg);
        let mut timer: Option<Pin<Box<Sleep>>> = None;
        let mut sent = false;
        poll_fn(|cx| {
            if sent {
                return Poll::Ready(Ok(()));
            }
            let mut state = self.open_state()?;
            match state.try_send(msg.take().expect("polled after completion"))? {
                // A PUB that dropped at SNDHWM gives its engines a turn (see
                // `Publisher::dropped_at_hwm`); the message is already sent.
                Step::Done(_) if state.take_dropped_at_hwm() => {
                    sent = true;
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                Step::Done(_) => Poll::Ready(Ok(())),
                Step::Wait(m) => {
                    msg = Some(m);
                    if let Some(f) = state.fanout_mut() {
                        f.wait_for_room(cx);
                    }
                    if timed_out(&mut timer, deadline, cx) {
                        return Poll::Ready(Err(Error::WouldBlock(
                            "no peer could take the message within SNDTIMEO",
                        )));
                    }
                    self.shared.signals.register_send(cx.waker());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Receives the next message under the socket type's rule, waiting up to
    /// RCVTIMEO (then [`Error::WouldBlock`]).
    pub async fn recv(&self) -> Result<Msg> {
        // A message already queued is taken without the waiting machinery.
        let timeout = {
            let mut state = self.open_state()?;
            if let Some(m) = state.try_recv()? {
                return Ok(m);
            }
            state.options.rcvtimeo
        };
        self.recv_until(timeout.map(|t| Instant::now() + t)).await
    }

    /// As [`recv`](Self::recv), with the properties of the peer the message
    /// came from (libzmq's `zmq_msg_gets`: Socket-Type, Routing-Id, User-Id,
    /// Peer-Address, the peer's `X-` metadata); `None` for a message no peer
    /// sent (a ROUTER_NOTIFY notice). Receiving is not slowed for callers of
    /// `recv`: the properties are one shared value per connection.
    pub async fn recv_with_properties(&self) -> Result<(Msg, Option<Arc<PeerProperties>>)> {
        let deadline = self
            .open_state()?
            .options
            .rcvtimeo
            .map(|t| Instant::now() + t);
        self.recv_with_properties_until(deadline).await
    }

    /// As [`recv_with_properties`](Self::recv_with_properties), waiting
    /// until `deadline` (`None`: for ever) whatever RCVTIMEO says.
    pub(crate) async fn recv_with_properties_until(
        &self,
        deadline: Option<Instant>,
    ) -> Result<(Msg, Option<Arc<PeerProperties>>)> {
        let mut timer: Option<Pin<Box<Sleep>>> = None;
        poll_fn(|cx| {
            let mut state = self.open_state()?;
            if let Some(m) = state.try_recv()? {
                return Poll::Ready(Ok((m, state.last_properties())));
            }
            if timed_out(&mut timer, deadline, cx) {
                return Poll::Ready(Err(Error::WouldBlock("no message arrived within RCVTIMEO")));
            }
            self.shared.signals.register_recv(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// As [`recv`](Self::recv), waiting until `deadline` (`None`: for ever)
    /// whatever RCVTIMEO says.
    pub(crate) async fn recv_until(&self, deadline: Option<Instant>) -> Result<Msg> {
        let mut timer: Option<Pin<Box<Sleep>>> = None;
        poll_fn(|cx| {
            let mut state = self.open_state()?;
            if let Some(m) = state.try_recv()? {
                return Poll::Ready(Ok(m));
            }
            if timed_out(&mut timer, deadline, cx) {
                return Poll::Ready(Err(Error::WouldBlock("no message arrived within RCVTIMEO")));
            }
            self.shared.signals.register_recv(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Polls for the next message, for callers that drive the socket from
    /// their own future or event loop instead of awaiting [`recv`](Self::recv)
    /// (no boxed future per call). RCVTIMEO does not apply: the caller owns
    /// the waiting. `Pending` registers `cx`'s waker, woken when a message may
    /// have arrived.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use monocoque_patterns::Socket;
    /// use monocoque_zmtp::SocketType;
    /// let rt = monocoque_runtime::Runtime::builder().build().unwrap();
    /// rt.block_on(async {
    ///     let pull = Socket::new(SocketType::Pull).unwrap();
    ///     pull.bind("inproc://poll-recv-doc").unwrap();
    ///     let push = Socket::new(SocketType::Push).unwrap();
    ///     push.connect("inproc://poll-recv-doc").unwrap();
    ///     push.send("hello").await.unwrap();
    ///     let msg = poll_fn(|cx| pull.poll_recv(cx)).await.unwrap();
    ///     assert_eq!(&msg[0][..], b"hello");
    /// });
    /// ```
    pub fn poll_recv(&self, cx: &mut std::task::Context<'_>) -> Poll<Result<Msg>> {
        let mut state = match self.open_state() {
            Ok(state) => state,
            Err(e) => return Poll::Ready(Err(e)),
        };
        match state.try_recv() {
            Ok(Some(m)) => Poll::Ready(Ok(m)),
            Ok(None) => {
                self.shared.signals.register_recv(cx.waker());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// Polls until a [`try_send`](Self::try_send) would not block: some peer
    /// has room (PUSH, DEALER, PAIR, REQ), a reply is owed (REP), or always
    /// (ROUTER, PUB, XPUB, XSUB, which drop what a full peer cannot take).
    /// An error where waiting cannot help: a REQ that must receive first, a
    /// REP with no request, a type that cannot send. This is libzmq's POLLOUT.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use monocoque_patterns::Socket;
    /// use monocoque_zmtp::SocketType;
    /// let rt = monocoque_runtime::Runtime::builder().build().unwrap();
    /// rt.block_on(async {
    ///     let push = Socket::new(SocketType::Push).unwrap();
    ///     push.bind("inproc://poll-send-doc").unwrap();
    ///     let pull = Socket::new(SocketType::Pull).unwrap();
    ///     pull.connect("inproc://poll-send-doc").unwrap();
    ///     poll_fn(|cx| push.poll_send_ready(cx)).await.unwrap();
    ///     push.try_send("now").unwrap();
    /// });
    /// ```
    pub fn poll_send_ready(&self, cx: &mut std::task::Context<'_>) -> Poll<Result<()>> {
        let mut state = match self.open_state() {
            Ok(state) => state,
            Err(e) => return Poll::Ready(Err(e)),
        };
        match state.send_readiness() {
            Ok(true) => Poll::Ready(Ok(())),
            Ok(false) => {
                self.shared.signals.register_send(cx.waker());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// As [`poll_send_ready`](Self::poll_send_ready), but whatever REQ's
    /// or REP's turn says: whether a send in turn would find room (a REP
    /// always does: a reply its peer cannot take is dropped). The send
    /// lane's view (`context/lanes.rs`): the handle knows the turn.
    pub(crate) fn poll_send_room(&self, cx: &mut std::task::Context<'_>) -> Poll<Result<()>> {
        let mut state = match self.open_state() {
            Ok(state) => state,
            Err(e) => return Poll::Ready(Err(e)),
        };
        match state.send_room() {
            Ok(true) => Poll::Ready(Ok(())),
            Ok(false) => {
                self.shared.signals.register_send(cx.waker());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// The next message, with its sender's properties, still counted
    /// against its pipe's RCVHWM until the returned credit is dropped (a
    /// blocking socket's receive lane holds it meanwhile); `Pending`
    /// registers `cx`'s waker for the next message.
    pub(crate) fn poll_recv_held(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Result<HeldMessage>> {
        let mut state = match self.open_state() {
            Ok(state) => state,
            Err(e) => return Poll::Ready(Err(e)),
        };
        match state.try_recv() {
            Ok(Some(msg)) => {
                let credit = state.hold_last();
                Poll::Ready(Ok((msg, state.last_properties(), credit)))
            }
            Ok(None) => {
                self.shared.signals.register_recv(cx.waker());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// As [`poll_recv_held`](Self::poll_recv_held), for up to `max`
    /// messages of one pipe at once, handed to `sink` as one run with
    /// their sender's properties (what it leaves of the run is dropped),
    /// under one credit (`None` when the socket's type takes one message at
    /// a time: see `SocketState::try_recv_run`).
    pub(crate) fn poll_recv_run(
        &self,
        cx: &mut std::task::Context<'_>,
        max: usize,
        sink: impl FnMut(&mut crate::pipe::Run<'_>, &Option<Arc<PeerProperties>>),
    ) -> Option<Poll<Result<HeldRun>>> {
        let mut state = match self.open_state() {
            Ok(state) => state,
            Err(e) => return Some(Poll::Ready(Err(e))),
        };
        match state.try_recv_run(max, sink)? {
            (0, _) => {
                self.shared.signals.register_recv(cx.waker());
                Some(Poll::Pending)
            }
            run => Some(Poll::Ready(Ok(run))),
        }
    }

    /// Clears `flag` whenever the socket may have something new to receive
    /// (a blocking socket's receive lane: `context/receive_lane.rs`).
    pub(crate) fn watch_receives(&self, flag: Arc<std::sync::atomic::AtomicBool>) {
        self.shared.signals.watch_receives(flag);
    }

    /// Receives without waiting: [`Error::WouldBlock`] if nothing is ready.
    pub fn try_recv(&self) -> Result<Msg> {
        let mut state = self.open_state()?;
        state
            .try_recv()?
            .ok_or(Error::WouldBlock("no message is ready"))
    }

    /// As [`try_recv`](Self::try_recv), with the properties of the peer the
    /// message came from, as [`recv_with_properties`](Self::recv_with_properties)
    /// gives them.
    pub fn try_recv_with_properties(&self) -> Result<(Msg, Option<Arc<PeerProperties>>)> {
        let mut state = self.open_state()?;
        let msg = state
            .try_recv()?
            .ok_or(Error::WouldBlock("no message is ready"))?;
        Ok((msg, state.last_properties()))
    }

    /// Closes the socket: stops listening and connecting, and lets queued
    /// messages leave within LINGER, in the background (the runtime must keep
    /// running for that). Also done on drop.
    pub fn close(&self) {
        let mut state = self.shared.state.borrow_mut();
        if state.closed {
            return;
        }
        state.sync(&self.shared.signals);
        state.closed = true;
        let linger = state.options.linger;
        // IO cores end their connections themselves, within the linger.
        if let Some(f) = state.take_fanout() {
            f.close(linger);
        }
        if let Some(l) = state.take_pipe_links() {
            l.close(linger);
        }
        for peer in state.peer_ids() {
            if linger.is_some_and(|l| l.is_zero()) {
                state.discard_outbound(peer);
            }
            state.terminate(peer);
        }
        let endpoints = std::mem::take(&mut state.endpoints);
        drop(state);
        for e in endpoints {
            let is_inproc = e.resolved.starts_with("inproc://");
            match e.task {
                // Listeners stop at once; connecters finish delivering within the linger.
                Some(t) if e.bound || linger.is_some_and(|l| l.is_zero()) => drop(t),
                Some(t) => t.detach(),
                None => {}
            }
            if is_inproc {
                let name = &e.resolved["inproc://".len()..];
                if e.bound {
                    inproc::unbind(&self.host(), name);
                } else if linger.is_some_and(|l| l.is_zero()) {
                    inproc::forget_pending(&self.host(), name);
                } else {
                    let deadline = linger.map(|l| Instant::now() + l);
                    inproc::close_pending(&self.host(), name, deadline);
                }
            }
            if e.bound {
                self.listener_closed(e.resolved, e.adopted);
            }
        }
        self.shared
            .lifecycle
            .close(linger.map(|l| Instant::now() + l));
        self.shared.signals.wake_recv();
        self.shared.signals.wake_send();
    }
}

/// What serves a connect: a connecter task here, or one on an IO core;
/// and its persistent pipe, if it has one.
struct ConnectTask {
    task: Option<monocoque_runtime::JoinHandle<()>>,
    pipe: Option<crate::PeerId>,
    remote: Option<crate::fanout::RemoteConnect>,
}

/// How a send's first, non-waiting attempt went.
enum FirstTry {
    /// Sent; `dropped` if a subscriber at SNDHWM lost it.
    Sent { dropped: bool },
    /// The rule says wait, up to SNDTIMEO.
    Wait {
        msg: Msg,
        timeout: Option<std::time::Duration>,
    },
}

/// Gives the other tasks of this thread one turn.
async fn yield_once() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// Whether `deadline` (SNDTIMEO/RCVTIMEO; `None` waits forever) has passed,
/// arming `timer` to wake the task at it otherwise.
fn timed_out(
    timer: &mut Option<Pin<Box<Sleep>>>,
    deadline: Option<Instant>,
    cx: &mut std::task::Context<'_>,
) -> bool {
    let Some(d) = deadline else { return false };
    let t = timer.get_or_insert_with(|| Box::pin(sleep_until(d)));
    t.as_mut().poll(cx).is_ready()
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.close();
    }
}
