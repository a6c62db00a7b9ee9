//! IO cores: the accepted connections of a socket spread over several
//! reactor threads, while the socket's rules stay on its own core.
//!
//! Two kinds of link. A publisher's (below): matching stays on the socket's
//! core, and a message goes to each core once for all its subscribers
//! there. Every other type's (`pipe_links.rs`, `pipe_owner_task.rs`): a
//! peer on an IO core is an ordinary pipe of the socket whose far end is an
//! owner task instead of an engine, and its messages cross the rings one
//! per message within per-peer windows (`window.rs`), so that load
//! balancing, fair queueing, routing and HWMs are the socket's, unchanged.
//!
//! ```text
//!   socket's core (owner)                          IO core k (one of N threads)
//!   ─────────────────────                          ────────────────────────────
//!   listener: accept ─ fd, options ──control k──▶  relay: engine per connection
//!   send(msg): trie match once                     Publish{msg, targets}: a clone
//!     local targets  ─▶ their pipes                  per target pipe (frames shared)
//!     core k targets ─▶ Publish{msg, ids} ─data k─▶   ─▶ engine ─▶ socket write
//!   owner task k: pipes for remote peers ◀─events k─ Joined, Upstream (subscriptions),
//!     (subscriptions reach the trie as                Left, Monitor
//!      from local pipes)
//! ```
//!
//! The message's frames are `Bytes`: each IO core gets one ring slot per
//! message holding a handle to the same payload, never a copy, however many
//! of its subscribers the message is for. With no IO cores, or for inproc
//! peers and connections whose admission asks the ZAP handler (a CURVE or
//! PLAIN server, a ZAP_DOMAIN: the handler is asked from the socket's
//! core), everything stays on the socket's core. Connects run on the cores
//! too (`connect_port.rs`): the socket's connecter, reconnects included,
//! with the core as its host (a publisher's each connection joining as an
//! accepted subscriber does).
//!
//! Limits: each IO core's data ring holds at most SNDHWM messages (at least
//! 64, at most 65,536); when it is full the message is lost for that core's
//! subscribers (counted in [`IoCoreStatistics::dropped`]), or under
//! XPUB_NODROP the send waits. Each subscriber's own pipe on its IO core has
//! SNDHWM as usual.

mod connect_port;
mod link;
mod owner_task;
mod pipe_links;
mod pipe_owner_task;
mod relay;
mod relay_port;
mod window;

use std::io;
use std::rc::Rc;
use std::sync::{Arc, Mutex, Weak};

use monocoque_runtime::{spawn, spsc, RuntimeBuilder};
use monocoque_zmtp::SocketType;

pub(crate) use link::Fanout;
use link::{CoreEnd, CoreEvent, OwnerEnd};
use pipe_links::PipeLink;
pub(crate) use pipe_links::{remote_pipe_shape, ConnectRequest, PipeLinks};

use crate::host::{MovableStream, SocketHost};
use crate::options::Options;
use crate::{Error, Result};

/// Links a core can be waiting to set up (one per `spread_connections`).
const NEW_LINKS_CAPACITY: usize = 256;

/// How long `spread_connections` waits for room in a core's ring of new
/// links (a burst of sockets spread at once, faster than the core takes
/// them up) before it gives up.
const NEW_LINK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// The same wait for a link made at a socket's first connection to a core
/// (`PipeLinks`), in the accept or connect path: short, and a core that
/// cannot be linked is not asked again by that socket.
const LAZY_LINK_PATIENCE: std::time::Duration = std::time::Duration::from_millis(200);

