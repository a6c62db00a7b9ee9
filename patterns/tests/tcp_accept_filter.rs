//! ZMQ_TCP_ACCEPT_FILTER: a peer outside every network set is closed as it
//! is accepted (it never hears a greeting); one inside, or any once the
//! filters are cleared, is served; malformed networks are refused.

mod common;

use std::time::Duration;

use monocoque_patterns::{BlockingSocket, Context, Error, SocketOption};
use monocoque_zmtp::SocketType;

/// What a raw TCP client hears first from `endpoint`: the greeting's
/// first byte, or `None` if the connection was closed on it.
fn first_byte(endpoint: &str) -> Option<u8> {
    let addr = endpoint.trim_start_matches("tcp://");
    let client = std::net::TcpStream::connect(addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    common::first_byte_or_closed(client)
}

fn bound_pair(ctx: &Context, filters: &[Option<&str>]) -> (BlockingSocket, String) {
    let pair = ctx.socket(SocketType::Pair).unwrap();
    for f in filters {
        pair.set_option(SocketOption::TcpAcceptFilter(f.map(str::to_string)))
            .unwrap();
    }
    pair.bind("tcp://127.0.0.1:0").unwrap();
    let endpoint = pair.last_endpoint().unwrap().unwrap();
    (pair, endpoint)
}

#[test]
fn peers_outside_the_networks_are_closed_and_inside_ones_served() {
    common::bounded_for(Duration::from_secs(60), || {
        let ctx = Context::new().unwrap();
        let (_outside, endpoint) = bound_pair(&ctx, &[Some("127.0.0.255/32")]);
        assert_eq!(first_byte(&endpoint), None, "not in 127.0.0.255/32");
        let (_inside, endpoint) = bound_pair(&ctx, &[Some("127.0.0.255/32"), Some("127.0.0.0/24")]);
        assert_eq!(
            first_byte(&endpoint),
            Some(0xff),
            "in 127.0.0.0/24: the greeting"
        );
        let (_cleared, endpoint) = bound_pair(&ctx, &[Some("127.0.0.255/32"), None]);
        assert_eq!(first_byte(&endpoint), Some(0xff), "cleared: every peer");
    });
}

#[test]
fn malformed_networks_are_refused_by_name() {
    let ctx = Context::new().unwrap();
    let pair = ctx.socket(SocketType::Pair).unwrap();
    for bad in ["foo", "0.0.0.0/", "0.0.0.0/33", "10.0.0.0/-1", "::1/64"] {
        match pair.set_option(SocketOption::TcpAcceptFilter(Some(bad.into()))) {
            Err(Error::InvalidOption { option, .. }) => assert_eq!(option, "TCP_ACCEPT_FILTER"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    pair.set_option(SocketOption::Ipv6(true)).unwrap();
    pair.set_option(SocketOption::TcpAcceptFilter(Some("::1/64".into())))
        .unwrap();
}

#[test]
fn a_refused_peer_is_reported_as_accept_failed() {
    common::bounded_for(Duration::from_secs(60), || {
        common::refusal_is_reported(
            SocketOption::TcpAcceptFilter(Some("127.0.0.255/32".into())),
            "tcp://127.0.0.1:0",
            "TCP_ACCEPT_FILTER",
            first_byte,
        );
    });
}

#[test]
fn filters_set_after_a_bind_leave_that_bind_alone() {
    common::bounded_for(Duration::from_secs(60), || {
        let ctx = Context::new().unwrap();
        let (pair, endpoint) = bound_pair(&ctx, &[]);
        pair.set_option(SocketOption::TcpAcceptFilter(Some("127.0.0.255/32".into())))
            .unwrap();
        assert_eq!(first_byte(&endpoint), Some(0xff), "bound before the filter");
        pair.bind("tcp://127.0.0.1:0").unwrap();
        let later = pair.last_endpoint().unwrap().unwrap();
        assert_eq!(first_byte(&later), None, "bound after the filter");
    });
}
