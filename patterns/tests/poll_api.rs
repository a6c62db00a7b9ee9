//! `Socket::poll_recv` and `Socket::poll_send_ready`: readiness without a
//! boxed future per call, for callers with their own futures or event loops.

mod common;

use std::future::poll_fn;
use std::task::{Context, Poll, Waker};

use common::*;
use monocoque_patterns::{Error, SocketOption};
use monocoque_zmtp::SocketType;

/// Polls once with a waker that does nothing: the state now, no waiting.
fn poll_now<T>(f: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
    f(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn poll_recv_is_pending_until_a_message_arrives() {
    each_transport(|t| async move {
        let pull = socket(SocketType::Pull, vec![]);
        let ep = bind(&pull, t);
        let push = socket(SocketType::Push, vec![]);
        push.connect(&ep).unwrap();
        assert!(poll_now(|cx| pull.poll_recv(cx)).is_pending());
        push.send("one").await.unwrap();
        let msg = poll_fn(|cx| pull.poll_recv(cx)).await.unwrap();
        assert_eq!(frames(&msg), ["one"]);
        assert!(poll_now(|cx| pull.poll_recv(cx)).is_pending());
    });
}

#[test]
fn poll_send_ready_follows_the_peers_room() {
    run(|| async {
        let push = socket(SocketType::Push, vec![SocketOption::SndHwm(1)]);
        push.bind("inproc://poll-send-room").unwrap();
        // No peer: nowhere to send.
        assert!(poll_now(|cx| push.poll_send_ready(cx)).is_pending());
        let pull = socket(SocketType::Pull, vec![SocketOption::RcvHwm(1)]);
        pull.connect("inproc://poll-send-room").unwrap();
        poll_fn(|cx| push.poll_send_ready(cx)).await.unwrap();
        // inproc holds SNDHWM + RCVHWM: two fill it.
        push.try_send("a").unwrap();
        push.try_send("b").unwrap();
        assert!(poll_now(|cx| push.poll_send_ready(cx)).is_pending());
        assert!(matches!(push.try_send("c"), Err(Error::WouldBlock(_))));
        assert_eq!(frames(&pull.recv().await.unwrap()), ["a"]);
        poll_fn(|cx| push.poll_send_ready(cx)).await.unwrap();
        push.try_send("c").unwrap();
    });
}

#[test]
fn poll_send_ready_refuses_where_waiting_cannot_help() {
    run(|| async {
        let rep = socket(SocketType::Rep, vec![]);
        rep.bind("inproc://poll-send-states").unwrap();
        let req = socket(SocketType::Req, vec![]);
        req.connect("inproc://poll-send-states").unwrap();
        // REP owes nothing yet; REQ may send.
        assert!(matches!(
            poll_now(|cx| rep.poll_send_ready(cx)),
            Poll::Ready(Err(Error::InvalidState(_)))
        ));
        poll_fn(|cx| req.poll_send_ready(cx)).await.unwrap();
        req.send("ping").await.unwrap();
        // REQ must receive first; REP owes a reply once it read the request.
        assert!(matches!(
            poll_now(|cx| req.poll_send_ready(cx)),
            Poll::Ready(Err(Error::InvalidState(_)))
        ));
        assert_eq!(frames(&rep.recv().await.unwrap()), ["ping"]);
        poll_fn(|cx| rep.poll_send_ready(cx)).await.unwrap();
        let pull = socket(SocketType::Pull, vec![]);
        assert!(matches!(
            poll_now(|cx| pull.poll_send_ready(cx)),
            Poll::Ready(Err(Error::NotSupported { .. }))
        ));
        // Types that drop what a full peer cannot take are always writable.
        let publisher = socket(SocketType::Pub, vec![]);
        poll_fn(|cx| publisher.poll_send_ready(cx)).await.unwrap();
    });
}

#[test]
fn polling_a_closed_socket_says_so() {
    run(|| async {
        let pull = socket(SocketType::Pull, vec![]);
        pull.close();
        assert!(matches!(
            poll_now(|cx| pull.poll_recv(cx)),
            Poll::Ready(Err(Error::Closed))
        ));
        assert!(matches!(
            poll_now(|cx| pull.poll_send_ready(cx)),
            Poll::Ready(Err(Error::Closed))
        ));
    });
}
