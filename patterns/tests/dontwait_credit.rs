//! A blocking handle's ZMQ_DONTWAIT sends count on the room the socket
//! reported at its last answer, as libzmq's application thread counts on
//! what its pipes told it last (`context/send_credit.rs`): a run of them
//! to a peer that does not read meets EAGAIN near SNDHWM, not once the
//! kernel's buffers (megabytes) are full, and a spent credit is looked at
//! afresh by any other call.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::Transport;
use monocoque_patterns::{BlockingSocket, Context, Error, Events, SocketOption};
use monocoque_zmtp::{Msg, SocketType};

/// Runs `body` on its own thread and fails the test if it takes over 60 s.
fn bounded(body: impl FnOnce() + Send + 'static) {
    common::bounded_for(Duration::from_secs(60), body);
}

/// The most sends a run tries before it gives up waiting for EAGAIN.
const GIVE_UP_AFTER: usize = 100_000;

/// Runs of ZMQ_DONTWAIT sends, each on fresh sockets, until one meets
/// EAGAIN within `limit` sends; returns the counts. A run a preemption of
/// over a millisecond interrupts looks afresh (as libzmq's application
/// thread would) and may go on, so three runs are allowed; without the
/// credit every run goes to the kernel's buffers (tens of 64 KiB messages,
/// or GIVE_UP_AFTER empty ones).
fn runs_until_eagain_within(limit: usize, run: impl Fn() -> usize) -> Vec<usize> {
    let mut counts = Vec::new();
    for _ in 0..3 {
        let sent = run();
        counts.push(sent);
        if sent < limit {
            break;
        }
    }
    counts
}

/// Sends `next()` with ZMQ_DONTWAIT until refused (or GIVE_UP_AFTER);
/// how many went.
fn sends_until_eagain(mut send: impl FnMut() -> Result<(), Error>) -> usize {
    for sent in 0..GIVE_UP_AFTER {
        match send() {
            Ok(()) => {}
            Err(Error::WouldBlock(_)) => return sent,
            Err(e) => panic!("send failed: {e}"),
        }
    }
    GIVE_UP_AFTER
}

/// What each socket here is made with: LINGER 0, so that a run's context
/// ends at once with its messages still queued to a peer that never read.
fn socket(ctx: &Context, kind: SocketType, options: Vec<SocketOption>) -> BlockingSocket {
    let s = ctx.socket(kind).unwrap();
    s.set_option(SocketOption::Linger(Some(Duration::ZERO)))
        .unwrap();
    for o in options {
        s.set_option(o).unwrap();
    }
    s
}

/// A socket of `kind` with `options`, bound over tcp: the endpoint.
fn bound(ctx: &Context, kind: SocketType, options: Vec<SocketOption>) -> (BlockingSocket, String) {
    let s = socket(ctx, kind, options);
    s.bind(&Transport::Tcp.endpoint()).unwrap();
    let endpoint = s.last_endpoint().unwrap().expect("bound");
    (s, endpoint)
}

fn connected(
    ctx: &Context,
    kind: SocketType,
    options: Vec<SocketOption>,
    to: &str,
) -> BlockingSocket {
    let s = socket(ctx, kind, options);
    s.connect(to).unwrap();
    s
}

#[test]
fn a_push_meets_eagain_near_sndhwm_though_the_kernel_would_take_megabytes() {
    bounded(|| {
        let payload = Bytes::from(vec![0u8; 64 * 1024]);
        let counts = runs_until_eagain_within(10, || {
            let ctx = Context::new().unwrap();
            let (pull, endpoint) = bound(&ctx, SocketType::Pull, vec![SocketOption::RcvHwm(1)]);
            let push = connected(
                &ctx,
                SocketType::Push,
                vec![SocketOption::SndHwm(1)],
                &endpoint,
            );
            // The connection is up once a blocking send has gone through.
            push.send("hello").unwrap();
            assert_eq!(&pull.recv().unwrap()[0][..], b"hello");
            sends_until_eagain(|| push.try_send(payload.clone()))
        });
        assert!(
            *counts.last().unwrap() < 10,
            "SNDHWM 1, a PULL that does not read: EAGAIN within 10 sends of 64 KiB \
             (libzmq's test_router_mandatory_hwm bound), runs: {counts:?}"
        );
    });
}