/// IO cores: reactor threads that run the connections of the sockets
/// spread over them ([`Socket::spread_connections`](crate::Socket::spread_connections)).
/// Cheap to clone, `Send` and `Sync`. Each thread ends once the handle is
/// dropped and the sockets that used it have closed and finished lingering.
///
/// ```
/// use monocoque_patterns::{IoCores, Socket};
/// use monocoque_runtime::{Runtime, RuntimeBuilder};
/// use monocoque_zmtp::SocketType;
/// let cores = IoCores::start(vec![RuntimeBuilder::default(), RuntimeBuilder::default()]).unwrap();
/// let rt = Runtime::builder().build().unwrap();
/// rt.block_on(async {
///     let publisher = Socket::new(SocketType::Pub).unwrap();
///     publisher.spread_connections(&cores).unwrap();
///     publisher.bind("tcp://127.0.0.1:0").unwrap();
///     // Subscribers that connect now are served by the two IO cores.
/// });
/// ```
#[derive(Clone)]
pub struct IoCores {
    /// Shared with the sets [`select`](IoCores::select) makes: a thread
    /// runs while any set holds it.
    inner: Arc<Vec<Arc<CoreThread>>>,
}

struct CoreThread {
    /// New links for this core; sockets on any thread add them, hence the lock
    /// (taken once per `spread_connections`, never per message).
    new_links: Mutex<spsc::Sender<CoreEnd>>,
    /// The thread, for [`IoCores::join`].
    thread: std::thread::JoinHandle<()>,
}

impl std::fmt::Debug for IoCores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoCores")
            .field("cores", &self.inner.len())
            .finish()
    }
}

impl IoCores {
    /// Starts one reactor thread per builder (each pinned where its builder
    /// names a core, with its wait strategy and ring sizes).
    pub fn start(builders: Vec<RuntimeBuilder>) -> Result<IoCores> {
        if builders.is_empty() {
            return Err(Error::InvalidOption {
                option: "IO cores",
                reason: "at least one IO core is needed".into(),
            });
        }
        let mut cores = Vec::with_capacity(builders.len());
        for (i, builder) in builders.iter().enumerate() {
            let (tx, rx) = spsc::channel(NEW_LINKS_CAPACITY);
            let thread = builder
                .spawn_thread(&format!("monocoque-io-{i}"), move || serve(rx))
                .map_err(|e| Error::Io {
                    context: format!("start IO core {i}"),
                    message: e.to_string(),
                    kind: io::ErrorKind::Other,
                })?;
            cores.push(Arc::new(CoreThread {
                new_links: Mutex::new(tx),
                thread,
            }));
        }
        Ok(IoCores {
            inner: Arc::new(cores),
        })
    }

    /// Drops this handle and waits for the threads of the cores no other
    /// handle (a clone, or a set [`select`](Self::select) made) still
    /// holds: each ends once its sockets have closed and finished
    /// lingering. What libzmq's zmq_ctx_term does with its I/O threads; a
    /// core another handle holds is left running.
    ///
    /// ```
    /// use monocoque_patterns::IoCores;
    /// use monocoque_runtime::RuntimeBuilder;
    /// let cores = IoCores::start(vec![RuntimeBuilder::default(); 2]).unwrap();
    /// cores.join();
    /// ```
    pub fn join(self) {
        let Ok(cores) = Arc::try_unwrap(self.inner) else {
            return;
        };
        for core in cores {
            if let Ok(CoreThread { new_links, thread }) = Arc::try_unwrap(core) {
                // Its serve task ends when no more links can come.
                drop(new_links);
                if thread.join().is_err() {
                    tracing::error!("an IO core's thread panicked");
                }
            }
        }
    }

    /// The number of IO cores.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Always false: [`start`](Self::start) refuses an empty list.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The cores whose position (from 0) `pick` accepts, in order, as a
    /// set of their own to spread a socket over (the C API's ZMQ_AFFINITY
    /// names I/O threads this way); `None` if it accepts none.
    ///
    /// ```
    /// use monocoque_patterns::IoCores;
    /// use monocoque_runtime::RuntimeBuilder;
    /// let cores = IoCores::start(vec![RuntimeBuilder::default(); 3]).unwrap();
    /// assert_eq!(cores.select(|i| i != 1).unwrap().len(), 2);
    /// assert!(cores.select(|_| false).is_none());
    /// ```
    pub fn select(&self, mut pick: impl FnMut(usize) -> bool) -> Option<IoCores> {
        let picked: Vec<_> = self
            .inner
            .iter()
            .enumerate()
            .filter(|(i, _)| pick(*i))
            .map(|(_, core)| core.clone())
            .collect();
        (!picked.is_empty()).then(|| IoCores {
            inner: Arc::new(picked),
        })
    }

