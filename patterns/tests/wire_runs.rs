//! Messages in their wire form between the threads (`pipe/queued.rs`,
//! docs/BENCHMARKS.md attempt 15): single small frames a blocking socket's
//! user encodes into its send lane (`BlockingSocket::offer_single_frame`),
//! and runs a connection's reader leaves undecoded for the receiving user
//! (`BlockingSocket::take_single_held`). Whatever way each message takes,
//! a stream arrives whole and in order, with each message's frames, on
//! every transport and socket type that uses them, through stalls at the
//! HWM and past a second peer.

mod common;

use std::thread;
use std::time::Duration;

use bytes::Bytes;
use common::{Transport, TRANSPORTS};
use monocoque_patterns::{BlockingSocket, Context, SocketOption};
use monocoque_zmtp::{Msg, SocketType};

/// Runs `body` on its own thread and fails the test if it takes over 120 s.
fn bounded(body: impl FnOnce() + Send + 'static) {
    common::bounded_for(Duration::from_secs(120), body);
}

/// A socket that gives up a receive after 20 s, with `hwm` both ways.
fn socket(ctx: &Context, kind: SocketType, hwm: usize) -> BlockingSocket {
    let s = ctx.socket(kind).unwrap();
    s.set_option(SocketOption::RcvTimeo(Some(Duration::from_secs(20))))
        .unwrap();
    s.set_option(SocketOption::SndHwm(hwm)).unwrap();
    s.set_option(SocketOption::RcvHwm(hwm)).unwrap();
    s
}

/// What message `i` of the stream is: mostly one small frame (the encoded
/// way), every 5th one of 1.5 KiB (encoded too, with a long header),
/// every 7th two frames and every 11th one frame larger than the encoded
/// ring takes (the message way), so that the two ways take turns
/// mid-stream.
fn message(i: u32) -> Msg {
    let id = Bytes::from(i.to_le_bytes().to_vec());
    if i % 7 == 0 {
        return Msg::from(vec![id, Bytes::from_static(b"second frame")]);
    }
    let sized = |len: usize| {
        let mut body = vec![(i % 251) as u8; len];
        body[..4].copy_from_slice(&i.to_le_bytes());
        Msg::from(body)
    };
    if i % 11 == 0 {
        return sized(3000);
    }
    if i % 5 == 0 {
        return sized(1500);
    }
    Msg::from(id)
}

/// Sends message `i`: a single frame offered to the encoded ring first.
/// Returns whether it went that way.
fn send(s: &BlockingSocket, i: u32) -> bool {
    let msg = message(i);
    if msg.len() == 1 && s.offer_single_frame(&msg[0]) {
        return true;
    }
    s.send(msg).unwrap();
    false
}

/// Receives the next message as the C API's `zmq_msg_recv` does: single
/// frames taken in place where they are still in their wire form, after a
/// wait for one when none is held (`wait_held`); with whether it was taken
/// so.
fn receive_counted(s: &BlockingSocket) -> (Msg, bool) {
    let mut properties = None;
    if let Some(frame) = s.take_single_held(&mut properties, |frame, _| frame.to_vec()) {
        return (Msg::from(frame), true);
    }
    if s.wait_held().unwrap() {
        if let Some(frame) = s.take_single_held(&mut properties, |frame, _| frame.to_vec()) {
            return (Msg::from(frame), true);
        }
    }
    (s.recv().unwrap(), false)
}

/// Streams `count` messages from `sender` to `receiver` (both already
/// connected) on another thread, checking each arrives whole and in order.
/// Both ways must have been taken, each by some of the messages: else
/// this tests nothing of them.
fn stream(sender: BlockingSocket, receiver: &BlockingSocket, count: u32, what: &str) {
    let sending = thread::spawn(move || {
        let encoded = (0..count).filter(|&i| send(&sender, i)).count();
        (sender, encoded)
    });
    let mut in_place = 0;
    for i in 0..count {
        let (got, taken_in_place) = receive_counted(receiver);
        assert_eq!(got, message(i), "{what}: message {i}");
        in_place += usize::from(taken_in_place);
    }
    let (sender, encoded) = sending.join().unwrap();
    drop(sender);
    assert!(encoded > 0, "{what}: some sends went encoded");
    assert!(in_place > 0, "{what}: some receives were taken in place");
}

