//! # monocoque-patterns
//!
//! The ZeroMQ socket types on Monocoque's runtime: [`Socket`] (async, owned by
//! one reactor thread) with REQ, REP, DEALER, ROUTER, PUSH, PULL and PAIR
//! semantics, over tcp, ipc and inproc, with libzmq's options
//! ([`SocketOption`]) and monitor events ([`Monitor`]); and the blocking API
//! on top of it, a [`Context`] whose [`BlockingSocket`]s work from any thread.
//!
//! The rules themselves are plain data structures (no IO, no clock), tested
//! alone: [`strategy::LoadBalancer`], [`strategy::FairQueue`],
//! [`strategy::RoutingTable`], [`strategy::ReqState`], [`strategy::RepState`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod accept_filter;
mod admission;
mod close_reason;
mod context;
mod curve_settings;
mod endpoint;
mod engine;
mod error;
mod events;
mod fanout;
mod handshake_failure;
mod host;
mod ipc_filter;
mod lifecycle;
mod listening_fd;
mod log_limit;
mod monitor;
mod options;
mod peer_id;
mod peer_properties;
mod pipe;
mod proxy;
mod select;
mod socket;
mod socks_proxy;
pub mod strategy;
mod subscription;
mod transport;
mod waker_set;

pub use accept_filter::AcceptFilter;
pub use close_reason::CloseReason;
pub use context::{
    blocking_proxy, blocking_proxy_steerable, poll, BlockingMonitor, BlockingSocket, Context,
    PollItem, CONTEXT_RECV_BUFFERS, CONTEXT_RECV_BUFFERS_LENT, CONTEXT_RECV_BUFFER_SIZE,
    CONTEXT_SPIN_BEFORE_PARK,
};
pub use endpoint::{Endpoint, IPC_PATH_TOO_LONG};
pub use error::{Error, Result};
pub use events::Events;
pub use fanout::{IoCoreStatistics, IoCores};
pub use handshake_failure::{
    protocol_error, HandshakeFailure, EVENT_HANDSHAKE_FAILED_AUTH,
    EVENT_HANDSHAKE_FAILED_NO_DETAIL, EVENT_HANDSHAKE_FAILED_PROTOCOL,
};
pub use listening_fd::ListeningFd;
pub use monitor::{Monitor, MonitorEvent, MONITOR_CAPACITY};
pub use options::{
    Options, SocketOption, RECONNECT_STOP_AFTER_DISCONNECT, RECONNECT_STOP_CONN_REFUSED,
    RECONNECT_STOP_HANDSHAKE_FAILED,
};
pub use peer_id::PeerId;
pub use peer_properties::PeerProperties;
pub use proxy::{proxy, proxy_steerable, ProxyStatistics, SideStatistics};
pub use select::recv_any;
pub use socket::Socket;
pub use transport::tcp_address::bind_address as tcp_bind_address;
