//! The blocking API's message stream without a round trip per message
//! (`context/lanes.rs`): blocking sends through the send lane arrive whole
//! and in order and before the commands that follow them, a ZMQ_DONTWAIT
//! send still finds SNDHWM exactly, closing delivers what the lane holds,
//! the receive lane hands out in order and keeps libzmq's RCVHWM counts,
//! and a shutdown stops both short cuts.

mod common;

use std::thread;
use std::time::Duration;

use common::{Transport, TRANSPORTS};
use monocoque_patterns::{BlockingSocket, Context, Error, Events, SocketOption};
use monocoque_zmtp::SocketType;

/// Runs `body` on its own thread and fails the test if it takes over 60 s.
fn bounded(body: impl FnOnce() + Send + 'static) {
    common::bounded_for(Duration::from_secs(60), body);
}

/// A socket that gives up a receive after 20 s.
fn socket(ctx: &Context, kind: SocketType) -> BlockingSocket {
    let s = ctx.socket(kind).unwrap();
    s.set_option(SocketOption::RcvTimeo(Some(Duration::from_secs(20))))
        .unwrap();
    s
}

fn bind(s: &BlockingSocket, t: Transport) -> String {
    s.bind(&t.endpoint()).unwrap();
    s.last_endpoint().unwrap().expect("bound")
}

fn number(i: u32) -> Vec<u8> {
    i.to_le_bytes().to_vec()
}

/// A PULL bound over inproc with `rcvhwm`, and a PUSH with `sndhwm`
/// connected to it.
fn inproc_pull_push(
    ctx: &Context,
    rcvhwm: usize,
    sndhwm: usize,
) -> (BlockingSocket, BlockingSocket) {
    let pull = socket(ctx, SocketType::Pull);
    pull.set_option(SocketOption::RcvHwm(rcvhwm)).unwrap();
    let endpoint = bind(&pull, Transport::Inproc);
    let push = socket(ctx, SocketType::Push);
    push.set_option(SocketOption::SndHwm(sndhwm)).unwrap();
    push.connect(&endpoint).unwrap();
    (pull, push)
}

/// Sends numbered messages from `from` with ZMQ_DONTWAIT until one is
/// refused; how many went.
fn send_until_refused(push: &BlockingSocket, from: u32) -> u32 {
    let mut sent = 0;
    while push.try_send(number(from + sent)).is_ok() {
        sent += 1;
    }
    sent
}

#[test]
fn a_stream_of_blocking_sends_arrives_whole_and_in_order_on_every_transport() {
    bounded(|| {
        const COUNT: u32 = 20_000;
        for t in TRANSPORTS {
            let ctx = Context::new().unwrap();
            let pull = socket(&ctx, SocketType::Pull);
            let endpoint = bind(&pull, t);
            let push = socket(&ctx, SocketType::Push);
            push.connect(&endpoint).unwrap();
            let sender = thread::spawn(move || {
                for i in 0..COUNT {
                    push.send(vec![
                        bytes::Bytes::from(number(i)),
                        bytes::Bytes::from_static(b"tail"),
                    ])
                    .unwrap();
                }
                push
            });
            for i in 0..COUNT {
                let m = pull.recv().unwrap();
                assert_eq!(m.len(), 2, "{t:?}: message {i} arrived whole");
                assert_eq!(&m[0][..], &number(i)[..], "{t:?}: in order");
            }
            drop(sender.join().unwrap());
        }
    });
}

#[test]
fn messages_parked_behind_a_send_that_waits_keep_their_order() {
    // With HWMs of 1 the PUSH's socket makes nearly every lane message
    // wait; what the lane's ring holds behind it is parked beside the pump
    // (lane_backlog.rs) and must still go out after it, in order, once.
    bounded(|| {
        const COUNT: u32 = 5_000;
        let ctx = Context::new().unwrap();
        let (pull, push) = inproc_pull_push(&ctx, 1, 1);
        let sender = thread::spawn(move || {
            for i in 0..COUNT {
                push.send(number(i)).unwrap();
            }
            push
        });
        for i in 0..COUNT {
            assert_eq!(&pull.recv().unwrap()[0][..], &number(i)[..], "in order");
        }
        let push = sender.join().unwrap();
        assert!(
            matches!(pull.try_recv(), Err(Error::WouldBlock(_))),
            "each message once"
        );
        drop(push);
    });
}

