//! The session: arbitrary peer bytes and timer ticks against each socket type and
//! mechanism. The first bytes choose the configuration; some inputs start with a
//! valid greeting (and READY) so the fuzzer reaches the post-handshake states.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use monocoque_zmtp::{
    Admission, AuthDecision, Authenticator, Credentials, Event, MechanismConfig, Msg, Session, SessionConfig,
    SocketType,
};

struct Half;
impl Authenticator for Half {
    fn authenticate(&self, c: &Credentials<'_>) -> AuthDecision {
        match c {
            Credentials::Plain { username, .. } if username.len() % 2 == 0 => {
                AuthDecision::accept(Some(Bytes::copy_from_slice(username)))
            }
            _ => AuthDecision::Deny { reason: "odd".into() },
        }
    }
}

fn ready(t: SocketType) -> Vec<u8> {
    let mut md = vec![11];
    md.extend_from_slice(b"Socket-Type");
    md.extend_from_slice(&(t.as_str().len() as u32).to_be_bytes());
    md.extend_from_slice(t.as_str().as_bytes());
    let mut v = vec![0x04, (6 + md.len()) as u8, 5];
    v.extend_from_slice(b"READY");
    v.extend(md);
    v
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (ctl, rest) = data.split_at(3);
    let ours = SocketType::ALL[ctl[0] as usize % SocketType::ALL.len()];
    let mut config = SessionConfig::new(ours);
    config.heartbeat_interval = Some(Duration::from_millis(100));
    config.max_message_size = (ctl[1] & 1 == 1).then_some(4096);
    config.max_message_frames = (ctl[1] & 8 == 8).then_some(8);
    config.mechanism = match ctl[1] >> 6 {
        1 => MechanismConfig::PlainClient { username: "u".into(), password: "p".into() },
        2 => MechanismConfig::PlainServer { admission: Admission::Authenticator(Arc::new(Half)) },
        _ => MechanismConfig::Null,
    };
    let null = matches!(config.mechanism, MechanismConfig::Null);
    let mut now = Instant::now();
    let mut s = Session::new(config, now).unwrap();
    if ctl[1] & 2 == 2 {
        let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, ctl[1] >> 2 & 1];
        let mut mech = [0u8; 20];
        let name: &[u8] = if null { b"NULL" } else { b"PLAIN" };
        mech[..name.len()].copy_from_slice(name);
        g.extend_from_slice(&mech);
        g.extend_from_slice(&[0; 32]);
        if null {
            let peer = SocketType::ALL
                .into_iter()
                .find(|p| ours.is_compatible_with(*p))
                .unwrap();
            g.extend(ready(peer));
        }
        s.handle_input(Bytes::from(g), now);
    }
    let step = (ctl[2] as usize % 97) + 1;
    for chunk in rest.chunks(step) {
        s.handle_input(Bytes::copy_from_slice(chunk), now);
        while let Some(e) = s.poll_event() {
            match e {
                Event::Message(m) => assert!(!m.is_empty()),
                Event::Closed(_) => assert!(s.is_closed()),
                _ => {}
            }
        }
        if !s.is_closed() {
            let _ = s.send(&Msg::from("x"));
            let _ = s.subscribe(b"t");
        }
        now += Duration::from_millis(chunk[0] as u64 * 4);
        s.handle_timeout(now);
        let _ = s.transmit().take_all();
    }
});
