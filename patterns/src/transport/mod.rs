//! How pipes reach peers: tcp and ipc through an engine per connection
//! (`network`), inproc directly between sockets (`inproc`). Both see the
//! socket only as a [`SocketHost`](crate::host::SocketHost).

pub(crate) mod inproc;
pub(crate) mod ipc_wildcard;
pub(crate) mod network;
pub(crate) mod reconnect;
pub(crate) mod socks_client;
pub(crate) mod tcp_address;
