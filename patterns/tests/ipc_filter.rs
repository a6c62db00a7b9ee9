//! ZMQ_IPC_FILTER_UID, _GID and _PID: an ipc peer (as SO_PEERCRED names
//! it) matching no filter set is closed as it is accepted (it never hears
//! a greeting); one matching a user, group or process set, or any once
//! the filters are cleared, is served.

mod common;

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use monocoque_patterns::{BlockingSocket, Context, SocketOption};
use monocoque_zmtp::SocketType;

/// This process's effective user and group: the owner of /proc/self.
fn own_user_and_group() -> (u32, u32) {
    let me = std::fs::metadata("/proc/self").unwrap();
    (me.uid(), me.gid())
}

/// What a raw Unix-socket client hears first from `endpoint`: the
/// greeting's first byte, or `None` if the connection was closed on it.
fn first_byte(endpoint: &str) -> Option<u8> {
    let path = endpoint.trim_start_matches("ipc://");
    let client = std::os::unix::net::UnixStream::connect(path).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    common::first_byte_or_closed(client)
}

fn bound_pair(ctx: &Context, filters: &[SocketOption]) -> (BlockingSocket, String) {
    let pair = ctx.socket(SocketType::Pair).unwrap();
    for f in filters {
        pair.set_option(f.clone()).unwrap();
    }
    pair.bind("ipc://*").unwrap();
    let endpoint = pair.last_endpoint().unwrap().unwrap();
    (pair, endpoint)
}

#[test]
fn peers_matching_no_filter_are_closed_and_matching_ones_served() {
    use SocketOption::{IpcFilterGid as Gid, IpcFilterPid as Pid, IpcFilterUid as Uid};
    common::bounded_for(Duration::from_secs(60), || {
        let (uid, gid) = own_user_and_group();
        let pid = std::process::id();
        let ctx = Context::new().unwrap();
        let cases: [(&str, Vec<SocketOption>, Option<u8>); 8] = [
            ("no filter", vec![], Some(0xff)),
            ("our user", vec![Uid(Some(uid))], Some(0xff)),
            ("our group", vec![Gid(Some(gid))], Some(0xff)),
            ("our process", vec![Pid(Some(pid))], Some(0xff)),
            ("another user", vec![Uid(Some(uid.wrapping_add(1)))], None),
            ("another process", vec![Pid(Some(pid + 1))], None),
            (
                "another user, then our process",
                vec![Uid(Some(uid.wrapping_add(1))), Pid(Some(pid))],
                Some(0xff),
            ),
            (
                "another user, cleared",
                vec![Uid(Some(uid.wrapping_add(1))), Uid(None)],
                Some(0xff),
            ),
        ];
        for (what, filters, heard) in cases {
            let (_server, endpoint) = bound_pair(&ctx, &filters);
            assert_eq!(first_byte(&endpoint), heard, "{what}");
        }
    });
}

#[test]
fn a_filtered_out_peer_does_not_stop_the_next_one() {
    common::bounded_for(Duration::from_secs(60), || {
        let (uid, _) = own_user_and_group();
        let ctx = Context::new().unwrap();
        let (server, endpoint) = bound_pair(&ctx, &[SocketOption::IpcFilterUid(Some(uid))]);
        // A ZMTP peer of this user is served end to end, before and after
        // the listener has closed others.
        let client = ctx.socket(SocketType::Pair).unwrap();
        client.connect(&endpoint).unwrap();
        client.send(monocoque_zmtp::Msg::from("first")).unwrap();
        assert_eq!(server.recv().unwrap(), monocoque_zmtp::Msg::from("first"));
        server.set_option(SocketOption::IpcFilterUid(None)).unwrap();
        server
            .set_option(SocketOption::IpcFilterUid(Some(uid.wrapping_add(1))))
            .unwrap();
        // The filters are the bind's, as libzmq copies them: a second bind
        // takes the new ones, the first keeps its own.
        server.bind("ipc://*").unwrap();
        let second = server.last_endpoint().unwrap().unwrap();
        assert_eq!(first_byte(&second), None, "another user only, there");
        assert_eq!(first_byte(&endpoint), Some(0xff), "the first bind's filter");
        client.send(monocoque_zmtp::Msg::from("second")).unwrap();
        assert_eq!(server.recv().unwrap(), monocoque_zmtp::Msg::from("second"));
    });
}

#[test]
fn a_filtered_out_peer_is_no_peer_to_send_to() {
    common::bounded_for(Duration::from_secs(60), || {
        let (uid, _) = own_user_and_group();
        let ctx = Context::new().unwrap();
        let server = ctx.socket(SocketType::Dealer).unwrap();
        server
            .set_option(SocketOption::IpcFilterUid(Some(uid.wrapping_add(1))))
            .unwrap();
        server.bind("ipc://*").unwrap();
        let endpoint = server.last_endpoint().unwrap().unwrap();
        let client = ctx.socket(SocketType::Dealer).unwrap();
        client.set_option(SocketOption::ReconnectIvl(None)).unwrap();
        client.connect(&endpoint).unwrap();
        client.send(monocoque_zmtp::Msg::from("hello")).unwrap();
        let wait = Some(Duration::from_millis(100));
        server.set_option(SocketOption::RcvTimeo(wait)).unwrap();
        server.set_option(SocketOption::SndTimeo(wait)).unwrap();
        assert!(
            server.recv().is_err(),
            "nothing reaches a filtered-out peer's server"
        );
        assert!(
            server.send(monocoque_zmtp::Msg::from("back")).is_err(),
            "a DEALER without a peer waits, then times out"
        );
    });
}

#[test]
fn a_refused_peer_is_reported_as_accept_failed() {
    common::bounded_for(Duration::from_secs(60), || {
        common::refusal_is_reported(
            SocketOption::IpcFilterPid(Some(std::process::id() + 1)),
            "ipc://*",
            "IPC_FILTER",
            first_byte,
        );
    });
}
