//! A publisher with one subscriber that stops reading and one that vanishes
//! mid-stream: the others receive everything, the publisher never waits, and
//! what it holds for the slow one stays within SNDHWM.

mod common;

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use monocoque_patterns::{Socket, SocketOption};
use monocoque_runtime::{spawn, JoinHandle};
use monocoque_zmtp::SocketType;

const HWM: usize = 500;
const BATCH: usize = 200;
const BATCHES: usize = 100;
const SIZE: usize = 1024;

/// A raw ZMTP 3.1 SUB that subscribes to everything, reads `bytes` of the
/// stream, and drops the connection without a word.
fn vanishing_subscriber(ep: String, bytes: usize) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut s = TcpStream::connect(ep.strip_prefix("tcp://").unwrap()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(&raw_greeting(1)).unwrap();
        s.write_all(&raw_ready("SUB")).unwrap();
        s.write_all(b"\x04\x0a\x09SUBSCRIBE").unwrap();
        s.write_all(b"\x04\x0d\x09SUBSCRIBEraw").unwrap();
        let mut buf = vec![0; bytes];
        s.read_exact(&mut buf).unwrap();
    })
}

/// Reads `total` messages, checking they come in order with none lost, and
/// publishes its progress in `count`.
fn reader(s: Rc<Socket>, total: usize, count: Rc<Cell<usize>>) -> JoinHandle<()> {
    spawn(async move {
        for n in 0..total {
            let m = s.recv().await.unwrap();
            assert_eq!(m[0].len(), SIZE);
            assert_eq!(&m[0][..8], &(n as u64).to_be_bytes(), "in order, none lost");
            count.set(n + 1);
        }
    })
}

#[test]
fn slow_and_vanishing_subscribers_do_not_hold_back_the_others() {
    run(|| async {
        let publisher = socket(SocketType::Pub, vec![SocketOption::SndHwm(HWM)]);
        let ep = bind(&publisher, Transport::Tcp);
        // Everyone subscribes to everything, and to a topic of its own, so the
        // publisher's topic count tells when all four are in.
        let subscriber = |name: &'static str| {
            let s = socket(
                SocketType::Sub,
                vec![
                    SocketOption::Subscribe(Bytes::new()),
                    SocketOption::Subscribe(Bytes::from_static(name.as_bytes())),
                    SocketOption::RcvHwm(HWM),
                ],
            );
            s.connect(&ep).unwrap();
            Rc::new(s)
        };
        let fast = [subscriber("fast1"), subscriber("fast2")];
        let slow = subscriber("slow"); // never reads
        let vanishing = vanishing_subscriber(ep.clone(), 50 * SIZE);
        until("4 subscribers", || publisher.topics_count() == 5).await;

        let total = BATCH * BATCHES;
        let counts = [Rc::new(Cell::new(0)), Rc::new(Cell::new(0))];
        let readers: Vec<_> = fast
            .iter()
            .zip(&counts)
            .map(|(s, c)| reader(s.clone(), total, c.clone()))
            .collect();
        let mut max_held = 0;
        for b in 0..BATCHES {
            for i in 0..BATCH {
                let n = (b * BATCH + i) as u64;
                let mut payload = vec![0u8; SIZE];
                payload[..8].copy_from_slice(&n.to_be_bytes());
                // A PUB never waits: each send is done at once.
                publisher.try_send(vec![Bytes::from(payload)]).unwrap();
            }
            max_held = max_held.max(publisher.queued().1);
            // The fast ones take the whole batch before the next.
            let target = (b + 1) * BATCH;
            until("the fast subscribers", || {
                counts.iter().all(|c| c.get() >= target)
            })
            .await;
            assert!(
                slow.queued().0 <= HWM,
                "the slow subscriber's own queue is bounded"
            );
        }
        for r in readers {
            r.await;
        }
        until("the vanished subscriber dropped", || {
            publisher.peer_count() == 3
        })
        .await;
        until("the raw thread", || vanishing.is_finished()).await;
        // What the publisher held at any time: at most one SNDHWM for each of
        // the two that fell behind, plus the batch just published.
        assert!(max_held <= 2 * HWM + BATCH, "held {max_held}");
        assert!(publisher.queued().1 <= HWM, "held {}", publisher.queued().1);
        assert!(slow.queued().0 <= HWM);
    });
}

/// A publisher that sends in a tight loop, never waiting, on the same thread
/// as its engines. At SNDHWM a message is dropped for the full subscriber,
/// and the send then yields once so the engines can drain the pipes: the
/// subscriber loses some messages (PUB's rule) but not everything after the
/// first SNDHWM, which is what a publisher that never yields would cause.
#[test]
fn a_publisher_that_never_waits_still_lets_its_engines_drain() {
    const SNDHWM: usize = 10;
    const SENT: u64 = 2000;
    each_transport(|t| async move {
        let publisher = socket(SocketType::XPub, vec![SocketOption::SndHwm(SNDHWM)]);
        let ep = bind(&publisher, t);
        let sub = socket(
            SocketType::Sub,
            vec![
                SocketOption::Subscribe(Bytes::new()),
                SocketOption::RcvHwm(100_000),
            ],
        );
        sub.connect(&ep).unwrap();
        publisher.recv().await.unwrap(); // the subscription
        for n in 0..SENT {
            publisher
                .send(Bytes::copy_from_slice(&n.to_be_bytes()))
                .await
                .unwrap();
        }
        // The end marker must not be dropped: NODROP makes the send wait.
        publisher
            .set_option(SocketOption::XpubNodrop(true))
            .unwrap();
        publisher.send(Bytes::from_static(b"end")).await.unwrap();
        let mut received = 0u64;
        let mut last = None;
        loop {
            let m = sub.recv().await.unwrap();
            if &m[0][..] == b"end" {
                break;
            }
            let n = u64::from_be_bytes(m[0][..].try_into().unwrap());
            assert!(last.is_none_or(|l| n > l), "in order");
            last = Some(n);
            received += 1;
        }
        assert!(
            received >= 10 * SNDHWM as u64,
            "{t:?}: only {received} of {SENT} arrived; the engines never ran"
        );
    });
}
