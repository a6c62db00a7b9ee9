//! A ZeroMQ listener at the process's descriptor limit (EMFILE): it backs off
//! instead of spinning or stopping, says so in a few lines, and accepts again
//! once descriptors come back.

mod common;

use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

/// User plus system CPU time of `pid`, in clock ticks (10 ms).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = stat.rsplit_once(')').unwrap().1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3; utime and stime are fields 14 and 15.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn at_the_descriptor_limit_a_listener_backs_off_and_serves_again() {
    // 48 descriptors in all, the hard limit too (so `run` cannot raise it);
    // 80 idle connections run the process out.
    let (mut app, report) =
        App::start_under_ulimit(config_file("emfile-zmq", STREAMER), "-n 48", Stdio::piped());
    assert!(
        report.contains(&"open files: limit 48 (the hard limit already)".to_string()),
        "{report:?}"
    );
    let frontend = app.endpoint("st", "frontend");
    let backend = app.endpoint("st", "backend");
    let address = frontend.trim_start_matches("tcp://").to_string();
    let idle: Vec<TcpStream> = (0..80)
        .map(|_| TcpStream::connect(&address).unwrap())
        .collect();
    // The box takes descriptors until it has none left (within 10 s), and
    // stays up.
    let fds = format!("/proc/{}/fd", app.child.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(&fds).unwrap().count() < 46 {
        assert!(Instant::now() < deadline, "the box never reached its limit");
        std::thread::yield_now();
    }
    assert!(app.child.try_wait().unwrap().is_none(), "the box exited");
    // Held at the limit for a second, with connections still queued for
    // accept, it backs off instead of spinning: a spin would burn the whole
    // second (100 ticks).
    let before = cpu_ticks(app.child.id());
    let window = Instant::now() + Duration::from_secs(1);
    while Instant::now() < window {
        std::thread::sleep(Duration::from_millis(50));
    }
    let spent = cpu_ticks(app.child.id()) - before;
    assert!(spent < 30, "{spent} ticks of CPU in 1 s at EMFILE");
    drop(idle);

    // Once they leave, peers are accepted again (the back-off is at most
    // 1 s) and served.
    let ctx = zmq::Context::new();
    let pull = zsock(&ctx, zmq::PULL);
    connect_ready(&ctx, &pull, &backend);
    let push = zsock(&ctx, zmq::PUSH);
    connect_ready(&ctx, &push, &frontend);
    push.send("after the storm", 0).unwrap();
    assert_eq!(pull.recv_bytes(0).unwrap(), b"after the storm");

    let stderr = app.kill_for_stderr();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("accept failed"))
        .collect();
    assert!(!warnings.is_empty(), "EMFILE was not reported: {stderr}");
    assert!(
        warnings.iter().all(|w| w.contains("Too many open files")),
        "{stderr}"
    );
    // Rate-limited: at most 10 lines in the first 10 s, however many times
    // accept failed.
    assert!(
        warnings.len() <= 10,
        "{} warnings: {stderr}",
        warnings.len()
    );
}
