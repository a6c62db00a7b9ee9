//! CURVE (RFC 26, CurveZMQ): encrypted and authenticated connections, as
//! libzmq 4.3 speaks them.
//!
//! ```text
//!   client                                         server
//!   HELLO     C', Box[0 x 64](C' -> S)      ──▶
//!             ◀──  WELCOME   Box[S' + cookie](S -> C')
//!   INITIATE  cookie, Box[C + vouch + metadata](C' -> S')  ──▶
//!             ◀──  READY     Box[metadata](S' -> C')     (or ERROR, in clear)
//!   MESSAGE   Box[flags + frame](C' -> S')  ◀──▶  MESSAGE Box[flags + frame](S' -> C')
//! ```
//! C, S are the long-term keys, C', S' the per-connection ones. The client
//! must know S; the server learns C inside INITIATE and may refuse it. Each
//! command has its own file; [`CurveClient`] and [`CurveServer`] are the two
//! state machines and `message.rs` the codec that boxes every frame after the
//! handshake. The cryptography is RustCrypto's `crypto_box` and
//! `crypto_secretbox` (X25519, XSalsa20-Poly1305, NaCl's layout); nothing of
//! it is written here.

mod client;
mod cryptobox;
mod hello;
mod initiate;
mod keys;
mod message;
mod ready;
mod server;
mod welcome;

pub use client::CurveClient;
pub use keys::{CurveKeyPair, CurvePublicKey, CurveSecretKey, KeyError, KEY_LEN, KEY_Z85_LEN};
pub use server::CurveServer;
