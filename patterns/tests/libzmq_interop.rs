//! Our sockets against real libzmq 4.3 (the `zmq` crate builds its own copy):
//! every valid pair in both directions with either side binding, multi-peer
//! load balancing and fair queuing, multipart, empty and 1 MiB frames,
//! reconnect after the libzmq peer is recreated, and heartbeats. The pairs, the
//! frame sizes and the heartbeats run over tcp and ipc.
//!
//! libzmq runs in its own threads with receive timeouts; our sockets run on the
//! test thread's runtime. Every wait is bounded.

mod common;

use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use monocoque_patterns::{Socket, SocketOption};
use monocoque_zmtp::{Msg, SocketType};

const TIMEOUT_MS: i32 = 10_000;

fn zmq_type(t: SocketType) -> zmq::SocketType {
    match t {
        SocketType::Req => zmq::REQ,
        SocketType::Rep => zmq::REP,
        SocketType::Dealer => zmq::DEALER,
        SocketType::Router => zmq::ROUTER,
        SocketType::Push => zmq::PUSH,
        SocketType::Pull => zmq::PULL,
        SocketType::Pair => zmq::PAIR,
        other => panic!("{other} is not part of this suite"),
    }
}

/// A libzmq socket with bounded waits and a bounded linger (so that what a
/// thread sent last still leaves before its context ends).
fn zsock(ctx: &zmq::Context, t: SocketType) -> zmq::Socket {
    let s = ctx.socket(zmq_type(t)).unwrap();
    s.set_rcvtimeo(TIMEOUT_MS).unwrap();
    s.set_sndtimeo(TIMEOUT_MS).unwrap();
    s.set_linger(2_000).unwrap();
    s
}

/// Waits for a libzmq thread while our runtime keeps serving its connections
/// (a blocking join would stall them).
async fn join<T>(h: JoinHandle<T>) -> T {
    until("the libzmq thread", || h.is_finished()).await;
    h.join().expect("the libzmq thread panicked")
}

/// Where the libzmq side's socket goes: it binds (and reports the endpoint)
/// or connects to ours.
enum Side {
    Bind(std::sync::mpsc::Sender<String>, Transport),
    Connect(String),
}

/// Binds or connects `s`; a bound ipc endpoint's file goes with the guard.
fn place(s: &zmq::Socket, side: Side) -> IpcFile {
    match side {
        Side::Bind(tx, t) => {
            match t {
                Transport::Tcp => s.bind("tcp://127.0.0.1:*").unwrap(),
                Transport::Ipc => s.bind(&t.endpoint()).unwrap(),
                Transport::Inproc => panic!("inproc does not cross libraries"),
            }
            let ep = s.get_last_endpoint().unwrap().unwrap();
            let file = IpcFile::of(&ep);
            tx.send(ep).unwrap();
            file
        }
        Side::Connect(ep) => {
            s.connect(&ep).unwrap();
            IpcFile::of("")
        }
    }
}

/// libzmq echoes `count` messages back as they came (REP, ROUTER, DEALER, PAIR),
/// or, for PULL, receives them and reports them.
fn libzmq_server(
    kind: SocketType,
    side: Side,
    count: usize,
    id: Option<&'static [u8]>,
) -> JoinHandle<Vec<Vec<Vec<u8>>>> {
    std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let s = zsock(&ctx, kind);
        if let Some(id) = id {
            s.set_identity(id).unwrap();
        }
        let _file = place(&s, side);
        let mut got = Vec::new();
        for _ in 0..count {
            let m = s
                .recv_multipart(0)
                .expect("libzmq server: nothing received");
            if kind != SocketType::Pull {
                s.send_multipart(m.iter(), 0).unwrap();
            }
            got.push(m);
        }
        got
    })
}

/// The message our client sends for a given pair, and what it expects back.
fn client_frames(ours: SocketType, theirs: SocketType) -> Vec<Bytes> {
    match (ours, theirs) {
        // DEALER talking to REP must add the delimiter itself.
        (SocketType::Dealer, SocketType::Rep) => vec![Bytes::new(), Bytes::from_static(b"hello")],
        _ => vec![Bytes::from_static(b"hello"), Bytes::from_static(b"world")],
    }
}