/// How many messages a PUSH takes before ZMQ_DONTWAIT says EAGAIN, after
/// `blocking_first` blocking sends (fewer than that capacity).
fn dontwait_capacity(blocking_first: usize) -> usize {
    let ctx = Context::new().unwrap();
    let (_pull, push) = inproc_pull_push(&ctx, 4, 3);
    for _ in 0..blocking_first {
        push.send("blocking").unwrap();
    }
    let mut count = blocking_first;
    loop {
        match push.try_send("dontwait") {
            Ok(()) => count += 1,
            Err(Error::WouldBlock(_)) => return count,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn dontwait_finds_the_hwm_exactly_after_blocking_sends() {
    bounded(|| {
        let capacity = dontwait_capacity(0);
        assert!(
            capacity >= 3,
            "SNDHWM 3 + RCVHWM 4 take at least 3: {capacity}"
        );
        for first in [1, 2, capacity / 2, capacity - 1] {
            assert_eq!(
                dontwait_capacity(first),
                capacity,
                "{first} blocking sends first: the lane's messages count, none twice"
            );
        }
    });
}

#[test]
fn closing_delivers_what_the_lane_holds() {
    bounded(|| {
        const COUNT: u32 = 5_000;
        let ctx = Context::new().unwrap();
        let pull = socket(&ctx, SocketType::Pull);
        let endpoint = bind(&pull, Transport::Tcp);
        let push = ctx.socket(SocketType::Push).unwrap(); // LINGER -1
        push.connect(&endpoint).unwrap();
        for i in 0..COUNT {
            push.send(number(i)).unwrap();
        }
        drop(push);
        for i in 0..COUNT {
            assert_eq!(&pull.recv().unwrap()[0][..], &number(i)[..]);
        }
    });
}

#[test]
fn a_request_in_the_lane_goes_out_before_its_reply_is_awaited() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let router = socket(&ctx, SocketType::Router);
        let endpoint = bind(&router, Transport::Tcp);
        let echo = thread::spawn(move || {
            for _ in 0..2_000 {
                let request = router.recv().unwrap();
                router.send(request).unwrap();
            }
        });
        let dealer = socket(&ctx, SocketType::Dealer);
        dealer.connect(&endpoint).unwrap();
        for i in 0..2_000 {
            dealer.send(number(i)).unwrap();
            assert_eq!(&dealer.recv().unwrap()[0][..], &number(i)[..]);
        }
        echo.join().unwrap();
    });
}

#[test]
fn the_receive_lane_hands_out_in_order_and_counts_as_queued() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let pull = socket(&ctx, SocketType::Pull);
        let endpoint = bind(&pull, Transport::Inproc);
        let push = socket(&ctx, SocketType::Push);
        push.connect(&endpoint).unwrap();
        for i in 0..10 {
            push.send(number(i)).unwrap();
        }
        // A command runs after the lane's messages: all ten are in the
        // PULL's pipe (inproc, one context thread) once it returns.
        push.events().unwrap();
        assert_eq!(pull.queued().unwrap().0, 10);
        assert_eq!(&pull.recv().unwrap()[0][..], &number(0)[..]);
        assert_eq!(
            pull.queued().unwrap().0,
            9,
            "the lane's messages still count as queued"
        );
        assert!(pull.events().unwrap().contains(Events::POLLIN));
        for i in 1..10 {
            assert_eq!(&pull.try_recv().unwrap()[0][..], &number(i)[..]);
        }
        assert!(matches!(pull.try_recv(), Err(Error::WouldBlock(_))));
        assert!(!pull.events().unwrap().contains(Events::POLLIN));
    });
}

#[test]
fn shutdown_stops_both_lanes() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let pull = socket(&ctx, SocketType::Pull);
        let endpoint = bind(&pull, Transport::Inproc);
        let push = socket(&ctx, SocketType::Push);
        push.connect(&endpoint).unwrap();
        for i in 0..3 {
            push.send(number(i)).unwrap();
        }
        push.events().unwrap();
        assert_eq!(&pull.recv().unwrap()[0][..], &number(0)[..]);
        ctx.shutdown().unwrap();
        assert_eq!(push.send("late").unwrap_err(), Error::Terminated);
        assert_eq!(pull.recv().unwrap_err(), Error::Terminated);
    });
}

