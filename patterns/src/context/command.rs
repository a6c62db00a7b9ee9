//! What a [`BlockingSocket`](super::BlockingSocket) asks its context's thread
//! to do, and the answers.
//!
//! One command is outstanding per socket at a time (the handle waits for the
//! reply before it returns), so replies need no tag: the next reply on the
//! socket's ring answers the command just sent.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use monocoque_runtime::{spsc, EventFd};
use monocoque_zmtp::{Msg, SocketType};

use crate::options::{Options, SocketOption};
use crate::{Events, IoCoreStatistics, IoCores, MonitorEvent, PeerProperties, Result};

/// A request from a user thread to the context's thread.
pub(super) enum Control {
    /// Make a socket and serve these rings with it.
    Open {
        kind: SocketType,
        commands: spsc::Receiver<Command>,
        replies: spsc::Sender<Reply>,
    },
    /// zmq_ctx_shutdown.
    Shutdown,
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
    Recv {
        wait: bool,
    },
    /// A receive that also returns the sender's properties.
    RecvWithProperties {
        wait: bool,
    },
    /// ZMQ_EVENTS (clears the readiness descriptor's signal).
    Events,
    /// ZMQ_FD: the socket's readiness descriptor, made on first use.
    ReadinessFd,
    /// Spread the connections a PUB or XPUB accepts over IO cores.
    SpreadConnections(IoCores),
    /// Per IO core figures of a spread socket.
    IoCoreStatistics,
}

/// The answer to one [`Control::Open`] or [`Command`].
pub(super) enum Reply {
    /// Open, SetOption, Monitor, Bind, Connect, Unbind, Disconnect, Send.
    Done(Result<()>),
    Message(Result<Msg>),
    Options(Box<Options>),
    LastEndpoint(Option<String>),
    Queued((usize, usize)),
    PeerCount(usize),
    TopicsCount(usize),
    MessageWithProperties(Result<(Msg, Option<Arc<PeerProperties>>)>),
    Events(Result<Events>),
    ReadinessFd(Result<Arc<EventFd>>),
    IoCoreStatistics(Option<Vec<IoCoreStatistics>>),
}

impl Reply {
    /// The variant's name, for [`expect_reply!`]'s message.
    pub(super) fn variant_name(&self) -> &'static str {
        match self {
            Reply::Done(_) => "Done",
            Reply::Message(_) => "Message",
            Reply::Options(_) => "Options",
            Reply::LastEndpoint(_) => "LastEndpoint",
            Reply::Queued(_) => "Queued",
            Reply::PeerCount(_) => "PeerCount",
            Reply::TopicsCount(_) => "TopicsCount",
            Reply::MessageWithProperties(_) => "MessageWithProperties",
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