    /// One link per core for a new socket of `kind`.
    fn link_all(
        &self,
        kind: SocketType,
        sndhwm: usize,
    ) -> Result<Vec<(OwnerEnd, spsc::Receiver<CoreEvent>)>> {
        self.inner
            .iter()
            .enumerate()
            .map(|(i, core)| core.link(i, kind, sndhwm, NEW_LINK_PATIENCE))
            .collect()
    }

    /// Weak handles on the cores, for links made later (`PipeLinks`): they
    /// do not keep [`join`](Self::join) from joining the threads.
    fn weak_cores(&self) -> Vec<Weak<CoreThread>> {
        self.inner.iter().map(Arc::downgrade).collect()
    }
}

impl CoreThread {
    /// A link to this core (core `i`) for a socket of `kind`, waiting up to
    /// `patience` for room in its ring of new links.
    fn link(
        &self,
        i: usize,
        kind: SocketType,
        sndhwm: usize,
        patience: std::time::Duration,
    ) -> Result<(OwnerEnd, spsc::Receiver<CoreEvent>)> {
        let (owner, events, mut end) = link::link(kind, sndhwm);
        let mut tx = self.new_links.lock().expect("IO core lock poisoned");
        let give_up = std::time::Instant::now() + patience;
        loop {
            match tx.try_send(end) {
                Ok(()) => return Ok((owner, events)),
                // The core takes new links up as fast as it runs: a full
                // ring is a burst of sockets, and drains soon.
                Err(spsc::TrySendError::Full(back)) if std::time::Instant::now() < give_up => {
                    end = back;
                    std::thread::yield_now();
                }
                Err(e) => {
                    return Err(Error::Io {
                        context: format!("spread connections over IO core {i}"),
                        message: e.to_string(),
                        kind: io::ErrorKind::Other,
                    })
                }
            }
        }
    }
}

/// An IO core's main task: runs each link it is given, and ends once no more
/// can come and every link has finished.
async fn serve(mut new_links: spsc::Receiver<CoreEnd>) {
    let mut relays = Vec::new();
    while let Some(end) = new_links.recv().await {
        relays.retain(|r: &monocoque_runtime::JoinHandle<()>| !r.is_finished());
        relays.push(spawn(relay::run(end)));
    }
    for r in relays {
        r.await;
    }
}

/// One IO core's figures for a spread socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoCoreStatistics {
    /// Peers connected through this core now.
    pub connections: usize,
    /// Messages handed to this core: for a publisher one per message that
    /// had a subscriber here, however many it had; for other types one per
    /// message to a peer here.
    pub handed: u64,
    /// Messages this core's subscribers lost because its ring was full
    /// (publishers only: other types wait for room).
    pub dropped: u64,
}

/// Links `host` to every IO core, for its future accepted connections: the
/// socket keeps the returned [`Fanout`] to publish through.
pub(crate) fn spread(host: &Rc<dyn SocketHost>, cores: &IoCores) -> Result<Fanout> {
    let sndhwm = host.terms().shape.sndhwm;
    let links = cores.link_all(host.kind(), sndhwm)?;
    let mut owners = Vec::with_capacity(links.len());
    for (i, (owner, events)) in links.into_iter().enumerate() {
        owners.push(owner);
        spawn(owner_task::run(host.clone(), i, events)).detach();
    }
    Ok(Fanout::new(owners))
}

