//! The metrics endpoint of `monocoque run` (a subprocess) against clients
//! that hold it: many idle connections, an endless request line, a client
//! that pipelines and never reads, idle and slow clients. Each time a
//! well-behaved scrape is still answered, and the offender is cut off within
//! a bounded time.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

/// The server's idle and header-read timeouts (5 s each, metrics_http.rs).
const SERVER_TIMEOUT: Duration = Duration::from_secs(5);

/// A streamer on ephemeral ports with metrics on an ephemeral port too.
/// A streamer with the metrics endpoint on a port of its own.
const CONFIG: &str = STREAMER;

/// Starts the app; returns it and its metrics address (host:port).
fn start(name: &str) -> (App, String) {
    let (app, report) = App::start_with_report(&[], Some(config_file(name, CONFIG)));
    let addr = metrics_address(&report);
    (app, addr)
}

/// `monocoque run` with [`CONFIG`] under `ulimit ULIMIT`; its startup report.
fn start_with_ulimit(name: &str, ulimit: &str, stderr: Stdio) -> (App, Vec<String>) {
    App::start_under_ulimit(config_file(name, CONFIG), ulimit, stderr)
}

/// A scrape that gets the service's counters.
fn assert_scrape_works(addr: &str) {
    let (status, body) = scrape(addr);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        body.contains("monocoque_messages_in_total{service=\"st\",socket=\"frontend\"} 0"),
        "{body}"
    );
}

/// A line of /proc/PID/status, as a number.
fn proc_status(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim()
        .parse()
        .unwrap()
}

/// The process's open descriptors.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// Reads until the server closes the connection; fails if it is still open
/// (or still sending) after `within`. Returns how long it took.
fn closed_within(s: &mut TcpStream, within: Duration) -> Duration {
    let start = Instant::now();
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return start.elapsed(),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return start.elapsed(),
            Err(e) => panic!("still open after {:?}: {e}", start.elapsed()),
        }
        assert!(
            start.elapsed() < within,
            "still sending after {within:?}: not closed"
        );
    }
}

#[test]
fn a_thousand_idle_connections_neither_lock_out_a_scrape_nor_cost_threads() {
    // The test holds 1,000 sockets of its own.
    monocoque_runtime::raise_open_files_limit().unwrap();
    let (app, addr) = start("idle-thousand");
    let pid = app.child.id();
    assert_scrape_works(&addr);
    let fds_before = open_fds(pid);
    let idle: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    // Served at once: the idle connections make room for it.
    assert_scrape_works(&addr);
    let threads = proc_status(pid, "Threads:");
    assert!(
        threads < 30,
        "{threads} threads with 1,000 connections open"
    );
    // The box holds at most 64 of them (those evicted are closed by their
    // own task, right after the accept that evicted them).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let fds = open_fds(pid);
        if fds <= fds_before + 64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{fds} descriptors open, {fds_before} before the 1,000 connections"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // `monocoque stats` still reads it too.
    let out = monocoque()
        .args(["stats", "--metrics", &addr])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8(out.stdout).unwrap().contains("st "));
    drop(idle);
}

#[test]
fn an_endless_request_line_is_cut_off_and_scrapes_carry_on() {
    let (_app, addr) = start("long-line");
    let mut s = TcpStream::connect(&addr).unwrap();
    // Bounds the test if the server stopped reading without closing.
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /").unwrap();
    let chunk = vec![b'a'; 1 << 20];
    let mut sent_mib = 0;
    let cut = loop {
        match s.write_all(&chunk) {
            Ok(()) if sent_mib < 64 => sent_mib += 1,
            Ok(()) => panic!("64 MiB of request line accepted without a newline"),
            Err(e) => break e,
        }
    };
    // Closed by the server (a reset: it left bytes unread), not stalled.
    assert!(
        matches!(
            cut.kind(),
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
        ),
        "after {sent_mib} MiB: {cut}"
    );
    assert_scrape_works(&addr);
}

#[test]
fn a_pipelining_client_that_never_reads_blocks_no_other_scrape() {
    let (_app, addr) = start("pipeline");
    let mut p = TcpStream::connect(&addr).unwrap();
    // Its responses fill both sockets' buffers long before it is done
    // sending; then the server stops reading from it and this write stalls.
    p.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    // 16 MiB: more than any loopback socket buffers take.
    let pipelined = request.repeat(400_000);
    let stalled = p.write_all(pipelined.as_bytes()).unwrap_err();
    assert!(
        matches!(stalled.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{stalled}"
    );
    // With that connection stuck on its writes, another client is served.
    let start = Instant::now();
    assert_scrape_works(&addr);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // The stuck one is closed once it has moved no byte for the idle
    // timeout: its writes, stalled until then, fail with the reset.
    let deadline = Instant::now() + SERVER_TIMEOUT * 4;
    let closed = loop {
        match p.write_all(request.as_bytes()) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => break e,
            Ok(()) => {}
        }
        assert!(
            Instant::now() < deadline,
            "the stuck client is still connected"
        );
    };
    assert!(
        matches!(
            closed.kind(),
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
        ),
        "{closed}"
    );
}

