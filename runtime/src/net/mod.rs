//! Sockets whose IO runs on the current reactor's driver.

mod sockaddr;
mod socket;
mod sys;
mod tcp_listener;
mod tcp_stream;

pub use tcp_listener::TcpListener;
pub use tcp_stream::TcpStream;
