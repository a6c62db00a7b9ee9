//! Cross-core handoff: rtrb (a true single-producer single-consumer ring) against
//! crossbeam-queue's ArrayQueue (multi-producer multi-consumer), one producer
//! thread and one consumer thread, pinned to different cores when there are two.
//!
//! `cargo bench -p monocoque-runtime --bench spsc_handoff`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// The size of what the rings carry in practice (a `Bytes` is 32 bytes).
#[derive(Clone, Copy)]
struct Item([u64; 4]);

const ITEMS: u64 = 1 << 20;
const CAPACITY: usize = 1024;

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

fn rtrb_run(n: u64) -> Duration {
    let (mut p, mut c) = rtrb::RingBuffer::<Item>::new(CAPACITY);
    let start = Instant::now();
    let consumer = std::thread::spawn(move || {
        pin(1);
        let mut sum = 0u64;
        let mut got = 0;
        while got < n {
            if let Ok(item) = c.pop() {
                sum = sum.wrapping_add(item.0[0]);
                got += 1;
            } else {
                std::hint::spin_loop();
            }
        }
        black_box(sum)
    });
    pin(0);
    for i in 0..n {
        let mut item = Item([i, 0, 0, 0]);
        loop {
            match p.push(item) {
                Ok(()) => break,
                Err(rtrb::PushError::Full(back)) => {
                    item = back;
                    std::hint::spin_loop();
                }
            }
        }
    }
    consumer.join().unwrap();
    start.elapsed()
}

fn array_queue_run(n: u64) -> Duration {
    let q = Arc::new(crossbeam_queue::ArrayQueue::<Item>::new(CAPACITY));
    let qc = q.clone();
    let start = Instant::now();
    let consumer = std::thread::spawn(move || {
        pin(1);
        let mut sum = 0u64;
        let mut got = 0;
        while got < n {
            if let Some(item) = qc.pop() {
                sum = sum.wrapping_add(item.0[0]);
                got += 1;
            } else {
                std::hint::spin_loop();
            }
        }
        black_box(sum)
    });
    pin(0);
    for i in 0..n {
        let mut item = Item([i, 0, 0, 0]);
        while let Err(back) = q.push(item) {
            item = back;
            std::hint::spin_loop();
        }
    }
    consumer.join().unwrap();
    start.elapsed()
}

fn handoff(c: &mut Criterion) {
    allowed_cores();
    let mut g = c.benchmark_group("spsc_handoff");
    g.throughput(Throughput::Elements(ITEMS));
    g.sample_size(20);
    g.bench_function("rtrb", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| rtrb_run(ITEMS)).sum())
    });
    g.bench_function("crossbeam ArrayQueue", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| array_queue_run(ITEMS)).sum())
    });
    g.finish();
}

criterion_group!(benches, handoff);
criterion_main!(benches);
