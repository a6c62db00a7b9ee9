//! The engine: one connection's task. It runs a ZMTP [`Session`] over a
//! stream and moves whole messages between the session and the pipe.
//!
//! ```text
//!   stream.recv ─▶ Session::handle_input ─▶ poll_event ─▶ pipe.inbound ─▶ socket.recv
//!   socket.send ─▶ pipe.outbound ─▶ Session::send ─▶ transmit chunks ─▶ stream.write
//! ```
//!
//! Back-pressure: when the inbound queue is at RCVHWM the engine stops
//! decoding and stops reading, so the kernel's buffers fill and TCP pushes back
//! on the peer. It also stops reading while a write is stuck and more than
//! [`TRANSMIT_CAP`] bytes of the session's own output (replies to the peer's
//! commands) wait behind it: a peer that sends but never reads is pushed back
//! instead of growing our memory. Outbound messages are taken in batches (up
//! to [`WRITE_BATCH_BYTES`]) and leave in one gathered write.
//!
//! Receive buffers: the session copies small frames and commands out of them
//! at decode; what stays a loan (large frames) is copied out by the pipe when
//! a queue backs up while the reactor's pool runs short (`pipe.rs`). So no
//! connection, and no application holding messages, keeps others from reading.
//!
//! The engine ends when the peer closes, the session fails (the reason is
//! logged and reported to the monitor), the socket drops the pipe, or the
//! socket closes and its linger allows no more.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::OnceLock;
use std::task::Poll;
use std::time::Instant;

use bytes::Bytes;
use monocoque_runtime::{sleep_until, Sleep};
use monocoque_zmtp::{Event, Msg, Session, SessionState};

use super::stream::Stream;
use crate::log_limit;
use crate::monitor::MonitorEvent;
use crate::pipe::{Notify, Pipe, PipeEvent, Queue, SharedQueue};
use crate::socket::pubsub::{greeting_messages, subscription_msg, subscription_of};
use crate::socket::shared::SocketShared;
use crate::PeerId;

/// Outbound bytes gathered into one write at most.
pub(crate) const WRITE_BATCH_BYTES: usize = 256 * 1024;

/// Reading stops while a write is in flight and more than this much of the
/// session's own output waits behind it. (PONGs are coalesced by the session,
/// so only a future command that answers per input could pass it; the cap
/// keeps such growth tied to TCP's push-back rather than to memory.)
pub(crate) const TRANSMIT_CAP: usize = WRITE_BATCH_BYTES;

/// What no frame may announce, MAXMSGSIZE or not: the machine's memory.
fn memory_ceiling() -> Option<u64> {
    static CEILING: OnceLock<Option<u64>> = OnceLock::new();
    *CEILING.get_or_init(monocoque_runtime::physical_memory)
}

/// A connect-side pipe that outlives its connections (IMMEDIATE off): messages
/// queue to it while disconnected and leave after the next handshake.
#[derive(Debug, Clone)]
pub(crate) struct PersistentPipe {
    pub(crate) peer: PeerId,
    pub(crate) inbound: SharedQueue,
    pub(crate) outbound: SharedQueue,
}

/// How an engine ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EngineEnd {
    /// The handshake did not complete.
    HandshakeFailed(String),
    /// An established connection dropped.
    Disconnected(String),
    /// The socket let go of the connection (close, unbind, pipe dropped).
    Released,
}

/// How a new connection's pipe is sized (from the socket's options when the
/// connection started).
struct PipeShape {
    sndhwm: usize,
    rcvhwm: usize,
    conflate_in: bool,
    conflate_out: bool,
}

struct Attached {
    peer: PeerId,
    inbound: SharedQueue,
    outbound: SharedQueue,
}

