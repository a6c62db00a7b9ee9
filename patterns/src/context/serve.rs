//! The context thread's side: one task per socket runs the commands its
//! [`BlockingSocket`](super::BlockingSocket) sends, against an async
//! [`Socket`] that lives on this thread like any other.
//!
//! SNDTIMEO and RCVTIMEO need nothing special: a blocking `send` is the async
//! `send`, timeout included, awaited here while the user's thread waits for
//! the reply. When the handle is dropped, its command ring closes, the loop
//! ends and the socket is dropped, which closes it with its LINGER; the
//! socket's [`LiveToken`] goes away only when its last connection has ended.
//!
//! A socket with a send lane (see `lanes.rs`) is served by the same loop,
//! which drives the lane's [`LanePump`] while it waits for a command and
//! while a command runs. Every command runs after the messages the lane
//! already holds.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use monocoque_runtime::spsc::{self, TrySendError};
use monocoque_zmtp::SocketType;

use super::command::{Command, Reply, Request};
use super::lane_backlog::{settle, Backlog, Settle};
use super::lanes::{self, LanePump, SendLane};
use super::live_set::{LiveSet, LiveToken};
use super::receive_lane::{RecvLane, RecvPump};
use super::shutdown::Shutdown;
use crate::{Error, Monitor, MonitorEvent, Result, Socket};

/// What joins a socket's handle to its serve task.
pub(super) struct HandleRings {
    pub(super) commands: spsc::Receiver<Request>,
    pub(super) replies: spsc::Sender<Reply>,
    /// For a type with a send lane.
    pub(super) lane: Option<SendLane>,
    /// For a type with a receive lane.
    pub(super) recv_lane: Option<RecvLane>,
}

/// Opens a socket of `kind` and serves its handle's commands (and send
/// lane) until the handle is dropped. `backlog` counts the context's lanes
/// that may hold messages their pumps have not taken (see `lane_backlog.rs`).
pub(super) async fn socket(
    kind: SocketType,
    rings: HandleRings,
    backlog: Arc<Backlog>,
    token: LiveToken,
    shutdown: Rc<Shutdown>,
    live: Rc<LiveSet>,
) {
    let HandleRings {
        mut commands,
        mut replies,
        lane,
        recv_lane,
    } = rings;
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
    let mut pump = lane.map(|lane| LanePump::new(lane, &socket));
    let mut recv_pump = recv_lane.map(|lane| RecvPump::new(lane, &socket));
    loop {
        // The lanes move while the loop waits for the next command.
        let command = poll_fn(|cx| {
            if let Some(pump) = pump.as_mut() {
                pump.drive(cx);
            }
            if let Some(recv_pump) = recv_pump.as_mut() {
                recv_pump.drive(cx);
            }
            commands.poll_recv(cx)
        })
        .await;
        let Some(Request {
            command,
            after_lane_sends,
        }) = command
        else {
            break;
        };
        if let Some(recv_pump) = recv_pump.as_mut() {
            recv_pump.before_command();
        }
        // Sends on other sockets that returned before this command was
        // given reach their sockets first, as libzmq's had reached their
        // pipes (a PUSH's message, then a PULL's disconnect or a
        // ZMQ_DONTWAIT receive on another thread).
        let mut own = after_lane_sends;
        if let Some(pump) = pump.as_ref() {
            // This socket's own lane goes before the command anyway.
            own.retain(|q| !Arc::ptr_eq(q, pump.queued()));
        }
        let wait_for = Settle {
            others: command.looks_now(),
            own,
        };
        match pump.as_mut() {
            // The lane keeps moving meanwhile: a send another thread made
            // into it before the command is taken, as the settle promises.
            Some(pump) => {
                let mut settled = pin!(settle(&backlog, &wait_for));
                poll_fn(|cx| {
                    pump.drive(cx);
                    settled.as_mut().poll(cx)
                })
                .await
            }
            None => settle(&backlog, &wait_for).await,
        }
        // Messages of pipes dropped before (a ROUTER_HANDOVER's evicted
        // peer) are still delivered, as libzmq's are: only an unbind's or
        // disconnect's own are skipped.
        let dropped_before = match (&command, recv_pump.as_mut()) {
            (Command::Unbind(_) | Command::Disconnect(_), Some(recv_pump)) => {
                recv_pump.dropped_positions()
            }
            _ => Vec::new(),
        };
        let reply = match (command, recv_pump.as_mut()) {
            (Command::FillLane { wait }, Some(recv_pump)) => {
                let filled = fill_lane(recv_pump, &socket, wait, &shutdown, key);
                Reply::Done(match pump.as_mut() {
                    // A request still in the send lane goes out meanwhile.
                    Some(pump) => {
                        pump.try_drain();
                        let mut filled = pin!(filled);
                        poll_fn(|cx| {
                            pump.drive(cx);
                            filled.as_mut().poll(cx)
                        })
                        .await
                    }
                    None => filled.await,
                })
            }
            (command, _) => match pump.as_mut() {
                Some(pump) => run_beside_lane(pump, &socket, command, &shutdown, key, &live).await,
                None => run(&socket, command, &shutdown, key, &live).await,
            },
        };
        let mut reply = reply;
        if let Some(recv_pump) = recv_pump.as_mut() {
            match &mut reply {
                Reply::Detached((_, dropped)) => {
                    *dropped = recv_pump.dropped_positions();
                    dropped.retain(|at| !dropped_before.contains(at));
                }
                Reply::ReadinessFd(Ok(fd)) => recv_pump.signal_readiness(fd.clone()),
                // Counted here, with the pipes, at one moment: the pump
                // may move more into the lane before the handle reads the
                // answer (counted in both then).
                Reply::Queued((inbound, _)) => *inbound += recv_pump.in_lane(),
                _ => {}
            }
        }
        if replies.send(reply).await.is_err() {
            break;
        }
    }
    // zmq_ctx_term or not: libzmq's term, too, lets a closed socket linger.
    if let Some(pump) = pump {
        pump.close(socket.options().linger()).await;
    }
    shutdown.forget(key);
}

