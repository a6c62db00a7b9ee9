//! Where each end runs: pinning, Monocoque's profile, and starting the peer
//! process (this binary again, with the hidden `peer` subcommand).

use std::io::{BufRead, Read};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use monocoque_runtime::{Runtime, RuntimeBuilder, WaitStrategy};

use crate::cli::{Impl, Pattern, Profile, Role, Transport};

/// Pins the calling thread (threads it starts later inherit the mask, as
/// libzmq's IO thread does under `taskset`).
pub fn pin(core: usize) -> Result<(), String> {
    if core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
        Ok(())
    } else {
        Err(format!("could not pin to core {core} (see --cores)"))
    }
}

/// The reactor a profile asks for, pinned to `core`.
pub fn runtime(profile: Profile, core: usize) -> Result<Runtime, String> {
    let builder = RuntimeBuilder::default().core(core);
    let builder = match profile {
        Profile::Latency => builder.wait_strategy(WaitStrategy::BusyPoll),
        Profile::Balanced => builder.wait_strategy(WaitStrategy::Park),
        Profile::Throughput => builder
            .wait_strategy(WaitStrategy::Park)
            .recv_buffers(256, 64 * 1024),
    };
    builder
        .build()
        .map_err(|e| format!("monocoque runtime ({} profile): {e}", profile.name()))
}

/// Everything one run needs to know.
#[derive(Debug, Clone)]
pub struct Setup {
    pub imp: Impl,
    pub transport: Transport,
    pub size: usize,
    pub count: u64,
    pub warmup: u64,
    pub main_core: usize,
    pub peer_core: usize,
    pub profile: Profile,
    pub pattern: Pattern,
    /// Subscribers (fanout) or dealers (lb); 1 otherwise.
    pub peers: usize,
    /// fanout: the publisher's messages per second (0: flat out).
    pub rate: u64,
    /// Numbers this run's ipc socket file apart from every other run's.
    pub serial: u64,
}

impl Setup {
    /// Messages the peer handles in all.
    pub fn total(&self) -> u64 {
        self.warmup + self.count
    }

    /// A fresh endpoint for the measuring side to bind (port 0: the kernel picks).
    pub fn bind_endpoint(&self) -> String {
        match self.transport {
            Transport::Tcp => "tcp://127.0.0.1:0".into(),
            // The pid keeps concurrent harnesses (and the two processes of a
            // run, when the peer binds) apart.
            Transport::Ipc => format!("ipc://{}", self.ipc_path()),
            Transport::Inproc => format!("inproc://monocoque-bench-{}", self.imp.name()),
        }
    }

    /// The socket file of an ipc run. Unique per run: zmq.rs does not
    /// replace a file left by an earlier bind.
    pub fn ipc_path(&self) -> String {
        format!(
            "/tmp/monocoque-bench-{}-{}-{}.sock",
            std::process::id(),
            self.imp.name(),
            self.serial
        )
    }

    /// Starts the peer process for `role`, connecting to `endpoint`.
    pub fn spawn_peer(&self, role: Role, endpoint: &str) -> Result<Peer, String> {
        let child = self
            .peer_command(role, endpoint)?
            .spawn()
            .map_err(|e| format!("starting the peer: {e}"))?;
        Ok(Peer::watch(child))
    }

    /// Starts a peer that binds (fanout's publisher) and reads the endpoint
    /// it prints as its first line.
    pub fn spawn_binding_peer(&self, role: Role) -> Result<(Peer, String), String> {
        let mut child = self
            .peer_command(role, &self.bind_endpoint())?
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting the peer: {e}"))?;
        let out = child.stdout.take().expect("piped");
        let peer = Peer::watch(child);
        let mut line = String::new();
        std::io::BufReader::new(out)
            .read_line(&mut line)
            .map_err(|e| format!("reading the peer's endpoint: {e}"))?;
        let endpoint = line.trim().to_string();
        if endpoint.is_empty() {
            return Err(format!("the peer did not bind ({:?})", peer.finish()));
        }
        Ok((peer, endpoint))
    }

