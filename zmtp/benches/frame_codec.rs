//! Frame encode and decode: ns per 64-byte message, GB/s at 64 KiB, and the whole
//! session path (send, then decode into a message event); and the cost of
//! copying a body at decode against loaning it from the receive buffer, per
//! body size (`copy_or_loan`), which sets `INLINE_COPY_MAX`.
//!
//! `cargo bench -p monocoque-zmtp --bench frame_codec`

use std::time::Instant;

use bytes::{Buf, Bytes};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use monocoque_zmtp::frame_decoder::{FrameDecoder, FrameLimit};
use monocoque_zmtp::{Event, InputBuffer, Msg, Session, SessionConfig, SocketType, TransmitQueue};

const BATCH: usize = 1000;

fn encoded(body: &Bytes, n: usize) -> Bytes {
    let mut q = TransmitQueue::new();
    for _ in 0..n {
        q.push_frame(false, false, body);
    }
    q.take_all()
}

/// An input buffer holding `wire` as one received chunk.
fn received(wire: &Bytes) -> InputBuffer {
    let mut input = InputBuffer::new();
    input.push(wire.clone());
    input
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    for (name, size, n) in [("64B", 64usize, BATCH), ("64KiB", 65536, 64)] {
        let body = Bytes::from(vec![0xA5u8; size]);
        g.throughput(if size == 64 {
            Throughput::Elements(n as u64)
        } else {
            Throughput::Bytes((size * n) as u64)
        });
        let mut q = TransmitQueue::new();
        g.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..n {
                    q.push_frame(false, false, black_box(&body));
                }
                // What a writev of everything would consume.
                let len = q.remaining();
                q.advance(len);
            })
        });
    }
    g.finish();
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    for (name, size, n) in [("64B", 64usize, BATCH), ("64KiB", 65536, 64)] {
        let wire = encoded(&Bytes::from(vec![0xA5u8; size]), n);
        g.throughput(if size == 64 {
            Throughput::Elements(n as u64)
        } else {
            Throughput::Bytes((size * n) as u64)
        });
        g.bench_function(name, |b| {
            b.iter_batched(
                || received(&wire),
                |mut input| {
                    let mut dec = FrameDecoder::new(FrameLimit::Message(None));
                    let mut count = 0;
                    while let Some(f) = dec.decode(&mut input).unwrap() {
                        black_box(&f);
                        count += 1;
                    }
                    assert_eq!(count, n);
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn session_path(c: &mut Criterion) {
    let now = Instant::now();
    let mut a = Session::new(SessionConfig::new(SocketType::Push), now).unwrap();
    let mut b = Session::new(SessionConfig::new(SocketType::Pull), now).unwrap();
    for _ in 0..4 {
        let (x, y) = (a.transmit().take_all(), b.transmit().take_all());
        b.handle_input(x, now);
        a.handle_input(y, now);
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
    }
    let msg = Msg::from(Bytes::from(vec![0x5Au8; 64]));
    let mut g = c.benchmark_group("session");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("send+receive 64B", |bench| {
        bench.iter(|| {
            for _ in 0..BATCH {
                a.send(&msg).unwrap();
            }
            b.handle_input(a.transmit().take_all(), now);
            let mut count = 0;
            while let Some(Event::Message(m)) = b.poll_event() {
                black_box(m);
                count += 1;
            }
            assert_eq!(count, BATCH);
        })
    });
    g.finish();
}

/// Taking 1000 bodies of one size out of a received chunk: as loans (a slice
/// of the chunk, a reference count) or as copies of their own.
fn copy_or_loan(c: &mut Criterion) {
    let mut g = c.benchmark_group("copy_or_loan");
    for size in [64usize, 256, 512, 1024, 2048] {
        let wire = Bytes::from(vec![0xA5u8; size * BATCH]);
        g.throughput(Throughput::Elements(BATCH as u64));
        for (how, copy) in [("loan", false), ("copy", true)] {
            g.bench_function(format!("{how} {size}B"), |b| {
                b.iter_batched(
                    || received(&wire),
                    |mut input| {
                        for _ in 0..BATCH {
                            let body = if copy {
                                input.take_copied(size)
                            } else {
                                input.take(size)
                            };
                            black_box(body);
                        }
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    g.finish();
}

criterion_group!(benches, encode, decode, session_path, copy_or_loan);
criterion_main!(benches);