/// Our client against a libzmq server, either side binding.
async fn our_client_against(ours: SocketType, theirs: SocketType, we_bind: bool, t: Transport) {
    let s = socket(ours, vec![]);
    let server = if we_bind {
        let ep = bind(&s, t);
        libzmq_server(theirs, Side::Connect(ep), 3, Some(b"Z"))
    } else {
        let (tx, rx) = std::sync::mpsc::channel();
        let h = libzmq_server(theirs, Side::Bind(tx, t), 3, Some(b"Z"));
        let ep = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        s.connect(&ep).unwrap();
        h
    };
    for _ in 0..3 {
        let body = client_frames(ours, theirs);
        let mut out = body.clone();
        if ours == SocketType::Router {
            // Our ROUTER must name the libzmq peer; wait until it is connected.
            peers(&s, 1).await;
            out.insert(0, Bytes::from_static(b"Z"));
        }
        s.send(Msg::from(out.clone())).await.unwrap();
        if ours == SocketType::Push {
            continue;
        }
        let back = s.recv().await.unwrap();
        let expect = if ours == SocketType::Router {
            out
        } else {
            body
        };
        assert_eq!(
            back.frames(),
            &expect[..],
            "{ours} against libzmq {theirs} over {t:?} (we bind: {we_bind})"
        );
    }
    let got = join(server).await;
    assert_eq!(got.len(), 3);
}

/// A libzmq client against our echo server, either side binding.
async fn libzmq_client_against(ours: SocketType, theirs: SocketType, we_bind: bool, t: Transport) {
    let s = socket(ours, vec![]);
    let (ep_tx, ep_rx) = std::sync::mpsc::channel::<String>();
    let ep = if we_bind { Some(bind(&s, t)) } else { None };
    let client = std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        let c = zsock(&ctx, theirs);
        c.set_identity(b"C").unwrap();
        let _file = match ep {
            Some(ep) => {
                c.connect(&ep).unwrap();
                IpcFile::of("")
            }
            None => place(&c, Side::Bind(ep_tx, t)),
        };
        let body: Vec<&[u8]> = match (theirs, ours) {
            (SocketType::Dealer, SocketType::Rep) => vec![b"", b"hi"],
            _ => vec![b"hi", b"there"],
        };
        for _ in 0..3 {
            c.send_multipart(body.iter(), 0).unwrap();
            if theirs == SocketType::Push {
                continue;
            }
            let back = c.recv_multipart(0).expect("libzmq client: no reply");
            let back: Vec<&[u8]> = back.iter().map(|f| &f[..]).collect();
            assert_eq!(back, body, "libzmq {theirs} against our {ours}");
        }
    });
    if !we_bind {
        let ep = ep_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        s.connect(&ep).unwrap();
    }
    for _ in 0..3 {
        let m = s.recv().await.unwrap();
        if ours == SocketType::Pull {
            continue;
        }
        s.send(m).await.unwrap();
    }
    join(client).await;
}

/// The transports libzmq shares with us (inproc stays inside one library).
const NETWORK: [Transport; 2] = [Transport::Tcp, Transport::Ipc];

/// Client/server pairs: (client type, server type).
const PAIRS: [(SocketType, SocketType); 9] = [
    (SocketType::Req, SocketType::Rep),
    (SocketType::Req, SocketType::Router),
    (SocketType::Dealer, SocketType::Rep),
    (SocketType::Dealer, SocketType::Router),
    (SocketType::Dealer, SocketType::Dealer),
    (SocketType::Router, SocketType::Dealer),
    (SocketType::Router, SocketType::Rep),
    (SocketType::Push, SocketType::Pull),
    (SocketType::Pair, SocketType::Pair),
];

#[test]
fn every_pair_with_ours_as_client() {
    for (client, server) in PAIRS {
        if client == SocketType::Router && server == SocketType::Rep {
            continue; // a REP never speaks first: covered the other way round
        }
        for t in NETWORK {
            for we_bind in [true, false] {
                eprintln!("-- our {client} -> libzmq {server} over {t:?}, we bind: {we_bind}");
                run(|| our_client_against(client, server, we_bind, t));
            }
        }
    }
}

#[test]
fn every_pair_with_libzmq_as_client() {
    for (client, server) in PAIRS {
        if client == SocketType::Router {
            continue; // a libzmq ROUTER client needs our id first: see router_to_router
        }
        for t in NETWORK {
            for we_bind in [true, false] {
                eprintln!("-- libzmq {client} -> our {server} over {t:?}, we bind: {we_bind}");
                run(|| libzmq_client_against(server, client, we_bind, t));
            }
        }
    }
}

#[test]
fn router_to_router_both_ways() {
    run(|| async {
        let ours = socket(
            SocketType::Router,
            vec![SocketOption::RoutingId(Bytes::from_static(b"OURS"))],
        );
        let ep = bind(&ours, Transport::Tcp);
        let theirs = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let s = zsock(&ctx, SocketType::Router);
            s.set_identity(b"THEIRS").unwrap();
            s.set_router_mandatory(true).unwrap();
            s.connect(&ep).unwrap();
            // Until the handshake completes our id is unknown: retry.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                match s.send_multipart([&b"OURS"[..], b"ping"], 0) {
                    Ok(()) => break,
                    Err(zmq::Error::EHOSTUNREACH) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(1))
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            let back = s.recv_multipart(0).unwrap();
            assert_eq!(back, vec![b"OURS".to_vec(), b"pong".to_vec()]);
        });
        assert_eq!(frames(&ours.recv().await.unwrap()), ["THEIRS", "ping"]);
        ours.send(msg(&["THEIRS", "pong"])).await.unwrap();
        join(theirs).await;
    });
}

