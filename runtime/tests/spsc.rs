//! SPSC channels stressed across threads and reactors: nothing lost, nothing
//! duplicated, order kept, capacity respected.

use std::time::Duration;

use monocoque_runtime::spsc::{channel, Closed, TrySendError};
use monocoque_runtime::{timeout, Runtime, WaitStrategy};

const LIMIT: Duration = Duration::from_secs(60);

fn consume_in_order(rt: &Runtime, mut rx: monocoque_runtime::spsc::Receiver<u64>, n: u64) {
    rt.block_on(async move {
        timeout(LIMIT, async {
            let mut expected = 0u64;
            while let Some(v) = rx.recv().await {
                assert_eq!(v, expected, "lost, duplicated or reordered");
                expected += 1;
            }
            assert_eq!(expected, n);
        })
        .await
        .expect("consumer timed out");
    });
}

#[test]
fn millions_from_a_plain_thread_to_a_parked_reactor() {
    const N: u64 = 2_000_000;
    let (mut tx, rx) = channel::<u64>(1024);
    let producer = std::thread::spawn(move || {
        for i in 0..N {
            tx.send_blocking(i).unwrap();
        }
    });
    consume_in_order(&Runtime::builder().build().unwrap(), rx, N);
    producer.join().unwrap();
}

#[test]
fn reactor_to_busy_polling_reactor() {
    const N: u64 = 1_000_000;
    let (mut tx, rx) = channel::<u64>(256);
    let producer = Runtime::builder()
        .spawn_thread("producer", move || async move {
            for i in 0..N {
                tx.send(i).await.unwrap();
            }
        })
        .unwrap();
    let rt = Runtime::builder()
        .wait_strategy(WaitStrategy::BusyPoll)
        .build()
        .unwrap();
    consume_in_order(&rt, rx, N);
    producer.join().unwrap();
}

#[test]
fn blocking_consumer_thread() {
    const N: u64 = 500_000;
    let (tx, mut rx) = channel::<u64>(64);
    let consumer = std::thread::spawn(move || {
        let mut expected = 0;
        while let Some(v) = rx.recv_blocking() {
            assert_eq!(v, expected);
            expected += 1;
        }
        expected
    });
    let rt = Runtime::builder().build().unwrap();
    rt.block_on(async move {
        let mut tx = tx;
        for i in 0..N {
            tx.send(i).await.unwrap();
        }
    });
    assert_eq!(consumer.join().unwrap(), N);
}

#[test]
fn capacity_is_the_bound_and_closing_is_seen() {
    let (mut tx, mut rx) = channel::<u32>(2);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
    assert_eq!(tx.len(), 2);
    assert_eq!(rx.try_recv(), Some(1));
    tx.try_send(3).unwrap();
    drop(tx);
    let rt = Runtime::builder().build().unwrap();
    let rest = rt.block_on(async move {
        let mut v = Vec::new();
        while let Some(x) = rx.recv().await {
            v.push(x);
        }
        v
    });
    assert_eq!(rest, vec![2, 3]);

    let (mut tx, rx) = channel::<u32>(1);
    drop(rx);
    assert_eq!(tx.try_send(7), Err(TrySendError::Closed(7)));
    assert_eq!(tx.send_blocking(8), Err(Closed(8)));
}

/// `poll_ready` and `poll_recv` let one task wait on a ring beside other sources.
#[test]
fn poll_ready_and_poll_recv_report_room_and_items() {
    use std::task::{Context, Poll, Waker};
    let mut cx = Context::from_waker(Waker::noop());
    let (mut tx, mut rx) = monocoque_runtime::spsc::channel::<u8>(1);
    assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
    assert_eq!(tx.poll_ready(&mut cx), Poll::Ready(()));
    tx.try_send(7).unwrap();
    assert!(tx.is_full());
    assert_eq!(tx.poll_ready(&mut cx), Poll::Pending);
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(7)));
    assert_eq!(tx.poll_ready(&mut cx), Poll::Ready(()));
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.poll_ready(&mut cx), Poll::Ready(()));
}

