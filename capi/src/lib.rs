//! libzmq's C ABI on Monocoque: `libzmq.so` with soname `libzmq.so.5`, and
//! `include/zmq.h` declaring what it implements.
//!
//! Every entry point is an `extern "C"` function in one of the modules below,
//! grouped as libzmq's manual groups them. Each runs its body through
//! `boundary::guarded`, so nothing from C can unwind a Rust panic into C:
//! a panic becomes `-1` with `errno` set, and is logged.
//!
//! The sockets are the blocking API's ([`monocoque_patterns::BlockingSocket`]):
//! usable from any thread, one thread at a time, as libzmq's are. What the
//! C API adds on top is frame-at-a-time sending and receiving (`ZMQ_SNDMORE`,
//! `ZMQ_RCVMORE`), `zmq_msg_t`, libzmq's option numbers and its errno values.
//!
//! `unsafe` is allowed in this crate, as in the runtime: it is the C
//! boundary. Each block says why it holds.

mod boundary;
mod context;
mod errno;
mod message;
mod monitor;
mod poll;
mod proxy;
mod socket;
mod socket_options;
mod spare_buffer;
mod thread_options;
mod transfer;
mod utilities;
mod vector_io;
mod version;
