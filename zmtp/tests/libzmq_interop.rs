//! Interop with real libzmq (the `zmq` crate builds its own copy) before any
//! runtime exists: a blocking `TcpStream` drives a `Session`.
//!
//! Every wait is bounded: reads time out at the session's next deadline or at the
//! test's overall deadline, whichever is first.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use monocoque_zmtp::{
    AuthDecision, Authenticator, Credentials, Event, MechanismConfig, Msg, PeerInfo, Session,
    SessionConfig, SocketType,
};

const DEADLINE: Duration = Duration::from_secs(10);

/// Our side: a session over a blocking socket.
struct Peer {
    stream: TcpStream,
    session: Session,
    deadline: Instant,
}

impl Peer {
    fn new(stream: TcpStream, config: SessionConfig) -> Peer {
        stream.set_nodelay(true).unwrap();
        Peer {
            stream,
            session: Session::new(config, Instant::now()).unwrap(),
            deadline: Instant::now() + DEADLINE,
        }
    }

    fn connect(endpoint: &str, config: SessionConfig) -> Peer {
        let addr = endpoint.trim_start_matches("tcp://");
        Peer::new(TcpStream::connect(addr).unwrap(), config)
    }

    /// Accepts one connection on `listener` within the deadline.
    fn accept(listener: TcpListener, config: SessionConfig) -> Peer {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(listener.accept().map(|(s, _)| s));
        });
        let stream = rx
            .recv_timeout(DEADLINE)
            .expect("libzmq did not connect")
            .unwrap();
        Peer::new(stream, config)
    }

    fn flush(&mut self) {
        if self.session.wants_write() {
            let out = self.session.transmit().take_all();
            self.stream.write_all(&out).unwrap();
        }
    }

    /// The next event, reading and answering timers as needed; `None` if `until`
    /// passes first.
    fn next_event_until(&mut self, until: Instant) -> Option<Event> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if let Some(e) = self.session.poll_event() {
                self.flush();
                return Some(e);
            }
            self.flush();
            let now = Instant::now();
            self.session.handle_timeout(now);
            self.flush();
            if now >= until {
                return None;
            }
            let wake = self.session.poll_timeout().map_or(until, |t| t.min(until));
            let wait = wake
                .saturating_duration_since(now)
                .max(Duration::from_millis(1));
            self.stream.set_read_timeout(Some(wait)).unwrap();
            match self.stream.read(&mut buf) {
                Ok(0) => panic!(
                    "libzmq closed the connection: {:?}",
                    self.session.close_reason()
                ),
                Ok(n) => self
                    .session
                    .handle_input(Bytes::copy_from_slice(&buf[..n]), Instant::now()),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }

    fn next_event(&mut self) -> Event {
        let until = self.deadline;
        self.next_event_until(until)
            .expect("timed out waiting for an event")
    }

    fn handshake(&mut self) -> PeerInfo {
        match self.next_event() {
            Event::HandshakeSucceeded(p) => p,
            other => panic!("expected the handshake, got {other:?}"),
        }
    }

    fn recv(&mut self) -> Msg {
        match self.next_event() {
            Event::Message(m) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    fn send(&mut self, msg: &Msg) {
        self.session.send(msg).unwrap();
        self.flush();
    }
}

fn zsocket(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(kind).unwrap();
    s.set_rcvtimeo(DEADLINE.as_millis() as i32).unwrap();
    s.set_sndtimeo(DEADLINE.as_millis() as i32).unwrap();
    s.set_linger(0).unwrap();
    s
}

fn zbind(s: &zmq::Socket) -> String {
    s.bind("tcp://127.0.0.1:0").unwrap();
    s.get_last_endpoint().unwrap().unwrap()
}

fn zconnect_to_us(s: &zmq::Socket) -> TcpListener {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    s.connect(&format!("tcp://{}", l.local_addr().unwrap()))
        .unwrap();
    l
}

fn zrecv(s: &zmq::Socket) -> Vec<Vec<u8>> {
    s.recv_multipart(0).expect("libzmq recv")
}

fn zsend(s: &zmq::Socket, frames: &[&[u8]]) {
    s.send_multipart(frames.iter().copied(), 0)
        .expect("libzmq send");
}

fn cfg(t: SocketType) -> SessionConfig {
    SessionConfig::new(t)
}

fn frames(m: &Msg) -> Vec<Vec<u8>> {
    m.frames().iter().map(|f| f.to_vec()).collect()
}

#[test]
fn greeting_and_ready_match_libzmq_byte_for_byte() {
    let ctx = zmq::Context::new();
    for t in SocketType::ALL {
        let kind = match t {
            SocketType::Pair => zmq::PAIR,
            SocketType::Pub => zmq::PUB,
            SocketType::Sub => zmq::SUB,
            SocketType::Req => zmq::REQ,
            SocketType::Rep => zmq::REP,
            SocketType::Dealer => zmq::DEALER,
            SocketType::Router => zmq::ROUTER,
            SocketType::Pull => zmq::PULL,
            SocketType::Push => zmq::PUSH,
            SocketType::XPub => zmq::XPUB,
            SocketType::XSub => zmq::XSUB,
            _ => unreachable!(),
        };
        let z = zsocket(&ctx, kind);
        let ep = zbind(&z);
        let mut stream = TcpStream::connect(ep.trim_start_matches("tcp://")).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        // A session of a compatible type supplies our greeting and READY.
        let peer_type = SocketType::ALL
            .into_iter()
            .find(|p| t.is_compatible_with(*p))
            .unwrap();
        let now = Instant::now();
        let mut ours = Session::new(cfg(t), now).unwrap();
        let mut theirs = Session::new(cfg(peer_type), now).unwrap();
        // In libzmq's stages: its signature, then its revision once it has
        // ours, then the rest once it has our revision. Our session, fed
        // libzmq's bytes, must send the same bytes at the same points.
        let mut our_greeting = ours.transmit().take_all().to_vec();
        let mut greeting = Vec::new();
        for stage in [10, 1, 53] {
            stream.write_all(&theirs.transmit().take_all()).unwrap();
            let mut part = vec![0u8; stage];
            stream.read_exact(&mut part).unwrap();
            theirs.handle_input(Bytes::copy_from_slice(&part), now);
            assert!(theirs.poll_event().is_none());
            ours.handle_input(Bytes::copy_from_slice(&part), now);
            assert!(ours.poll_event().is_none());
            greeting.extend_from_slice(&part);
            if stage != 53 {
                our_greeting.extend_from_slice(&ours.transmit().take_all());
            }
        }
        assert_eq!(greeting, our_greeting, "{t}: libzmq's greeting differs");
        // libzmq's READY, compared with ours after our session saw libzmq's greeting.
        let our_ready = ours.transmit().take_all();
        let mut ready = vec![0u8; our_ready.len()];
        stream.read_exact(&mut ready).unwrap();
        assert_eq!(ready, our_ready.to_vec(), "{t}: libzmq's READY differs");
    }
}

#[test]
fn dealer_to_libzmq_router() {
    let ctx = zmq::Context::new();
    let router = zsocket(&ctx, zmq::ROUTER);
    let ep = zbind(&router);
    let mut c = cfg(SocketType::Dealer);
    c.identity = Bytes::from_static(b"ours");
    let mut us = Peer::connect(&ep, c);
    assert_eq!(us.handshake().socket_type, Some(SocketType::Router));
    us.send(&Msg::from(["hello", "", "world"]));
    assert_eq!(
        zrecv(&router),
        vec![
            b"ours".to_vec(),
            b"hello".to_vec(),
            vec![],
            b"world".to_vec()
        ]
    );
    zsend(&router, &[b"ours", b"reply", b""]);
    assert_eq!(frames(&us.recv()), vec![b"reply".to_vec(), vec![]]);
}

#[test]
fn libzmq_dealer_to_our_router() {
    let ctx = zmq::Context::new();
    let dealer = zsocket(&ctx, zmq::DEALER);
    dealer.set_identity(b"lz").unwrap();
    let listener = zconnect_to_us(&dealer);
    let mut us = Peer::accept(listener, cfg(SocketType::Router));
    let peer = us.handshake();
    assert_eq!(
        (peer.socket_type, &peer.identity[..]),
        (Some(SocketType::Dealer), &b"lz"[..])
    );
    zsend(&dealer, &[b"a", b"", b"b"]);
    assert_eq!(
        frames(&us.recv()),
        vec![b"a".to_vec(), vec![], b"b".to_vec()]
    );
    us.send(&Msg::from(["x", ""]));
    assert_eq!(zrecv(&dealer), vec![b"x".to_vec(), vec![]]);
}

#[test]
fn req_to_libzmq_rep() {
    let ctx = zmq::Context::new();
    let rep = zsocket(&ctx, zmq::REP);
    let ep = zbind(&rep);
    let mut us = Peer::connect(&ep, cfg(SocketType::Req));
    us.handshake();
    for i in 0..3 {
        let body = format!("ping {i}");
        us.send(&Msg::from(vec![Bytes::new(), Bytes::from(body.clone())]));
        assert_eq!(zrecv(&rep), vec![body.as_bytes().to_vec()]);
        zsend(&rep, &[b"pong"]);
        assert_eq!(frames(&us.recv()), vec![vec![], b"pong".to_vec()]);
    }
}

#[test]
fn libzmq_req_to_our_rep() {
    let ctx = zmq::Context::new();
    let req = zsocket(&ctx, zmq::REQ);
    let listener = zconnect_to_us(&req);
    let mut us = Peer::accept(listener, cfg(SocketType::Rep));
    us.handshake();
    zsend(&req, &[b"hello"]);
    let request = us.recv();
    assert_eq!(frames(&request), vec![vec![], b"hello".to_vec()]);
    us.send(&Msg::from(["", "world"]));
    assert_eq!(zrecv(&req), vec![b"world".to_vec()]);
}

#[test]
fn sub_to_libzmq_pub_receives_only_matching() {
    let ctx = zmq::Context::new();
    let publ = zsocket(&ctx, zmq::PUB);
    let ep = zbind(&publ);
    let mut us = Peer::connect(&ep, cfg(SocketType::Sub));
    us.handshake();
    us.session.subscribe(b"A").unwrap();
    us.flush();
    // PUB drops until it has processed the subscription: publish until one arrives.
    let first = loop {
        zsend(&publ, &[b"B-early"]);
        zsend(&publ, &[b"A-early"]);
        if let Some(e) = us.next_event_until(Instant::now() + Duration::from_millis(20)) {
            break e;
        }
        assert!(
            Instant::now() < us.deadline,
            "the subscription never reached libzmq"
        );
    };
    assert_eq!(first, Event::Message(Msg::from("A-early")));
    zsend(&publ, &[b"B-1"]);
    zsend(&publ, &[b"A-1", b"more"]);
    zsend(&publ, &[b"A-last"]);
    loop {
        let m = us.recv();
        assert!(
            m[0].starts_with(b"A"),
            "received a message we did not subscribe to: {m:?}"
        );
        if &m[0][..] == b"A-last" {
            break;
        }
    }
    // Cancel, then subscribe to B only: B arrives and A no longer does.
    us.session.cancel(b"A").unwrap();
    us.session.subscribe(b"B").unwrap();
    us.flush();
    loop {
        zsend(&publ, &[b"A-late"]);
        zsend(&publ, &[b"B-late"]);
        let Some(e) = us.next_event_until(Instant::now() + Duration::from_millis(20)) else {
            assert!(Instant::now() < us.deadline);
            continue;
        };
        let Event::Message(m) = e else {
            panic!("{e:?}")
        };
        if &m[0][..] == b"B-late" {
            break;
        }
        assert_eq!(
            &m[0][..],
            b"A-late",
            "only A messages sent before the cancel may arrive"
        );
    }
}

#[test]
fn libzmq_sub_to_our_pub() {
    let ctx = zmq::Context::new();
    let sub = zsocket(&ctx, zmq::SUB);
    let listener = zconnect_to_us(&sub);
    let mut us = Peer::accept(listener, cfg(SocketType::Pub));
    us.handshake();
    sub.set_subscribe(b"A").unwrap();
    assert_eq!(us.next_event(), Event::Subscribe(Bytes::from_static(b"A")));
    // libzmq's SUB filters too: only the matching message arrives.
    us.send(&Msg::from("B-1"));
    us.send(&Msg::from(["A-1", "tail"]));
    assert_eq!(zrecv(&sub), vec![b"A-1".to_vec(), b"tail".to_vec()]);
    sub.set_unsubscribe(b"A").unwrap();
    assert_eq!(us.next_event(), Event::Cancel(Bytes::from_static(b"A")));
}

#[test]
fn push_to_libzmq_pull_and_back() {
    let ctx = zmq::Context::new();
    let pull = zsocket(&ctx, zmq::PULL);
    let ep = zbind(&pull);
    let mut us = Peer::connect(&ep, cfg(SocketType::Push));
    us.handshake();
    let big = Bytes::from(vec![0x5A; 1 << 20]);
    us.send(&Msg::from(vec![
        Bytes::new(),
        Bytes::from_static(b"x"),
        big.clone(),
    ]));
    us.send(&Msg::from(vec![Bytes::new()]));
    assert_eq!(zrecv(&pull), vec![vec![], b"x".to_vec(), big.to_vec()]);
    assert_eq!(zrecv(&pull), vec![Vec::<u8>::new()]);

    let push = zsocket(&ctx, zmq::PUSH);
    let listener = zconnect_to_us(&push);
    let mut us = Peer::accept(listener, cfg(SocketType::Pull));
    us.handshake();
    zsend(&push, &[b"", b"frame", &big]);
    assert_eq!(
        us.recv(),
        Msg::from(vec![Bytes::new(), Bytes::from_static(b"frame"), big])
    );
}

#[test]
fn libzmq_heartbeats_are_answered() {
    let ctx = zmq::Context::new();
    let dealer = zsocket(&ctx, zmq::DEALER);
    dealer.set_heartbeat_ivl(20).unwrap();
    dealer.set_heartbeat_timeout(200).unwrap();
    dealer.set_heartbeat_ttl(1000).unwrap();
    let listener = zconnect_to_us(&dealer);
    let mut us = Peer::accept(listener, cfg(SocketType::Dealer));
    us.handshake();
    // Each PING wakes our read; wait for enough of them to span several timeouts.
    while us.session.stats().pings_received < 25 {
        assert!(us
            .next_event_until(Instant::now() + Duration::from_millis(50))
            .is_none());
        assert!(Instant::now() < us.deadline, "libzmq stopped pinging");
    }
    // libzmq's PING carries its TTL: our session armed a deadline from it.
    assert!(us.session.poll_timeout().is_some());
    // The connection is still the same one: a message goes through both ways.
    zsend(&dealer, &[b"still here"]);
    assert_eq!(frames(&us.recv()), vec![b"still here".to_vec()]);
    us.send(&Msg::from("and me"));
    assert_eq!(zrecv(&dealer), vec![b"and me".to_vec()]);
}

#[test]
fn our_heartbeats_get_libzmq_pongs() {
    let ctx = zmq::Context::new();
    let router = zsocket(&ctx, zmq::ROUTER);
    let ep = zbind(&router);
    let mut c = cfg(SocketType::Dealer);
    c.heartbeat_interval = Some(Duration::from_millis(10));
    c.heartbeat_timeout = Some(Duration::from_millis(500));
    let mut us = Peer::connect(&ep, c);
    us.handshake();
    while us.session.stats().pongs_received < 5 {
        assert!(us
            .next_event_until(Instant::now() + Duration::from_millis(20))
            .is_none());
        assert!(
            Instant::now() < us.deadline,
            "libzmq did not answer our PINGs"
        );
    }
    assert!(!us.session.is_closed());
}

struct Admin;
impl Authenticator for Admin {
    fn authenticate(&self, c: &Credentials<'_>) -> AuthDecision {
        match c {
            Credentials::Plain {
                username: b"admin",
                password: b"secret",
            } => AuthDecision::accept(None),
            _ => AuthDecision::Deny {
                reason: "400".into(),
            },
        }
    }
}

#[test]
fn plain_client_to_libzmq_plain_server() {
    let ctx = zmq::Context::new();
    // libzmq 4.3's PLAIN server refuses every client unless a ZAP handler answers.
    let zap = zsocket(&ctx, zmq::REP);
    zap.bind("inproc://zeromq.zap.01").unwrap();
    let zap_thread = std::thread::spawn(move || {
        let request = zrecv(&zap);
        // version, request id, domain, address, identity, mechanism, username, password
        assert_eq!(&request[5], b"PLAIN");
        assert_eq!(
            (&request[6][..], &request[7][..]),
            (&b"admin"[..], &b"secret"[..])
        );
        zsend(&zap, &[b"1.0", &request[1], b"200", b"OK", b"admin", b""]);
    });
    let rep = zsocket(&ctx, zmq::REP);
    rep.set_plain_server(true).unwrap();
    let ep = zbind(&rep);
    let mut c = cfg(SocketType::Req);
    c.mechanism = MechanismConfig::PlainClient {
        username: Bytes::from_static(b"admin"),
        password: Bytes::from_static(b"secret"),
    };
    let mut us = Peer::connect(&ep, c);
    us.handshake();
    us.send(&Msg::from(["", "over plain"]));
    assert_eq!(zrecv(&rep), vec![b"over plain".to_vec()]);
    zap_thread.join().unwrap();
}

#[test]
fn libzmq_plain_client_to_our_plain_server() {
    let ctx = zmq::Context::new();
    let req = zsocket(&ctx, zmq::REQ);
    req.set_plain_username(Some("admin")).unwrap();
    req.set_plain_password(Some("secret")).unwrap();
    let listener = zconnect_to_us(&req);
    let mut c = cfg(SocketType::Rep);
    c.mechanism = MechanismConfig::PlainServer {
        admission: monocoque_zmtp::Admission::Authenticator(Arc::new(Admin)),
    };
    let mut us = Peer::accept(listener, c);
    us.handshake();
    zsend(&req, &[b"authed"]);
    assert_eq!(frames(&us.recv()), vec![vec![], b"authed".to_vec()]);
}