/// zmq_ctx_term: shut down, close, then the last drop waits. What the lane
/// still holds lingers like the socket's own queue: none of it is lost.
#[test]
fn a_shutdown_then_close_still_delivers_the_lane() {
    bounded(|| {
        const COUNT: u32 = 50_000;
        let receiver = Context::new().unwrap();
        let pull = socket(&receiver, SocketType::Pull);
        let endpoint = bind(&pull, Transport::Tcp);
        let sender = thread::spawn(move || {
            let ctx = Context::new().unwrap();
            let push = ctx.socket(SocketType::Push).unwrap(); // LINGER -1
            push.connect(&endpoint).unwrap();
            for i in 0..COUNT {
                push.send(number(i)).unwrap();
            }
            ctx.shutdown().unwrap();
            drop(push);
            drop(ctx);
        });
        for i in 0..COUNT {
            assert_eq!(&pull.recv().unwrap()[0][..], &number(i)[..]);
        }
        sender.join().unwrap();
    });
}

/// A send that returned is in its socket's pipe before a command on another
/// socket runs, as libzmq's is: a PULL's disconnect drops the pipe with
/// the PUSH's message in it, and the PULL, connected again, gets only what
/// was sent after.
#[test]
fn a_send_reaches_the_pipe_before_a_command_on_another_socket() {
    bounded(|| {
        for round in 0..50 {
            let ctx = Context::new().unwrap();
            let push = socket(&ctx, SocketType::Push);
            push.set_option(SocketOption::Linger(Some(Duration::ZERO)))
                .unwrap();
            let endpoint = bind(&push, Transport::Inproc);
            let pull = socket(&ctx, SocketType::Pull);
            pull.connect(&endpoint).unwrap();
            push.send("warm-up").unwrap();
            assert_eq!(&pull.recv().unwrap()[0][..], b"warm-up");
            push.send("dropped with the pipe").unwrap();
            pull.disconnect(&endpoint).unwrap();
            pull.connect(&endpoint).unwrap();
            push.send("after").unwrap();
            assert_eq!(&pull.recv().unwrap()[0][..], b"after", "round {round}");
        }
    });
}

/// REQ and REP send through the lane only when their turn is known to be a
/// send; every other send is asked of the socket, so their rules hold
/// exactly whichever way a message went: EFSM out of turn, REQ_RELAXED's
/// second request, and each reply to its own request.
#[test]
fn req_and_rep_keep_their_rules_when_their_sends_take_the_lane() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        for t in TRANSPORTS {
            let rep = socket(&ctx, SocketType::Rep);
            let endpoint = bind(&rep, t);
            let req = socket(&ctx, SocketType::Req);
            req.connect(&endpoint).unwrap();
            assert!(
                matches!(rep.send("no request yet"), Err(Error::InvalidState(_))),
                "{t:?}: REP sent before a request"
            );
            for i in 0..200u32 {
                req.send(number(i)).unwrap();
                assert!(
                    matches!(req.send("again"), Err(Error::InvalidState(_))),
                    "{t:?}: REQ sent twice"
                );
                let request = rep.recv().unwrap();
                assert_eq!(request[0], number(i), "{t:?}");
                rep.send(number(i + 1000)).unwrap();
                assert!(
                    matches!(rep.send("twice"), Err(Error::InvalidState(_))),
                    "{t:?}: REP replied twice"
                );
                assert_eq!(req.recv().unwrap()[0], number(i + 1000), "{t:?}");
                assert!(
                    matches!(req.try_recv(), Err(Error::InvalidState(_))),
                    "{t:?}: REQ received without a request"
                );
            }
            // REQ_RELAXED: the second request (a command: the turn is not a
            // send) supersedes the first, and its reply is the one taken.
            req.set_option(SocketOption::ReqRelaxed(true)).unwrap();
            req.set_option(SocketOption::ReqCorrelate(true)).unwrap();
            req.send("first").unwrap();
            req.send("second").unwrap();
            for _ in 0..2 {
                let request = rep.recv().unwrap();
                rep.send(request).unwrap();
            }
            assert_eq!(&req.recv().unwrap()[0][..], b"second", "{t:?}");
            req.send("third").unwrap();
            let request = rep.recv().unwrap();
            rep.send(request).unwrap();
            assert_eq!(&req.recv().unwrap()[0][..], b"third", "{t:?}");
        }
    });
}

/// A REP whose requester left drops the reply (libzmq's rule), whether the
/// reply went through the lane or not, and serves the next requester.
#[test]
fn a_rep_reply_through_the_lane_to_a_departed_requester_is_dropped() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let rep = socket(&ctx, SocketType::Rep);
        let endpoint = bind(&rep, Transport::Tcp);
        let gone = socket(&ctx, SocketType::Req);
        gone.connect(&endpoint).unwrap();
        gone.send("from a requester about to leave").unwrap();
        rep.recv().unwrap();
        gone.set_option(SocketOption::Linger(Some(Duration::ZERO)))
            .unwrap();
        drop(gone);
        rep.send("to nobody").unwrap();
        let next = socket(&ctx, SocketType::Req);
        next.connect(&endpoint).unwrap();
        next.send("next").unwrap();
        assert_eq!(&rep.recv().unwrap()[0][..], b"next");
        rep.send("for next").unwrap();
        assert_eq!(&next.recv().unwrap()[0][..], b"for next");
    });
}

