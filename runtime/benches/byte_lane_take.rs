//! A send lane's encoded ring, taken two ways: `byte_lane` (this crate's:
//! each take lent as it lies in the ring, the space given back when the
//! loan is dropped) against rtrb's ring of `u8` with each take copied out
//! into a buffer of its own and the space freed at once (the lane's
//! design before attempt 19, docs/BENCHMARKS.md). One writer thread
//! writes 1 KiB records (a frame header and body, as `zmq_msg_send`
//! encodes them), one reader thread takes whatever is there, reads every
//! byte of it once (as the kernel's copy into a socket does), and drops
//! it. Pinned to two cores when there are two.
//!
//! `cargo bench -p monocoque-runtime --bench byte_lane_take`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use monocoque_runtime::byte_lane;

const RECORDS: u64 = 1 << 18;
const BODY: usize = 1024;
const RING: usize = 512 * 1024;

/// The CPUs allowed at start (read once: after pinning, a thread sees only its own core).
fn allowed_cores() -> &'static [core_affinity::CoreId] {
    static CORES: std::sync::OnceLock<Vec<core_affinity::CoreId>> = std::sync::OnceLock::new();
    CORES.get_or_init(|| core_affinity::get_core_ids().unwrap_or_default())
}

fn pin(core: usize) {
    let cores = allowed_cores();
    if cores.len() > 1 {
        core_affinity::set_for_current(cores[core % cores.len()]);
    }
}

/// What the reader does with a take: every byte read once; the number of
/// records it held (each 9 + `BODY` bytes).
fn consume(bytes: &[u8]) -> u64 {
    let sum = bytes
        .chunks_exact(8)
        .fold(0u64, |s, w| s ^ u64::from_ne_bytes(w.try_into().unwrap()));
    black_box(sum);
    (bytes.len() / (9 + BODY)) as u64
}

fn header() -> [u8; 9] {
    let mut h = [0x02u8, 0, 0, 0, 0, 0, 0, 0, 0];
    h[1..].copy_from_slice(&(BODY as u64).to_be_bytes());
    h
}

fn lent_run(n: u64) -> Duration {
    let (mut w, mut r) = byte_lane::channel(RING);
    let start = Instant::now();
    let reader = std::thread::spawn(move || {
        pin(1);
        let mut got = 0;
        while got < n {
            match r.take_all() {
                Some(lent) => got += consume(&lent),
                None => std::hint::spin_loop(),
            }
        }
    });
    pin(0);
    let (header, body) = (header(), [7u8; BODY]);
    for _ in 0..n {
        while !w.try_write(&[&header, &body]) {
            std::hint::spin_loop();
        }
    }
    reader.join().unwrap();
    start.elapsed()
}

fn copied_run(n: u64) -> Duration {
    let (mut p, mut c) = rtrb::RingBuffer::<u8>::new(RING);
    let start = Instant::now();
    let reader = std::thread::spawn(move || {
        pin(1);
        let mut got = 0;
        while got < n {
            let slots = c.slots();
            let Ok(chunk) = c.read_chunk(slots) else {
                std::hint::spin_loop();
                continue;
            };
            if slots == 0 {
                std::hint::spin_loop();
                continue;
            }
            let (first, second) = chunk.as_slices();
            let mut out = Vec::with_capacity(slots);
            out.extend_from_slice(first);
            out.extend_from_slice(second);
            chunk.commit_all();
            got += consume(&out);
        }
    });
    pin(0);
    let mut record = header().to_vec();
    record.extend_from_slice(&[7u8; BODY]);
    for _ in 0..n {
        loop {
            if let Ok(mut chunk) = p.write_chunk_uninit(record.len()) {
                let (first, second) = chunk.as_mut_slices();
                let (head, tail) = record.split_at(first.len().min(record.len()));
                for (to, from) in first
                    .iter_mut()
                    .zip(head)
                    .chain(second.iter_mut().zip(tail))
                {
                    to.write(*from);
                }
                // SAFETY: the two slices hold `record.len()` slots between
                // them, and the loop above wrote every one.
                unsafe { chunk.commit_all() };
                break;
            }
            std::hint::spin_loop();
        }
    }
    reader.join().unwrap();
    start.elapsed()
}

fn take(c: &mut Criterion) {
    allowed_cores();
    let mut g = c.benchmark_group("byte_lane_take");
    g.throughput(Throughput::Bytes(RECORDS * (9 + BODY) as u64));
    g.sample_size(10);
    g.bench_function("lent (byte_lane)", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| lent_run(RECORDS)).sum())
    });
    g.bench_function("copied out (rtrb)", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| copied_run(RECORDS)).sum())
    });
    g.finish();
}

criterion_group!(benches, take);
criterion_main!(benches);
