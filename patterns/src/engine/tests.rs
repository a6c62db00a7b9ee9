//! The engine alone, over an in-memory stream, with a ZMTP session as the
//! peer and a recording owner: no sockets, no kernel.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::io;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Instant;

use bytes::Bytes;
use monocoque_runtime::{spawn, JoinHandle, Runtime};
use monocoque_zmtp::{Event, Msg, Session, SessionConfig, SocketType};

use super::stream::Stream;
use super::*;
use crate::lifecycle::Lifecycle;
use crate::pipe::{PipeShape, Signals};
use crate::PeerId;

/// Both directions of an in-memory connection.
#[derive(Default)]
struct Wire {
    to_engine: VecDeque<Bytes>,
    /// The peer hung up: the engine reads end of stream after what is queued.
    peer_closed: bool,
    from_engine: VecDeque<Bytes>,
    engine_waker: Option<Waker>,
    peer_waker: Option<Waker>,
}

struct MemoryStream(Rc<RefCell<Wire>>);

impl Stream for MemoryStream {
    fn recv_bytes(&self) -> impl Future<Output = io::Result<Bytes>> + '_ {
        poll_fn(move |cx| {
            let mut w = self.0.borrow_mut();
            if let Some(b) = w.to_engine.pop_front() {
                Poll::Ready(Ok(b))
            } else if w.peer_closed {
                Poll::Ready(Ok(Bytes::new()))
            } else {
                w.engine_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }

    fn write_chunks(&self, chunks: Vec<Bytes>) -> impl Future<Output = io::Result<()>> + '_ {
        let mut w = self.0.borrow_mut();
        w.from_engine.extend(chunks);
        if let Some(waker) = w.peer_waker.take() {
            waker.wake();
        }
        std::future::ready(Ok(()))
    }

    fn remote_address(&self) -> Option<String> {
        Some("memory".into())
    }
    fn source_fd(&self) -> Option<std::os::fd::RawFd> {
        None
    }
}

/// An owner that records what it is told.
#[derive(Default)]
struct Recorder {
    lifecycle: Lifecycle,
    greeting: Vec<Msg>,
    events: RefCell<Vec<EngineEvent>>,
    waker: RefCell<Option<Waker>>,
}

impl EngineOwner for Recorder {
    fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }
    fn greeting(&self) -> Vec<Msg> {
        self.greeting.clone()
    }
    fn report(&self, event: EngineEvent) {
        self.events.borrow_mut().push(event);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
    fn admit(
        &self,
        _request: crate::admission::ZapRequest,
        _policy: &crate::admission::AdmissionPolicy,
    ) -> super::Verdict {
        super::Verdict::Now(monocoque_zmtp::AuthDecision::accept(None))
    }
}

impl Recorder {
    /// Waits for the engine's `Attached` event and takes its pipe.
    async fn attached(&self) -> Pipe {
        poll_fn(|cx| match self.take_pipe() {
            Some(p) => Poll::Ready(p),
            None => {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    /// The pipe of the `Attached` event, if there is one.
    fn take_pipe(&self) -> Option<Pipe> {
        let mut events = self.events.borrow_mut();
        let i = events
            .iter()
            .position(|e| matches!(e, EngineEvent::Attached(_)))?;
        match events.remove(i) {
            EngineEvent::Attached(p) => Some(p),
            _ => None,
        }
    }
}

/// The test's side of the wire: a ZMTP session fed from and into it.
struct Peer {
    wire: Rc<RefCell<Wire>>,
    session: Session,
}

impl Peer {
    /// Moves bytes both ways until the peer's session has an event.
    async fn next_event(&mut self) -> Event {
        poll_fn(|cx| loop {
            // Decoding is what makes the session answer (its READY comes
            // out of the poll that reports the handshake): what it wrote goes
            // out even alongside an event.
            let event = self.session.poll_event();
            self.flush();
            if let Some(e) = event {
                return Poll::Ready(e);
            }
            let mut w = self.wire.borrow_mut();
            let mut moved = false;
            while let Some(b) = w.from_engine.pop_front() {
                self.session.handle_input(b, Instant::now());
                moved = true;
            }
            if !moved {
                w.peer_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
        })
        .await
    }

    /// Sends what the session has queued, without waiting for an answer.
    fn flush(&mut self) {
        if !self.session.wants_write() {
            return;
        }
        let mut w = self.wire.borrow_mut();
        w.to_engine.extend(self.session.transmit().take_chunks());
        if let Some(waker) = w.engine_waker.take() {
            waker.wake();
        }
    }

    fn hang_up(&mut self) {
        let mut w = self.wire.borrow_mut();
        w.peer_closed = true;
        if let Some(waker) = w.engine_waker.take() {
            waker.wake();
        }
    }
}

fn shape(hwm: usize) -> PipeShape {
    PipeShape {
        sndhwm: hwm,
        rcvhwm: hwm,
        conflate_in: false,
        conflate_out: false,
    }
}

/// Spawns an engine of `ours` (a fresh pipe of `hwm`) beside a peer session of `theirs`.
fn start(
    ours: SocketType,
    theirs: SocketType,
    hwm: usize,
    owner: Rc<Recorder>,
) -> (JoinHandle<EngineEnd>, Peer, Rc<Signals>) {
    let wire = Rc::new(RefCell::new(Wire::default()));
    let signals = Rc::new(Signals::default());
    let setup = EngineSetup {
        endpoint: "tcp://memory:1".into(),
        session: Ok(SessionConfig::new(ours)),
        pipe: PipePlan::Fresh {
            peer: PeerId(7),
            shape: shape(hwm),
            signals: signals.clone(),
        },
        probe_router: false,
        zap: super::ZapFacts {
            domain: bytes::Bytes::new(),
            identity: bytes::Bytes::new(),
            policy: crate::admission::AdmissionPolicy::NotAsked,
        },
        peer_routing_id: None,
        raw: false,
    };
    let engine = spawn(run(MemoryStream(wire.clone()), setup, owner));
    let session = Session::new(SessionConfig::new(theirs), Instant::now()).unwrap();
    (engine, Peer { wire, session }, signals)
}

/// Waits until the owner's end of `pipe` has a message to read.
async fn inbound_ready(signals: &Signals, pipe: &Pipe) {
    poll_fn(|cx| {
        signals.register_recv(cx.waker());
        if pipe.inbound.borrow().is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await
}

fn runtime() -> Runtime {
    Runtime::builder().build().unwrap()
}

#[test]
fn messages_flow_both_ways_and_a_hang_up_is_reported() {
    runtime().block_on(async {
        let owner = Rc::new(Recorder::default());
        let (engine, mut peer, signals) =
            start(SocketType::Dealer, SocketType::Router, 10, owner.clone());
        assert!(matches!(
            peer.next_event().await,
            Event::HandshakeSucceeded(_)
        ));
        let pipe = owner.attached().await;
        assert_eq!(pipe.peer, PeerId(7));
        assert_eq!(pipe.peer_type, Some(SocketType::Router));
        assert_eq!(pipe.remote.as_deref(), Some("memory"));

        // Owner to peer.
        pipe.outbound.borrow_mut().push(Msg::from(["", "hello"]));
        match peer.next_event().await {
            Event::Message(m) => assert_eq!(&m[1][..], b"hello"),
            other => panic!("expected the message, got {other:?}"),
        }
        // Peer to owner: the socket end learns of it through its signals.
        peer.session.send(&Msg::from(["", "back"])).unwrap();
        peer.flush();
        inbound_ready(&signals, &pipe).await;
        assert_eq!(&pipe.inbound.borrow_mut().pop().unwrap()[1][..], b"back");

        peer.hang_up();
        let end = engine.await;
        assert_eq!(end, EngineEnd::Disconnected(CloseReason::PeerClosed));
        assert!(
            pipe.inbound.borrow().writer_gone(),
            "the owner sees the end"
        );
        assert!(matches!(
            owner.events.borrow().last(),
            Some(EngineEvent::Ended {
                pipe: Some(PeerId(7)),
                persistent: false,
                ..
            })
        ));
    });
}

/// A ZMTP 3.1 greeting (NULL, as client) and a READY saying `socket_type`,
/// written out by hand: the peer the engine must refuse.
fn raw_greeting_and_ready(socket_type: &str) -> Bytes {
    let mut b = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 1];
    b.extend_from_slice(b"NULL");
    b.resize(64, 0);
    let mut body = vec![5];
    body.extend_from_slice(b"READY");
    body.push(11);
    body.extend_from_slice(b"Socket-Type");
    body.extend_from_slice(&(socket_type.len() as u32).to_be_bytes());
    body.extend_from_slice(socket_type.as_bytes());
    b.push(0x04);
    b.push(body.len() as u8);
    b.extend_from_slice(&body);
    Bytes::from(b)
}

#[test]
fn a_refused_handshake_is_reported_with_its_typed_reason() {
    runtime().block_on(async {
        let owner = Rc::new(Recorder::default());
        let (engine, peer, _signals) = start(SocketType::Push, SocketType::Push, 10, owner.clone());
        // The peer's bytes, all at once: the engine reads its READY and refuses.
        peer.wire
            .borrow_mut()
            .to_engine
            .push_back(raw_greeting_and_ready("PUSH"));
        match engine.await {
            EngineEnd::HandshakeFailed(CloseReason::Protocol(
                monocoque_zmtp::Error::IncompatibleSocketType { .. },
            )) => {}
            other => panic!("expected an incompatible socket type, got {other:?}"),
        }
        assert!(owner.take_pipe().is_none(), "no pipe without a handshake");
        assert!(matches!(
            owner.events.borrow().last(),
            Some(EngineEvent::Ended { pipe: None, .. })
        ));
    });
}

#[test]
fn the_greeting_goes_first_as_subscribe_commands() {
    runtime().block_on(async {
        let owner = Rc::new(Recorder {
            greeting: vec![crate::subscription::subscription_msg(true, b"EUR")],
            ..Recorder::default()
        });
        let (engine, mut peer, _signals) =
            start(SocketType::Sub, SocketType::Pub, 10, owner.clone());
        assert!(matches!(
            peer.next_event().await,
            Event::HandshakeSucceeded(_)
        ));
        match peer.next_event().await {
            Event::Subscribe(topic) => assert_eq!(&topic[..], b"EUR"),
            other => panic!("expected the subscription, got {other:?}"),
        }
        peer.hang_up();
        engine.await;
    });
}

#[test]
fn a_full_inbound_queue_holds_the_rest_until_the_owner_reads() {
    runtime().block_on(async {
        let owner = Rc::new(Recorder::default());
        let (engine, mut peer, signals) =
            start(SocketType::Pull, SocketType::Push, 1, owner.clone());
        assert!(matches!(
            peer.next_event().await,
            Event::HandshakeSucceeded(_)
        ));
        let pipe = owner.attached().await;
        for i in 0..3u8 {
            peer.session
                .send(&Msg::from(vec![Bytes::from(vec![i])]))
                .unwrap();
        }
        peer.flush();
        let mut got = Vec::new();
        while got.len() < 3 {
            inbound_ready(&signals, &pipe).await;
            // RCVHWM 1: never more than one queued (the engine holds the next).
            assert_eq!(pipe.inbound.borrow().len(), 1);
            got.push(pipe.inbound.borrow_mut().pop().unwrap()[0][0]);
        }
        assert_eq!(got, vec![0, 1, 2], "in order, none lost");
        // The owner lets go: the engine ends without an error.
        pipe.inbound.borrow_mut().close_reader();
        pipe.outbound.borrow_mut().close_writer();
        assert_eq!(engine.await, EngineEnd::Released);
    });
}

#[test]
fn a_flooding_peer_lets_the_threads_other_tasks_run_between_polls() {
    // The in-memory stream, like epoll, completes a read at once while data
    // waits: one poll must not decode the whole flood, and the engine's next
    // poll goes behind tasks other threads woke (an application's command).
    runtime().block_on(async {
        let owner = Rc::new(Recorder::default());
        let (engine, mut peer, signals) =
            start(SocketType::Pull, SocketType::Push, 100_000, owner.clone());
        assert!(matches!(
            peer.next_event().await,
            Event::HandshakeSucceeded(_)
        ));
        let pipe = owner.attached().await;
        let (mut tx, mut rx) = monocoque_runtime::spsc::channel::<()>(1);
        let wire = peer.wire.clone();
        let other = spawn(async move {
            rx.recv().await;
            wire.borrow().to_engine.len()
        });
        // `other` runs and waits on its ring.
        monocoque_runtime::yield_now().await;
        const FLOOD: u32 = 1_000;
        for i in 0..FLOOD {
            peer.session
                .send(&Msg::from(vec![Bytes::from(i.to_be_bytes().to_vec())]))
                .unwrap();
            peer.flush();
        }
        // Woken from another thread while the engine is queued here.
        std::thread::spawn(move || tx.send_blocking(()).unwrap())
            .join()
            .unwrap();
        let left = other.await;
        assert!(
            left > 0,
            "the engine read the whole flood before the other task ran"
        );
        // All of it still arrives, in order.
        let mut next = 0u32;
        while next < FLOOD {
            inbound_ready(&signals, &pipe).await;
            while let Some(m) = pipe.inbound.borrow_mut().pop() {
                assert_eq!(&m[0][..], &next.to_be_bytes());
                next += 1;
            }
        }
        pipe.inbound.borrow_mut().close_reader();
        pipe.outbound.borrow_mut().close_writer();
        assert_eq!(engine.await, EngineEnd::Released);
    });
}