/// Messages in the receive lane still count against RCVHWM until the
/// application takes them, and reads reach the sender as libzmq's do, LWM
/// (half the pipe's SNDHWM + RCVHWM, rounded up) at a time: a PULL that
/// took 4 of 7 lets the sender put in exactly 4 more, never a fifth.
#[test]
fn the_receive_lane_keeps_libzmqs_hwm_counts() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let (pull, push) = inproc_pull_push(&ctx, 4, 3);
        room_comes_back_as_received(&push, &pull);
    });
}

/// `sender` (SNDHWM 3, its sends refused at the HWM) and `receiver`
/// (RCVHWM 4) over inproc: 7 go in before any receive; after 4 received,
/// exactly 4 more, never a fifth; all arrive in order.
fn room_comes_back_as_received(sender: &BlockingSocket, receiver: &BlockingSocket) {
    let fill = send_until_refused;
    assert_eq!(fill(sender, 0), 7, "SNDHWM + RCVHWM before any receive");
    for i in 0..4u32 {
        assert_eq!(receiver.recv().unwrap()[0], number(i));
    }
    // The credits come back as the context sees the takes (libzmq's,
    // too, travel as a command): four more go in, never a fifth.
    let start = std::time::Instant::now();
    let mut more = 0;
    while more < 4 {
        more += fill(sender, 7 + more);
        assert!(start.elapsed() < Duration::from_secs(10), "{more} more");
        thread::yield_now();
    }
    assert_eq!(more, 4, "as many more as were received");
    assert!(sender.try_send("one too many").is_err());
    for i in 4..11u32 {
        assert_eq!(receiver.recv().unwrap()[0], number(i), "in order");
    }
    assert!(matches!(receiver.try_recv(), Err(Error::WouldBlock(_))));
}

/// With several peers the next message is the fair queue's choice when
/// the application receives: one from each peer in turn, as libzmq's
/// test_spec_pushpull checks, though the receive lane takes a single
/// peer's messages ahead.
#[test]
fn a_pull_with_several_peers_receives_in_fair_turn() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let pull = socket(&ctx, SocketType::Pull);
        let endpoint = bind(&pull, Transport::Tcp);
        let pushers: Vec<_> = (0..5)
            .map(|_| {
                let push = socket(&ctx, SocketType::Push);
                push.connect(&endpoint).unwrap();
                push
            })
            .collect();
        // Every peer connected before anything is sent.
        while pull.peer_count().unwrap() < pushers.len() {
            thread::yield_now();
        }
        for (i, push) in pushers.iter().enumerate() {
            push.send(number(i as u32)).unwrap();
            push.send(number(100 + i as u32)).unwrap();
        }
        while pull.queued().unwrap().0 < 2 * pushers.len() {
            thread::yield_now();
        }
        let mut firsts: Vec<u32> = (0..pushers.len())
            .map(|_| u32::from_le_bytes(pull.recv().unwrap()[0][..].try_into().unwrap()))
            .collect();
        firsts.sort_unstable();
        assert_eq!(firsts, vec![0, 1, 2, 3, 4], "one from each peer first");
        for _ in 0..pushers.len() {
            let second = u32::from_le_bytes(pull.recv().unwrap()[0][..].try_into().unwrap());
            assert!(second >= 100, "then the second round: {second}");
        }
    });
}