    fn peer_command(&self, role: Role, endpoint: &str) -> Result<Command, String> {
        let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
        let mut cmd = Command::new(exe);
        cmd.arg("peer")
            .args(["--role", role_name(role)])
            .args(["--impl", self.imp.name()])
            .args(["--endpoint", endpoint])
            .args(["--size", &self.size.to_string()])
            .args(["--total", &self.total().to_string()])
            .args(["--core", &self.peer_core.to_string()])
            .args(["--profile", self.profile.name()])
            .args(["--pattern", self.pattern.name()])
            .args(["--peers", &self.peers.to_string()])
            .args(["--rate", &self.rate.to_string()])
            .stdin(Stdio::piped());
        Ok(cmd)
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Echo => "echo",
        Role::Send => "send",
        Role::BusyEcho => "busy-echo",
        Role::Publish => "publish",
        Role::Dealers => "dealers",
        Role::Serve => "serve",
        Role::Queue => "queue",
        Role::Forwarder => "forwarder",
    }
}

/// How long the measuring side may go on waiting after the peer exited
/// cleanly: longer means a message was lost, and the run would hang.
const AFTER_PEER_EXIT: Duration = Duration::from_secs(10);

/// Blocks a sending peer until the measuring side has everything (it closes
/// the peer's stdin in [`Peer::finish`]). libzmq needs it: over ipc its
/// receiving side drops what it had queued when the sender disconnects,
/// linger notwithstanding (zeromq/libzmq#4660). It runs after the last send,
/// outside every measured interval.
pub fn hold_until_released() {
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
}

/// The peer process, watched from a thread: if it fails, or exits cleanly
/// while the measuring side still waits [`AFTER_PEER_EXIT`] later, the
/// harness says so and exits instead of hanging. Killed if the run ends
/// before it does.
pub struct Peer {
    watched: Arc<Watched>,
}

struct Watched {
    /// `Child` keeps the status once `try_wait` has reaped it.
    child: Mutex<Child>,
    finished: AtomicBool,
}

impl Peer {
    /// Watches `child` (see [`Peer`]).
    pub fn watch(child: Child) -> Peer {
        let watched = Arc::new(Watched {
            child: Mutex::new(child),
            finished: AtomicBool::new(false),
        });
        let w = Arc::clone(&watched);
        std::thread::spawn(move || watchdog(&w));
        Peer { watched }
    }

    /// The peer process's id (for reading its /proc entries).
    pub fn pid(&self) -> u32 {
        self.watched.child.lock().expect("not poisoned").id()
    }

    /// Releases the peer (closes its stdin), waits for it to finish; an
    /// error if it failed.
    pub fn finish(self) -> Result<(), String> {
        self.watched.finished.store(true, Ordering::SeqCst);
        let mut child = self.watched.child.lock().expect("not poisoned");
        drop(child.stdin.take());
        let status = child
            .wait()
            .map_err(|e| format!("waiting for the peer: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("the peer failed ({status})"))
        }
    }

    /// Ends a peer that serves until it is killed (the appliance); an error
    /// if it had already exited, since then it did not serve the whole run.
    pub fn kill(self) -> Result<(), String> {
        self.watched.finished.store(true, Ordering::SeqCst);
        let mut child = self.watched.child.lock().expect("not poisoned");
        match child.try_wait() {
            Ok(Some(status)) => Err(format!("the peer exited during the run ({status})")),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Ok(())
            }
        }
    }
}

fn watchdog(w: &Watched) {
    let mut exited_at: Option<Instant> = None;
    while !w.finished.load(Ordering::SeqCst) {
        if let Some(at) = exited_at {
            if at.elapsed() > AFTER_PEER_EXIT {
                eprintln!(
                    "error: the peer finished {} s ago but the measuring side is still \
                     waiting: messages were lost",
                    AFTER_PEER_EXIT.as_secs()
                );
                std::process::exit(1);
            }
        } else if let Ok(Some(status)) = w.child.lock().expect("not poisoned").try_wait() {
            if !status.success() && !w.finished.load(Ordering::SeqCst) {
                eprintln!("error: the peer failed ({status}) while the run was waiting for it");
                std::process::exit(1);
            }
            exited_at = Some(Instant::now());
        }
        // Polling: a blocked wait() would hold the child for good.
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if self.watched.finished.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Ok(mut c) = self.watched.child.lock() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