#[test]
fn idle_and_slow_clients_are_closed_after_the_timeout() {
    let (_app, addr) = start("idle");
    let bound = SERVER_TIMEOUT * 3;
    // Connected, never sends a byte.
    let silent_since = Instant::now();
    let silent = TcpStream::connect(&addr).unwrap();
    // One request answered, then a keep-alive connection left idle.
    let mut kept = TcpStream::connect(&addr).unwrap();
    write!(kept, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    kept.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        kept.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_string)
        })
        .expect("a Content-Length")
        .parse()
        .unwrap();
    let mut body = vec![0u8; length];
    kept.read_exact(&mut body).unwrap();
    let served_at = Instant::now();
    // A slow loris: a header byte every 200 ms, so it is never idle; the
    // header-read timeout is what closes it.
    let slow_since = Instant::now();
    let slow = TcpStream::connect(&addr).unwrap();
    let mut dripper = slow.try_clone().unwrap();
    let drip = std::thread::spawn(move || {
        dripper.write_all(b"GET /metrics HTTP/1.1\r\nX: ").unwrap();
        for _ in 0..100 {
            if dripper.write_all(b"a").is_err() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    });
    // Each waited for on its own thread, so that each close is timed.
    let watch = |who: &'static str, mut s: TcpStream, since: Instant| {
        std::thread::spawn(move || {
            closed_within(&mut s, bound);
            (who, since.elapsed())
        })
    };
    let watchers = [
        watch("silent", silent, silent_since),
        watch("kept", kept, served_at),
        watch("slow", slow, slow_since),
    ];
    for w in watchers {
        let (who, t) = w.join().unwrap();
        // Closed by the timeouts, not at once.
        assert!(
            t >= SERVER_TIMEOUT - Duration::from_millis(500),
            "{who}: {t:?}"
        );
    }
    assert!(drip.join().unwrap(), "the slow client could write for 20 s");
    assert_scrape_works(&addr);
}

#[test]
fn wrong_paths_and_methods_are_refused() {
    let (_app, addr) = start("refused");
    for (request, status) in [
        ("GET /other HTTP/1.1", "HTTP/1.1 404 Not Found"),
        ("GET /metricsx HTTP/1.1", "HTTP/1.1 404 Not Found"),
        ("POST /metrics HTTP/1.1", "HTTP/1.1 405 Method Not Allowed"),
    ] {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "{request}\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        s.read_to_string(&mut response).unwrap();
        assert!(response.starts_with(status), "{request}: {response}");
    }
    // HTTP/1.0, as `monocoque stats` asks, with the OpenMetrics type.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.0 200 OK\r\n"), "{response}");
    assert!(
        response.contains(
            "content-type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n"
        ),
        "{response}"
    );
}

/// `run` raises the open-file soft limit to the hard limit and says so.
#[test]
fn run_raises_the_open_files_limit_and_says_so() {
    let hard = std::fs::read_to_string("/proc/self/limits")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4).map(str::to_string))
        .unwrap();
    let (app, report) = start_with_ulimit("nofile", "-Sn 256", Stdio::inherit());
    let expected = if hard == "256" {
        "open files: limit 256 (the hard limit already)".to_string()
    } else {
        format!("open files: soft limit raised from 256 to {hard} (the hard limit)")
    };
    assert!(report.contains(&expected), "{report:?}");
    let soft_now = std::fs::read_to_string(format!("/proc/{}/limits", app.child.id()))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3).map(str::to_string))
        .unwrap();
    assert_eq!(soft_now, hard);
}

/// At the descriptor limit (EMFILE) the endpoint logs it, closes its least
/// recently active connection to make room, and goes on accepting.
#[test]
fn at_the_descriptor_limit_the_endpoint_keeps_accepting() {
    // 32 descriptors in all (hard limit too, so `run` cannot raise it): about
    // 14 at start, so 40 idle connections run it out.
    let (mut app, report) = start_with_ulimit("emfile", "-n 32", Stdio::piped());
    assert!(
        report.contains(&"open files: limit 32 (the hard limit already)".to_string()),
        "{report:?}"
    );
    let addr = metrics_address(&report);
    let idle: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    assert_scrape_works(&addr);
    assert_scrape_works(&addr);
    drop(idle);
    let stderr = app.kill_for_stderr();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("metrics: accept failed"))
        .collect();
    // stderr is a pipe here: no colour codes.
    assert!(!stderr.contains('\x1b'), "{stderr}");
    // Once per 10 s, however many times it happened.
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("Too many open files") && warnings[0].contains("evicted=true"),
        "{stderr}"
    );
}
