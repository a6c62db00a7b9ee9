//! ZMQ_SOCKS_PROXY, ZMQ_SOCKS_USERNAME, ZMQ_SOCKS_PASSWORD: tcp connects go
//! through a SOCKS5 proxy (here a small one on plain threads that records
//! what it was asked), the target's name resolved by the proxy; a proxy
//! that refuses, or answers garbage, costs the connect an attempt, not the
//! process.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use monocoque_patterns::{BlockingSocket, Context, Error, MonitorEvent, SocketOption};
use monocoque_zmtp::{Msg, SocketType};

/// What the proxy was asked for on one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Asked {
    methods: Vec<u8>,
    credentials: Option<(Vec<u8>, Vec<u8>)>,
    /// The target as sent: an address or a name, and the port.
    target: (String, u16),
}

/// How the proxy behaves.
#[derive(Clone)]
enum Behaviour {
    /// Relays, after checking the credentials when some are required.
    Relay {
        required: Option<(Vec<u8>, Vec<u8>)>,
    },
    /// Answers the greeting with this, then closes.
    Garbage(Vec<u8>),
}

/// Starts a SOCKS5 proxy on 127.0.0.1; returns its address and a channel
/// of what each connection asked. Names resolve to 127.0.0.1 (as in
/// libzmq's own test), `::1` too.
fn proxy(behaviour: Behaviour) -> (String, mpsc::Receiver<Asked>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (tell, asked) = mpsc::channel();
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let (behaviour, tell) = (behaviour.clone(), tell.clone());
            thread::spawn(move || serve(client, behaviour, tell));
        }
    });
    (address, asked)
}

fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut b = vec![0; n];
    s.read_exact(&mut b).unwrap();
    b
}

fn serve(mut client: TcpStream, behaviour: Behaviour, tell: mpsc::Sender<Asked>) {
    let head = read_n(&mut client, 2);
    assert_eq!(head[0], 5);
    let methods = read_n(&mut client, head[1] as usize);
    let required = match behaviour {
        Behaviour::Garbage(answer) => {
            let _ = tell.send(Asked {
                methods,
                credentials: None,
                target: (String::new(), 0),
            });
            let _ = client.write_all(&answer);
            return;
        }
        Behaviour::Relay { required } => required,
    };
    let method = if required.is_some() { 2 } else { 0 };
    if !methods.contains(&method) {
        client.write_all(&[5, 0xff]).unwrap();
        return;
    }
    client.write_all(&[5, method]).unwrap();
    let mut credentials = None;
    if let Some(required) = required {
        assert_eq!(read_n(&mut client, 1), [1]);
        let ulen = read_n(&mut client, 1)[0] as usize;
        let user = read_n(&mut client, ulen);
        let plen = read_n(&mut client, 1)[0] as usize;
        let pass = read_n(&mut client, plen);
        let ok = (user.clone(), pass.clone()) == required;
        credentials = Some((user, pass));
        client.write_all(&[1, if ok { 0 } else { 1 }]).unwrap();
        if !ok {
            let _ = tell.send(Asked {
                methods,
                credentials,
                target: (String::new(), 0),
            });
            return;
        }
    }
    let request = read_n(&mut client, 4);
    assert_eq!(request[..3], [5, 1, 0]);
    let host = match request[3] {
        1 => Ipv4Addr::from(<[u8; 4]>::try_from(read_n(&mut client, 4)).unwrap()).to_string(),
        3 => {
            let len = read_n(&mut client, 1)[0] as usize;
            String::from_utf8(read_n(&mut client, len)).unwrap()
        }
        4 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(read_n(&mut client, 16)).unwrap())
            .to_string(),
        other => panic!("address type {other}"),
    };
    let port = u16::from_be_bytes(read_n(&mut client, 2).try_into().unwrap());
    let _ = tell.send(Asked {
        methods,
        credentials,
        target: (host, port),
    });
    let Ok(target) = TcpStream::connect(("127.0.0.1", port)) else {
        client.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).unwrap();
        return;
    };
    client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).unwrap();
    relay(client, target);
}