/// Two plain threads answering each other: each blocking receive sees its
/// answer whether it comes while the thread still yields (a quick answer)
/// or after it parked (an answer held back past the yield window).
#[test]
fn blocking_threads_answer_each_other_quickly_and_after_parking() {
    let (mut ping_tx, mut ping_rx) = channel::<u32>(1);
    let (mut pong_tx, mut pong_rx) = channel::<u32>(1);
    let echo = std::thread::spawn(move || {
        while let Some(v) = ping_rx.recv_blocking() {
            if v % 1000 == 0 {
                // Well past the 50 us of yielding: the other side parks.
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            pong_tx.send_blocking(v).unwrap();
        }
    });
    for i in 0..10_000u32 {
        ping_tx.send_blocking(i).unwrap();
        assert_eq!(pong_rx.recv_blocking(), Some(i));
    }
    drop(ping_tx);
    echo.join().unwrap();
    assert_eq!(pong_rx.recv_blocking(), None, "the echo thread is gone");
}

/// The yielding receive on threads pinned to one CPU, both of them: the
/// answers arrive whether the waiting thread is still yielding (each
/// yield hands the answering thread the CPU) or has parked, and the end
/// of the ring is seen.
#[test]
fn a_yielding_receive_on_one_shared_cpu_gets_quick_and_late_answers() {
    let pin = || {
        core_affinity::set_for_current(core_affinity::CoreId { id: 0 });
    };
    let (mut ping_tx, mut ping_rx) = channel::<u32>(1);
    let (mut pong_tx, mut pong_rx) = channel::<u32>(1);
    let echo = std::thread::spawn(move || {
        pin();
        while let Some(v) = ping_rx.recv_blocking_yielding() {
            if v % 1000 == 0 {
                // Well past the 50 us of yielding: the other side parks.
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            pong_tx.send_blocking(v).unwrap();
        }
    });
    let asker = std::thread::spawn(move || {
        pin();
        for i in 0..5_000u32 {
            ping_tx.send_blocking(i).unwrap();
            assert_eq!(pong_rx.recv_blocking_yielding(), Some(i));
        }
        drop(ping_tx);
        pong_rx
    });
    let mut pong_rx = asker.join().unwrap();
    echo.join().unwrap();
    assert_eq!(
        pong_rx.recv_blocking_yielding(),
        None,
        "the echo thread is gone"
    );
}

/// Runs pushed quietly and announced once, to a consumer that parks; runs
/// taken quietly and announced once, from a producer that parks on a full
/// ring: a wake lost to the quiet calls would leave one side parked and
/// the test timed out.
#[test]
fn quiet_runs_announced_once_wake_a_parked_side() {
    const N: u64 = 300_000;
    // Quiet pushes from a reactor to a consumer thread that parks.
    let (tx, mut rx) = channel::<u64>(64);
    let consumer = std::thread::spawn(move || {
        let mut expected = 0;
        while let Some(v) = rx.recv_blocking() {
            assert_eq!(v, expected, "lost, duplicated or reordered");
            expected += 1;
        }
        expected
    });
    let rt = Runtime::builder().build().unwrap();
    rt.block_on(async move {
        timeout(LIMIT, async {
            let mut tx = tx;
            let mut next = 0;
            while next < N {
                std::future::poll_fn(|cx| tx.poll_ready(cx)).await;
                // Runs of up to 7, so some end with the ring part full.
                for _ in 0..7 {
                    if next == N || tx.try_send_quietly(next).is_err() {
                        break;
                    }
                    next += 1;
                }
                tx.wake_receiver();
            }
        })
        .await
        .expect("producer timed out");
    });
    assert_eq!(consumer.join().unwrap(), N);

    // Quiet takes on a reactor from a producer thread that parks when full.
    let (mut tx, mut rx) = channel::<u64>(64);
    let producer = std::thread::spawn(move || {
        for i in 0..N {
            tx.send_blocking(i).unwrap();
        }
    });
    rt.block_on(async move {
        timeout(LIMIT, async {
            let mut expected = 0;
            while expected < N {
                let mut took = 0;
                while let Some(v) = rx.try_recv_quietly() {
                    assert_eq!(v, expected, "lost, duplicated or reordered");
                    expected += 1;
                    took += 1;
                }
                if took > 0 {
                    rx.wake_sender();
                } else if let Some(v) = rx.recv().await {
                    assert_eq!(v, expected, "lost, duplicated or reordered");
                    expected += 1;
                }
            }
        })
        .await
        .expect("consumer timed out");
    });
    producer.join().unwrap();
}

/// A run taken at once across the ring's end comes out whole and in
/// order, bounded by what was asked and by what is there, and its slots
/// are free for the producer again.
#[test]
fn a_run_taken_at_once_wraps_the_ring_in_order() {
    let (mut tx, mut rx) = channel::<u64>(8);
    let mut next = 0u64;
    let mut expected = 0u64;
    for round in 0..50 {
        // Fill what is free, then take part of it: the ring's start moves
        // round, so runs cross its end.
        while tx.try_send(next).is_ok() {
            next += 1;
        }
        let ask = 1 + round % 7;
        let mut got = Vec::new();
        let n = rx.recv_run_quietly(ask, |i| got.push(i));
        assert_eq!(n, ask.min(8));
        assert_eq!(got.len(), n);
        for i in got {
            assert_eq!(i, expected);
            expected += 1;
        }
    }
    let mut rest = Vec::new();
    let n = rx.recv_run_quietly(usize::MAX, |i| rest.push(i));
    assert_eq!(n, rest.len());
    assert!(rest.iter().copied().eq(expected..next));
    assert_eq!(rx.recv_run_quietly(4, |_| panic!("nothing left")), 0);
}

/// A run pushed at once across the ring's end arrives whole and in order,
/// bounded by the room and by what was asked; what does not fit, and all
/// of a run once the consumer is gone, stays with the caller.
#[test]
fn a_run_pushed_at_once_wraps_the_ring_and_leaves_the_rest() {
    let (mut tx, mut rx) = channel::<u64>(8);
    let mut source = 0u64..;
    let mut expected = 0u64;
    for round in 0..50 {
        let ask = 1 + round % 11;
        let room = 8 - rx.len();
        assert_eq!(tx.send_run_quietly(&mut source, ask), ask.min(room));
        // Take part of it, so that the next run starts elsewhere.
        for _ in 0..1 + round % 5 {
            match rx.try_recv() {
                Some(i) => {
                    assert_eq!(i, expected);
                    expected += 1;
                }
                None => break,
            }
        }
    }
    while let Some(i) = rx.try_recv() {
        assert_eq!(i, expected);
        expected += 1;
    }
    assert_eq!(source.next(), Some(expected), "nothing skipped or lost");
    drop(rx);
    let mut rest = [7u64, 8].into_iter();
    assert_eq!(tx.send_run_quietly(&mut rest, 2), 0, "the consumer is gone");
    assert_eq!(rest.len(), 2);
}

/// A producer that wakes a waiting consumer leaves the CPU it ran on; one
/// that finds the consumer busy leaves nothing (the fast path writes no
/// more than it did).
#[test]
fn a_waiting_consumer_learns_the_cpu_its_producer_woke_it_from() {
    use monocoque_runtime::{byte_lane, thread_cpu};
    use std::task::{Context, Waker};

    let cpu = *thread_cpu::allowed_cpus().unwrap().last().unwrap();
    let (mut tx, mut rx) = channel::<u32>(4);
    let (mut w, mut r) = byte_lane::channel(64);
    tx.try_send(0).unwrap();
    assert!(w.try_write(&[b"busy"]));
    w.wake_reader();
    assert_eq!(rx.woken_from_cpu(), None, "not waiting: not woken");
    assert_eq!(r.woken_from_cpu(), None);
    assert_eq!(rx.try_recv(), Some(0));
    assert!(r.take_all().is_some());

    // Both consumers find nothing and wait.
    let mut cx = Context::from_waker(Waker::noop());
    assert!(rx.poll_recv(&mut cx).is_pending());
    assert!(r.poll_readable(&mut cx).is_pending());
    std::thread::spawn(move || {
        thread_cpu::set_allowed_cpus(&[cpu]).unwrap();
        tx.try_send(1).unwrap();
        assert!(w.try_write(&[b"x"]));
        w.wake_reader();
    })
    .join()
    .unwrap();
    assert_eq!(rx.woken_from_cpu(), Some(cpu));
    assert_eq!(r.woken_from_cpu(), Some(cpu));
}
