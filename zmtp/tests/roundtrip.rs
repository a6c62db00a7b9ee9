//! Property tests: whatever is encoded decodes to the same thing, however the
//! bytes are split on the way.

mod common;

use std::time::Instant;

use bytes::{Buf, Bytes};
use common::*;
use monocoque_zmtp::command::{Command, Ping, Subscribe};
use monocoque_zmtp::frame_decoder::{FrameDecoder, FrameLimit};
use monocoque_zmtp::{Event, InputBuffer, Msg, SocketType, TransmitQueue};
use proptest::prelude::*;

fn frames() -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..8),
            proptest::collection::vec(any::<u8>(), 250..262),
            proptest::collection::vec(any::<u8>(), 0..2048),
        ],
        1..6,
    )
}

/// Splits `wire` at the given fractions into chunks.
fn split(wire: &Bytes, cuts: &[usize]) -> Vec<Bytes> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    points.sort_unstable();
    let mut out = Vec::new();
    let mut last = 0;
    for p in points.into_iter().chain([wire.len()]) {
        out.push(wire.slice(last..p));
        last = p;
    }
    out
}

proptest! {
    #[test]
    fn frames_round_trip(
        frames in frames(),
        threshold in 0usize..1024,
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let mut q = TransmitQueue::with_copy_threshold(threshold);
        for (i, f) in frames.iter().enumerate() {
            q.push_frame(i + 1 < frames.len(), false, &Bytes::copy_from_slice(f));
        }
        // Read it out through partial advances, as a writev loop would.
        let mut wire = Vec::new();
        while q.has_remaining() {
            let c = q.chunk();
            let n = c.len().min(7);
            wire.extend_from_slice(&c[..n]);
            q.advance(n);
        }
        let wire = Bytes::from(wire);
        let mut input = InputBuffer::new();
        let mut dec = FrameDecoder::new(FrameLimit::Message(None));
        let mut got = Vec::new();
        for chunk in split(&wire, &cuts) {
            input.push(chunk);
            while let Some(f) = dec.decode(&mut input).unwrap() {
                got.push(f);
            }
        }
        prop_assert_eq!(got.len(), frames.len());
        for (i, (g, f)) in got.iter().zip(&frames).enumerate() {
            prop_assert_eq!(&g.body[..], &f[..]);
            prop_assert_eq!(g.more, i + 1 < frames.len());
            prop_assert!(!g.command);
        }
    }

    #[test]
    fn messages_round_trip_through_sessions(
        msgs in proptest::collection::vec(frames(), 1..5),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let now = Instant::now();
        let (mut a, mut b) = connected(config(SocketType::Push), config(SocketType::Pull), now);
        let msgs: Vec<Msg> = msgs
            .into_iter()
            .map(|m| Msg::from(m.into_iter().map(Bytes::from).collect::<Vec<_>>()))
            .collect();
        for m in &msgs {
            a.send(m).unwrap();
        }
        let wire = a.transmit().take_all();
        let mut got = Vec::new();
        for chunk in split(&wire, &cuts) {
            b.handle_input(chunk, now);
            got.extend(drain(&mut b));
        }
        let expected: Vec<Event> = msgs.into_iter().map(Event::Message).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn commands_round_trip(topic in proptest::collection::vec(any::<u8>(), 0..400), ttl in any::<u16>()) {
        for c in [
            Command::Subscribe(Subscribe { topic: Bytes::from(topic.clone()) }),
            Command::Ping(Ping { ttl_deciseconds: ttl, context: Bytes::from(topic.clone()) }),
        ] {
            let mut q = TransmitQueue::new();
            c.encode(&mut q);
            let mut input = InputBuffer::new();
            input.push(q.take_all());
            let f = FrameDecoder::new(FrameLimit::Message(None)).decode(&mut input).unwrap().unwrap();
            prop_assert!(f.command);
            prop_assert_eq!(Command::parse(&f.body).unwrap(), c);
        }
    }
}