/// Runs one connection to its end and reports it.
pub(crate) async fn run<S: Stream>(
    stream: S,
    shared: Rc<SocketShared>,
    endpoint: String,
    persistent: Option<PersistentPipe>,
) -> EngineEnd {
    let remote = stream.remote_address();
    let (mut config, hwm, probe) = {
        let core = shared.core.borrow();
        let o = &core.options;
        (
            o.session_config(shared.kind),
            PipeShape {
                sndhwm: o.sndhwm,
                rcvhwm: o.rcvhwm,
                conflate_in: o.conflate_inbound(shared.kind),
                conflate_out: o.conflate_outbound(shared.kind),
            },
            o.probe_router,
        )
    };
    config.memory_ceiling = memory_ceiling();
    let mut session = match Session::new(config, Instant::now()) {
        Ok(s) => s,
        Err(e) => {
            let reason = e.to_string();
            tracing::warn!(%endpoint, %reason, "connection refused: bad session configuration");
            shared.monitor.borrow().post(MonitorEvent::HandshakeFailed {
                endpoint,
                reason: reason.clone(),
            });
            return EngineEnd::HandshakeFailed(reason);
        }
    };
    let subscriber = shared.kind.is_subscriber();
    let key = shared.lifecycle.task_key();
    let mut attached: Option<Attached> = None;
    let mut held: Option<Msg> = None;
    let stream = &stream;
    let mut read: Option<Pin<Box<dyn Future<Output = io::Result<Bytes>> + '_>>> = None;
    let mut write: Option<Pin<Box<dyn Future<Output = io::Result<()>> + '_>>> = None;
    let mut timer: Option<Pin<Box<Sleep>>> = None;

    let end = poll_fn(|cx| {
        shared.lifecycle.register(key, cx.waker());
        loop {
            let mut progress = false;

            // 1. Decode what was received, while the inbound queue has room.
            if let (Some(a), Some(_)) = (&attached, &held) {
                let mut q = a.inbound.borrow_mut();
                if q.reader_gone() {
                    return Poll::Ready(EngineEnd::Released);
                }
                if !q.is_full() {
                    q.push(held.take().expect("checked"));
                    progress = true;
                } else {
                    q.writer.register(cx.waker());
                }
            }
            while held.is_none() {
                let Some(event) = session.poll_event() else {
                    break;
                };
                progress = true;
                // Subscriptions reach the PUB/XPUB core in their message form,
                // as inproc subscribers send them.
                let event = match event {
                    Event::Subscribe(t) => Event::Message(subscription_msg(true, &t)),
                    Event::Cancel(t) => Event::Message(subscription_msg(false, &t)),
                    other => other,
                };
                match event {
                    Event::HandshakeSucceeded(info) => {
                        let a = attach(&shared, &endpoint, &remote, &persistent, info, &hwm);
                        greet(&shared, &mut session);
                        if probe {
                            // PROBE_ROUTER: an empty message goes first on every
                            // new connection.
                            a.outbound
                                .borrow_mut()
                                .push_front(Msg::from(vec![Bytes::new()]));
                        }
                        attached = Some(a);
                    }
                    Event::Message(msg) => {
                        let Some(a) = &attached else { continue };
                        let mut q = a.inbound.borrow_mut();
                        if q.reader_gone() {
                            return Poll::Ready(EngineEnd::Released);
                        }
                        if q.is_full() {
                            held = Some(msg);
                            q.writer.register(cx.waker());
                        } else {
                            q.push(msg);
                        }
                    }
                    Event::Closed(e) => {
                        // Flush what the session queued last (an ERROR for a
                        // refused client) without waiting for it.
                        if session.wants_write() && write.is_none() {
                            let chunks = session.transmit().take_chunks();
                            let mut f = Box::pin(stream.write_chunks(chunks));
                            let _ = f.as_mut().poll(cx);
                        }
                        return Poll::Ready(if attached.is_some() {
                            EngineEnd::Disconnected(e.to_string())
                        } else {
                            EngineEnd::HandshakeFailed(e.to_string())
                        });
                    }
                    _ => {}
                }
            }

            // 2. Move outbound messages into the session while no write is in flight.
            if let Some(a) = &attached {
                if write.is_none() && session.state() == SessionState::Active {
                    let mut q = a.outbound.borrow_mut();
                    while session.transmit().len() < WRITE_BATCH_BYTES {
                        let Some(msg) = q.pop() else { break };
                        if let Err(e) = to_session(&mut session, &msg, subscriber) {
                            tracing::debug!(error = %e, "message not sent");
                        }
                    }
                    q.reader.register(cx.waker());
                }
            }

            // 3. Write.
            if write.is_none() && session.wants_write() {
                let chunks = session.transmit().take_chunks();
                write = Some(Box::pin(stream.write_chunks(chunks)));
            }
            if let Some(f) = &mut write {
                match f.as_mut().poll(cx) {
                    Poll::Ready(Ok(())) => {
                        write = None;
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => {
                        return Poll::Ready(lost(&attached, format!("write failed: {e}")));
                    }
                    Poll::Pending => {}
                }
            }

            // 4. Has the socket let go of us?
            let now_idle = write.is_none() && !session.wants_write();
            let lifecycle = &shared.lifecycle;
            match &attached {
                Some(a) => {
                    let out = a.outbound.borrow();
                    if out.writer_gone() && out.is_empty() && now_idle {
                        return Poll::Ready(EngineEnd::Released);
                    }
                    if a.inbound.borrow().reader_gone() && !lifecycle.is_closing() {
                        return Poll::Ready(EngineEnd::Released);
                    }
                }
                // A closing socket still completes connections that have
                // messages queued for them (LINGER); others stop here.
                None if lifecycle.is_closing()
                    && persistent
                        .as_ref()
                        .is_none_or(|p| p.outbound.borrow().is_empty()) =>
                {
                    return Poll::Ready(EngineEnd::Released)
                }
                None => {}
            }
            if lifecycle.expired(Instant::now()) {
                return Poll::Ready(EngineEnd::Released);
            }

            // 5. Read, unless a decoded message is waiting for room, or a
            //    write is stuck with too much of our own output behind it.
            let pushed_back = write.is_some() && session.transmit_len() > TRANSMIT_CAP;
            if held.is_none() && !pushed_back {
                let f = read.get_or_insert_with(|| Box::pin(stream.recv_bytes()));
                match f.as_mut().poll(cx) {
                    Poll::Ready(Ok(data)) => {
                        read = None;
                        if data.is_empty() {
                            return Poll::Ready(lost(
                                &attached,
                                "the peer closed the connection".into(),
                            ));
                        }
                        session.handle_input(data, Instant::now());
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => {
                        return Poll::Ready(lost(&attached, format!("read failed: {e}")));
                    }
                    Poll::Pending => {}
                }
            }

            // 6. Timers: the session's (handshake, heartbeats) and the linger.
            let deadline = match (session.poll_timeout(), lifecycle.deadline()) {
                (Some(a), Some(b)) if lifecycle.is_closing() => Some(a.min(b)),
                (None, Some(b)) if lifecycle.is_closing() => Some(b),
                (a, _) => a,
            };
            match deadline {
                None => timer = None,
                Some(d) => {
                    if timer.as_ref().is_none_or(|t| t.deadline() != d) {
                        timer = Some(Box::pin(sleep_until(d)));
                    }
                    let t = timer.as_mut().expect("just set");
                    if t.as_mut().poll(cx).is_ready() {
                        timer = None;
                        session.handle_timeout(Instant::now());
                        progress = true;
                    }
                }
            }

            if !progress {
                return Poll::Pending;
            }
        }
    })
    .await;

    drop(read);
    drop(write);
    shared.lifecycle.forget(key);
    finish(&shared, &endpoint, remote, attached, &persistent, &end);
    end
}

/// Queues one message from the pipe in the session. A SUB/XSUB's
/// subscriptions become commands to a 3.1 peer, 0x01/0x00 messages to a 3.0 one.
fn to_session(session: &mut Session, msg: &Msg, subscriber: bool) -> monocoque_zmtp::Result<()> {
    match subscription_of(msg) {
        Some((true, topic)) if subscriber => session.subscribe(topic),
        Some((false, topic)) if subscriber => session.cancel(topic),
        _ => session.send(msg),
    }
}

/// Sends what the socket says first to every new peer (subscriptions, the
/// XPUB welcome), ahead of anything queued.
fn greet(shared: &SocketShared, session: &mut Session) {
    let greeting = match shared.core.try_borrow() {
        Ok(core) => greeting_messages(&core),
        // Tasks never run while a socket call holds the core (calls do not
        // await with it borrowed), so this does not happen.
        Err(_) => {
            tracing::error!("socket state busy at handshake; subscriptions not sent");
            return;
        }
    };
    for msg in greeting {
        if let Err(e) = to_session(session, &msg, shared.kind.is_subscriber()) {
            tracing::debug!(error = %e, "greeting message not sent");
        }
    }
}

fn lost(attached: &Option<Attached>, reason: String) -> EngineEnd {
    if attached.is_some() {
        EngineEnd::Disconnected(reason)
    } else {
        EngineEnd::HandshakeFailed(reason)
    }
}

/// The handshake succeeded: give the socket the pipe (a new one for accepted
/// connections and IMMEDIATE, the persistent one otherwise).
fn attach(
    shared: &Rc<SocketShared>,
    endpoint: &str,
    remote: &Option<String>,
    persistent: &Option<PersistentPipe>,
    info: monocoque_zmtp::PeerInfo,
    shape: &PipeShape,
) -> Attached {
    tracing::debug!(%endpoint, peer_type = %info.socket_type, "handshake succeeded");
    shared
        .monitor
        .borrow()
        .post(MonitorEvent::HandshakeSucceeded {
            endpoint: endpoint.to_string(),
        });
    let signals = Rc::downgrade(&shared.signals);
    match persistent {
        Some(p) => {
            p.inbound.borrow_mut().writer = Notify::Task(None);
            p.outbound.borrow_mut().reader = Notify::Task(None);
            shared.signals.event(PipeEvent::Connected {
                peer: p.peer,
                identity: info.identity.clone(),
                socket_type: info.socket_type,
                inproc_peer: None,
            });
            Attached {
                peer: p.peer,
                inbound: p.inbound.clone(),
                outbound: p.outbound.clone(),
            }
        }
        None => {
            let peer = shared.allocate_peer();
            let inbound = Queue::new(shape.rcvhwm);
            let outbound = Queue::new(shape.sndhwm);
            {
                let mut i = inbound.borrow_mut();
                i.set_conflate(shape.conflate_in);
                i.reader = Notify::Socket {
                    signals: signals.clone(),
                    peer,
                };
                i.writer = Notify::Task(None);
                let mut o = outbound.borrow_mut();
                o.set_conflate(shape.conflate_out);
                o.writer = Notify::Socket { signals, peer };
                o.reader = Notify::Task(None);
            }
            shared.signals.event(PipeEvent::Attached(Pipe {
                peer,
                inbound: inbound.clone(),
                outbound: outbound.clone(),
                identity: info.identity.clone(),
                peer_type: Some(info.socket_type),
                connected: true,
                endpoint: endpoint.to_string(),
                remote: remote.clone(),
                inproc_peer: None,
            }));
            Attached {
                peer,
                inbound,
                outbound,
            }
        }
    }
}

/// The connection is over: tell the socket and the monitor.
fn finish(
    shared: &Rc<SocketShared>,
    endpoint: &str,
    remote: Option<String>,
    attached: Option<Attached>,
    persistent: &Option<PersistentPipe>,
    end: &EngineEnd,
) {
    if let Some(a) = attached {
        if persistent.is_some() {
            a.inbound.borrow_mut().writer = Notify::Nobody;
            a.outbound.borrow_mut().reader = Notify::Nobody;
            shared.signals.event(PipeEvent::Disconnected(a.peer));
        } else {
            a.inbound.borrow_mut().close_writer();
            a.outbound.borrow_mut().close_reader();
            shared.signals.event(PipeEvent::Detached(a.peer));
        }
    }
    let endpoint = endpoint.to_string();
    // Accepted connections are named by the peer's address too: the
    // endpoint alone is the same for every peer of a bind.
    let remote = remote.as_deref().unwrap_or("-");
    match end {
        EngineEnd::HandshakeFailed(reason) => {
            if let Some(suppressed) = log_limit::HANDSHAKE_FAILED.admit() {
                tracing::warn!(%endpoint, %remote, %reason, suppressed, "handshake failed; connection closed");
            }
            shared.monitor.borrow().post(MonitorEvent::HandshakeFailed {
                endpoint,
                reason: reason.clone(),
            });
        }
        EngineEnd::Disconnected(reason) => {
            if let Some(suppressed) = log_limit::DISCONNECTED.admit() {
                tracing::info!(%endpoint, %remote, %reason, suppressed, "connection closed");
            }
            shared.monitor.borrow().post(MonitorEvent::Disconnected {
                endpoint,
                reason: reason.clone(),
            });
        }
        EngineEnd::Released => {}
    }
}