fn relay(client: TcpStream, target: TcpStream) {
    let copy = |mut from: TcpStream, mut to: TcpStream| {
        thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
        })
    };
    copy(client.try_clone().unwrap(), target.try_clone().unwrap());
    copy(target, client);
}

/// A PUSH bound on 127.0.0.1, and its port.
fn pusher(ctx: &Context) -> (BlockingSocket, u16) {
    let push = ctx.socket(SocketType::Push).unwrap();
    push.bind("tcp://127.0.0.1:0").unwrap();
    let endpoint = push.last_endpoint().unwrap().unwrap();
    let port = endpoint.rsplit(':').next().unwrap().parse().unwrap();
    (push, port)
}

fn puller(ctx: &Context, options: &[SocketOption], target: &str) -> BlockingSocket {
    let pull = ctx.socket(SocketType::Pull).unwrap();
    for o in options {
        pull.set_option(o.clone()).unwrap();
    }
    pull.connect(target).unwrap();
    pull
}

fn flows(push: &BlockingSocket, pull: &BlockingSocket) {
    push.send(Msg::from("ABC")).unwrap();
    push.send(Msg::from("DEF")).unwrap();
    assert_eq!(pull.recv().unwrap(), Msg::from("ABC"));
    assert_eq!(pull.recv().unwrap(), Msg::from("DEF"));
}

#[test]
fn connects_go_through_the_proxy_to_an_address_or_a_name() {
    common::bounded_for(Duration::from_secs(60), || {
        let ctx = Context::new().unwrap();
        for (target_host, sent_as) in [
            ("127.0.0.1", "127.0.0.1"),
            ("somedomainname.org", "somedomainname.org"),
            ("[::1]", "::1"),
        ] {
            let (proxy_at, asked) = proxy(Behaviour::Relay { required: None });
            let (push, port) = pusher(&ctx);
            let via = SocketOption::SocksProxy(Some(proxy_at));
            let pull = puller(&ctx, &[via], &format!("tcp://{target_host}:{port}"));
            flows(&push, &pull);
            let asked = asked.recv().unwrap();
            assert_eq!(asked.methods, [0], "no authentication offered");
            assert_eq!(asked.target, (sent_as.to_string(), port), "{target_host}");
        }
    });
}

#[test]
fn a_username_and_password_are_offered_and_checked() {
    common::bounded_for(Duration::from_secs(60), || {
        let ctx = Context::new().unwrap();
        let required = (b"someuser".to_vec(), b"somepass".to_vec());
        let (proxy_at, asked) = proxy(Behaviour::Relay {
            required: Some(required.clone()),
        });
        let (push, port) = pusher(&ctx);
        let options = [
            SocketOption::SocksProxy(Some(proxy_at.clone())),
            SocketOption::SocksUsername("someuser".into()),
            SocketOption::SocksPassword("somepass".into()),
        ];
        let pull = puller(&ctx, &options, &format!("tcp://127.0.0.1:{port}"));
        flows(&push, &pull);
        let asked = asked.recv().unwrap();
        assert_eq!(asked.methods, [2]);
        assert_eq!(asked.credentials, Some(required));

        // A wrong password: refused, and tried again (nothing flows).
        let (proxy_at, asked) = proxy(Behaviour::Relay {
            required: Some((b"someuser".to_vec(), b"other".to_vec())),
        });
        let options = [
            SocketOption::SocksProxy(Some(proxy_at)),
            SocketOption::SocksUsername("someuser".into()),
            SocketOption::SocksPassword("somepass".into()),
            SocketOption::ReconnectIvl(Some(Duration::from_millis(10))),
        ];
        let refused = puller(&ctx, &options, &format!("tcp://127.0.0.1:{port}"));
        for _ in 0..2 {
            let again = asked.recv().unwrap();
            assert_eq!(again.credentials.unwrap().1, b"somepass");
        }
        refused
            .set_option(SocketOption::RcvTimeo(Some(Duration::from_millis(50))))
            .unwrap();
        assert!(matches!(refused.recv(), Err(Error::WouldBlock(_))));
    });
}

