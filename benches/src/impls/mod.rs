//! One module per implementation, each with the same ends: `lat`, `thr` and `peer`.

pub mod libzmq;
pub mod monocoque;
pub mod raw;
