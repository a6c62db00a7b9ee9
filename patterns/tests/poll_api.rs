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

#[test]
fn events_and_the_readiness_descriptor_on_the_async_socket() {
    each_transport(|t| async move {
        let pull = socket(SocketType::Pull, vec![]);
        let ep = bind(&pull, t);
        let fd = pull.readiness_fd().unwrap();
        let readable = || {
            let mut fds = [monocoque_runtime::PollFd::readable(fd)];
            monocoque_runtime::poll_fds(&mut fds, Some(std::time::Duration::ZERO)).unwrap() == 1
        };
        assert_eq!(pull.events().unwrap(), monocoque_patterns::Events::NONE);
        assert!(
            !readable(),
            "events() cleared it, and nothing changed since"
        );
        let push = socket(SocketType::Push, vec![]);
        push.connect(&ep).unwrap();
        push.send("one").await.unwrap();
        until("the descriptor to signal", readable).await;
        assert_eq!(pull.events().unwrap(), monocoque_patterns::Events::POLLIN);
        assert!(!readable());
        // POLLIN took the message aside; a receive returns it, in order.
        push.send("two").await.unwrap();
        assert_eq!(frames(&pull.recv().await.unwrap()), ["one"]);
        assert_eq!(frames(&pull.recv().await.unwrap()), ["two"]);
    });
}

#[test]
fn recv_any_takes_turns_between_busy_sockets() {
    run(|| async {
        let (a, b) = (
            socket(SocketType::Pull, vec![]),
            socket(SocketType::Pull, vec![]),
        );
        let (ea, eb) = (bind(&a, Transport::Inproc), bind(&b, Transport::Inproc));
        let (pa, pb) = (
            socket(SocketType::Push, vec![]),
            socket(SocketType::Push, vec![]),
        );
        pa.connect(&ea).unwrap();
        pb.connect(&eb).unwrap();
        for i in 0..3 {
            pa.send(bytes::Bytes::from(format!("a{i}"))).await.unwrap();
            pb.send(bytes::Bytes::from(format!("b{i}"))).await.unwrap();
        }
        queued_in(&a, 3).await;
        queued_in(&b, 3).await;
        let mut got = Vec::new();
        for _ in 0..6 {
            let (i, m) = monocoque_patterns::recv_any(&[&a, &b]).await;
            got.push((i, frames(&m.unwrap()).join("")));
        }
        let from_a: Vec<_> = got
            .iter()
            .filter(|(i, _)| *i == 0)
            .map(|(_, m)| m.clone())
            .collect();
        assert_eq!(from_a, ["a0", "a1", "a2"]);
        // Turns: never the same socket three times in a row while both have messages.
        assert!(got.windows(2).take(4).all(|w| w[0].0 != w[1].0), "{got:?}");
    });
}
