//! What a [`BlockingSocket`](super::BlockingSocket) asks its context's thread
//! to do, and the answers.
//!
//! One command is outstanding per socket at a time (the handle waits for the
//! reply before it returns), so replies need no tag: the next reply on the
//! socket's ring answers the command just sent.

use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use bytes::Bytes;
use monocoque_runtime::{spsc, EventFd, ThreadSettings};
use monocoque_zmtp::{Msg, SocketType};

use super::lane_backlog::QueuedCount;
use super::lanes::SendLane;
use super::receive_lane::RecvLane;
use crate::options::{Options, SocketOption};
use crate::socket::SendRoom;
use crate::{Events, IoCoreStatistics, IoCores, MonitorEvent, PeerProperties, Result};

/// A request from a user thread to the context's thread.
pub(super) enum Control {
    /// Make a socket and serve these rings with it (and the send lane, for
    /// a type that has one).
    Open {
        kind: SocketType,
        commands: spsc::Receiver<Request>,
        replies: spsc::Sender<Reply>,
        lane: Option<SendLane>,
        /// For a type with a receive lane.
        recv_lane: Option<RecvLane>,
    },
    /// zmq_ctx_shutdown.
    Shutdown,
    /// Apply these to the context's thread, and say how it went.
    ThreadSettings {
        settings: ThreadSettings,
        done: std::sync::mpsc::SyncSender<std::io::Result<()>>,
    },
}

/// A command as the handle sends it.
pub(super) struct Request {
    pub(super) command: Command,
    /// The `queued` counts of the send lanes the user's thread put messages
    /// in since its last command: this one runs after they reach their
    /// sockets, within a few turns (`lane_backlog.rs`, `Settle::own`).
    pub(super) after_lane_sends: Vec<Arc<QueuedCount>>,
}

/// One socket operation, run against the async socket on the context's thread.
pub(super) enum Command {
    SetOption(SocketOption),
    Options,
    LastEndpoint,
    Queued,
    PeerCount,
    TopicsCount,
    /// Forward the socket's monitor events to this ring, counting the ones
    /// that find it full in `lost`.
    Monitor {
        events: spsc::Sender<MonitorEvent>,
        lost: Arc<AtomicU64>,
    },
    Bind(String),
    Connect(String),
    Unbind(String),
    Disconnect(String),
    /// `wait: false` is ZMQ_DONTWAIT.
    Send {
        msg: Msg,
        wait: bool,
    },
    /// The messages a SUB's handle held when it unsubscribed: answered
    /// with those the subscriptions still let through, in order (libzmq's
    /// SUB filters at the read, so an unsubscribe stops what is queued).
    Refilter(VecDeque<Received>),
    /// A receive (`wait: false` is ZMQ_DONTWAIT): the message, with its
    /// sender's properties (types without a receive lane: REQ, REP, XPUB,
    /// STREAM).
    Recv {
        wait: bool,
    },
    /// A type with a receive lane found it empty: answered `Done(Ok)` once
    /// the lane holds a message (`wait: false` is ZMQ_DONTWAIT: at once,
    /// or WouldBlock; otherwise within RCVTIMEO).
    FillLane {
        wait: bool,
    },
    /// ROUTER and STREAM: whether a message to this routing id would be
    /// taken now (`Socket::check_route`).
    CheckRoute(Bytes),
    /// ZMQ_EVENTS (clears the readiness descriptor's signal).
    Events,
    /// ZMQ_FD: the socket's readiness descriptor, made on first use.
    ReadinessFd,
    /// Spread the connections the socket accepts over IO cores.
    SpreadConnections(IoCores),
    /// Per IO core figures of a spread socket.
    IoCoreStatistics,
}

impl Command {
    /// Whether the command looks at what the socket has now without
    /// waiting (a ZMQ_DONTWAIT receive, ZMQ_EVENTS, the count of what is
    /// queued): it runs after every
    /// lane's pump, whichever thread's, has taken what its ring held when
    /// the command came (`lane_backlog.rs`, `Settle::others`), so that it
    /// sees a message another thread's send put there before.
    pub(super) fn looks_now(&self) -> bool {
        matches!(
            self,
            Command::Recv { wait: false, .. }
                | Command::FillLane { wait: false }
                | Command::Events
                | Command::Queued
        )
    }

    /// Whether the command fails with ETERM after zmq_ctx_shutdown (the
    /// read-only queries still answer).
    pub(super) fn fails_after_shutdown(&self) -> bool {
        !matches!(
            self,
            Command::Options
                | Command::LastEndpoint
                | Command::Queued
                | Command::PeerCount
                | Command::TopicsCount
                | Command::IoCoreStatistics
                | Command::Monitor { .. }
        )
    }
}

/// A received message and the properties of the peer that sent it.
pub(super) type Received = (Msg, Option<Arc<PeerProperties>>);

/// The answer to one [`Control::Open`] or [`Command`].
pub(super) enum Reply {
    /// Open, SetOption, Monitor, Bind, Connect, a blocking Send, FillLane.
    Done(Result<()>),
    /// A ZMQ_DONTWAIT Send, CheckRoute: done, and how many more messages
    /// the socket (CheckRoute: that peer) takes for certain now, where it
    /// can tell (`send_credit.rs`).
    Credit(Result<Option<SendRoom>>),
    /// Unbind, Disconnect: the result, and where in the receive lane the
    /// messages of the pipes they dropped are (the handle discards them).
    Detached((Result<()>, Vec<usize>)),
    /// Recv: the message.
    Received(Result<Received>),
    /// Refilter: what still passes.
    Refiltered(VecDeque<Received>),
    Options(Box<Options>),
    LastEndpoint(Option<String>),
    Queued((usize, usize)),
    PeerCount(usize),
    TopicsCount(usize),
    Events(Result<Events>),
    ReadinessFd(Result<Arc<EventFd>>),
    IoCoreStatistics(Option<Vec<IoCoreStatistics>>),
}

impl Reply {
    /// The variant's name, for [`expect_reply!`]'s message.
    pub(super) fn variant_name(&self) -> &'static str {
        match self {
            Reply::Done(_) => "Done",
            Reply::Credit(_) => "Credit",
            Reply::Detached(_) => "Detached",
            Reply::Received(_) => "Received",
            Reply::Refiltered(_) => "Refiltered",
            Reply::Options(_) => "Options",
            Reply::LastEndpoint(_) => "LastEndpoint",
            Reply::Queued(_) => "Queued",
            Reply::PeerCount(_) => "PeerCount",
            Reply::TopicsCount(_) => "TopicsCount",
            Reply::Events(_) => "Events",
            Reply::ReadinessFd(_) => "ReadinessFd",
            Reply::IoCoreStatistics(_) => "IoCoreStatistics",
        }
    }
}

/// Unwraps the reply a command is answered with. The serving loop answers
/// each command with its own variant, so a mismatch is a bug in this module,
/// never something a peer or user can cause.
macro_rules! expect_reply {
    ($reply:expr, $variant:ident) => {
        match $reply {
            Reply::$variant(v) => v,
            other => panic!(
                concat!(
                    "bug: the context answered {} where ",
                    stringify!($variant),
                    " was due"
                ),
                other.variant_name()
            ),
        }
    };
}
pub(super) use expect_reply;