/// Runs `command` after the lane's messages, which were sent before it,
/// driving the lane meanwhile (a request still in the lane goes out while
/// its reply is awaited). A send waits for the lane within SNDTIMEO, and a
/// ZMQ_DONTWAIT send that finds it still held is answered at once (EAGAIN:
/// the socket is full); other commands run once the lane has handed over
/// what it can now.
async fn run_beside_lane(
    pump: &mut LanePump<'_>,
    socket: &Socket,
    command: Command,
    shutdown: &Shutdown,
    key: u64,
    live: &Rc<LiveSet>,
) -> Reply {
    match command {
        Command::Send { msg, wait: false } => {
            if !pump.try_drain() {
                return Reply::Credit(Err(Error::WouldBlock("no peer can take the message now")));
            }
            run(
                socket,
                Command::Send { msg, wait: false },
                shutdown,
                key,
                live,
            )
            .await
        }
        Command::Send { msg, wait: true } => {
            let deadline = socket.sndtimeo().map(|t| Instant::now() + t);
            Reply::Done(
                shutdown
                    .unless_down(key, async {
                        if !pump.drained_by(deadline).await {
                            return Err(Error::WouldBlock(
                                "no message could be sent within SNDTIMEO",
                            ));
                        }
                        socket.send_until(msg, deadline).await
                    })
                    .await,
            )
        }
        Command::Recv { wait } if lanes::recv_follows_send(socket.socket_type()) => {
            // The request (or reply) just sent through the lane comes first
            // in REQ's and REP's state machine.
            if !wait {
                if !pump.try_drain() {
                    return Reply::Received(Err(Error::WouldBlock(
                        "the message sent last still waits for a peer",
                    )));
                }
                return run(socket, Command::Recv { wait }, shutdown, key, live).await;
            }
            let deadline = socket.rcvtimeo().map(|t| Instant::now() + t);
            Reply::Received(
                shutdown
                    .unless_down(key, async {
                        if !pump.drained_by(deadline).await {
                            return Err(Error::WouldBlock("no message arrived within RCVTIMEO"));
                        }
                        socket.recv_with_properties_until(deadline).await
                    })
                    .await,
            )
        }
        other => {
            pump.try_drain();
            let mut op = pin!(run(socket, other, shutdown, key, live));
            poll_fn(|cx| {
                pump.drive(cx);
                op.as_mut().poll(cx)
            })
            .await
        }
    }
}

/// A receive found the receive lane empty: fills it, waiting within
/// RCVTIMEO unless `wait` is false.
async fn fill_lane(
    recv_pump: &mut RecvPump<'_>,
    socket: &Socket,
    wait: bool,
    shutdown: &Shutdown,
    key: u64,
) -> Result<()> {
    shutdown.check()?;
    let deadline = socket.rcvtimeo().map(|t| Instant::now() + t);
    shutdown
        .unless_down(key, recv_pump.fill(wait, deadline))
        .await
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
        Command::Refilter(mut held) => {
            held.retain(|(msg, _)| socket.receive_filter_accepts(msg));
            Reply::Refiltered(held)
        }
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
        Command::Unbind(e) => Reply::Detached((
            shutdown.check().and_then(|()| socket.unbind(&e)),
            Vec::new(),
        )),
        Command::Disconnect(e) => Reply::Detached((
            shutdown.check().and_then(|()| socket.disconnect(&e)),
            Vec::new(),
        )),
        Command::Send { msg, wait: true } => {
            Reply::Done(shutdown.unless_down(key, socket.send(msg)).await)
        }
        Command::Send { msg, wait: false } => Reply::Credit(
            shutdown
                .check()
                .and_then(|()| socket.try_send(msg))
                .map(|()| socket.send_credit()),
        ),
        Command::Recv { wait: true } => Reply::Received(
            shutdown
                .unless_down(key, socket.recv_with_properties())
                .await,
        ),
        Command::Recv { wait: false } => Reply::Received(
            shutdown
                .check()
                .and_then(|()| socket.try_recv_with_properties()),
        ),
        // Only a handle with a receive lane sends it, and those are
        // answered by the serve loop.
        Command::FillLane { .. } => Reply::Done(Err(Error::WouldBlock("no receive lane"))),
        Command::CheckRoute(id) => Reply::Credit(
            shutdown
                .check()
                .and_then(|()| socket.check_route(&id))
                .map(|()| socket.route_credit(&id)),
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
