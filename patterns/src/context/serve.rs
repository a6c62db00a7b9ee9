//! The context thread's side: one task per socket runs the commands its
//! [`BlockingSocket`](super::BlockingSocket) sends, against an async
//! [`Socket`] that lives on this thread like any other.
//!
//! SNDTIMEO and RCVTIMEO need nothing special: a blocking `send` is the async
//! `send`, timeout included, awaited here while the user's thread waits for
//! the reply. When the handle is dropped, its command ring closes, the loop
//! ends and the socket is dropped, which closes it with its LINGER; the
//! socket's [`LiveToken`] goes away only when its last connection has ended.

use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use monocoque_runtime::spsc::{self, TrySendError};
use monocoque_zmtp::SocketType;

use super::command::{Command, Reply};
use super::live_set::{LiveSet, LiveToken};
use super::shutdown::Shutdown;
use crate::{Monitor, MonitorEvent, Socket};

/// Opens a socket of `kind` and serves its handle's commands until the handle
/// is dropped.
pub(super) async fn socket(
    kind: SocketType,
    mut commands: spsc::Receiver<Command>,
    mut replies: spsc::Sender<Reply>,
    token: LiveToken,
    shutdown: Rc<Shutdown>,
    live: Rc<LiveSet>,
) {
    let opened = shutdown.check().and_then(|()| Socket::new(kind));
    let socket = match opened {
        Ok(s) => s,
        Err(e) => {
            let _ = replies.send(Reply::Done(Err(e))).await;
            return;
        }
    };
    socket.hold_until_gone(Box::new(token));
    if replies.send(Reply::Done(Ok(()))).await.is_err() {
        return;
    }
    let key = shutdown.key();
    while let Some(command) = commands.recv().await {
        let reply = run(&socket, command, &shutdown, key, &live).await;
        if replies.send(reply).await.is_err() {
            break;
        }
    }
    shutdown.forget(key);
}

async fn run(
    socket: &Socket,
    command: Command,
    shutdown: &Shutdown,
    key: u64,
    live: &Rc<LiveSet>,
) -> Reply {
    // After zmq_ctx_shutdown every operation but close fails with ETERM; the
    // read-only queries still answer, since they cannot block.
    match command {
        Command::Options => Reply::Options(Box::new(socket.options())),
        Command::LastEndpoint => Reply::LastEndpoint(socket.last_endpoint()),
        Command::Queued => Reply::Queued(socket.queued()),
        Command::PeerCount => Reply::PeerCount(socket.peer_count()),
        Command::TopicsCount => Reply::TopicsCount(socket.topics_count()),
        Command::IoCoreStatistics => Reply::IoCoreStatistics(socket.io_core_statistics()),
        Command::SpreadConnections(cores) => Reply::Done(
            shutdown
                .check()
                .and_then(|()| socket.spread_connections(&cores)),
        ),
        Command::SetOption(o) => Reply::Done(shutdown.check().and_then(|()| socket.set_option(o))),
        Command::Monitor { events, lost } => {
            let monitor = socket.monitor();
            monocoque_runtime::spawn(forward(monitor, events, lost, live.token())).detach();
            Reply::Done(Ok(()))
        }
        Command::Bind(e) => Reply::Done(shutdown.check().and_then(|()| socket.bind(&e))),
        Command::Connect(e) => Reply::Done(shutdown.check().and_then(|()| socket.connect(&e))),
        Command::Unbind(e) => Reply::Done(shutdown.check().and_then(|()| socket.unbind(&e))),
        Command::Disconnect(e) => {
            Reply::Done(shutdown.check().and_then(|()| socket.disconnect(&e)))
        }
        Command::Send { msg, wait: true } => {
            Reply::Done(shutdown.unless_down(key, socket.send(msg)).await)
        }
        Command::Send { msg, wait: false } => {
            Reply::Done(shutdown.check().and_then(|()| socket.try_send(msg)))
        }
        Command::Recv { wait: true } => {
            Reply::Message(shutdown.unless_down(key, socket.recv()).await)
        }
        Command::Recv { wait: false } => {
            Reply::Message(shutdown.check().and_then(|()| socket.try_recv()))
        }
        Command::RecvWithProperties { wait: true } => Reply::MessageWithProperties(
            shutdown
                .unless_down(key, socket.recv_with_properties())
                .await,
        ),
        Command::RecvWithProperties { wait: false } => Reply::MessageWithProperties(
            shutdown
                .check()
                .and_then(|()| socket.try_recv_with_properties()),
        ),
        Command::Events => Reply::Events(shutdown.check().and_then(|()| socket.events())),
        Command::ReadinessFd => {
            let fd = shutdown.check().and_then(|()| socket.readiness_event_fd());
            if let Ok(fd) = &fd {
                // A thread waiting on it learns of the shutdown (ETERM).
                shutdown.signal_when_down(fd);
            }
            Reply::ReadinessFd(fd)
        }
    }
}

/// Moves a socket's monitor events to a user thread's ring until the final
/// [`MonitorEvent::Stopped`].
///
/// It never waits for room: an event that finds the ring full is counted in
/// `lost` and dropped, so an unread monitor cannot hold the context's thread
/// open (the async [`Monitor`] is bounded the same way).
async fn forward(
    monitor: Monitor,
    mut events: spsc::Sender<MonitorEvent>,
    lost: Arc<AtomicU64>,
    _token: LiveToken,
) {
    loop {
        let event = monitor.recv().await;
        let last = event == MonitorEvent::Stopped;
        match events.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                lost.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Closed(_)) => return,
        }
        if last {
            return;
        }
    }
}
