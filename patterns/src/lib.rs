//! # monocoque-patterns
//!
//! The ZeroMQ socket types, built from routing strategies that are plain data
//! structures (no IO, no clock): [`strategy::LoadBalancer`], [`strategy::FairQueue`],
//! [`strategy::RoutingTable`], [`strategy::ReqState`], [`strategy::RepState`].
//! The sockets that drive them over the runtime arrive with issue #4.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod peer_id;
pub mod strategy;

pub use error::{Error, Result};
pub use peer_id::PeerId;
