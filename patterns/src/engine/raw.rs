//! The STREAM socket's engine: a connection's raw bytes, no ZMTP (libzmq's
//! raw engine).
//!
//! ```text
//!   stream.recv ─▶ one message per read ─▶ pipe.inbound ─▶ the socket adds [routing id]
//!   the socket takes [routing id] off ─▶ pipe.outbound ─▶ stream.write
//!                                        a zero-length message: flush, then close
//! ```
//!
//! There is no handshake: the pipe is attached at once, and the socket
//! reports the connection (STREAM_NOTIFY). Each turn runs four phases, in
//! this order, until none makes progress:
//!
//! 1. **deliver** ([`RawEngine::drive_deliver`]): a read held for room goes
//!    to the inbound queue (RCVHWM);
//! 2. **write** ([`RawEngine::drive_write`]): queued messages leave in one
//!    gathered write, up to [`WRITE_BATCH_BYTES`]; after a zero-length
//!    message nothing more is taken, and once what came before it is
//!    written the connection ends;
//! 3. **release**: has the owner let go of the pipe, or its linger run out?
//! 4. **read** ([`RawEngine::drive_read`]) unless a read waits for room:
//!    at RCVHWM the engine stops reading, and TCP pushes back on the peer.

use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use monocoque_zmtp::Msg;

use super::io_slots::StreamOps;
use super::stream::Stream;
use super::{
    drive, offer, report_end, Driven, EngineEnd, EngineEvent, EngineOwner, EngineSetup, PipePlan,
    WRITE_BATCH_BYTES,
};
use crate::close_reason::CloseReason;
use crate::pipe::{FarEnd, Notify, Pipe};
use crate::PeerProperties;

/// Runs one raw connection to its end, reporting to `owner` as it goes.
pub(crate) async fn run<S: Stream>(
    stream: S,
    setup: EngineSetup,
    owner: Rc<dyn EngineOwner>,
) -> EngineEnd {
    let remote = stream.remote_address();
    let mut engine = RawEngine::attach(setup, owner.clone(), remote, stream.source_fd());
    let end = drive(&stream, &mut engine).await;
    engine.finish(end)
}

/// One raw connection between turns.
pub(crate) struct RawEngine {
    owner: Rc<dyn EngineOwner>,
    endpoint: String,
    remote: Option<String>,
    lifecycle_key: u64,
    far: FarEnd,
    /// The pipe outlives this connection (made at connect).
    persistent: bool,
    /// A read waiting for room in the inbound queue.
    held: Option<Msg>,
    /// A zero-length message was taken: close once the write before it ends.
    closing: bool,
}

impl RawEngine {
    /// Makes the pipe and hands the owner its end, or takes up the pipe the
    /// socket made at connect: a STREAM connect with CONNECT_ROUTING_ID is
    /// routable before its connection is made (as in libzmq), so its pipe
    /// exists first and outlives each connection, as a ZMTP connecter's.
    fn attach(
        setup: EngineSetup,
        owner: Rc<dyn EngineOwner>,
        remote: Option<String>,
        source_fd: Option<std::os::fd::RawFd>,
    ) -> RawEngine {
        let identity = setup.peer_routing_id.unwrap_or_default();
        let properties = Arc::new(PeerProperties::raw(
            remote.as_deref(),
            identity.clone(),
            source_fd,
        ));
        let (far, persistent) = match setup.pipe {
            PipePlan::Fresh {
                peer,
                shape,
                signals,
            } => {
                let mut pipe = Pipe::new(peer, shape, &signals, &setup.endpoint);
                pipe.inbound.borrow_mut().writer = Notify::Task(None);
                pipe.outbound.borrow_mut().reader = Notify::Task(None);
                pipe.properties = Some(properties);
                pipe.identity = identity;
                pipe.connected = true;
                pipe.remote = remote.clone();
                let far = pipe.far_end();
                owner.report(EngineEvent::Attached(pipe));
                (far, false)
            }
            PipePlan::Persistent(far) => {
                far.inbound.borrow_mut().writer = Notify::Task(None);
                far.outbound.borrow_mut().reader = Notify::Task(None);
                owner.report(EngineEvent::Reattached {
                    peer: far.peer,
                    remote: remote.clone(),
                    properties,
                    identity,
                    socket_type: None,
                    endpoint: setup.endpoint.clone(),
                });
                (far, true)
            }
        };
        let lifecycle_key = owner.lifecycle().task_key();
        RawEngine {
            owner,
            endpoint: setup.endpoint,
            remote,
            lifecycle_key,
            far,
            persistent,
            held: None,
            closing: false,
        }
    }