#[test]
fn an_xpub_under_nodrop_meets_eagain_near_sndhwm_with_empty_messages() {
    bounded(|| {
        const SNDHWM: usize = 200;
        let counts = runs_until_eagain_within(10 * SNDHWM, || {
            let ctx = Context::new().unwrap();
            let (xpub, endpoint) = bound(
                &ctx,
                SocketType::XPub,
                vec![SocketOption::SndHwm(SNDHWM), SocketOption::XpubNodrop(true)],
            );
            let sub = connected(&ctx, SocketType::Sub, vec![], &endpoint);
            sub.set_option(SocketOption::Subscribe(Bytes::new()))
                .unwrap();
            // The subscription has arrived once the XPUB reads it.
            assert_eq!(&xpub.recv().unwrap()[0][..], b"\x01");
            let sent = sends_until_eagain(|| xpub.try_send(Bytes::new()));
            drop(sub);
            sent
        });
        assert!(
            *counts.last().unwrap() < 10 * SNDHWM,
            "2-byte frames to a SUB that does not read: EAGAIN near SNDHWM {SNDHWM}, \
             not after the kernel's buffers (libzmq's test_hwm_pubsub), runs: {counts:?}"
        );
    });
}

#[test]
fn a_mandatory_router_meets_eagain_at_the_route_check() {
    bounded(|| {
        let payload = Bytes::from(vec![0u8; 64 * 1024]);
        let counts = runs_until_eagain_within(10, || {
            let ctx = Context::new().unwrap();
            let (router, endpoint) = bound(
                &ctx,
                SocketType::Router,
                vec![SocketOption::RouterMandatory(true), SocketOption::SndHwm(1)],
            );
            let dealer = connected(
                &ctx,
                SocketType::Dealer,
                vec![
                    SocketOption::RoutingId(Bytes::from_static(b"X")),
                    SocketOption::RcvHwm(1),
                ],
                &endpoint,
            );
            dealer.send("hello").unwrap();
            assert_eq!(&router.recv().unwrap()[0][..], b"X");
            let id = Bytes::from_static(b"X");
            sends_until_eagain(|| {
                // As libzmq's first frame: the route is checked, then the
                // message is sent whole.
                router.check_route(&id)?;
                router.try_send(Msg::from(vec![id.clone(), payload.clone()]))
            })
        });
        assert!(
            *counts.last().unwrap() < 10,
            "ROUTER_MANDATORY, SNDHWM 1, a DEALER that does not read: runs {counts:?}"
        );
    });
}

/// An inproc PUSH (SNDHWM 3) into a PULL (RCVHWM 4): 7 messages fill the
/// pipe.
fn inproc_pair(ctx: &Context) -> (BlockingSocket, BlockingSocket) {
    let pull = socket(ctx, SocketType::Pull, vec![SocketOption::RcvHwm(4)]);
    pull.bind("inproc://credit").unwrap();
    let push = socket(ctx, SocketType::Push, vec![SocketOption::SndHwm(3)]);
    push.connect("inproc://credit").unwrap();
    (pull, push)
}

#[test]
fn a_spent_credit_is_looked_at_afresh_by_zmq_events() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let (pull, push) = inproc_pair(&ctx);
        // Messages through first, so that the receives below are the
        // receive lane's (no round trip): what follows the EAGAIN then
        // takes well under the credit's millisecond.
        for _ in 0..4 {
            push.send("warm").unwrap();
            assert_eq!(&pull.recv().unwrap()[0][..], b"warm");
        }
        let sent = sends_until_eagain(|| push.try_send("m"));
        assert!(sent > 0, "room for some");
        for _ in 0..sent {
            pull.recv().unwrap();
        }
        // Once ZMQ_EVENTS says POLLOUT, a ZMQ_DONTWAIT send goes: EVENTS
        // looked afresh (libzmq's processes its commands), whatever the
        // credit spent a moment ago said.
        let start = Instant::now();
        while !push.events().unwrap().contains(Events::POLLOUT) {
            assert!(start.elapsed() < Duration::from_secs(10), "room comes back");
            thread::yield_now();
        }
        push.try_send("after events").unwrap();
    });
}