/// A PUSH whose lane stream meets two peers, one that stops reading: the
/// messages alternate while both have room, and once that peer's pipe is
/// full every other one goes to the peer left (the lane's pump then puts
/// runs of them into its queue at once, `Peers::push_run_to`). Each message
/// arrives once, in order per peer, and the stalled peer holds no more than
/// its pipe does.
#[test]
fn a_push_stream_goes_to_the_one_peer_with_room_once_the_other_is_full() {
    bounded(|| {
        const COUNT: u32 = 20_000;
        const HWM: usize = 8;
        let ctx = Context::new().unwrap();
        let reading = socket(&ctx, SocketType::Pull);
        let stalled = socket(&ctx, SocketType::Pull);
        let push = socket(&ctx, SocketType::Push);
        push.set_option(SocketOption::SndHwm(HWM)).unwrap();
        for pull in [&reading, &stalled] {
            pull.set_option(SocketOption::RcvHwm(HWM)).unwrap();
            push.connect(&bind(pull, Transport::Inproc)).unwrap();
        }
        while push.peer_count().unwrap() < 2 {
            thread::yield_now();
        }
        let sender = thread::spawn(move || {
            for i in 0..COUNT {
                push.send(number(i)).unwrap();
            }
            push
        });
        let read = |pull: &BlockingSocket| {
            u32::from_le_bytes(pull.recv().unwrap()[0][..].try_into().unwrap())
        };
        // The stalled peer's pipe is full before the sender can finish.
        let mut got = Vec::new();
        while got.len() < COUNT as usize - 2 * HWM {
            got.push(read(&reading));
        }
        let push = sender.join().unwrap();
        // What the stalled peer holds now is all it ever takes: its share
        // of the start, at most its pipe's SNDHWM + RCVHWM.
        let mut stalled_got = Vec::new();
        while let Ok(m) = stalled.try_recv() {
            stalled_got.push(u32::from_le_bytes(m[0][..].try_into().unwrap()));
        }
        while got.len() + stalled_got.len() < COUNT as usize {
            got.push(read(&reading));
        }
        assert!(
            !stalled_got.is_empty() && stalled_got.len() <= 2 * HWM,
            "the stalled peer took {} messages",
            stalled_got.len()
        );
        assert!(got.windows(2).all(|w| w[0] < w[1]), "in order, once");
        assert!(
            stalled_got.windows(2).all(|w| w[0] < w[1]),
            "in order, once"
        );
        let mut all: Vec<u32> = got.iter().chain(&stalled_got).copied().collect();
        all.sort_unstable();
        assert!(all.iter().copied().eq(0..COUNT), "every message once");
        assert!(
            matches!(reading.try_recv(), Err(Error::WouldBlock(_))),
            "nothing more"
        );
        drop(push);
    });
}

/// The receive lane carries a sender's properties only where they change
/// (`lane_properties.rs`): whichever way the handle takes its messages,
/// each one still has its own sender's, across a single peer's stream
/// taken ahead, several peers' messages taken on asking, and a peer's
/// messages dropped from the lane by a disconnect.
#[test]
fn each_lane_message_keeps_its_own_senders_properties() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let gather = socket(&ctx, SocketType::Dealer);
        let named = |name: &'static str| {
            let d = socket(&ctx, SocketType::Dealer);
            d.set_option(SocketOption::RoutingId(bytes::Bytes::from_static(
                name.as_bytes(),
            )))
            .unwrap();
            let endpoint = bind(&d, Transport::Tcp);
            gather.connect(&endpoint).unwrap();
            (d, endpoint)
        };
        let sender_of = |props: &Option<std::sync::Arc<monocoque_patterns::PeerProperties>>| {
            let id = props.as_ref().expect("a peer sent it").routing_id().clone();
            String::from_utf8(id.to_vec()).unwrap()
        };
        let body_of = |m: &monocoque_zmtp::Msg| String::from_utf8(m[0].to_vec()).unwrap();
        // One peer: its stream is taken ahead, runs of "the same".
        let (a, _) = named("a");
        for i in 0..50 {
            a.send(format!("a{i}").into_bytes()).unwrap();
        }
        let mut slot = None;
        for i in 0..50 {
            let (m, from) = if i % 3 == 0 {
                gather.recv_with_properties().unwrap()
            } else {
                let m = match gather.take_held(&mut slot) {
                    Some(m) => m,
                    None => {
                        let (m, p) = gather.recv_with_properties().unwrap();
                        slot = p;
                        m
                    }
                };
                (m, slot.clone())
            };
            assert_eq!(body_of(&m), format!("a{i}"));
            assert_eq!(sender_of(&from), "a", "message {i}");
        }
        // Two peers: messages of both in the lane, taken on asking.
        let (b, b_endpoint) = named("b");
        while gather.peer_count().unwrap() < 2 {
            thread::yield_now();
        }
        for i in 0..20 {
            a.send(format!("a{i}").into_bytes()).unwrap();
            b.send(format!("b{i}").into_bytes()).unwrap();
        }
        let mut from_each = [0, 0];
        while from_each != [20, 20] {
            let m = match gather.take_held(&mut slot) {
                Some(m) => m,
                None => {
                    let (m, p) = gather.recv_with_properties().unwrap();
                    slot = p;
                    m
                }
            };
            let body = body_of(&m);
            let who = sender_of(&slot);
            assert_eq!(&body[..1], who, "{body} from {who}");
            from_each[usize::from(who == "b")] += 1;
        }
        // b's messages dropped by a disconnect, a's after them still a's.
        for i in 0..5 {
            b.send(format!("b{i}").into_bytes()).unwrap();
        }
        while gather.queued().unwrap().0 < 5 {
            thread::yield_now();
        }
        // Into the lane (and the handle's hands) before the disconnect.
        let (m, p) = gather.recv_with_properties().unwrap();
        assert_eq!(
            (body_of(&m), sender_of(&p)),
            ("b0".to_string(), "b".to_string())
        );
        gather.disconnect(&b_endpoint).unwrap();
        a.send("after".as_bytes().to_vec()).unwrap();
        let (m, p) = gather.recv_with_properties().unwrap();
        assert_eq!(body_of(&m), "after", "b's queued messages were dropped");
        assert_eq!(sender_of(&p), "a");
    });
}

