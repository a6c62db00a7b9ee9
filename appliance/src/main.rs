//! `monocoque`: the appliance. See `monocoque --help` and appliance/README.md.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cat;
mod config;
mod directions;
mod metrics;
mod metrics_http;
mod placement;
mod security;
mod service;
mod socket_options;
mod stats;
mod supervisor;
mod zcert;

use monocoque_tuning::Profile;

/// A tuned ZeroMQ gateway: forwarders, queues, streamers and bridges that
/// libzmq peers use unchanged.
#[derive(Parser)]
#[command(name = "monocoque", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the services of a config (without --config: the embedded
    /// default, a market-data forwarder on 5556/5557 and a request queue on
    /// 5559/5560).
    Run {
        /// The config file (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Overrides the config's profile (a service's own still wins):
        /// latency, throughput, balanced or auto.
        #[arg(long)]
        profile: Option<Profile>,
        /// Read the host from this sysfs/procfs root instead of / (tests).
        #[arg(long, default_value = "/", hide = true)]
        host_root: PathBuf,
    },
    /// Host tuning: the placement plan, and the settings that hurt it.
    #[command(subcommand)]
    Tune(TuneCommand),
    /// Checks or prints configs.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// A command-line peer of any socket type: stdin lines out, messages in
    /// as lines (frames separated by TAB).
    Cat(Box<cat::CatArgs>),
    /// CURVE keys.
    #[command(subcommand)]
    Curve(CurveCommand),
    /// Prints a running appliance's metrics as a table.
    Stats {
        /// Its metrics address (the config's metrics.listen).
        #[arg(long, default_value = "127.0.0.1:9464")]
        metrics: String,
    },
}

#[derive(Subcommand)]
enum CurveCommand {
    /// Prints a new key pair, exactly as libzmq's curve_keygen does (the
    /// public key to give out, the secret key to keep).
    Keygen,
}

/// What libzmq's `curve_keygen` prints, for a new pair.
fn keygen_text(pair: &monocoque_zmtp::mechanism::CurveKeyPair) -> zeroize::Zeroizing<String> {
    let mut text = String::from(
        "This tool generates a CurveZMQ keypair, as two printable strings you can\n\
         use in configuration files or source code. The encoding uses Z85, which\n\
         is a base-85 format that is described in 0MQ RFC 32, and which has an\n\
         implementation in the z85_codec.h source used by this tool. The keypair\n\
         always works with the secret key held by one party and the public key\n\
         distributed (securely!) to peers wishing to connect to it.\n",
    );
    text.push_str("\n== CURVE PUBLIC KEY ==\n");
    text.push_str(&pair.public.to_z85());
    text.push_str("\n\n== CURVE SECRET KEY ==\n");
    text.push_str(&pair.secret.to_z85());
    text.push('\n');
    zeroize::Zeroizing::new(text)
}

#[derive(Subcommand)]
enum TuneCommand {
    /// Prints where each service of the config runs and how it waits.
    Plan(TuneArgs),
    /// Lists every host setting that hurts the plan, with its severity and
    /// the command or kernel parameter that fixes it.
    Check(TuneArgs),
}

#[derive(clap::Args)]
struct TuneArgs {
    /// The profile (default: the config's).
    #[arg(long)]
    profile: Option<Profile>,
    /// The config whose services are placed (default: the embedded one).
    #[arg(long)]
    config: Option<PathBuf>,
    /// JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Read the host from this sysfs/procfs root instead of / (a copy of
    /// another machine's, or a test fixture).
    #[arg(long, default_value = "/")]
    host_root: PathBuf,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Checks a config file without starting anything.
    Check {
        /// The file.
        file: PathBuf,
    },
    /// Prints the embedded default config.
    Default,
}