#[test]
fn a_spent_credit_refuses_for_a_moment_only() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let (pull, push) = inproc_pair(&ctx);
        assert_eq!(
            sends_until_eagain(|| push.try_send("m")),
            7,
            "SNDHWM + RCVHWM"
        );
        for _ in 0..4 {
            pull.recv().unwrap();
        }
        // A sender that only retries (no other call) is taken again once
        // the credit's moment has passed and the takes have reached the
        // socket: four more, as many as were read, never a fifth.
        let start = Instant::now();
        let mut more = 0;
        while more < 4 {
            match push.try_send("more") {
                Ok(()) => more += 1,
                Err(Error::WouldBlock(_)) => thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
            assert!(start.elapsed() < Duration::from_secs(10), "{more} more");
        }
        thread::sleep(Duration::from_millis(2));
        assert!(
            matches!(push.try_send("one too many"), Err(Error::WouldBlock(_))),
            "asked afresh: the pipe is full"
        );
    });
}

#[test]
fn a_push_with_many_peers_fills_every_pipe_before_eagain() {
    // Ten PULLs that do not read, each pipe 2 deep (SNDHWM 1 + RCVHWM 1
    // over inproc): the first answer's credit adds up only some of them (a
    // lower bound), so using it up asks again instead of refusing, and
    // EAGAIN comes exactly when all 20 places are taken.
    bounded(|| {
        let ctx = Context::new().unwrap();
        let push = socket(&ctx, SocketType::Push, vec![SocketOption::SndHwm(1)]);
        let mut pulls = Vec::new();
        for i in 0..10 {
            let pull = socket(&ctx, SocketType::Pull, vec![SocketOption::RcvHwm(1)]);
            let endpoint = format!("inproc://many-{i}");
            pull.bind(&endpoint).unwrap();
            push.connect(&endpoint).unwrap();
            pulls.push(pull);
        }
        assert_eq!(sends_until_eagain(|| push.try_send("m")), 20);
    });
}

#[test]
fn single_frames_sent_on_the_credit_meet_eagain_near_sndhwm_and_arrive_in_order() {
    // `try_send_single_frame`, the C API's ZMQ_DONTWAIT send of one small
    // frame: on the credit into the encoded ring, spent without a message
    // made. SNDHWM 100 to a PULL that does not read over tcp, whose
    // kernel buffers would take thousands of 8-byte messages: the first
    // send asks, and its answer's room is all the rest may use.
    const HWM: usize = 100;
    bounded(|| {
        let counts = runs_until_eagain_within(HWM + 1, || {
            let ctx = Context::new().unwrap();
            let (pull, endpoint) = bound(&ctx, SocketType::Pull, vec![SocketOption::RcvHwm(HWM)]);
            let push = connected(
                &ctx,
                SocketType::Push,
                vec![SocketOption::SndHwm(HWM)],
                &endpoint,
            );
            push.send("hello").unwrap();
            assert_eq!(&pull.recv().unwrap()[0][..], b"hello");
            let mut next = 0u64;
            let mut encoded = 0;
            let sent = sends_until_eagain(|| {
                let body = next.to_le_bytes();
                let outcome = match push.try_send_single_frame(&body) {
                    Some(outcome) => {
                        encoded += usize::from(outcome.is_ok());
                        outcome
                    }
                    None => push.try_send(Bytes::copy_from_slice(&body)),
                };
                next += u64::from(outcome.is_ok());
                outcome
            });
            // The first send asks (there is no credit yet); the rest go on
            // its answer.
            assert!(encoded + 1 >= sent, "{encoded} of {sent} on the credit");
            for i in 0..sent as u64 {
                assert_eq!(&pull.recv().unwrap()[0][..], i.to_le_bytes(), "in order");
            }
            sent
        });
        let last = *counts.last().unwrap();
        assert!(
            (1..=HWM).contains(&last),
            "SNDHWM {HWM}: EAGAIN by then, runs: {counts:?}"
        );
    });
}
