//! `poll` over blocking sockets and descriptors (libzmq's zmq_poll,
//! test_zmq_poll_fd), ZMQ_EVENTS and ZMQ_FD on the blocking API, message
//! properties through it, and the blocking proxy.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use monocoque_patterns::{
    blocking_proxy, poll, BlockingSocket, Context, Error, Events, PollItem, SocketOption,
};
use monocoque_runtime::{poll_fds, PollFd};
use monocoque_zmtp::SocketType;

const LONG: Option<Duration> = Some(Duration::from_secs(10));

fn endpoints() -> Vec<String> {
    let n = std::process::id();
    vec![
        "tcp://127.0.0.1:0".into(),
        format!("ipc://{}/mq-poll-{n}.sock", std::env::temp_dir().display()),
        format!("inproc://poll-{n}"),
    ]
}

/// A socket of `kind` bound to `endpoint`, and the endpoint to connect to.
fn bound(ctx: &Context, kind: SocketType, endpoint: &str) -> (BlockingSocket, String) {
    let s = ctx.socket(kind).unwrap();
    s.set_option(SocketOption::Linger(Some(Duration::ZERO)))
        .unwrap();
    s.bind(endpoint).unwrap();
    let ep = s.last_endpoint().unwrap().unwrap();
    (s, ep)
}

fn connected(ctx: &Context, kind: SocketType, ep: &str) -> BlockingSocket {
    let s = ctx.socket(kind).unwrap();
    s.set_option(SocketOption::Linger(Some(Duration::ZERO)))
        .unwrap();
    s.connect(ep).unwrap();
    s
}

#[test]
fn poll_times_out_when_nothing_is_ready() {
    let ctx = Context::new().unwrap();
    let (a, _) = bound(&ctx, SocketType::Pull, "inproc://quiet-a");
    let (b, _) = bound(&ctx, SocketType::Pull, "inproc://quiet-b");
    let mut items = [
        PollItem::socket(&a, Events::POLLIN),
        PollItem::socket(&b, Events::POLLIN),
    ];
    assert_eq!(poll(&mut items, Some(Duration::ZERO)).unwrap(), 0);
    let start = Instant::now();
    assert_eq!(
        poll(&mut items, Some(Duration::from_millis(50))).unwrap(),
        0
    );
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(50),
        "returned after {waited:?}"
    );
    assert!(items.iter().all(|i| i.events().is_empty()));
}

#[test]
fn poll_reports_the_socket_that_has_a_message_on_every_transport() {
    for endpoint in endpoints() {
        let ctx = Context::new().unwrap();
        let (idle, _) = bound(&ctx, SocketType::Pull, "inproc://idle");
        let (busy, ep) = bound(&ctx, SocketType::Pull, &endpoint);
        let push = connected(&ctx, SocketType::Push, &ep);
        push.send("one").unwrap();
        let mut items = [
            PollItem::socket(&idle, Events::POLLIN),
            PollItem::socket(&busy, Events::POLLIN),
        ];
        assert_eq!(poll(&mut items, LONG).unwrap(), 1, "{endpoint}");
        assert!(!items[0].is_readable());
        assert_eq!(items[1].events(), Events::POLLIN);
        assert_eq!(&busy.try_recv().unwrap()[0][..], b"one");
        assert_eq!(poll(&mut items, Some(Duration::ZERO)).unwrap(), 0);
    }
}

#[test]
fn poll_waits_on_raw_descriptors_beside_sockets() {
    // libzmq's test_zmq_poll_fd: a plain descriptor in the same poll.
    let ctx = Context::new().unwrap();
    let (pull, _) = bound(&ctx, SocketType::Pull, "inproc://beside-fd");
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    let mut items = [
        PollItem::socket(&pull, Events::POLLIN),
        PollItem::fd(theirs.as_raw_fd(), Events::POLLIN),
    ];
    assert_eq!(poll(&mut items, Some(Duration::ZERO)).unwrap(), 0);
    let writer = std::thread::spawn(move || {
        // Later than the poll starts, most likely, so that it waits (the
        // result is the same either way).
        std::thread::sleep(Duration::from_millis(20));
        ours.write_all(b"x").unwrap();
        ours
    });
    assert_eq!(poll(&mut items, LONG).unwrap(), 1);
    assert!(!items[0].is_readable() && items[1].is_readable());
    let _ours = writer.join().unwrap();
    // POLLOUT on a descriptor, and POLLERR for one that is not open.
    let mut items = [
        PollItem::fd(theirs.as_raw_fd(), Events::POLLOUT),
        PollItem::fd(1 << 20, Events::POLLIN),
    ];
    assert_eq!(poll(&mut items, LONG).unwrap(), 2);
    assert_eq!(items[0].events(), Events::POLLOUT);
    assert_eq!(items[1].events(), Events::POLLERR);
}

