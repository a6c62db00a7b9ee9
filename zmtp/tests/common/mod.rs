//! Helpers shared by the integration tests: two sessions wired in memory.
#![allow(dead_code)]

use std::time::Instant;

use bytes::Bytes;
use monocoque_zmtp::{Event, Session, SessionConfig, SocketType};

/// Moves every queued byte from `from` to `to` and returns `to`'s events.
pub fn pump(from: &mut Session, to: &mut Session, now: Instant) -> Vec<Event> {
    let bytes = from.transmit().take_all();
    to.handle_input(bytes, now);
    drain(to)
}

/// All events a session has ready.
pub fn drain(s: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// Runs both directions until neither side has anything to send; returns each
/// side's events in order.
pub fn exchange(a: &mut Session, b: &mut Session, now: Instant) -> (Vec<Event>, Vec<Event>) {
    let (mut ea, mut eb) = (Vec::new(), Vec::new());
    for _ in 0..16 {
        if !a.wants_write() && !b.wants_write() {
            break;
        }
        eb.extend(pump(a, b, now));
        ea.extend(pump(b, a, now));
    }
    (ea, eb)
}

/// Swaps greetings, which go out in three stages (signature, revision,
/// rest), passing each byte `b` sends through `edit(offset, byte)` first;
/// returns each side's events (none, unless a greeting is refused).
pub fn swap_greetings(
    a: &mut Session,
    b: &mut Session,
    now: Instant,
    mut edit: impl FnMut(usize, &mut u8),
) -> (Vec<Event>, Vec<Event>) {
    let (mut ea, mut eb, mut from_b) = (Vec::new(), Vec::new(), 0);
    for _ in 0..3 {
        let ab = a.transmit().take_all();
        let mut ba = b.transmit().take_all().to_vec();
        for byte in ba.iter_mut() {
            edit(from_b, byte);
            from_b += 1;
        }
        a.handle_input(Bytes::from(ba), now);
        b.handle_input(ab, now);
        ea.extend(drain(a));
        eb.extend(drain(b));
    }
    (ea, eb)
}

/// Two sessions of the given configs after a completed handshake.
pub fn connected(ca: SessionConfig, cb: SessionConfig, now: Instant) -> (Session, Session) {
    let mut a = Session::new(ca, now).unwrap();
    let mut b = Session::new(cb, now).unwrap();
    let (ea, eb) = exchange(&mut a, &mut b, now);
    assert!(
        matches!(ea.as_slice(), [Event::HandshakeSucceeded(_)]),
        "a: {ea:?}"
    );
    assert!(
        matches!(eb.as_slice(), [Event::HandshakeSucceeded(_)]),
        "b: {eb:?}"
    );
    (a, b)
}

pub fn config(t: SocketType) -> SessionConfig {
    SessionConfig::new(t)
}

/// A property in wire form, written out by hand (not with the crate's encoder).
pub fn prop(name: &str, value: &[u8]) -> Vec<u8> {
    let mut v = vec![name.len() as u8];
    v.extend_from_slice(name.as_bytes());
    v.extend_from_slice(&(value.len() as u32).to_be_bytes());
    v.extend_from_slice(value);
    v
}

/// A short command frame written out by hand.
pub fn command_frame(name: &str, data: &[u8]) -> Vec<u8> {
    let body_len = 1 + name.len() + data.len();
    let mut v = if body_len > 255 {
        let mut v = vec![0x06];
        v.extend_from_slice(&(body_len as u64).to_be_bytes());
        v
    } else {
        vec![0x04, body_len as u8]
    };
    v.push(name.len() as u8);
    v.extend_from_slice(name.as_bytes());
    v.extend_from_slice(data);
    v
}

/// A ZMTP greeting written out by hand.
pub fn greeting(major: u8, minor: u8, mechanism: &str) -> Vec<u8> {
    let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, major, minor];
    let mut mech = [0u8; 20];
    mech[..mechanism.len()].copy_from_slice(mechanism.as_bytes());
    g.extend_from_slice(&mech);
    g.extend_from_slice(&[0u8; 32]);
    g
}

/// READY for a NULL peer of `t` with libzmq's properties.
pub fn ready_frame(t: SocketType) -> Vec<u8> {
    let mut md = prop("Socket-Type", t.as_str().as_bytes());
    if matches!(t, SocketType::Req | SocketType::Dealer | SocketType::Router) {
        md.extend(prop("Identity", b""));
    }
    command_frame("READY", &md)
}

pub fn bytes(v: &[u8]) -> Bytes {
    Bytes::copy_from_slice(v)
}
