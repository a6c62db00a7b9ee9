//! Where each end runs: pinning, Monocoque's profile, and starting the peer
//! process (this binary again, with the hidden `peer` subcommand).

use std::process::{Child, Command};

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
            Transport::Ipc => format!(
                "ipc:///tmp/monocoque-bench-{}-{}.sock",
                std::process::id(),
                self.imp.name()
            ),
            Transport::Inproc => format!("inproc://monocoque-bench-{}", self.imp.name()),
        }
    }

    /// Starts the peer process for `role`, connecting to `endpoint`.
    pub fn spawn_peer(&self, role: Role, endpoint: &str) -> Result<Peer, String> {
        let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
        let child = Command::new(exe)
            .arg("peer")
            .args(["--role", role_name(role)])
            .args(["--impl", self.imp.name()])
            .args(["--endpoint", endpoint])
            .args(["--size", &self.size.to_string()])
            .args(["--total", &self.total().to_string()])
            .args(["--core", &self.peer_core.to_string()])
            .args(["--profile", self.profile.name()])
            .args(["--pattern", self.pattern.name()])
            .spawn()
            .map_err(|e| format!("starting the peer: {e}"))?;
        Ok(Peer { child: Some(child) })
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Echo => "echo",
        Role::Send => "send",
        Role::BusyEcho => "busy-echo",
    }
}

/// The peer process; killed if the run ends before it does.
pub struct Peer {
    child: Option<Child>,
}

impl Peer {
    /// Waits for the peer to finish; an error if it failed.
    pub fn finish(mut self) -> Result<(), String> {
        let mut child = self.child.take().expect("finished once");
        let status = child
            .wait()
            .map_err(|e| format!("waiting for the peer: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("the peer failed ({status})"))
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