#[test]
fn a_mixed_stream_arrives_whole_and_in_order_on_every_transport_and_type() {
    bounded(|| {
        let pairs = [
            (SocketType::Push, SocketType::Pull),
            (SocketType::Dealer, SocketType::Dealer),
            (SocketType::Pair, SocketType::Pair),
        ];
        for t in TRANSPORTS {
            for (sender_kind, receiver_kind) in pairs {
                // A small HWM: the sender stalls often, with encoded
                // messages parked behind the one that waits.
                let ctx = Context::new().unwrap();
                let receiver = socket(&ctx, receiver_kind, 16);
                receiver.bind(&t.endpoint()).unwrap();
                let endpoint = receiver.last_endpoint().unwrap().expect("bound");
                let sender = socket(&ctx, sender_kind, 16);
                sender.connect(&endpoint).unwrap();
                let what = format!("{t:?} {sender_kind:?} -> {receiver_kind:?}");
                stream(sender, &receiver, 20_000, &what);
            }
        }
    });
}

#[test]
fn a_stream_to_a_peer_of_another_context_keeps_its_order_with_default_hwm() {
    bounded(|| {
        for t in [Transport::Tcp, Transport::Ipc] {
            let (a, b) = (Context::new().unwrap(), Context::new().unwrap());
            let pull = socket(&b, SocketType::Pull, 1000);
            pull.bind(&t.endpoint()).unwrap();
            let endpoint = pull.last_endpoint().unwrap().expect("bound");
            let push = socket(&a, SocketType::Push, 1000);
            push.connect(&endpoint).unwrap();
            stream(push, &pull, 100_000, &format!("{t:?}"));
        }
    });
}

#[test]
fn an_encoded_stream_spreads_over_two_peers_and_each_keeps_its_order() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let push = socket(&ctx, SocketType::Push, 1000);
        let pulls: Vec<BlockingSocket> = (0..2)
            .map(|_| {
                let pull = socket(&ctx, SocketType::Pull, 1000);
                pull.bind(&Transport::Tcp.endpoint()).unwrap();
                push.connect(&pull.last_endpoint().unwrap().expect("bound"))
                    .unwrap();
                pull
            })
            .collect();
        // Both connected before the stream starts: the load balancer has
        // both from its first message on.
        while push.peer_count().unwrap() < 2 {
            thread::yield_now();
        }
        const COUNT: u32 = 10_000;
        let sending = thread::spawn(move || {
            for i in 0..COUNT {
                send(&push, i);
            }
            push
        });
        // Each peer's share arrives in order; together, all of them. The
        // receivers look without waiting (the total tells them when to
        // stop: a receive that waits could wait for a share that is done).
        let total = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let receiving: Vec<_> = pulls
            .into_iter()
            .map(|pull| {
                let total = total.clone();
                thread::spawn(move || {
                    let mut got = Vec::new();
                    let mut last: Option<u32> = None;
                    while total.load(std::sync::atomic::Ordering::Acquire) < COUNT {
                        let m = match try_receive(&pull) {
                            Some(m) => m,
                            None => {
                                thread::yield_now();
                                continue;
                            }
                        };
                        let i = u32::from_le_bytes(m[0][..4].try_into().unwrap());
                        assert_eq!(m, message(i), "message {i} whole");
                        assert!(last < Some(i), "in order: {i} after {last:?}");
                        last = Some(i);
                        got.push(i);
                        total.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                    }
                    got
                })
            })
            .collect();
        let push = sending.join().unwrap();
        let mut seen = vec![0; COUNT as usize];
        let mut shares = Vec::new();
        for r in receiving {
            let got = r.join().unwrap();
            shares.push(got.len());
            for i in got {
                seen[i as usize] += 1;
            }
        }
        drop(push);
        assert!(seen.iter().all(|&n| n == 1), "every message arrived once");
        assert!(
            shares.iter().all(|&n| n > 0),
            "both peers had a share: {shares:?}"
        );
    });
}

/// [`receive`] without waiting.
fn try_receive(s: &BlockingSocket) -> Option<Msg> {
    let mut properties = None;
    if let Some(frame) = s.take_single_held(&mut properties, |frame, _| frame.to_vec()) {
        return Some(Msg::from(frame));
    }
    s.try_recv().ok()
}

#[test]
fn a_blocking_sender_is_ahead_of_a_full_peer_by_a_bounded_count_even_of_empty_frames() {
    bounded(|| {
        // Inproc: the pipe holds SNDHWM + RCVHWM = 20; no kernel buffer
        // behind it. Empty frames are two bytes encoded: the ring's bytes
        // alone would let 65,536 of them through.
        let ctx = Context::new().unwrap();
        let pull = socket(&ctx, SocketType::Pull, 10);
        pull.bind(&Transport::Inproc.endpoint()).unwrap();
        let push = socket(&ctx, SocketType::Push, 10);
        push.set_option(SocketOption::SndTimeo(Some(Duration::from_millis(100))))
            .unwrap();
        push.connect(&pull.last_endpoint().unwrap().expect("bound"))
            .unwrap();
        let mut went = 0;
        loop {
            if push.offer_single_frame(b"") {
                went += 1;
                continue;
            }
            match push.send(Msg::from(Vec::<u8>::new())) {
                Ok(()) => went += 1,
                Err(_) => break,
            }
        }
        // The pipe's 20, plus at most the encoded ring's bound and the
        // message ring's capacity.
        assert!(went >= 20, "the pipe fills: {went}");
        assert!(went <= 20 + 2048 + 256, "bounded: {went}");
        // Every one of them is delivered.
        for _ in 0..went {
            assert_eq!(pull.recv().unwrap(), Msg::from(Vec::<u8>::new()));
        }
    });
}