#[test]
fn three_libzmq_dealers_to_our_router_and_ours_to_theirs() {
    run(|| async {
        let router = socket(SocketType::Router, vec![]);
        let ep = bind(&router, Transport::Tcp);
        let dealers: Vec<_> = (0..3u8)
            .map(|i| {
                let ep = ep.clone();
                std::thread::spawn(move || {
                    let ctx = zmq::Context::new();
                    let d = zsock(&ctx, SocketType::Dealer);
                    d.set_identity(&[b'D', b'0' + i]).unwrap();
                    d.connect(&ep).unwrap();
                    for k in 0..10 {
                        d.send(format!("{i}-{k}").as_bytes(), 0).unwrap();
                        let back = d.recv_bytes(0).unwrap();
                        assert_eq!(back, format!("{i}-{k}").into_bytes());
                    }
                })
            })
            .collect();
        for _ in 0..30 {
            let m = router.recv().await.unwrap();
            assert_eq!(m[0][0], b'D');
            router.send(m).await.unwrap();
        }
        for d in dealers {
            join(d).await;
        }
    });
    run(|| async {
        let (tx, rx) = std::sync::mpsc::channel();
        let server = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let r = zsock(&ctx, SocketType::Router);
            r.bind("tcp://127.0.0.1:*").unwrap();
            tx.send(r.get_last_endpoint().unwrap().unwrap()).unwrap();
            let mut ids = std::collections::HashSet::new();
            for _ in 0..30 {
                let m = r.recv_multipart(0).unwrap();
                ids.insert(m[0].clone());
                r.send_multipart(m.iter(), 0).unwrap();
            }
            ids.len()
        });
        let ep = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let dealers: Vec<Socket> = (0..3)
            .map(|_| {
                let d = socket(SocketType::Dealer, vec![]);
                d.connect(&ep).unwrap();
                d
            })
            .collect();
        for k in 0..10 {
            for d in &dealers {
                d.send(format!("{k}").into_bytes()).await.unwrap();
                assert_eq!(frames(&d.recv().await.unwrap()), [format!("{k}")]);
            }
        }
        assert_eq!(join(server).await, 3);
    });
}

#[test]
fn five_libzmq_reps_behind_our_dealer_get_round_robin() {
    run(|| async {
        let dealer = socket(SocketType::Dealer, vec![]);
        let ep = bind(&dealer, Transport::Tcp);
        let reps: Vec<_> = (0..5)
            .map(|_| {
                let ep = ep.clone();
                std::thread::spawn(move || {
                    let ctx = zmq::Context::new();
                    let r = zsock(&ctx, SocketType::Rep);
                    r.connect(&ep).unwrap();
                    let mut served = 0;
                    while served < 4 {
                        let m = r.recv_bytes(0).unwrap();
                        r.send(m, 0).unwrap();
                        served += 1;
                    }
                    served
                })
            })
            .collect();
        peers(&dealer, 5).await;
        for i in 0..20 {
            dealer
                .send(Msg::from(vec![Bytes::new(), Bytes::from(format!("{i}"))]))
                .await
                .unwrap();
        }
        for _ in 0..20 {
            dealer.recv().await.unwrap();
        }
        for r in reps {
            // Each REP served exactly its share: round robin.
            assert_eq!(join(r).await, 4);
        }
    });
}

#[test]
fn multipart_empty_and_one_mebibyte_frames() {
    for t in NETWORK {
        run(|| async move {
            let ours = socket(SocketType::Dealer, vec![]);
            let ep = bind(&ours, t);
            let echo = libzmq_server(SocketType::Dealer, Side::Connect(ep), 3, None);
            let big = Bytes::from(vec![0xA5u8; 1 << 20]);
            let messages = [
                Msg::from(vec![
                    Bytes::from_static(b"a"),
                    Bytes::new(),
                    Bytes::from_static(b"c"),
                ]),
                Msg::from(vec![Bytes::new()]),
                Msg::from(vec![big.clone(), Bytes::from_static(b"tail")]),
            ];
            for m in &messages {
                ours.send(m.clone()).await.unwrap();
                assert_eq!(ours.recv().await.unwrap(), *m);
            }
            join(echo).await;
        });
    }
}