#[test]
fn events_follow_each_socket_types_rules() {
    let ctx = Context::new().unwrap();
    let (rep, ep) = bound(&ctx, SocketType::Rep, "tcp://127.0.0.1:0");
    let req = connected(&ctx, SocketType::Req, &ep);
    // A REQ may send once a peer is there; a REP has nothing to do.
    let mut items = [PollItem::socket(&req, Events::POLLOUT)];
    assert_eq!(poll(&mut items, LONG).unwrap(), 1);
    assert_eq!(rep.events().unwrap(), Events::NONE);
    req.send("ping").unwrap();
    assert_eq!(req.events().unwrap(), Events::NONE, "REQ awaits its reply");
    let mut items = [PollItem::socket(&rep, Events::POLLIN | Events::POLLOUT)];
    assert_eq!(poll(&mut items, LONG).unwrap(), 1);
    assert_eq!(
        items[0].events(),
        Events::POLLIN,
        "POLLIN only: the request is not received yet"
    );
    assert!(
        matches!(rep.try_send("too soon"), Err(Error::InvalidState(_))),
        "the request seen by POLLIN must be received before the reply"
    );
    let request = rep.recv().unwrap();
    assert_eq!(rep.events().unwrap(), Events::POLLOUT);
    rep.send(request).unwrap();
    let mut items = [PollItem::socket(&req, Events::POLLIN)];
    assert_eq!(poll(&mut items, LONG).unwrap(), 1);
    assert_eq!(&req.recv().unwrap()[0][..], b"ping");
    assert_eq!(req.events().unwrap(), Events::POLLOUT);

    // A PUSH with no peer cannot send; a PUB always can; a PULL never sends.
    let push = ctx.socket(SocketType::Push).unwrap();
    assert_eq!(push.events().unwrap(), Events::NONE);
    let publisher = ctx.socket(SocketType::Pub).unwrap();
    assert_eq!(publisher.events().unwrap(), Events::POLLOUT);
}

#[test]
fn a_sub_is_readable_only_for_what_passes_its_filter() {
    let ctx = Context::new().unwrap();
    let (xpub, ep) = bound(&ctx, SocketType::XPub, "inproc://filter");
    let sub = connected(&ctx, SocketType::Sub, &ep);
    sub.set_option(SocketOption::Subscribe(Bytes::from_static(b"a")))
        .unwrap();
    assert_eq!(&xpub.recv().unwrap()[0][..], b"\x01a");
    // An XSUB subscribed to everything shows when a message has gone out.
    let sub_all = connected(&ctx, SocketType::XSub, &ep);
    sub_all.send(Bytes::from_static(b"\x01")).unwrap();
    assert_eq!(&xpub.recv().unwrap()[0][..], b"\x01");
    xpub.send("b: not for sub").unwrap();
    let mut items = [PollItem::socket(&sub_all, Events::POLLIN)];
    assert_eq!(poll(&mut items, LONG).unwrap(), 1);
    assert_eq!(sub.events().unwrap(), Events::NONE);
    xpub.send("a: for sub").unwrap();
    let mut items = [PollItem::socket(&sub, Events::POLLIN)];
    assert_eq!(poll(&mut items, LONG).unwrap(), 1);
    assert_eq!(&sub.recv().unwrap()[0][..], b"a: for sub");
}

