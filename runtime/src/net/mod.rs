//! Sockets whose IO runs on the current reactor's driver. They deal in
//! descriptors, addresses and buffers; each operation is one method call on the
//! socket's `io::Source`, which picks the driver's path (see `io/`).

mod interfaces;
mod peer_credentials;
mod stream_io;
mod tcp_listener;
mod tcp_stream;
mod tcp_tuning;
mod unix;

pub use interfaces::interface_addresses;
pub use peer_credentials::PeerCredentials;
pub use tcp_listener::TcpListener;
pub use tcp_stream::{Keepalive, TcpStream};
pub use tcp_tuning::{check_busy_poll, TcpTuning};
pub use unix::{UnixListener, UnixStream};
