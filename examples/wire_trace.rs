//! Runs a ZMTP handshake and a few messages between two in-memory sessions and
//! prints every byte that crosses the wire, annotated: a way to see the protocol.
//!
//! ```text
//! cargo run --example wire_trace                # DEALER to ROUTER over NULL
//! cargo run --example wire_trace -- plain       # REQ to REP over PLAIN
//! ```

use std::sync::Arc;
use std::time::Instant;

use monocoque::zmtp::frame_decoder::{FrameDecoder, FrameLimit};
use monocoque::zmtp::InputBuffer;
use monocoque::Bytes;
use monocoque::{
    AuthDecision, Authenticator, Credentials, Event, MechanismConfig, Msg, Session, SessionConfig,
    SocketType,
};

struct AllowAdmin;
impl Authenticator for AllowAdmin {
    fn authenticate(&self, c: &Credentials<'_>) -> AuthDecision {
        match c {
            Credentials::Plain {
                username: b"admin",
                password: b"secret",
            } => AuthDecision::accept(Some(Bytes::from_static(b"admin"))),
            _ => AuthDecision::Deny {
                reason: "400 unknown user".into(),
            },
        }
    }
}

/// Prints the bytes `from` sends and hands them to `to`; prints `to`'s events.
/// `greeting_left`: bytes of `from`'s 64-byte greeting not yet sent (it goes
/// out in libzmq's three stages: signature, revision, the rest).
fn hop(label: &str, from: &mut Session, to: &mut Session, greeting_left: &mut usize) {
    let wire = from.transmit().take_all();
    if wire.is_empty() {
        return;
    }
    let mut rest = wire.clone();
    if *greeting_left > 0 {
        let g = rest.split_to((*greeting_left).min(rest.len()));
        let start = 64 - *greeting_left;
        *greeting_left -= g.len();
        println!(
            "{label} greeting[{start}..{}]  {}",
            64 - *greeting_left,
            hex(&g)
        );
    }
    let mut input = InputBuffer::new();
    input.push(rest);
    let mut dec = FrameDecoder::new(FrameLimit::Message(None));
    while let Ok(Some(f)) = dec.decode(&mut input) {
        let kind = if f.command {
            "command"
        } else if f.more {
            "frame+  "
        } else {
            "frame   "
        };
        println!("{label} {kind}  {}", printable(&f.body));
    }
    to.handle_input(wire, Instant::now());
    while let Some(e) = to.poll_event() {
        match e {
            Event::HandshakeSucceeded(p) => println!(
                "    -> handshake done: peer is {} ({}), identity {:?}, user id {:?}",
                p.socket_type
                    .map_or("of no stated type".to_string(), |t| t.to_string()),
                p.version,
                String::from_utf8_lossy(&p.identity),
                p.user_id
            ),
            Event::Message(m) => println!(
                "    -> message of {} frame(s): {:?}",
                m.len(),
                m.frames()
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect::<Vec<_>>()
            ),
            other => println!("    -> {other:?}"),
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn printable(b: &[u8]) -> String {
    b.iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                (c as char).to_string()
            } else {
                format!("\\x{c:02x}")
            }
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let plain = std::env::args().nth(1).as_deref() == Some("plain");
    let (mut ca, mut cb) = if plain {
        (
            SessionConfig::new(SocketType::Req),
            SessionConfig::new(SocketType::Rep),
        )
    } else {
        (
            SessionConfig::new(SocketType::Dealer),
            SessionConfig::new(SocketType::Router),
        )
    };
    ca.identity = Bytes::from_static(b"client-1");
    if plain {
        ca.mechanism = MechanismConfig::PlainClient {
            username: Bytes::from_static(b"admin"),
            password: Bytes::from_static(b"secret"),
        };
        cb.mechanism = MechanismConfig::PlainServer {
            admission: monocoque::zmtp::Admission::Authenticator(Arc::new(AllowAdmin)),
        };
    }
    let now = Instant::now();
    let mut a = Session::new(ca, now)?;
    let mut b = Session::new(cb, now)?;
    let (mut ga, mut gb) = (64, 64);
    while a.wants_write() || b.wants_write() {
        hop("A->B", &mut a, &mut b, &mut ga);
        hop("B->A", &mut b, &mut a, &mut gb);
    }
    let request = if plain {
        Msg::from(["", "hello"])
    } else {
        Msg::from(["hello", "world"])
    };
    a.send(&request)?;
    hop("A->B", &mut a, &mut b, &mut ga);
    b.send(&Msg::from(["", "reply"]))?;
    hop("B->A", &mut b, &mut a, &mut gb);
    Ok(())
}
