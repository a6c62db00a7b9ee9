//! CURVE in the appliance, driven by libzmq clients with CURVE (pyzmq's
//! libzmq, through patterns/tests/peers/curve_peer.py): a queue whose
//! frontend admits the keys of a certificate directory, the refusals at
//! start (a world-readable secret key, a bad certificate named by file and
//! line), `monocoque curve keygen`, and `monocoque cat` as a CURVE client
//! and server.

mod common;
#[path = "common/zmtp_raw.rs"]
mod zmtp_raw;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use zmtp_raw::{open_fds, rss};

const SERVER_PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const SERVER_SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
const ALICE_PUBLIC: &str = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
const ALICE_SECRET: &str = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";

fn peer_script() -> &'static str {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../patterns/tests/peers/curve_peer.py"
    )
}

/// Runs the libzmq peer to its end; its last line and whether it succeeded.
fn libzmq_peer(args: &[String], within: Duration) -> (String, bool) {
    let mut child = Command::new("python3")
        .arg(peer_script())
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with pyzmq (scripts/test installs it)");
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
            let last = out.lines().last().unwrap_or("").to_string();
            return (last, status.success());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the libzmq peer did not finish within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn private_file(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A directory with the server's secret certificate and a `clients/`
/// directory holding alice's public certificate (and her secret one, which
/// must be skipped).
fn key_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("monocoque-curve-{}-{name}", std::process::id()));
    std::fs::create_dir_all(dir.join("clients")).unwrap();
    private_file(
        &dir.join("server_secret"),
        &format!(
            "#   ZeroMQ CURVE **Secret** Certificate\n\nmetadata\ncurve\n    \
             public-key = \"{SERVER_PUBLIC}\"\n    secret-key = \"{SERVER_SECRET}\"\n"
        ),
    );
    std::fs::write(
        dir.join("clients/alice"),
        format!(
            "#   ZeroMQ CURVE Public Certificate\n\nmetadata\n    name = \"alice\"\ncurve\n    \
             public-key = \"{ALICE_PUBLIC}\"\n"
        ),
    )
    .unwrap();
    private_file(
        &dir.join("clients/alice_secret"),
        "not a certificate at all",
    );
    dir
}

const QUEUE: &str = r#"
[[service]]
name = "orders"
kind = "queue"
frontend = { bind = ["tcp://127.0.0.1:0"], curve = { secret_key_file = "server_secret", allow_dir = "clients" } }
backend = { bind = ["tcp://127.0.0.1:0"] }
"#;

#[test]
fn a_curve_queue_serves_admitted_libzmq_clients_and_refuses_others() {
    let dir = key_dir("queue");
    let _cleanup = RemoveOnDrop(dir.clone());
    let config = dir.join("appliance.toml");
    std::fs::write(&config, services(QUEUE)).unwrap();
    let (app, report) = App::start_with_report(&[], Some(config));
    assert!(
        report.iter().any(|l| l.contains(&format!(
            "CURVE server {SERVER_PUBLIC} (1 client key(s) allowed)"
        ))),
        "{report:?}"
    );
    assert!(!report.iter().any(|l| l.contains(SERVER_SECRET)));
    let front = app.endpoint("orders", "frontend");

    // A worker behind the queue, in clear on the backend.
    let ctx = zmq::Context::new();
    let worker = zsock(&ctx, zmq::REP);
    connect_ready(&ctx, &worker, &app.endpoint("orders", "backend"));
    let echo = std::thread::spawn(move || {
        let mut n = 0;
        while let Ok(m) = worker.recv_multipart(0) {
            worker.send_multipart(m, 0).unwrap();
            n += 1;
        }
        n
    });

    let sizes = "0,1,256,65536,1048576";
    let (last, ok) = libzmq_peer(
        &[
            "--type=REQ".into(),
            format!("--connect={front}"),
            format!("--server-key={SERVER_PUBLIC}"),
            format!("--secret={ALICE_SECRET}"),
            "--mode=request".into(),
            format!("--sizes={sizes}"),
        ],
        Duration::from_secs(20),
    );
    assert!(ok, "alice: {last}");
    assert_eq!(last, "OK 5");

    let stranger = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%c0";
    let (last, ok) = libzmq_peer(
        &[
            "--type=REQ".into(),
            format!("--connect={front}"),
            format!("--server-key={SERVER_PUBLIC}"),
            format!("--secret={stranger}"),
            "--mode=request".into(),
            "--sizes=1".into(),
            "--timeout-ms=1500".into(),
        ],
        Duration::from_secs(20),
    );
    assert!(!ok, "a key not in clients/ got an answer: {last}");
    assert_eq!(last, "FAIL timed out");

    app.signal(SIGTERM);
    assert_eq!(app.wait(Duration::from_secs(10)), Some(0));
    drop(ctx);
    // Alice's 5 requests and her END reached the worker; the stranger's none.
    assert_eq!(echo.join().unwrap(), 6);
}