/// CONFLATE keeps only the newest message, receive lane or not.
#[test]
fn a_conflating_pull_receives_only_the_newest() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let pull = socket(&ctx, SocketType::Pull);
        pull.set_option(SocketOption::Conflate(true)).unwrap();
        let endpoint = bind(&pull, Transport::Inproc);
        let push = socket(&ctx, SocketType::Push);
        push.connect(&endpoint).unwrap();
        for i in 0..20u32 {
            // ZMQ_DONTWAIT: in the pipe when it returns.
            push.try_send(number(i)).unwrap();
        }
        assert_eq!(pull.recv().unwrap()[0], number(19));
        assert!(matches!(pull.try_recv(), Err(Error::WouldBlock(_))));
        push.try_send(number(20)).unwrap();
        assert_eq!(pull.recv().unwrap()[0], number(20));
    });
}

/// A pipe at its HWM because of what the receive lane holds gets room as
/// soon as the application takes LWM of its messages (2 of a pipe of 4,
/// as libzmq), even when the lane holds other peers' messages behind them
/// (nothing waits for the lane to empty).
#[test]
fn a_full_pipe_resumes_after_lwm_takes_with_several_peers() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let (pull, full) = inproc_pull_push(&ctx, 2, 2);
        let endpoint = pull.last_endpoint().unwrap().expect("bound");
        let other = socket(&ctx, SocketType::Push);
        other.connect(&endpoint).unwrap();
        let sent = send_until_refused(&full, 0);
        assert_eq!(sent, 4, "SNDHWM + RCVHWM");
        for _ in 0..5 {
            other.try_send("from the other peer").unwrap();
        }
        // The first receive fills the lane with every queued message, in
        // fair turn (the other peer's last), the first four two from each
        // peer; the rest are taken from the lane without asking.
        for _ in 0..4 {
            pull.recv().unwrap();
        }
        let start = std::time::Instant::now();
        while full.try_send(number(sent)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the full pipe never got its room back"
            );
            thread::yield_now();
        }
    });
}

/// ZMQ_FD asked for after a message reached the receive lane still reads
/// readable: the message is there to receive.
#[test]
fn the_readiness_descriptor_tells_of_what_the_lane_already_holds() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let pull = socket(&ctx, SocketType::Pull);
        let endpoint = bind(&pull, Transport::Inproc);
        let push = socket(&ctx, SocketType::Push);
        push.connect(&endpoint).unwrap();
        push.try_send("early").unwrap();
        while pull.queued().unwrap().0 == 0 {
            thread::yield_now();
        }
        let fd = pull.readiness_fd().unwrap();
        let mut fds = [monocoque_runtime::PollFd::readable(fd)];
        monocoque_runtime::poll_fds(&mut fds, Some(Duration::from_secs(10))).unwrap();
        assert!(
            fds[0].readable,
            "the descriptor did not tell of the message"
        );
        assert_eq!(&pull.try_recv().unwrap()[0][..], b"early");
    });
}

/// An XPUB bound over `t` with `sndhwm`, and a SUB of every topic with
/// `rcvhwm` connected to it, once the XPUB has heard the subscription.
fn xpub_and_sub(
    ctx: &Context,
    t: Transport,
    sndhwm: usize,
    rcvhwm: usize,
) -> (BlockingSocket, BlockingSocket) {
    let xpub = socket(ctx, SocketType::XPub);
    xpub.set_option(SocketOption::SndHwm(sndhwm)).unwrap();
    let endpoint = bind(&xpub, t);
    let sub = socket(ctx, SocketType::Sub);
    sub.set_option(SocketOption::RcvHwm(rcvhwm)).unwrap();
    sub.set_option(SocketOption::Subscribe(bytes::Bytes::new()))
        .unwrap();
    sub.connect(&endpoint).unwrap();
    assert_eq!(&xpub.recv().unwrap()[0][..], &[1u8][..], "the subscription");
    (xpub, sub)
}