#[test]
fn sends_go_on_the_message_way_while_a_peer_holds_the_encoded_ring() {
    bounded(|| {
        // Inproc: the runs the pump lends out of the encoded ring sit in
        // the PULL's queue until it reads them, so its 512 KiB run out
        // after about 500 messages of 1 KiB. The pipe holds SNDHWM +
        // RCVHWM = 2,000: every send goes, the rest the message way, none
        // waits, and all arrive in order once the PULL reads.
        let ctx = Context::new().unwrap();
        let pull = socket(&ctx, SocketType::Pull, 1000);
        pull.bind(&Transport::Inproc.endpoint()).unwrap();
        let push = socket(&ctx, SocketType::Push, 1000);
        push.connect(&pull.last_endpoint().unwrap().expect("bound"))
            .unwrap();
        push.send(Msg::from("warm")).unwrap();
        assert_eq!(pull.recv().unwrap(), Msg::from("warm"));
        let body = |i: u32| {
            let mut body = vec![(i % 251) as u8; 1024];
            body[..4].copy_from_slice(&i.to_le_bytes());
            body
        };
        let mut encoded = 0;
        for i in 0..1800 {
            if push.offer_single_frame(&body(i)) {
                encoded += 1;
            } else {
                push.send(Msg::from(body(i))).unwrap();
            }
        }
        assert!(encoded > 0, "the ring took some: {encoded}");
        assert!(encoded < 600, "the ring ran out while lent: {encoded}");
        for i in 0..1800 {
            assert_eq!(pull.recv().unwrap(), Msg::from(body(i)), "message {i}");
        }
        // Read, the runs gave the ring back.
        assert!(push.offer_single_frame(&body(1800)));
        assert_eq!(pull.recv().unwrap(), Msg::from(body(1800)));
    });
}

#[test]
fn after_a_wait_the_first_message_of_a_run_is_taken_in_place() {
    bounded(|| {
        for transport in [Transport::Tcp, Transport::Inproc] {
            let ctx = Context::new().unwrap();
            let pull = socket(&ctx, SocketType::Pull, 1000);
            pull.bind(&transport.endpoint()).unwrap();
            let push = socket(&ctx, SocketType::Push, 1000);
            push.connect(&pull.last_endpoint().unwrap().expect("bound"))
                .unwrap();
            // Connected, and the lane open: a message sent the usual way
            // went through.
            push.send(Msg::from("warm")).unwrap();
            assert_eq!(pull.recv().unwrap(), Msg::from("warm"));
            for round in 0..3u8 {
                assert!(push.offer_single_frame(&[round; 10]), "{transport:?}");
                // Nothing held before the wait (the previous round took
                // all): the run the wait brings is opened in place.
                assert!(pull.wait_held().unwrap(), "{transport:?}");
                let mut properties = None;
                let got = pull.take_single_held(&mut properties, |frame, _| frame.to_vec());
                assert_eq!(got, Some(vec![round; 10]), "{transport:?} round {round}");
            }
            // A message of two frames is held, but not taken in place.
            push.send(Msg::from(vec![
                Bytes::from_static(b"a"),
                Bytes::from_static(b"b"),
            ]))
            .unwrap();
            assert!(pull.wait_held().unwrap());
            let mut properties = None;
            assert_eq!(
                pull.take_single_held(&mut properties, |f, _| f.to_vec()),
                None
            );
            assert_eq!(pull.recv().unwrap().len(), 2);
        }
    });
}

#[test]
fn waiting_for_a_held_message_times_out_as_a_receive_and_is_refused_without_a_lane() {
    bounded(|| {
        let ctx = Context::new().unwrap();
        let pull = ctx.socket(SocketType::Pull).unwrap();
        pull.set_option(SocketOption::RcvTimeo(Some(Duration::from_millis(20))))
            .unwrap();
        pull.bind(&Transport::Inproc.endpoint()).unwrap();
        assert!(matches!(
            pull.wait_held(),
            Err(monocoque_patterns::Error::WouldBlock(_))
        ));
        // REQ's receive changes its state: no lane, `recv` answers.
        let req = ctx.socket(SocketType::Req).unwrap();
        assert!(!req.wait_held().unwrap());
    });
}
