//! # Monocoque
//!
//! A ZeroMQ stack for dedicated low-latency boxes. It speaks ZMTP 3.1 on the wire
//! (with 3.0 fallback), so libzmq, pyzmq and zmq.rs peers work with it unchanged.
//!
//! This crate is the public facade over the layers: [`Socket`] (from
//! [`patterns`]) for REQ, REP, DEALER, ROUTER, PUSH, PULL, PAIR, PUB, SUB, XPUB
//! and XSUB over tcp, ipc and inproc, with [`proxy`] for forwarders and brokers,
//! on a [`Runtime`] (from [`runtime`]) that owns one thread; the
//! blocking [`Context`] whose sockets work from any thread; and the sans-IO
//! protocol layer, [`zmtp`]. Socket calls fail with [`Error`] ([`Result`] for
//! short); [`spawn`] starts a task beside the current one on the thread's
//! runtime.
//!
//! ```
//! use monocoque::{Runtime, Socket, SocketType};
//! let rt = Runtime::builder().build()?;
//! rt.block_on(async {
//!     let rep = Socket::new(SocketType::Rep)?;
//!     rep.bind("inproc://hello")?;
//!     let req = Socket::new(SocketType::Req)?;
//!     req.connect("inproc://hello")?;
//!     req.send("hello").await?;
//!     let request = rep.recv().await?;
//!     rep.send(request).await?;
//!     assert_eq!(&req.recv().await?[0][..], b"hello");
//!     Ok::<(), monocoque::Error>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The blocking API, from any thread, as with the `zmq` crate:
//!
//! ```
//! use monocoque::{Context, SocketType};
//! let ctx = Context::new()?;
//! let rep = ctx.socket(SocketType::Rep)?;
//! rep.bind("inproc://hello")?;
//! let req = ctx.socket(SocketType::Req)?;
//! req.connect("inproc://hello")?;
//! req.send("hello")?;
//! rep.send(rep.recv()?)?;
//! assert_eq!(&req.recv()?[0][..], b"hello");
//! # Ok::<(), monocoque::Error>(())
//! ```
//!
//! Encrypted with CURVE, as libzmq's CURVE_SERVER, CURVE_SECRETKEY and
//! CURVE_SERVERKEY (keys as Z85 text or 32 bytes):
//!
//! ```
//! use monocoque::{CurveKeyPair, Runtime, Socket, SocketOption, SocketType};
//! let server_keys = CurveKeyPair::generate();
//! let rt = Runtime::builder().build()?;
//! rt.block_on(async {
//!     let rep = Socket::new(SocketType::Rep)?;
//!     rep.set_option(SocketOption::CurveServer(true))?;
//!     rep.set_option(SocketOption::CurveSecretKey(server_keys.secret.clone()))?;
//!     rep.bind("tcp://127.0.0.1:0")?;
//!     let req = Socket::new(SocketType::Req)?;
//!     req.set_option(SocketOption::CurveServerKey(server_keys.public))?;
//!     req.set_option(SocketOption::CurveSecretKey(CurveKeyPair::generate().secret))?;
//!     req.connect(&rep.last_endpoint().unwrap())?;
//!     req.send("hello").await?;
//!     rep.send(rep.recv().await?).await?;
//!     assert_eq!(&req.recv().await?[0][..], b"hello");
//!     Ok::<(), monocoque::Error>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The protocol layer alone, two sessions talking in memory:
//!
//! ```
//! use std::time::Instant;
//! use monocoque::{Event, Msg, Session, SessionConfig, SocketType};
//!
//! let now = Instant::now();
//! let mut client = Session::new(SessionConfig::new(SocketType::Req), now)?;
//! let mut server = Session::new(SessionConfig::new(SocketType::Rep), now)?;
//! // The greeting in three stages (signature, revision, rest), then READY, each way.
//! for _ in 0..4 {
//!     let (c, s) = (client.transmit().take_all(), server.transmit().take_all());
//!     server.handle_input(c, now);
//!     client.handle_input(s, now);
//!     while client.poll_event().is_some() {}
//!     while server.poll_event().is_some() {}
//! }
//! client.send(&Msg::from(["", "hello"]))?;
//! server.handle_input(client.transmit().take_all(), now);
//! assert_eq!(server.poll_event(), Some(Event::Message(Msg::from(["", "hello"]))));
//! # Ok::<(), monocoque::zmtp::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use bytes::{self, Bytes};
pub use monocoque_patterns as patterns;
// `Error` and `Result` at the top are the sockets', the ones most code
// handles; the runtime's and the protocol layer's keep their modules' names
// (`runtime::Error`, `zmtp::Error`) so that none is shadowed.
pub use monocoque_patterns::{
    blocking_proxy, blocking_proxy_steerable, poll, proxy, proxy_steerable, recv_any,
    BlockingMonitor, BlockingSocket, Context, Error, Events, IoCoreStatistics, IoCores, Monitor,
    MonitorEvent, PeerProperties, PollItem, ProxyStatistics, Result, Socket, SocketOption,
};
pub use monocoque_runtime as runtime;
pub use monocoque_runtime::{spawn, JoinHandle, Runtime, RuntimeBuilder, WaitStrategy};
pub use monocoque_zmtp as zmtp;
pub use monocoque_zmtp::mechanism::{CurveKeyPair, CurvePublicKey, CurveSecretKey};
pub use monocoque_zmtp::{
    AuthDecision, Authenticator, Credentials, Event, MechanismConfig, Msg, PeerInfo, Session,
    SessionConfig, SocketType,
};