/// A SUB's lane is filled only when a receive asks, but what it took
/// still counts against RCVHWM until the application has it: a NODROP
/// publisher (libzmq's test_proxy_hwm counts on it) gets exactly as much
/// room back as was received, LWM at a time, never more.
#[test]
fn a_sub_keeps_libzmqs_hwm_counts() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let (xpub, sub) = xpub_and_sub(&ctx, Transport::Inproc, 3, 4);
        xpub.set_option(SocketOption::XpubNodrop(true)).unwrap();
        room_comes_back_as_received(&xpub, &sub);
    });
}

/// libzmq's SUB filters at the read: once an unsubscribe returns, no
/// message of that topic is received, though some were queued (and here
/// already in the SUB's receive lane) before it; the others keep their
/// order.
#[test]
fn an_unsubscribe_stops_what_the_sub_already_holds() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let xpub = socket(&ctx, SocketType::XPub);
        let endpoint = bind(&xpub, Transport::Inproc);
        let sub = socket(&ctx, SocketType::Sub);
        for topic in ["A", "B"] {
            sub.set_option(SocketOption::Subscribe(bytes::Bytes::from(topic)))
                .unwrap();
        }
        sub.connect(&endpoint).unwrap();
        for _ in 0..2 {
            assert_eq!(xpub.recv().unwrap()[0][0], 1, "a subscription");
        }
        let sent = ["A1", "B1", "A2", "B2", "A3"];
        for m in sent {
            xpub.send(m).unwrap();
        }
        while sub.queued().unwrap().0 < sent.len() {
            thread::yield_now();
        }
        assert_eq!(&sub.recv().unwrap()[0][..], b"A1");
        assert!(
            sub.events().unwrap().contains(Events::POLLIN),
            "the rest is held"
        );
        sub.set_option(SocketOption::Unsubscribe(bytes::Bytes::from("B")))
            .unwrap();
        assert_eq!(&sub.recv().unwrap()[0][..], b"A2");
        assert_eq!(&sub.recv().unwrap()[0][..], b"A3");
        assert!(matches!(sub.try_recv(), Err(Error::WouldBlock(_))));
        // What still passes keeps arriving.
        xpub.send("A4").unwrap();
        assert_eq!(&sub.recv().unwrap()[0][..], b"A4");
    });
}

#[test]
fn dontwait_on_a_publisher_takes_the_lane_in_order_with_blocking_sends() {
    bounded(|| {
        const COUNT: u32 = 5_000;
        for t in TRANSPORTS {
            let ctx = Context::new().unwrap();
            // Unbounded: nothing is dropped at a HWM, so every message arrives.
            let (xpub, sub) = xpub_and_sub(&ctx, t, 0, 0);
            for i in 0..COUNT {
                if i % 7 == 0 {
                    xpub.send(number(i)).unwrap();
                } else {
                    xpub.try_send(number(i)).unwrap();
                }
            }
            for i in 0..COUNT {
                assert_eq!(
                    &sub.recv().unwrap()[0][..],
                    &number(i)[..],
                    "{t:?}: in order"
                );
            }
        }
    });
}

#[test]
fn dontwait_on_a_publisher_drops_at_the_hwm_and_under_nodrop_is_refused() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let (xpub, _sub) = xpub_and_sub(&ctx, Transport::Inproc, 3, 4);
        for i in 0..1_000 {
            xpub.try_send(number(i))
                .expect("a publisher drops what a full peer cannot take");
        }
        // XPUB_NODROP: the send waits for room instead, so ZMQ_DONTWAIT is
        // answered exactly, as for PUSH.
        xpub.set_option(SocketOption::XpubNodrop(true)).unwrap();
        assert!(matches!(xpub.try_send("full"), Err(Error::WouldBlock(_))));
        xpub.set_option(SocketOption::XpubNodrop(false)).unwrap();
        xpub.try_send("dropped").unwrap();
    });
}