    /// Phase 1: the held read into the inbound queue, if it has room.
    fn drive_deliver(&mut self, cx: &mut Context<'_>) -> Result<bool, EngineEnd> {
        let Some(msg) = self.held.take() else {
            return Ok(false);
        };
        self.held = offer(&self.far, msg, cx)?;
        Ok(self.held.is_none())
    }

    /// Phase 2: queued messages out in one gathered write; the write in
    /// flight polled.
    fn drive_write(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut impl StreamOps,
    ) -> Result<bool, EngineEnd> {
        if !io.writing() && !self.closing {
            let mut chunks: Vec<Bytes> = Vec::new();
            let mut bytes = 0;
            let mut q = self.far.outbound.borrow_mut();
            while bytes < WRITE_BATCH_BYTES {
                let Some(msg) = q.pop() else { break };
                if msg.byte_len() == 0 {
                    self.closing = true;
                    break;
                }
                bytes += msg.byte_len();
                chunks.extend(msg.into_frames().into_iter().filter(|f| !f.is_empty()));
            }
            q.reader.register(cx.waker());
            drop(q);
            if !chunks.is_empty() {
                io.start_write(chunks);
            }
        }
        if !io.writing() {
            if self.closing {
                return Err(EngineEnd::Released);
            }
            return Ok(false);
        }
        match io.poll_write(cx) {
            Poll::Ready(Ok(())) => Ok(true),
            Poll::Ready(Err(e)) => Err(EngineEnd::Disconnected(CloseReason::write(&e))),
            Poll::Pending => Ok(false),
        }
    }

    /// Phase 3: ends the connection once the owner let go of the pipe (and
    /// what was queued to it is written), or its linger ran out.
    fn drive_release(&self, io: &impl StreamOps) -> Result<(), EngineEnd> {
        let lifecycle = self.owner.lifecycle();
        let out = self.far.outbound.borrow();
        if out.writer_gone() && out.is_empty() && !io.writing() {
            return Err(EngineEnd::Released);
        }
        if self.far.inbound.borrow().reader_gone() && !lifecycle.is_closing() {
            return Err(EngineEnd::Released);
        }
        if lifecycle.is_closing() && lifecycle.expired(Instant::now()) {
            return Err(EngineEnd::Released);
        }
        Ok(())
    }

    /// Phase 4: one read, one message, unless a read waits for room.
    fn drive_read(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut impl StreamOps,
    ) -> Result<bool, EngineEnd> {
        if self.held.is_some() {
            return Ok(false);
        }
        match io.poll_read(cx) {
            Poll::Ready(Ok(data)) if data.is_empty() => {
                Err(EngineEnd::Disconnected(CloseReason::PeerClosed))
            }
            Poll::Ready(Ok(data)) => {
                self.held = Some(Msg::from(data));
                Ok(true)
            }
            Poll::Ready(Err(e)) => Err(EngineEnd::Disconnected(CloseReason::read(&e))),
            Poll::Pending => Ok(false),
        }
    }

    fn finish(self, end: EngineEnd) -> EngineEnd {
        report_end(
            &*self.owner,
            self.lifecycle_key,
            (self.endpoint, self.remote),
            // A close the socket asked for ends the pipe too.
            Some((self.far, self.persistent && !self.closing)),
            end,
        )
    }
}

impl Driven for RawEngine {
    fn register(&self, cx: &mut Context<'_>) {
        self.owner
            .lifecycle()
            .register(self.lifecycle_key, cx.waker());
    }

    fn turn(&mut self, cx: &mut Context<'_>, io: &mut impl StreamOps) -> Result<bool, EngineEnd> {
        let mut progress = self.drive_deliver(cx)?;
        progress |= self.drive_write(cx, io)?;
        self.drive_release(io)?;
        progress |= self.drive_read(cx, io)?;
        Ok(progress)
    }
}
