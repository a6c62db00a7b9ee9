//! Waiting on several async sockets at once: the async API's `select`.
//!
//! One task can serve many sockets by awaiting [`recv_any`], without a task
//! per socket or a boxed future per receive: each poll asks every socket
//! once ([`Socket::poll_recv`]), starting after the one that answered last
//! time, so a busy socket cannot starve the others.

use std::cell::Cell;
use std::future::poll_fn;
use std::task::Poll;

use monocoque_zmtp::Msg;

use crate::{Result, Socket};

thread_local! {
    /// Where the next `recv_any` on this thread starts looking.
    static NEXT_START: Cell<usize> = const { Cell::new(0) };
}

/// Receives the next message from whichever of `sockets` has one first;
/// returns the socket's index with the message (or with the error it
/// returned). RCVTIMEO does not apply: wrap it in
/// [`timeout`](monocoque_runtime::timeout) to bound the wait. With no
/// sockets it never completes.
///
/// ```
/// use monocoque_patterns::{recv_any, Socket};
/// use monocoque_zmtp::SocketType;
/// let rt = monocoque_runtime::Runtime::builder().build().unwrap();
/// rt.block_on(async {
///     let orders = Socket::new(SocketType::Pull).unwrap();
///     orders.bind("inproc://orders").unwrap();
///     let quotes = Socket::new(SocketType::Pull).unwrap();
///     quotes.bind("inproc://quotes").unwrap();
///     let push = Socket::new(SocketType::Push).unwrap();
///     push.connect("inproc://quotes").unwrap();
///     push.send("EURUSD 1.0842").await.unwrap();
///     let (which, msg) = recv_any(&[&orders, &quotes]).await;
///     assert_eq!(which, 1);
///     assert_eq!(&msg.unwrap()[0][..], b"EURUSD 1.0842");
/// });
/// ```
pub async fn recv_any(sockets: &[&Socket]) -> (usize, Result<Msg>) {
    let n = sockets.len();
    poll_fn(|cx| {
        let start = NEXT_START.with(Cell::get);
        for k in 0..n {
            let i = (start + k) % n;
            if let Poll::Ready(result) = sockets[i].poll_recv(cx) {
                NEXT_START.with(|s| s.set(i + 1));
                return Poll::Ready((i, result));
            }
        }
        Poll::Pending
    })
    .await
}
