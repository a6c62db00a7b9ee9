//! How pipes reach peers: tcp and ipc through an engine per connection, inproc
//! directly between sockets.

pub(crate) mod engine;
pub(crate) mod inproc;
pub(crate) mod network;
pub(crate) mod reconnect;
pub(crate) mod stream;