#[test]
fn the_readiness_descriptor_wakes_another_threads_loop() {
    let ctx = Context::new().unwrap();
    let (pull, ep) = bound(&ctx, SocketType::Pull, "tcp://127.0.0.1:0");
    let fd = pull.readiness_fd().unwrap();
    assert_eq!(
        pull.readiness_fd().unwrap(),
        fd,
        "one descriptor per socket"
    );
    assert_eq!(pull.events().unwrap(), Events::NONE);
    let waiter = std::thread::spawn(move || {
        // An event loop of its own: wait on the descriptor, then look.
        loop {
            let mut fds = [PollFd::readable(fd)];
            poll_fds(&mut fds, LONG).unwrap();
            assert!(fds[0].readable, "the descriptor never became readable");
            if pull.events().unwrap().contains(Events::POLLIN) {
                return pull.recv().unwrap();
            }
        }
    });
    let push = connected(&ctx, SocketType::Push, &ep);
    push.send("wake").unwrap();
    assert_eq!(&waiter.join().unwrap()[0][..], b"wake");
}

#[test]
fn shutting_the_context_down_ends_a_waiting_poll() {
    let ctx = Context::new().unwrap();
    let (pull, _) = bound(&ctx, SocketType::Pull, "inproc://shut");
    let poller = std::thread::spawn(move || {
        let mut items = [PollItem::socket(&pull, Events::POLLIN)];
        poll(&mut items, None)
    });
    // Most likely while it waits (ETERM either way: before, the poll
    // itself refuses).
    std::thread::sleep(Duration::from_millis(20));
    ctx.shutdown().unwrap();
    assert_eq!(poller.join().unwrap(), Err(Error::Terminated));
}

#[test]
fn properties_reach_the_blocking_api() {
    let ctx = Context::new().unwrap();
    let (router, ep) = bound(&ctx, SocketType::Router, "tcp://127.0.0.1:0");
    let dealer = ctx.socket(SocketType::Dealer).unwrap();
    dealer
        .set_option(SocketOption::RoutingId(Bytes::from_static(b"desk-7")))
        .unwrap();
    dealer.connect(&ep).unwrap();
    dealer.send("order").unwrap();
    let (msg, properties) = router.recv_with_properties().unwrap();
    assert_eq!(&msg[0][..], b"desk-7");
    let properties = properties.expect("a peer sent it");
    assert_eq!(properties.socket_type(), Some(SocketType::Dealer));
    assert_eq!(&properties.routing_id()[..], b"desk-7");
    assert_eq!(properties.peer_address(), Some("127.0.0.1"));
}

#[test]
fn the_blocking_proxy_brokers_requests_and_captures_them() {
    let ctx = Context::new().unwrap();
    let (frontend, front_ep) = bound(&ctx, SocketType::Router, "tcp://127.0.0.1:0");
    let (backend, back_ep) = bound(&ctx, SocketType::Dealer, "inproc://proxy-workers");
    let (capture_in, capture_ep) = bound(&ctx, SocketType::Pull, "inproc://proxy-capture");
    let capture = connected(&ctx, SocketType::Push, &capture_ep);
    let broker = std::thread::spawn(move || blocking_proxy(&frontend, &backend, Some(&capture)));
    let worker = connected(&ctx, SocketType::Rep, &back_ep);
    let echo = std::thread::spawn(move || {
        for _ in 0..20 {
            let m = worker.recv().unwrap();
            worker.send(m).unwrap();
        }
        // Kept open: with LINGER 0, closing would drop the last reply.
        worker
    });
    let client = connected(&ctx, SocketType::Req, &front_ep);
    for i in 0..20 {
        let body = format!("request {i}");
        client.send(Bytes::from(body.clone())).unwrap();
        assert_eq!(client.recv().unwrap()[0], body.as_bytes());
    }
    let _worker = echo.join().unwrap();
    // Each request and each reply went by the capture socket, envelope and all.
    for _ in 0..40 {
        let copy = capture_in.recv().unwrap();
        assert!(copy.len() >= 2, "{copy:?}");
    }
    ctx.shutdown().unwrap();
    assert_eq!(broker.join().unwrap(), Err(Error::Terminated));
}
