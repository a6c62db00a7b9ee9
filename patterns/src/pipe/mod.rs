//! Pipes: the bounded queues between a socket and one peer.
//!
//! A pipe is two [`Queue`]s, one per direction. For a tcp or ipc peer the far
//! end of both queues is that connection's engine task; for an inproc peer it
//! is the other socket itself, so an inproc message goes from one socket's
//! `send` to the other's `recv` through one `VecDeque`, without framing or
//! syscalls.
//!
//! Each queue holds at most its high-water mark. A socket learns of readiness
//! edges through its [`Signals`] (a list of peers that became readable or
//! writable), so that picking the next peer (fair queue, load balancer) never
//! scans idle peers.
//!
//! Every pipe is made by [`Pipe::new`] from a [`PipeShape`], which is read
//! from the socket's options in one place ([`PipeShape::of`]).

mod queue;
mod queued;
mod signals;

use std::rc::{Rc, Weak};

use bytes::Bytes;
use monocoque_zmtp::SocketType;

pub(crate) use queue::{detach_from_pool, HeldCredit, Notify, Queue, Run, SharedQueue};
pub(crate) use queued::Queued;
pub(crate) use signals::Signals;

use crate::options::Options;
use crate::PeerId;

/// How a new pipe is sized, read from the socket's options when the
/// connection starts (later changes apply to later connections, as in libzmq).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PipeShape {
    /// Messages queued towards the peer at most (0: unbounded).
    pub(crate) sndhwm: usize,
    /// Messages queued from the peer at most (0: unbounded).
    pub(crate) rcvhwm: usize,
    /// CONFLATE on what the socket receives.
    pub(crate) conflate_in: bool,
    /// CONFLATE on what the socket sends.
    pub(crate) conflate_out: bool,
}

impl PipeShape {
    /// The shape `options` give a pipe of a `kind` socket.
    pub(crate) fn of(options: &Options, kind: SocketType) -> PipeShape {
        PipeShape {
            sndhwm: options.sndhwm,
            rcvhwm: options.rcvhwm,
            conflate_in: options.conflate_inbound(kind),
            conflate_out: options.conflate_outbound(kind),
        }
    }

    /// An inproc queue from `sender` to `receiver`: libzmq sizes it as the
    /// sender's SNDHWM plus the receiver's RCVHWM (unbounded if either is 0),
    /// and it conflates if either end asks. Returns (hwm, conflate).
    pub(crate) fn inproc_queue(sender: PipeShape, receiver: PipeShape) -> (usize, bool) {
        let hwm = if sender.sndhwm == 0 || receiver.rcvhwm == 0 {
            0
        } else {
            sender.sndhwm + receiver.rcvhwm
        };
        (hwm, sender.conflate_out || receiver.conflate_in)
    }
}

/// The socket's end of a pipe.
#[derive(Debug)]
pub(crate) struct Pipe {
    pub(crate) peer: PeerId,
    /// Messages from the peer.
    pub(crate) inbound: SharedQueue,
    /// Messages to the peer.
    pub(crate) outbound: SharedQueue,
    /// The peer's routing id (Identity property, or the inproc peer's ROUTING_ID).
    pub(crate) identity: Bytes,
    /// The peer's socket type, once known.
    pub(crate) peer_type: Option<SocketType>,
    /// Whether a handshake has completed (always, for inproc and accepted pipes).
    pub(crate) connected: bool,
    /// The endpoint this pipe came from (for monitor events and disconnect).
    pub(crate) endpoint: String,
    /// The peer's address, for logs, where the endpoint does not say it (an
    /// accepted tcp connection); `None` otherwise.
    pub(crate) remote: Option<String>,
    /// For inproc pipes: the other socket's signals and its name for this pipe.
    pub(crate) inproc_peer: Option<(Weak<Signals>, PeerId)>,
    /// What `recv_with_properties` reports for its messages, once connected.
    pub(crate) properties: Option<std::sync::Arc<crate::PeerProperties>>,
}

impl Pipe {
    /// A new pipe to `peer`, sized by `shape`, whose socket end reports to
    /// `signals`. The far ends (an engine, an inproc peer) notify nobody until
    /// they take the pipe. Not yet connected; no identity yet.
    pub(crate) fn new(
        peer: PeerId,
        shape: PipeShape,
        signals: &Rc<Signals>,
        endpoint: &str,
    ) -> Pipe {
        Pipe::over(
            peer,
            Queue::new(shape.rcvhwm, shape.conflate_in),
            Queue::new(shape.sndhwm, shape.conflate_out),
            signals,
            endpoint,
        )
    }

    /// The socket's end over existing queues (the binding side of an inproc
    /// pipe, whose queues the connecting socket made).
    pub(crate) fn over(
        peer: PeerId,
        inbound: SharedQueue,
        outbound: SharedQueue,
        signals: &Rc<Signals>,
        endpoint: &str,
    ) -> Pipe {
        let signals = Rc::downgrade(signals);
        inbound.borrow_mut().reader = Notify::Socket {
            signals: signals.clone(),
            peer,
        };
        outbound.borrow_mut().writer = Notify::Socket { signals, peer };
        Pipe {
            peer,
            inbound,
            outbound,
            identity: Bytes::new(),
            peer_type: None,
            connected: false,
            endpoint: endpoint.to_string(),
            remote: None,
            inproc_peer: None,
            properties: None,
        }
    }

    /// The queues as the far end (an engine) holds them.
    pub(crate) fn far_end(&self) -> FarEnd {
        FarEnd {
            peer: self.peer,
            inbound: self.inbound.clone(),
            outbound: self.outbound.clone(),
        }
    }
}

/// The far end of a pipe: what an engine holds (it writes `inbound`, reads
/// `outbound`). A connect-side pipe that outlives its connections (IMMEDIATE
/// off) is handed to each new connection's engine in this form.
#[derive(Debug, Clone)]
pub(crate) struct FarEnd {
    pub(crate) peer: PeerId,
    pub(crate) inbound: SharedQueue,
    pub(crate) outbound: SharedQueue,
}

/// A lifecycle change a socket learns of through its signals.
#[derive(Debug)]
pub(crate) enum PipeEvent {
    /// A new peer (an accepted connection after its handshake, an inproc peer).
    Attached(Pipe),
    /// A new peer whose connection runs on IO core `core`, where it is `id`
    /// (fan-out): published messages reach it through that core's ring.
    AttachedRemote { pipe: Pipe, core: usize, id: PeerId },
    /// A connected pipe's peer completed a handshake; it is reachable as `identity`.
    Connected {
        peer: PeerId,
        identity: Bytes,
        /// `None` for a ZMTP 1.0 peer, which does not say.
        socket_type: Option<SocketType>,
        /// For inproc: the binder's side, to tell it when this socket drops the pipe.
        inproc_peer: Option<(Weak<Signals>, PeerId)>,
        /// The connection's properties.
        properties: std::sync::Arc<crate::PeerProperties>,
    },
    /// The connection under a persistent (connect-side) pipe dropped; the pipe
    /// stays and is reused after reconnecting.
    Disconnected(PeerId),
    /// The pipe is finished for good.
    Detached(PeerId),
}
