//! C programs built against `include/zmq.h` and run on this crate's
//! `libzmq.so.5`, found first through LD_LIBRARY_PATH (each program prints
//! the library that answers for `zmq_version`, and the test checks it is
//! ours). One of them talks to a real libzmq peer (the `zmq` crate's).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding the `libzmq.so` cargo built for these tests: the
/// test binary's own (`deps/`; the copy one level up is only refreshed by
/// `cargo build`).
fn built_library_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().to_path_buf()
}

/// A directory with `libzmq.so.5` pointing at the built library, for the
/// dynamic linker.
fn library_dir() -> PathBuf {
    let built = built_library_dir().join("libzmq.so");
    assert!(built.exists(), "{} not built", built.display());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("capi-lib");
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("libzmq.so.5");
    // Tests run in parallel: another may have made the link just now.
    if std::fs::read_link(&link).ok().as_deref() != Some(built.as_path()) {
        let _ = std::fs::remove_file(&link);
        if let Err(e) = std::os::unix::fs::symlink(&built, &link) {
            assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{e}");
            assert_eq!(std::fs::read_link(&link).unwrap(), built);
        }
    }
    dir
}

/// Compiles `tests/c/<name>.c` with warnings as errors.
fn compile(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("capi-{name}"));
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(root.join("include"))
        .arg(root.join("tests/c").join(format!("{name}.c")))
        .arg("-L")
        .arg(built_library_dir())
        .args(["-lzmq", "-lpthread", "-ldl", "-o"])
        .arg(&out)
        .status()
        .expect("a C compiler (cc)");
    assert!(status.success(), "{name}.c did not compile");
    out
}

/// Runs a compiled program on our library; returns its output.
fn run(program: &Path, args: &[&str]) -> String {
    let lib = library_dir();
    let out = Command::new(program)
        .args(args)
        .env("LD_LIBRARY_PATH", &lib)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} failed ({}):\n{stdout}\n{stderr}",
        program.display(),
        out.status
    );
    let library = stdout
        .lines()
        .find_map(|l| l.strip_prefix("library "))
        .expect("the program names its library");
    assert!(
        Path::new(library).canonicalize().unwrap()
            == built_library_dir()
                .join("libzmq.so")
                .canonicalize()
                .unwrap(),
        "the program ran on {library}, not ours"
    );
    assert!(stdout.lines().any(|l| l == "ok"), "{stdout}");
    stdout
}

#[test]
fn frames_messages_errno_options_and_poll() {
    run(&compile("frames_and_messages"), &[]);
}

#[test]
fn reused_message_buffers_never_change_a_message() {
    run(&compile("reused_buffers"), &[]);
}

#[test]
fn shutdown_interrupts_a_blocked_receive_and_term_waits() {
    run(&compile("shutdown_interrupts"), &[]);
}

/// A C REQ on Monocoque against libzmq's REP: two round trips of two frames,
/// and the reply's Socket-Type property from the handshake.
#[test]
fn a_c_req_on_monocoque_talks_to_a_libzmq_rep() {
    let ctx = libzmq::Context::new();
    let rep = ctx.socket(libzmq::REP).unwrap();
    rep.set_rcvtimeo(10_000).unwrap();
    rep.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = rep.get_last_endpoint().unwrap().unwrap();
    let echo = std::thread::spawn(move || {
        for _ in 0..2 {
            let request = rep.recv_multipart(0).unwrap();
            rep.send_multipart(request, 0).unwrap();
        }
    });
    run(&compile("req_to_endpoint"), &[&endpoint]);
    echo.join().unwrap();
}

#[test]
fn routing_ids_and_subscriptions_frame_by_frame() {
    run(&compile("routing_and_subscriptions"), &[]);
}

#[test]
fn monitor_frames_steerable_proxy_curve_plain_and_utilities() {
    run(&compile("monitor_proxy_security"), &[]);
}

/// ZMQ_IO_THREADS 0 (inproc only), fixed by the first socket, and 3: a
/// PUB's 2,000 subscribers spread over two IO cores, each served.
#[test]
fn io_threads_zero_fixed_and_a_publisher_spread_over_io_cores() {
    run(&compile("io_threads_fanout"), &[]);
}

/// IO_THREADS 3 for the other types: a ROUTER's 1,000 DEALERs spread over
/// two IO cores, each routed by its id; a PULL's 8 PUSHes whole and in
/// order; a REP's REQs answered.
#[test]
fn io_threads_spread_a_router_a_pull_and_a_rep() {
    run(&compile("io_threads_pipes"), &[]);
}

/// Garbage, a 2^62-byte frame and 300 silent connections against a C API
/// PULL: each closed, the process alive, a good PUSH served throughout.
#[test]
fn hostile_peers_are_closed_and_a_good_one_is_served() {
    run(&compile("hostile_peers"), &[]);
}

#[test]
fn options_read_back_and_endpoint_errors_as_libzmqs() {
    run(&compile("options_read_back"), &[]);
}

/// The build writes `libzmq.pc` beside the library (`target/<profile>`):
/// its directories hold the library and `zmq.h`, and it says the version
/// `zmq_version` reports.
#[test]
fn the_build_writes_a_pkg_config_file_for_the_library_and_header() {
    let profile_dir = built_library_dir().parent().unwrap().to_path_buf();
    let pc = std::fs::read_to_string(profile_dir.join("libzmq.pc")).expect("libzmq.pc written");
    let field = |name: &str| {
        pc.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in libzmq.pc:\n{pc}"))
            .trim()
            .to_string()
    };
    assert_eq!(Path::new(&field("libdir=")), profile_dir);
    assert!(Path::new(&field("includedir=")).join("zmq.h").exists());
    assert_eq!(field("Name:"), "libzmq");
    assert_eq!(field("Libs:"), "-L${libdir} -lzmq");
    assert_eq!(field("Cflags:"), "-I${includedir}");
    let header = std::fs::read_to_string(Path::new(&field("includedir=")).join("zmq.h")).unwrap();
    let version: Vec<String> = ["MAJOR", "MINOR", "PATCH"]
        .iter()
        .map(|part| {
            let define = format!("#define ZMQ_VERSION_{part} ");
            header
                .lines()
                .find_map(|l| l.strip_prefix(define.as_str()))
                .unwrap()
                .trim()
                .to_string()
        })
        .collect();
    assert_eq!(field("Version:"), version.join("."));
}
