//! One service: its two sockets on a thread and reactor of their own, the
//! loops that carry messages between them, and the graceful stop.
//!
//! ```text
//!   start ──> serving ──stop──> draining ──> lingering ──> done
//!             (pumps,           (listeners    (sockets closed;
//!              watchers)         closed; the   queued messages
//!                                pumps empty   leave within
//!                                what is       LINGER; watchers
//!                                queued)       see `Stopped`)
//! ```
//!
//! A service's thread shares nothing with the others but its metrics, so
//! stopping, starting or changing one (a reload) leaves the rest serving.

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use monocoque_patterns::{Error, IoCores, Monitor, MonitorEvent, Socket};
use monocoque_runtime::spsc;

use crate::config::{ServiceSpec, SocketSpec};
use crate::directions::{can_receive, can_send};
use crate::metrics::{LatencyRecorder, ServiceMetrics, SideMetrics};
use crate::placement::Placement;
use crate::socket_options::Applied;

/// A running service.
pub struct Running {
    /// What it was started from (a reload compares it with the new config).
    pub spec: ServiceSpec,
    /// Where and how it runs.
    pub placement: Placement,
    /// The endpoints it bound, resolved ("frontend" or "backend", endpoint).
    pub bound: Vec<(&'static str, String)>,
    /// Its counters.
    pub metrics: Arc<ServiceMetrics>,
    stop: spsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Running {
    /// Starts `spec` on its own thread; returns once its sockets are bound
    /// and connecting, or with the reason they could not be.
    pub fn start(spec: ServiceSpec, placement: Placement) -> Result<Running, String> {
        let metrics = Arc::new(ServiceMetrics::new(&spec.name));
        let (stop, stop_rx) = spsc::channel(1);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = {
            let name = format!("svc-{}", spec.name);
            let (spec, placement, metrics) = (spec.clone(), placement.clone(), metrics.clone());
            std::thread::Builder::new()
                .name(name)
                .spawn(move || {
                    let (runtime, io_cores) = match placement
                        .runtime()
                        .and_then(|rt| placement.io_cores().map(|cores| (rt, cores)))
                    {
                        Ok(both) => both,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    runtime.block_on(serve(&spec, io_cores.as_ref(), &metrics, stop_rx, ready_tx));
                })
                .map_err(|e| format!("starting its thread: {e}"))
        };
        let thread = thread.map_err(|e| format!("service {:?}: {e}", spec.name))?;
        match ready_rx.recv() {
            Ok(Ok(bound)) => Ok(Running {
                spec,
                placement,
                bound,
                metrics,
                stop,
                thread,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(format!("service {:?}: {e}", spec.name))
            }
            Err(_) => {
                let _ = thread.join();
                Err(format!(
                    "service {:?}: its thread ended while starting",
                    spec.name
                ))
            }
        }
    }

    /// Asks the service to stop (it drains and lingers on its own thread).
    pub fn request_stop(&mut self) {
        // A full ring means a stop is already on its way.
        let _ = self.stop.try_send(());
    }

    /// Waits for the service's thread to finish.
    pub fn join(self) {
        let _ = self.thread.join();
    }
}

/// How often the IO cores' connection counts reach the metrics.
const IO_CORE_REFRESH: Duration = Duration::from_secs(1);

/// Messages a pump moves before it lets the service's other work run: the
/// other direction and every connection's IO share the thread, and a backlog
/// one peer built (a subscription flood queued behind an IO core) must not
/// hold them for longer than this many messages take.
const PUMP_TURN: u32 = 64;

/// Both sockets, from start to the end of lingering; the connections the
/// sides `spec` spreads accept are spread over `io_cores` when given.
async fn serve(
    spec: &ServiceSpec,
    io_cores: Option<&IoCores>,
    metrics: &ServiceMetrics,
    mut stop: spsc::Receiver<()>,
    ready: std::sync::mpsc::Sender<Result<Vec<(&'static str, String)>, String>>,
) {
    let Opened {
        front,
        back,
        monitors: (front_monitor, back_monitor),
        bound,
    } = match open_both(spec, io_cores) {
        Ok(o) => o,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    for (side, ep) in &bound {
        // The startup report names every bind once; the log only at debug.
        tracing::debug!(service = %spec.name, side, endpoint = %ep, "bound");
    }
    let _ = ready.send(Ok(bound));

    let stopping = StopFlag::default();
    let recorder = RefCell::new(LatencyRecorder::default());
    let two_way = can_receive(back.socket_type()) && can_send(front.socket_type());
    // The watchers hold only the monitors: their last event (`Stopped`)
    // comes once the sockets are dropped and done lingering.
    let mut watch_front = pin!(watch(&front_monitor, &metrics.frontend));
    let mut watch_back = pin!(watch(&back_monitor, &metrics.backend));
    let (mut front_stopped, mut back_stopped) = (false, false);
    let mut poll_watchers = |cx: &mut std::task::Context<'_>| {
        front_stopped = front_stopped || watch_front.as_mut().poll(cx).is_ready();
        back_stopped = back_stopped || watch_back.as_mut().poll(cx).is_ready();
        front_stopped && back_stopped
    };
    let linger = linger_of(spec);
    {
        let mut forward = pin!(pump(
            &front,
            &back,
            (&metrics.frontend, &metrics.backend),
            metrics,
            &recorder,
            &stopping,
        ));
        let mut backward = pin!(async {
            if two_way {
                pump(
                    &back,
                    &front,
                    (&metrics.backend, &metrics.frontend),
                    metrics,
                    &recorder,
                    &stopping,
                )
                .await
            }
        });
        let (mut forward_done, mut backward_done) = (false, false);
        let mut poll_pumps = |cx: &mut std::task::Context<'_>| {
            forward_done = forward_done || forward.as_mut().poll(cx).is_ready();
            backward_done = backward_done || backward.as_mut().poll(cx).is_ready();
            forward_done && backward_done
        };

        // Serving, until asked to stop (or the stop channel's sender is gone).
        let mut stop_signal = pin!(stop.recv());
        let mut io_refresh = pin!(refresh_io_cores(&front, &back, metrics));
        poll_fn(|cx| {
            poll_pumps(cx);
            poll_watchers(cx);
            let _ = io_refresh.as_mut().poll(cx);
            stop_signal.as_mut().poll(cx).map(drop)
        })
        .await;
        tracing::info!(service = %spec.name, "stopping: no new connections, draining");

        // Draining: no new connections; the pumps move what is queued, then end.
        let _ = front.stop_listening();
        let _ = back.stop_listening();
        stopping.trigger();
        let drained = monocoque_runtime::timeout(
            linger,
            poll_fn(|cx| {
                poll_watchers(cx);
                ready_if(poll_pumps(cx))
            }),
        )
        .await;
        if drained.is_err() {
            tracing::warn!(service = %spec.name, ?linger, "draining took longer than LINGER; the rest is dropped");
        }
    }
    recorder.borrow_mut().flush(metrics);

    // Lingering: what was sent leaves within LINGER, in the background; the
    // monitors' last event says the sockets are gone.
    drop(front);
    drop(back);
    let lingered = monocoque_runtime::timeout(
        linger + Duration::from_secs(1),
        poll_fn(|cx| ready_if(poll_watchers(cx))),
    )
    .await;
    if lingered.is_err() {
        tracing::warn!(service = %spec.name, "connections still open after LINGER");
    }
    tracing::info!(service = %spec.name, "stopped");
}

/// A service's two sockets, ready to serve.
struct Opened {
    /// The side messages come in from.
    front: Socket,
    /// The side they go out to.
    back: Socket,
    /// The sockets' monitors (frontend's, backend's).
    monitors: (Monitor, Monitor),
    /// The endpoints bound ("frontend" or "backend", endpoint).
    bound: Vec<(&'static str, String)>,
}

/// Keeps the metrics' per-IO-core connection counts current while serving
/// (never ends; nothing to do for a service without IO cores).
async fn refresh_io_cores(front: &Socket, back: &Socket, metrics: &ServiceMetrics) {
    loop {
        let mut per_core: Vec<u64> = Vec::new();
        for stats in [front, back].iter().filter_map(|s| s.io_core_statistics()) {
            per_core.resize(per_core.len().max(stats.len()), 0);
            for (sum, core) in per_core.iter_mut().zip(&stats) {
                *sum += core.connections as u64;
            }
        }
        if per_core.is_empty() {
            return std::future::pending().await;
        }
        metrics.set_io_core_connections(per_core);
        monocoque_runtime::sleep(IO_CORE_REFRESH).await;
    }
}

/// Both sockets of `spec`, with their options set, the sides it spreads
/// ([`ServiceSpec::spreads`]) spread over `io_cores`, bound and connected.
fn open_both(spec: &ServiceSpec, io_cores: Option<&IoCores>) -> Result<Opened, String> {
    let front = open(&spec.frontend, "frontend")?;
    let back = open(&spec.backend, "backend")?;
    if let Some(cores) = io_cores {
        for (socket, side, which) in [
            (&front, &spec.frontend, "frontend"),
            (&back, &spec.backend, "backend"),
        ] {
            if spec.spreads().iter().any(|s| std::ptr::eq(*s, side)) {
                socket
                    .spread_connections(cores)
                    .map_err(|e| format!("{which}: spreading over IO cores: {e}"))?;
            }
        }
    }
    // Monitors first: they must see the Listening and Connected events.
    let monitors = (front.monitor(), back.monitor());
    let mut bound = attach(&front, &spec.frontend, "frontend")?;
    bound.extend(attach(&back, &spec.backend, "backend")?);
    Ok(Opened {
        front,
        back,
        monitors,
        bound,
    })
}

/// `Ready` once `done`, for a `poll_fn` that ends when its condition holds.
fn ready_if(done: bool) -> Poll<()> {
    if done {
        Poll::Ready(())
    } else {
        Poll::Pending
    }
}

/// A new socket with the spec's options and subscriptions.
fn open(spec: &SocketSpec, side: &str) -> Result<Socket, String> {
    let socket = Socket::new(spec.socket_type).map_err(|e| format!("{side}: {e}"))?;
    for applied in spec.applied() {
        let r = match applied {
            Applied::Option(o) => socket.set_option(o),
            Applied::Subscribe(topics) => topics.into_iter().try_for_each(|t| {
                socket.set_option(monocoque_patterns::SocketOption::Subscribe(t))
            }),
            Applied::PlainUsername(_) | Applied::PlainPassword(_) => {
                unreachable!("joined into PlainClient by SocketSpec::applied")
            }
        };
        r.map_err(|e| format!("{side}: {e}"))?;
    }
    Ok(socket)
}

/// Binds and connects; returns the resolved bound endpoints.
fn attach(
    socket: &Socket,
    spec: &SocketSpec,
    side: &'static str,
) -> Result<Vec<(&'static str, String)>, String> {
    let mut bound = Vec::new();
    for ep in &spec.bind {
        socket
            .bind(ep)
            .map_err(|e| format!("{side}: bind {ep}: {e}"))?;
        bound.push((side, socket.last_endpoint().unwrap_or_else(|| ep.clone())));
    }
    for ep in &spec.connect {
        socket
            .connect(ep)
            .map_err(|e| format!("{side}: connect {ep}: {e}"))?;
    }
    Ok(bound)
}

/// The longer of the two sockets' LINGER (the config's, or the appliance's
/// default): how long draining and lingering may each take.
fn linger_of(spec: &ServiceSpec) -> Duration {
    [&spec.frontend, &spec.backend]
        .iter()
        .flat_map(|s| s.applied())
        .filter_map(|a| match a {
            Applied::Option(monocoque_patterns::SocketOption::Linger(l)) => {
                // LINGER -1: draining still ends, after an hour.
                Some(l.unwrap_or(Duration::from_secs(3600)))
            }
            _ => None,
        })
        .max()
        .unwrap_or(Duration::ZERO)
}

/// Carries messages from `from` to `to` until the service stops and `from`
/// has nothing queued. Each message is counted on both sides and timed from
/// the moment it leaves `from`'s queue to the moment `to` accepts it (which
/// includes any wait at `to`'s HWM).
async fn pump(
    from: &Socket,
    to: &Socket,
    (from_metrics, to_metrics): (&SideMetrics, &SideMetrics),
    metrics: &ServiceMetrics,
    recorder: &RefCell<LatencyRecorder>,
    stopping: &StopFlag,
) {
    let mut this_turn = 0u32;
    loop {
        this_turn += 1;
        if this_turn > PUMP_TURN {
            this_turn = 0;
            monocoque_runtime::yield_now().await;
        }
        let msg = match from.try_recv() {
            Ok(m) => m,
            Err(Error::WouldBlock(_)) => {
                recorder.borrow_mut().flush(metrics);
                // Waiting gives the thread away as a yield does.
                this_turn = 0;
                match stopping.unless_stopped(from.recv()).await {
                    None => return,
                    Some(Ok(m)) => m,
                    Some(Err(e)) => {
                        tracing::error!(service = %metrics.name, error = %e, "receive failed; this direction stops");
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::error!(service = %metrics.name, error = %e, "receive failed; this direction stops");
                return;
            }
        };
        let took = Instant::now();
        let bytes = msg.byte_len();
        from_metrics.received(bytes);
        match to.send(msg).await {
            Ok(()) => {
                to_metrics.sent(bytes);
                recorder.borrow_mut().record(took.elapsed(), metrics);
            }
            // SNDTIMEO ran out, or ROUTER_MANDATORY found no such peer: the
            // message is dropped, as a libzmq proxy would.
            Err(Error::WouldBlock(_) | Error::HostUnreachable) => {
                to_metrics
                    .drops
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(Error::Malformed(why)) => {
                tracing::debug!(service = %metrics.name, why, "message dropped");
                to_metrics
                    .drops
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => {
                tracing::error!(service = %metrics.name, error = %e, "send failed; this direction stops");
                return;
            }
        }
        to_metrics
            .hwm_drops
            .store(to.hwm_drops(), std::sync::atomic::Ordering::Relaxed);
    }
}

/// Follows a socket's monitor into its metrics; ends at `Stopped`. A
/// connection counts as a peer from its handshake to its `Disconnected`
/// (a failed handshake ends with `HandshakeFailed` instead).
async fn watch(monitor: &Monitor, metrics: &SideMetrics) {
    use std::sync::atomic::Ordering::Relaxed;
    loop {
        match monitor.recv().await {
            MonitorEvent::ConnectRetried { .. } => {
                metrics.reconnects.fetch_add(1, Relaxed);
            }
            MonitorEvent::HandshakeSucceeded { .. } => {
                metrics.peers.fetch_add(1, Relaxed);
            }
            MonitorEvent::HandshakeFailed { .. } => {
                metrics.handshake_failures.fetch_add(1, Relaxed);
            }
            MonitorEvent::Disconnected { .. } => {
                metrics.peers.fetch_sub(1, Relaxed);
            }
            MonitorEvent::Stopped => {
                metrics.peers.store(0, Relaxed);
                return;
            }
            _ => {}
        }
    }
}

/// Set once when the service starts to stop; wakes every pump waiting for a
/// message so that it can finish.
#[derive(Default)]
struct StopFlag {
    stopped: Cell<bool>,
    waiting: RefCell<Vec<Waker>>,
}

impl StopFlag {
    fn trigger(&self) {
        self.stopped.set(true);
        for w in self.waiting.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// `op`'s output, or `None` once stopped (`op` is dropped: a receive
    /// that has not completed takes nothing from the queue).
    async fn unless_stopped<T>(&self, op: impl Future<Output = T>) -> Option<T> {
        let mut op = pin!(op);
        poll_fn(|cx| {
            if let Poll::Ready(v) = op.as_mut().poll(cx) {
                return Poll::Ready(Some(v));
            }
            if self.stopped.get() {
                return Poll::Ready(None);
            }
            let mut waiting = self.waiting.borrow_mut();
            if !waiting.iter().any(|w| w.will_wake(cx.waker())) {
                waiting.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }
}
