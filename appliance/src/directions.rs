//! Which way a socket type carries messages, for a service's pumps, a
//! bridge's check and `cat`'s loop.

use monocoque_zmtp::SocketType;

/// Whether `recv` means anything on the type (PUB and PUSH only send).
pub fn can_receive(t: SocketType) -> bool {
    !matches!(t, SocketType::Pub | SocketType::Push)
}

/// Whether `send` means anything on the type (SUB and PULL only receive).
pub fn can_send(t: SocketType) -> bool {
    !matches!(t, SocketType::Sub | SocketType::Pull)
}