/// Spreads `host` (any type but a publisher) over `cores`, for its future
/// connections: the socket keeps the returned [`PipeLinks`] to hand
/// connections out and to close. Each core is linked when it gets its first
/// connection from the socket, so that a socket with one connection costs
/// one link, however many cores there are.
pub(crate) fn spread_pipes(host: &Rc<dyn SocketHost>, cores: &IoCores) -> PipeLinks {
    // Sockets start their round-robin at different cores, so that many
    // sockets with a connection each do not all land on the first.
    static FIRST_CORE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let first = FIRST_CORE.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % cores.len();
    PipeLinks::new(Rc::downgrade(host), cores.weak_cores(), first)
}

/// Links `host` to `core` (core `i`) and starts that link's owner task on
/// this thread. The wait for room in the core's ring of new links is short:
/// this runs on the socket's thread in the middle of an accept or connect.
fn link_pipes(host: &Rc<dyn SocketHost>, core: &CoreThread, i: usize) -> Result<Rc<PipeLink>> {
    let sndhwm = host.terms().shape.sndhwm;
    let (owner, events) = core.link(i, host.kind(), sndhwm, LAZY_LINK_PATIENCE)?;
    let OwnerEnd { control, data, .. } = owner;
    let link = Rc::new(PipeLink::new(control));
    spawn(pipe_owner_task::run(
        host.clone(),
        link.clone(),
        data,
        events,
    ))
    .detach();
    Ok(link)
}

/// A connect running on an IO core, as the socket's endpoint list holds it.
#[derive(Debug)]
pub(crate) enum RemoteConnect {
    /// A non-publisher's, through its link's outbox.
    Pipes(pipe_links::PipeConnect),
    /// A publisher's, on core `core` under `id`, through the fan-out.
    Publisher { core: usize, id: crate::PeerId },
}

impl RemoteConnect {
    /// The socket disconnected (`fanout`: a publisher's, if spread): the
    /// connect stops on its core, its connection with it.
    pub(crate) fn disconnect(self, fanout: Option<&mut Fanout>) {
        match self {
            RemoteConnect::Pipes(p) => p.disconnect(),
            RemoteConnect::Publisher { core, id } => {
                if let Some(f) = fanout {
                    f.disconnect(core, id);
                }
            }
        }
    }
}

/// Figures per IO core, if the socket is spread.
pub(crate) fn statistics(fanout: &Fanout) -> Vec<IoCoreStatistics> {
    let mut out: Vec<IoCoreStatistics> = fanout
        .links
        .iter()
        .map(|l| IoCoreStatistics {
            connections: 0,
            handed: l.handed,
            dropped: l.dropped,
        })
        .collect();
    for &(core, _) in fanout.remote.values() {
        out[core].connections += 1;
    }
    out
}

/// Where a spread socket hands its accepted connections.
pub(crate) enum Spread<'a> {
    Publisher(&'a mut Fanout),
    Pipes(&'a mut PipeLinks),
}

/// The listener's choice for an accepted connection: handed to an IO core
/// (`None`), or back to run here (every core's control ring full).
pub(crate) fn hand_off<S: MovableStream>(
    spread: Spread<'_>,
    options: &Options,
    stream: S,
    endpoint: &str,
) -> Option<S> {
    let fd = match stream.into_fd() {
        Ok(fd) => fd,
        Err(e) => {
            tracing::warn!(%endpoint, error = %e, "connection could not move to an IO core; closed");
            return None;
        }
    };
    let adopted = match spread {
        Spread::Publisher(fanout) => fanout.adopt(fd, S::KIND, endpoint, options),
        Spread::Pipes(links) => links.adopt(fd, S::KIND, endpoint, options),
    };
    match adopted {
        Ok(()) => None,
        Err(fd) => {
            tracing::debug!(%endpoint, "IO cores busy; the connection stays on the socket's core");
            match S::from_fd(fd) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(%endpoint, error = %e, "connection could not be kept; closed");
                    None
                }
            }
        }
    }
}
