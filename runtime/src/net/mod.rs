//! Sockets whose IO runs on the current reactor's driver.

mod sockaddr;
mod socket;
mod stream_io;
mod sys;
mod tcp_listener;
mod tcp_stream;
mod unix;

pub use tcp_listener::TcpListener;
pub use tcp_stream::{Keepalive, TcpStream};
pub use unix::{UnixListener, UnixStream};
