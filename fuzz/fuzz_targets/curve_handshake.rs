//! CURVE between a real client and a real server session, with the fuzzer
//! as the network: each chunk one side sends is passed on, altered (a bit
//! flipped, cut short, repeated, replaced by fuzzer bytes) or followed by
//! fuzzer bytes, so the mutations land in every handshake state and in the
//! MESSAGE boxes after it. Nothing may panic; a session that closes must say
//! so with an event.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use monocoque_zmtp::mechanism::{CurveKeyPair, CurveSecretKey};
use monocoque_zmtp::{
    Admission, AuthDecision, Authenticator, Credentials, Event, MechanismConfig, Msg, Session, SessionConfig,
    SocketType,
};

struct EvenFirstByte;
impl Authenticator for EvenFirstByte {
    fn authenticate(&self, c: &Credentials<'_>) -> AuthDecision {
        match c {
            Credentials::Curve { public_key } if public_key.as_bytes()[0] % 2 == 0 => {
                AuthDecision::accept(Some(Bytes::from_static(b"u")))
            }
            _ => AuthDecision::Deny { reason: "400".into() },
        }
    }
}

fn keys(seed: u8) -> CurveKeyPair {
    CurveKeyPair::from_secret(CurveSecretKey::parse(&[seed; 32]).unwrap())
}

/// Takes `n` bytes off the front of the fuzzer's input.
fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let n = n.min(data.len());
    let (head, rest) = data.split_at(n);
    *data = rest;
    head
}

/// Passes `out` to `to`, altered as the next input byte says.
fn deliver(out: Bytes, to: &mut Session, data: &mut &[u8], last: &mut Bytes, now: Instant) {
    let op = take(data, 1).first().copied().unwrap_or(0);
    let arg = take(data, 2);
    let pos = arg.iter().fold(0usize, |a, &b| a * 256 + b as usize);
    let chunk = match op % 8 {
        0..=2 => out.clone(),
        3 if !out.is_empty() => {
            let mut v = out.to_vec();
            let i = pos % v.len();
            v[i] ^= 1 << (op >> 5);
            Bytes::from(v)
        }
        4 => out.slice(..pos.min(out.len())),
        5 => last.clone(),
        6 => {
            let mut v = out.to_vec();
            v.extend_from_slice(take(data, pos % 64));
            Bytes::from(v)
        }
        _ => Bytes::copy_from_slice(take(data, pos % 300)),
    };
    *last = out;
    // Byte by byte sometimes, to reach every split of every command.
    if op & 0x10 != 0 {
        for i in 0..chunk.len() {
            to.handle_input(chunk.slice(i..i + 1), now);
        }
    } else {
        to.handle_input(chunk, now);
    }
}

/// Takes every event; a deferred admission is answered as `verdict` says
/// (yes for an even byte), now or never.
fn drain(s: &mut Session, verdict: Option<u8>) {
    while let Some(e) = s.poll_event() {
        match e {
            Event::Message(m) => assert!(!m.is_empty()),
            Event::Closed(_) => assert!(s.is_closed()),
            Event::AuthenticationRequested(_) => match verdict {
                Some(v) if v % 2 == 0 => s.admit(AuthDecision::accept(None)),
                Some(_) => s.admit(AuthDecision::Deny { reason: "400".into() }),
                None => {}
            },
            _ => {}
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let mut data = input;
    let ctl = take(&mut data, 2);
    if ctl.len() < 2 {
        return;
    }
    let (client_type, server_type) = match ctl[0] % 4 {
        0 => (SocketType::Req, SocketType::Rep),
        1 => (SocketType::Dealer, SocketType::Router),
        2 => (SocketType::Sub, SocketType::Pub),
        _ => (SocketType::Push, SocketType::Pull),
    };
    let server_keys = keys(1);
    let mut cc = SessionConfig::new(client_type);
    cc.heartbeat_interval = Some(Duration::from_millis(50));
    cc.max_message_size = (ctl[1] & 1 == 1).then_some(4096);
    cc.mechanism = MechanismConfig::CurveClient {
        // Sometimes the wrong server key.
        server_key: if ctl[1] & 2 == 2 { keys(3).public } else { server_keys.public },
        keys: keys(if ctl[1] & 4 == 4 { 2 } else { 4 }),
    };
    let mut sc = SessionConfig::new(server_type);
    sc.heartbeat_interval = Some(Duration::from_millis(50));
    sc.mechanism = MechanismConfig::CurveServer {
        keys: server_keys,
        admission: match (ctl[1] >> 3) & 3 {
            1 => Admission::Authenticator(Arc::new(EvenFirstByte)),
            2 => Admission::Deferred,
            _ => Admission::Everyone,
        },
    };
    let mut now = Instant::now();
    let mut c = Session::new(cc, now).unwrap();
    let mut s = Session::new(sc, now).unwrap();
    let (mut last_c, mut last_s) = (Bytes::new(), Bytes::new());
    for round in 0..12 {
        if data.is_empty() && round > 6 {
            break;
        }
        let out = c.transmit().take_all();
        deliver(out, &mut s, &mut data, &mut last_c, now);
        drain(&mut s, data.first().copied());
        let out = s.transmit().take_all();
        deliver(out, &mut c, &mut data, &mut last_s, now);
        drain(&mut c, None);
        for side in [&mut c, &mut s] {
            if !side.is_closed() {
                let size = take(&mut data, 1).first().copied().unwrap_or(0) as usize * 17;
                let _ = side.send(&Msg::from(vec![0u8; size]));
                let _ = side.subscribe(b"t");
            }
        }
        now += Duration::from_millis(take(&mut data, 1).first().copied().unwrap_or(0) as u64);
        c.handle_timeout(now);
        s.handle_timeout(now);
        drain(&mut c, None);
        drain(&mut s, data.first().copied());
    }
});