#[test]
fn a_dontwait_receive_sees_every_send_that_returned_before_it() {
    // A ZMQ_DONTWAIT receive on an empty receive lane may answer EAGAIN
    // without asking the context (receive_lane.rs); it must still find
    // what a send that returned before it put in the socket's pipes, as
    // libzmq's inproc pipes show it at once. The case of another thread's
    // lane send once failed under load (CI, epoll driver): the receive's
    // command overtook that lane's pump (lane_backlog.rs, Settle::Others).
    bounded(|| {
        let ctx = Context::new().unwrap();
        let (pull, mut push) = inproc_pull_push(&ctx, 1_000, 1_000);
        for i in 0..2_000u32 {
            assert!(
                matches!(pull.try_recv(), Err(Error::WouldBlock(_))),
                "{i}: nothing sent yet"
            );
            match i % 3 {
                // Through the send lane, from this thread.
                0 => push.send(number(i)).unwrap(),
                // A command, answered after the message is in the pipe.
                1 => push.try_send(number(i)).unwrap(),
                // Through the send lane, from another thread that returned.
                _ => {
                    push = thread::spawn(move || {
                        push.send(number(i)).unwrap();
                        push
                    })
                    .join()
                    .unwrap()
                }
            }
            // Counting what is queued looks at the socket now too.
            assert_eq!(
                pull.queued().unwrap().0,
                1,
                "{i} (case {}): queued after the send",
                i % 3
            );
            assert_eq!(
                &pull.try_recv().unwrap_or_else(|e| panic!(
                    "{i} (case {}): the message sent before: {e:?}",
                    i % 3
                ))[0][..],
                &number(i)[..]
            );
        }
    });
}

#[test]
fn a_dontwait_receive_sees_the_notice_its_own_disconnect_queued() {
    // A ROUTER_NOTIFY notice made by a command (the disconnect) comes with
    // no pipe signal: the receive lane is not caught up until the pump has
    // looked again, so a ZMQ_DONTWAIT receive right after asks.
    bounded(|| {
        let ctx = Context::new().unwrap();
        for round in 0..200 {
            let endpoint = format!("inproc://notified-{round}");
            let dealer = socket(&ctx, SocketType::Dealer);
            dealer
                .set_option(SocketOption::RoutingId(bytes::Bytes::from_static(b"d")))
                .unwrap();
            dealer.bind(&endpoint).unwrap();
            let router = socket(&ctx, SocketType::Router);
            router.set_option(SocketOption::RouterNotify(3)).unwrap();
            router.connect(&endpoint).unwrap();
            let connected = router.recv().unwrap();
            assert_eq!(&connected[0][..], b"d", "{round}: the connect notice");
            assert!(matches!(router.try_recv(), Err(Error::WouldBlock(_))));
            router.disconnect(&endpoint).unwrap();
            let gone = router.try_recv().expect("the disconnect's notice");
            assert_eq!(&gone[0][..], b"d", "{round}: the disconnect notice");
            assert_eq!(gone[1].len(), 0);
        }
    });
}

#[test]
fn a_publisher_that_never_pauses_leaves_the_context_to_its_other_sockets() {
    // A ZMQ_DONTWAIT stream into a PUB's lane from another thread can
    // refill the ring as fast as the context's thread drains it; the
    // lane's pump still gives the reactor a turn every few rounds
    // (`lanes::DRIVE_BUDGET`), so request-reply on the same context goes
    // on meanwhile, and a command after the same thread's lane sends waits
    // for those lanes only, not for the publisher's (`lane_backlog.rs`).
    bounded(|| {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let ctx = Context::new().unwrap();
        // HWMs of 1,000: what the subscriber does not read is dropped.
        let (publisher, sub) = xpub_and_sub(&ctx, Transport::Inproc, 1_000, 1_000);
        let stop = Arc::new(AtomicBool::new(false));
        let flood = {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut sent = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    publisher.try_send(number(sent as u32)).unwrap();
                    sent += 1;
                }
                (publisher, sent)
            })
        };
        let rep = socket(&ctx, SocketType::Rep);
        let endpoint = bind(&rep, Transport::Inproc);
        let req = socket(&ctx, SocketType::Req);
        req.connect(&endpoint).unwrap();
        for i in 0..200u32 {
            req.send(number(i)).unwrap();
            let request = rep.recv().unwrap();
            rep.send(request).unwrap();
            assert_eq!(&req.recv().unwrap()[0][..], &number(i)[..]);
        }
        stop.store(true, Ordering::Relaxed);
        let (_publisher, sent) = flood.join().unwrap();
        assert!(sent > 0, "the publisher was sending throughout");
        drop(sub);
    });
}