#[test]
fn reconnect_after_libzmq_peer_is_recreated() {
    run(|| async {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let ep = format!("tcp://127.0.0.1:{port}");
        let push = socket(
            SocketType::Push,
            vec![SocketOption::ReconnectIvl(Some(Duration::from_millis(10)))],
        );
        push.connect(&ep).unwrap();
        for round in 0..2 {
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            let ep2 = ep.clone();
            let pull = std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let p = zsock(&ctx, SocketType::Pull);
                p.bind(&ep2).unwrap();
                ready_tx.send(()).unwrap();
                p.recv_bytes(0).unwrap()
            });
            ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
            peers(&push, 1).await;
            push.send(format!("round {round}").into_bytes())
                .await
                .unwrap();
            assert_eq!(join(pull).await, format!("round {round}").into_bytes());
            until("libzmq's close is noticed", || push.peer_count() == 0).await;
        }
    });
}

#[test]
fn heartbeats_with_libzmq() {
    for t in NETWORK {
        run(|| async move {
            // Our side pings; libzmq answers with PONG (and pings us too).
            let ours = socket(
                SocketType::Dealer,
                vec![
                    SocketOption::HeartbeatIvl(Duration::from_millis(20)),
                    SocketOption::HeartbeatTimeout(Duration::from_millis(200)),
                ],
            );
            let ep = bind(&ours, t);
            let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
            let theirs = std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let d = zsock(&ctx, SocketType::Dealer);
                d.set_heartbeat_ivl(20).unwrap();
                d.set_heartbeat_timeout(200).unwrap();
                d.connect(&ep).unwrap();
                d.send("hello", 0).unwrap();
                let _ = stop_rx.recv();
                d.send("bye", 0).unwrap();
            });
            assert_eq!(frames(&ours.recv().await.unwrap()), ["hello"]);
            // Many intervals pass; PING/PONG both ways keep the connection up.
            monocoque_runtime::sleep(Duration::from_millis(500)).await;
            assert_eq!(ours.peer_count(), 1);
            stop_tx.send(()).unwrap();
            assert_eq!(frames(&ours.recv().await.unwrap()), ["bye"]);
            join(theirs).await;
        });
    }
}

#[test]
fn abstract_ipc_and_a_tcp_source_both_ways_with_libzmq() {
    run(|| async {
        // libzmq connects to our `ipc://@name`, from `source;destination` too.
        let name = format!("ipc://@monocoque-interop-{}", std::process::id());
        let pull = socket(SocketType::Pull, vec![]);
        pull.bind(&name).unwrap();
        let tcp = bind(&pull, Transport::Tcp);
        let port = tcp.rsplit(':').next().unwrap().to_string();
        let endpoints = [name.clone(), format!("tcp://127.0.0.2:0;127.0.0.1:{port}")];
        let theirs = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            for ep in endpoints {
                let push = zsock(&ctx, SocketType::Push);
                push.connect(&ep).unwrap();
                push.send(ep.as_bytes(), 0).unwrap();
            }
        });
        let mut got = Vec::new();
        for _ in 0..2 {
            let (m, props) = pull.recv_with_properties().await.unwrap();
            let from = props.and_then(|p| p.peer_address().map(str::to_string));
            got.push((frames(&m)[0].clone(), from));
        }
        got.sort();
        assert_eq!(got[0].0, name);
        assert_eq!(got[1].1.as_deref(), Some("127.0.0.2"), "libzmq's source");
        join(theirs).await;
        // Ours connects to libzmq's abstract name and from a source of ours.
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let theirs_name = format!("ipc://@monocoque-interop-theirs-{}", std::process::id());
        let bound = theirs_name.clone();
        let theirs = std::thread::spawn(move || {
            let ctx = zmq::Context::new();
            let pull = zsock(&ctx, SocketType::Pull);
            pull.bind(&bound).unwrap();
            assert_eq!(pull.get_last_endpoint().unwrap().unwrap(), bound);
            pull.bind("tcp://127.0.0.1:*").unwrap();
            tx.send(pull.get_last_endpoint().unwrap().unwrap()).unwrap();
            (0..2)
                .map(|_| String::from_utf8(pull.recv_bytes(0).unwrap()).unwrap())
                .collect::<Vec<_>>()
        });
        let mut tcp = String::new();
        until("libzmq binds", || {
            if let Ok(ep) = rx.try_recv() {
                tcp = ep;
            }
            !tcp.is_empty()
        })
        .await;
        let push = socket(SocketType::Push, vec![]);
        push.connect(&theirs_name).unwrap();
        push.send("to libzmq's abstract name").await.unwrap();
        let from_source = socket(SocketType::Push, vec![]);
        let port = tcp.rsplit(':').next().unwrap();
        from_source
            .connect(&format!("tcp://lo:0;127.0.0.1:{port}"))
            .unwrap();
        from_source.send("from lo").await.unwrap();
        let mut received = join(theirs).await;
        received.sort();
        assert_eq!(received, ["from lo", "to libzmq's abstract name"]);
    });
}