#[test]
fn a_proxy_that_is_not_up_yet_is_retried() {
    common::bounded_for(Duration::from_secs(60), || {
        let ctx = Context::new().unwrap();
        // Reserve a port, close it, connect (refused), then start the proxy
        // there: the reconnect goes through.
        let spare = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy_at = spare.local_addr().unwrap();
        drop(spare);
        let (push, port) = pusher(&ctx);
        let options = [
            SocketOption::SocksProxy(Some(proxy_at.to_string())),
            SocketOption::ReconnectIvl(Some(Duration::from_millis(20))),
        ];
        let pull = ctx.socket(SocketType::Pull).unwrap();
        let monitor = pull.monitor().unwrap();
        for o in options {
            pull.set_option(o).unwrap();
        }
        pull.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
        // The first attempt is refused: a retry is scheduled.
        while !matches!(monitor.recv(), Some(MonitorEvent::ConnectRetried { .. })) {}
        let listener = TcpListener::bind(proxy_at).unwrap();
        let (client, _) = listener.accept().unwrap();
        let (tell, _asked) = mpsc::channel();
        thread::spawn(move || serve(client, Behaviour::Relay { required: None }, tell));
        flows(&push, &pull);
    });
}

#[test]
fn a_hostile_proxy_fails_the_attempt_and_nothing_else() {
    common::bounded_for(Duration::from_secs(60), || {
        let ctx = Context::new().unwrap();
        let (push, port) = pusher(&ctx);
        for garbage in [
            vec![4, 0],
            vec![5, 0xff],
            vec![5],
            vec![5, 0, 5, 0, 0, 9, 0, 0, 0],
        ] {
            let (proxy_at, attempts) = proxy(Behaviour::Garbage(garbage.clone()));
            let options = [
                SocketOption::SocksProxy(Some(proxy_at)),
                SocketOption::ReconnectIvl(Some(Duration::from_millis(10))),
                SocketOption::RcvTimeo(Some(Duration::from_millis(30))),
            ];
            let pull = puller(&ctx, &options, &format!("tcp://127.0.0.1:{port}"));
            // Each answer fails the attempt; the connecter tries again.
            for _ in 0..3 {
                attempts.recv().unwrap();
            }
            assert!(
                matches!(pull.recv(), Err(Error::WouldBlock(_))),
                "{garbage:?}"
            );
        }
        // The context still serves a direct connect.
        let pull = puller(&ctx, &[], &format!("tcp://127.0.0.1:{port}"));
        flows(&push, &pull);
    });
}

#[test]
fn the_options_read_back_and_bad_ones_are_refused() {
    let ctx = Context::new().unwrap();
    let s = ctx.socket(SocketType::Sub).unwrap();
    assert_eq!(s.options().unwrap().socks_proxy(), None);
    s.set_option(SocketOption::SocksProxy(Some("somehost:1080".into())))
        .unwrap();
    assert_eq!(s.options().unwrap().socks_proxy(), Some("somehost:1080"));
    s.set_option(SocketOption::SocksProxy(None)).unwrap();
    assert_eq!(s.options().unwrap().socks_proxy(), None);
    for bad in ["", "nohost"] {
        let refused = s.set_option(SocketOption::SocksProxy(Some(bad.into())));
        assert!(
            matches!(
                refused,
                Err(Error::InvalidOption {
                    option: "SOCKS_PROXY",
                    ..
                })
            ),
            "{bad:?}"
        );
    }
    let long = bytes::Bytes::from(vec![b'a'; 256]);
    assert!(s
        .set_option(SocketOption::SocksUsername(long.clone()))
        .is_err());
    assert!(s
        .set_option(SocketOption::SocksPassword(long.clone()))
        .is_err());
    s.set_option(SocketOption::SocksUsername(long.slice(..255)))
        .unwrap();
    assert_eq!(s.options().unwrap().socks_credentials().0.len(), 255);
}