fn config_check(config: &Path) -> (bool, String) {
    let out = monocoque()
        .args(["config", "check"])
        .arg(config)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn keys_and_certificates_are_checked_at_start_naming_file_and_line() {
    let dir = key_dir("refusals");
    let _cleanup = RemoveOnDrop(dir.clone());
    let config = dir.join("appliance.toml");
    std::fs::write(&config, services(QUEUE)).unwrap();
    assert!(config_check(&config).0);

    std::fs::set_permissions(
        dir.join("server_secret"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let (ok, err) = config_check(&config);
    assert!(!ok);
    assert!(err.contains("server_secret"), "{err}");
    assert!(err.contains("chmod 600"), "{err}");
    assert!(
        !err.contains(SERVER_SECRET),
        "the key is never printed: {err}"
    );
    std::fs::set_permissions(
        dir.join("server_secret"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();

    std::fs::write(
        dir.join("clients/bob"),
        "curve\n    public-key = \"too short\"\n",
    )
    .unwrap();
    let (ok, err) = config_check(&config);
    assert!(!ok);
    assert!(err.contains("clients/bob:2:"), "{err}");
    std::fs::remove_file(dir.join("clients/bob")).unwrap();

    std::fs::write(
        &config,
        services(&QUEUE.replace(
            "curve = { secret_key_file = \"server_secret\", allow_dir = \"clients\" }",
            "curve = { secret_key_file = \"server_secret\" }, plain = { users_file = \"users\" }",
        )),
    )
    .unwrap();
    let (ok, err) = config_check(&config);
    assert!(!ok);
    assert!(err.contains("one mechanism"), "{err}");

    std::fs::write(
        &config,
        services(&QUEUE.replace(
            "frontend = { bind",
            "frontend = { options = { curve_server = 1 }, bind",
        )),
    )
    .unwrap();
    let (ok, err) = config_check(&config);
    assert!(!ok);
    assert!(err.contains("`curve` or `plain` table"), "{err}");
}

#[test]
fn curve_keygen_prints_a_pair_that_works() {
    let out = monocoque().args(["curve", "keygen"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[7], "== CURVE PUBLIC KEY ==");
    assert_eq!(lines[10], "== CURVE SECRET KEY ==");
    let (public, secret) = (lines[8], lines[11]);
    assert_eq!((public.len(), secret.len()), (40, 40));
    // pyzmq derives the same public key from the secret one.
    let derived = Command::new("python3")
        .args([
            "-c",
            "import sys, zmq; print(zmq.curve_public(sys.argv[1].encode()).decode())",
            secret,
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&derived.stdout).trim(), public);
}

/// A free local port (bound then released), for a cat that must bind.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn cat_is_a_curve_client_and_server_for_libzmq() {
    // cat as the client of a libzmq CURVE server.
    let port = free_port();
    let ep = format!("tcp://127.0.0.1:{port}");
    let server = std::thread::spawn({
        let ep = ep.clone();
        move || {
            libzmq_peer(
                &[
                    "--type=REP".into(),
                    format!("--bind={ep}"),
                    format!("--server-secret={SERVER_SECRET}"),
                    "--mode=echo".into(),
                ],
                Duration::from_secs(20),
            )
        }
    });
    let mut cat = monocoque()
        .args([
            "cat",
            "--type",
            "req",
            "--connect",
            &ep,
            "--timeout-ms",
            "10000",
        ])
        .arg(format!("--curve-serverkey={SERVER_PUBLIC}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = cat.stdin.take().unwrap();
    writeln!(stdin, "hello").unwrap();
    writeln!(stdin, "END").unwrap();
    drop(stdin);
    let out = BufReader::new(cat.stdout.take().unwrap());
    let lines: Vec<String> = out.lines().map(|l| l.unwrap()).collect();
    assert_eq!(lines, ["hello", "END"]);
    assert!(cat.wait().unwrap().success());
    let (last, ok) = server.join().unwrap();
    assert!(ok, "{last}");

    // cat as a CURVE server admitting alice only.
    let port = free_port();
    let ep = format!("tcp://127.0.0.1:{port}");
    let mut cat = monocoque()
        .args([
            "cat", "--type", "rep", "--echo", "--bind", &ep, "--count", "2",
        ])
        .args(["--curve-server", "--timeout-ms", "15000"])
        .arg(format!("--curve-secretkey={SERVER_SECRET}"))
        .arg(format!("--curve-allow={ALICE_PUBLIC}"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (last, ok) = libzmq_peer(
        &[
            "--type=REQ".into(),
            format!("--connect={ep}"),
            format!("--server-key={SERVER_PUBLIC}"),
            format!("--secret={ALICE_SECRET}"),
            "--mode=request".into(),
            "--sizes=5".into(),
        ],
        Duration::from_secs(20),
    );
    assert!(ok, "{last}");
    assert!(cat.wait().unwrap().success());
}

#[test]
fn a_plain_queue_admits_the_users_of_its_file() {
    let dir = std::env::temp_dir().join(format!("monocoque-plain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = RemoveOnDrop(dir.clone());
    private_file(&dir.join("users"), "# name=password\nadmin=s3cret\n");
    let config = dir.join("appliance.toml");
    std::fs::write(
        &config,
        services(
            r#"
[[service]]
name = "orders"
kind = "queue"
frontend = { bind = ["tcp://127.0.0.1:0"], plain = { users_file = "users" } }
backend = { bind = ["tcp://127.0.0.1:0"] }
"#,
        ),
    )
    .unwrap();
    let (app, report) = App::start_with_report(&[], Some(config));
    assert!(
        report
            .iter()
            .any(|l| l.contains("PLAIN server (1 user(s))")),
        "{report:?}"
    );
    assert!(!report.iter().any(|l| l.contains("s3cret")));
    let ctx = zmq::Context::new();
    let worker = zsock(&ctx, zmq::REP);
    connect_ready(&ctx, &worker, &app.endpoint("orders", "backend"));

    let client = zsock(&ctx, zmq::REQ);
    client.set_plain_username(Some("admin")).unwrap();
    client.set_plain_password(Some("s3cret")).unwrap();
    connect_ready(&ctx, &client, &app.endpoint("orders", "frontend"));
    client.send("order", 0).unwrap();
    assert_eq!(worker.recv_bytes(0).unwrap(), b"order");
    worker.send("done", 0).unwrap();
    assert_eq!(client.recv_bytes(0).unwrap(), b"done");

    // A wrong password: libzmq's client hears ERROR 400 (HANDSHAKE_FAILED_AUTH).
    let intruder = zsock(&ctx, zmq::REQ);
    intruder.set_plain_username(Some("admin")).unwrap();
    intruder.set_plain_password(Some("guess")).unwrap();
    let mon = format!("inproc://mon-plain-{}", std::process::id());
    intruder
        .monitor(&mon, zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as i32)
        .unwrap();
    let m = ctx.socket(zmq::PAIR).unwrap();
    m.set_rcvtimeo(10_000).unwrap();
    m.connect(&mon).unwrap();
    intruder
        .connect(&app.endpoint("orders", "frontend"))
        .unwrap();
    let event = m
        .recv_bytes(0)
        .expect("no HANDSHAKE_FAILED_AUTH within 10 s");
    assert_eq!(
        u16::from_le_bytes([event[0], event[1]]),
        zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as u16
    );
    assert_eq!(
        u32::from_le_bytes([event[2], event[3], event[4], event[5]]),
        400,
        "the status code libzmq reads from ERROR"
    );

    // A world-readable users file is refused at start.
    std::fs::set_permissions(dir.join("users"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, err) = config_check(&dir.join("appliance.toml"));
    assert!(!ok);
    assert!(err.contains("users") && err.contains("chmod 600"), "{err}");
    assert!(!err.contains("s3cret"));
    app.signal(SIGTERM);
    assert_eq!(app.wait(Duration::from_secs(10)), Some(0));
}

#[test]
fn a_curve_queue_serves_a_crowd_and_shrugs_off_hostile_peers() {
    const CROWD: usize = 1000;
    const HOSTILE: usize = 200;
    let dir = key_dir("crowd");
    let _cleanup = RemoveOnDrop(dir.clone());
    let config = dir.join("appliance.toml");
    std::fs::write(&config, services(QUEUE)).unwrap();
    let app = App::start(&[], Some(config));
    let pid = app.child.id();
    let front = app.endpoint("orders", "frontend");
    let (rss_before, fds_before) = (rss(pid) / 1024, open_fds(pid));

    let ctx = zmq::Context::new();
    let worker = zsock(&ctx, zmq::REP);
    connect_ready(&ctx, &worker, &app.endpoint("orders", "backend"));
    let echo = std::thread::spawn(move || {
        let mut n = 0;
        while let Ok(m) = worker.recv_multipart(0) {
            worker.send_multipart(m, 0).unwrap();
            n += 1;
        }
        n
    });

    let mut crowd = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/peers/curve_crowd.py"
        ))
        .args([
            front.as_str(),
            SERVER_PUBLIC,
            ALICE_SECRET,
            &CROWD.to_string(),
            &HOSTILE.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(crowd.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim(),
        format!("OK {CROWD}"),
        "every crowd member served"
    );

    // With the crowd and the hostile connections held open, a newcomer is
    // served, and memory and descriptors follow the connections.
    let (last, ok) = libzmq_peer(
        &[
            "--type=REQ".into(),
            format!("--connect={front}"),
            format!("--server-key={SERVER_PUBLIC}"),
            format!("--secret={ALICE_SECRET}"),
            "--mode=request".into(),
            "--sizes=1,65536".into(),
        ],
        Duration::from_secs(20),
    );
    assert!(ok, "a newcomer beside the crowd: {last}");
    let (rss_during, fds_during) = (rss(pid) / 1024, open_fds(pid));
    assert!(
        fds_during >= fds_before + CROWD,
        "{fds_before} -> {fds_during}"
    );
    assert!(
        rss_during < rss_before + 200 * 1024,
        "RSS {rss_before} KiB -> {rss_during} KiB with {CROWD} CURVE peers"
    );
    eprintln!(
        "{CROWD} CURVE peers + {HOSTILE} hostile: RSS {rss_before} -> {rss_during} KiB, fds {fds_before} -> {fds_during}"
    );

    writeln!(crowd.stdin.as_mut().unwrap()).unwrap();
    assert!(crowd.wait().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while open_fds(pid) > fds_before + 5 {
        assert!(
            Instant::now() < deadline,
            "descriptors not given back: {}",
            open_fds(pid)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    app.signal(SIGTERM);
    assert_eq!(app.wait(Duration::from_secs(10)), Some(0));
    drop(ctx);
    // The crowd's requests and the newcomer's two and END.
    assert_eq!(echo.join().unwrap(), CROWD + 3);
}
