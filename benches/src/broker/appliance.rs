//! Monocoque's box: the appliance binary (`monocoque run`) with a config of
//! one service, written for the run.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::{Running, Service};
use crate::cli::Impl;
use crate::placement::{pin, Peer, Setup};

/// The service's name in the config, and in the appliance's report.
const NAME: &str = "bench";

/// The appliance binary: beside this one, where cargo puts both.
fn binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
    let path = exe.with_file_name("monocoque");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "box runs Monocoque's appliance from beside this binary, and {} does not exist: \
             build it with `cargo build --release -p monocoque-appliance` (without --release \
             for a debug harness)",
            path.display()
        ))
    }
}

/// The config: one service bound on 127.0.0.1 with kernel-chosen ports
/// (the config accepts port 0, and the appliance reports what it bound),
/// pinned to the box's core with the run's profile, and no metrics
/// endpoint (nothing scrapes it, and it would be one more thread).
fn config(service: Service, s: &Setup) -> String {
    format!(
        "[metrics]\nlisten = \"off\"\n\n\
         [[service]]\nname = \"{NAME}\"\nkind = \"{}\"\ncore = {}\nprofile = \"{}\"\n\
         frontend = {{ bind = [\"tcp://127.0.0.1:0\"] }}\n\
         backend = {{ bind = [\"tcp://127.0.0.1:0\"] }}\n",
        service.name(),
        s.peer_core,
        s.profile.name()
    )
}

/// Starts the appliance serving `service` and waits until it serves.
pub fn start(s: &Setup, service: Service) -> Result<Running, String> {
    let binary = binary()?;
    let path = std::env::temp_dir().join(format!(
        "monocoque-bench-{}-box-{}-{}.toml",
        std::process::id(),
        s.serial,
        service.name()
    ));
    std::fs::write(&path, config(service, s)).map_err(|e| format!("{}: {e}", path.display()))?;
    let started = spawn_pinned(&binary, &path, s.peer_core);
    // The appliance reads its config at start (and on SIGHUP, never sent).
    let _ = std::fs::remove_file(&path);
    let (process, report) = started?;
    let line = report
        .iter()
        .find(|l| l.starts_with(&format!("service {NAME} ")))
        .ok_or_else(|| format!("the appliance did not report its service: {report:?}"))?;
    let side = |which| bound(line, which).ok_or_else(|| format!("no {which} endpoint in {line:?}"));
    Ok(Running {
        frontend: side("frontend")?,
        backend: side("backend")?,
        process,
        imp: Impl::Monocoque,
    })
}

/// Runs `monocoque run --config CONFIG` from a thread pinned to `core`, so
/// that every thread of the appliance (its service, its main thread) starts
/// with that mask, as the proxy process's threads do; returns it, watched,
/// with its start-up report.
fn spawn_pinned(
    binary: &std::path::Path,
    config: &std::path::Path,
    core: usize,
) -> Result<(Peer, Vec<String>), String> {
    let mut cmd = Command::new(binary);
    cmd.arg("run")
        .arg("--config")
        .arg(config)
        // Its warnings and errors still show on the harness's stderr.
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut child = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                pin(core)?;
                cmd.spawn()
                    .map_err(|e| format!("starting {}: {e}", binary.display()))
            })
            .join()
            .map_err(|_| "the thread starting the appliance panicked".to_string())?
    })?;
    let out = child.stdout.take().expect("piped");
    let process = Peer::watch(child);
    let mut out = BufReader::new(out);
    let mut report = Vec::new();
    loop {
        let mut line = String::new();
        let n = out
            .read_line(&mut line)
            .map_err(|e| format!("reading the appliance's report: {e}"))?;
        if n == 0 {
            return Err(format!(
                "the appliance ended before it served (its stderr is above): {report:?}"
            ));
        }
        let line = line.trim_end().to_string();
        let serving = line.contains("service(s) running");
        report.push(line);
        if serving {
            break;
        }
    }
    // Whatever it prints later (at exit) goes nowhere, but must not fill the pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    Ok((process, report))
}

/// The endpoint a report line says `side` bound:
/// `service bench (queue): frontend ROUTER bound tcp://127.0.0.1:40000; backend ...`.
fn bound(line: &str, side: &str) -> Option<String> {
    let from = &line[line.find(&format!("{side} "))?..];
    let after = &from[from.find("bound ")? + "bound ".len()..];
    let ep = after.split([' ', ';', ',']).next()?;
    (!ep.is_empty()).then(|| ep.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Pattern, Profile, Transport};

    #[test]
    fn each_side_is_read_from_the_report() {
        let line = "service bench (forwarder): frontend XSUB bound tcp://127.0.0.1:40000; \
                    backend XPUB bound tcp://127.0.0.1:40001; profile latency (the service), \
                    pinned to CPU 1, busy-polls";
        assert_eq!(bound(line, "frontend").unwrap(), "tcp://127.0.0.1:40000");
        assert_eq!(bound(line, "backend").unwrap(), "tcp://127.0.0.1:40001");
        assert_eq!(
            bound("service bench (queue): frontend ROUTER ", "frontend"),
            None
        );
    }

    #[test]
    fn the_config_pins_one_service_with_the_profile() {
        let s = Setup {
            imp: Impl::Monocoque,
            transport: Transport::Tcp,
            size: 64,
            count: 1,
            warmup: 0,
            main_core: 0,
            peer_core: 1,
            profile: Profile::Latency,
            pattern: Pattern::PushPull,
            peers: 1,
            rate: 0,
            serial: 0,
        };
        let text = config(Service::Queue, &s);
        for line in [
            "listen = \"off\"",
            "kind = \"queue\"",
            "core = 1",
            "profile = \"latency\"",
            "frontend = { bind = [\"tcp://127.0.0.1:0\"] }",
        ] {
            assert!(text.contains(line), "{line} missing:\n{text}");
        }
    }
}