/// `tune plan` and `tune check`.
fn tune(a: &TuneArgs, check: bool) -> Result<(), String> {
    let config = match &a.config {
        Some(p) => config::load(p),
        None => config::parse(config::DEFAULT_NAME, config::DEFAULT),
    }
    .map_err(|e| e.to_string())?;
    let host = placement::this_host(&a.host_root)?;
    let plan = placement::plan_for(&config, a.profile, &host)?;
    let json = |v: serde_json::Result<String>| v.expect("plain data serializes");
    if check {
        let findings = monocoque_tuning::check::check(&host, &plan);
        if a.json {
            println!("{}", json(serde_json::to_string_pretty(&findings)));
        } else {
            print!(
                "{}",
                monocoque_tuning::check::render(&findings, plan.profile)
            );
        }
    } else if a.json {
        println!("{}", json(serde_json::to_string_pretty(&plan)));
    } else {
        print!("{}", plan.render(&host));
    }
    Ok(())
}

/// Whether log lines get ANSI colours: only on a terminal (escape codes
/// garble a journal or a log file), and never when NO_COLOR is set to
/// something (<https://no-color.org>).
fn use_colour(stderr_is_terminal: bool, no_color: Option<OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// `monocoque run` raises the open-file soft limit to the hard limit before
/// anything starts (one descriptor per peer: the usual 1,024 would refuse
/// subscribers long before memory does) and says what it got.
fn raise_open_files_limit() {
    match monocoque_runtime::raise_open_files_limit() {
        Ok(l) if l.after > l.before => println!(
            "open files: soft limit raised from {} to {} (the hard limit)",
            l.before, l.after
        ),
        Ok(l) => println!("open files: limit {} (the hard limit already)", l.after),
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
            println!("open files: the soft limit could not be raised: {e}");
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(use_colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR"),
        ))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let result = match Cli::parse().command {
        Command::Run {
            config,
            profile,
            host_root,
        } => {
            raise_open_files_limit();
            supervisor::run(supervisor::Source {
                path: config,
                profile,
                host_root,
            })
        }
        Command::Tune(TuneCommand::Plan(a)) => tune(&a, false),
        Command::Tune(TuneCommand::Check(a)) => tune(&a, true),
        Command::Config(ConfigCommand::Check { file }) => config::load(&file)
            .map(|c| {
                println!(
                    "{}: ok ({} service(s): {})",
                    file.display(),
                    c.services.len(),
                    c.services
                        .iter()
                        .map(|s| format!("{} ({})", s.name, s.kind.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .map_err(|e| e.to_string()),
        Command::Cat(args) => match cat::run(*args) {
            Ok(true) => Ok(()),
            Ok(false) => {
                eprintln!("monocoque cat: fewer messages than --count arrived");
                return ExitCode::FAILURE;
            }
            Err(e) => Err(e),
        },
        Command::Curve(CurveCommand::Keygen) => {
            print!(
                "{}",
                *keygen_text(&monocoque_zmtp::mechanism::CurveKeyPair::generate())
            );
            Ok(())
        }
        Command::Stats { metrics } => {
            stats::fetch(&metrics).map(|text| print!("{}", stats::table(&text)))
        }
        Command::Config(ConfigCommand::Default) => {
            print!("{}", config::DEFAULT);
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_prints_as_libzmq_curve_keygen() {
        use monocoque_zmtp::mechanism::{CurveKeyPair, CurveSecretKey};
        let pair = CurveKeyPair::from_secret(
            CurveSecretKey::parse(b"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6").unwrap(),
        );
        let text = keygen_text(&pair);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 12);
        assert_eq!(
            lines[0],
            "This tool generates a CurveZMQ keypair, as two printable strings you can"
        );
        assert_eq!(
            &lines[6..],
            [
                "",
                "== CURVE PUBLIC KEY ==",
                "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
                "",
                "== CURVE SECRET KEY ==",
                "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6",
            ]
        );
        assert!(text.ends_with("Lh6\n"));
    }

    #[test]
    fn colour_only_on_a_terminal_and_without_no_color() {
        assert!(use_colour(true, None));
        assert!(!use_colour(false, None));
        assert!(!use_colour(true, Some("1".into())));
        assert!(!use_colour(false, Some("1".into())));
        // An empty NO_COLOR is as if unset (no-color.org).
        assert!(use_colour(true, Some("".into())));
    }
}
