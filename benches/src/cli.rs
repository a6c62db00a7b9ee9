//! The command line: scenarios, implementations and what every run shares.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Side-by-side benchmarks: Monocoque against libzmq and the kernel's floor.
#[derive(Debug, Parser)]
#[command(name = "monocoque-bench")]
pub struct Cli {
    #[command(subcommand)]
    pub scenario: Scenario,
}

#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// REQ/REP ping-pong: latency (round trip / 2, mean) and round-trip percentiles.
    Lat(Common),
    /// One-way throughput (PUSH/PULL or PUB/SUB), timed from the first message received.
    Thr {
        #[command(flatten)]
        common: Common,
        /// The socket pair.
        #[arg(long, value_enum, default_value_t = Pattern::PushPull)]
        pattern: Pattern,
    },
    /// One PUB to N SUBs: aggregate msgs/s, losses and delivery latency.
    Fanout {
        #[command(flatten)]
        common: Common,
        /// SUB sockets, all in the measuring process.
        #[arg(long, default_value_t = 8)]
        subscribers: usize,
        /// Messages per second the publisher sends (0: as fast as it can).
        #[arg(long, default_value_t = 0)]
        rate: u64,
    },
    /// N DEALERs sending into one ROUTER: aggregate msgs/s.
    Lb {
        #[command(flatten)]
        common: Common,
        /// DEALER sockets, all in the peer process.
        #[arg(long, default_value_t = 4)]
        dealers: usize,
    },
    /// Raw TCP ping-pong, blocking and busy-polling: the floor on this box.
    Floor(Common),
    /// Through a broker box (Monocoque's appliance, libzmq's zmq_proxy),
    /// libzmq clients on both sides: REQ -> queue -> REP round trips, and
    /// PUB -> forwarder -> SUB msgs/s.
    #[command(name = "box")]
    Broker(BoxArgs),
    /// The standard matrix; writes its tables into docs/BENCHMARKS.md and its plot beside it.
    Suite(SuiteArgs),
    /// Many idle connections held on one REP server while a libzmq REQ client
    /// ping-pongs: the server's RSS, descriptors and CPU, and the client's
    /// round trips, before, during and after.
    Soak(SoakArgs),
    /// The other end of a run (started by the harness itself).
    #[command(hide = true)]
    Peer(PeerArgs),
}

/// What every scenario takes.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Implementations to run, in order.
    #[arg(long = "impl", value_enum, value_delimiter = ',', default_values_t = [Impl::Monocoque, Impl::Libzmq, Impl::Zeromq, Impl::Raw])]
    pub impls: Vec<Impl>,
    /// Transport.
    #[arg(long, value_enum, default_value_t = Transport::Tcp)]
    pub transport: Transport,
    /// Message size in bytes.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Messages (or round trips) measured.
    #[arg(long, default_value_t = 100_000)]
    pub count: u64,
    /// Messages (or round trips) before measuring.
    #[arg(long, default_value_t = 10_000)]
    pub warmup: u64,
    /// Runs per implementation; the table shows the median, min and max.
    #[arg(long, default_value_t = 1)]
    pub runs: u32,
    /// The measuring process's core and the peer's.
    #[arg(long, value_delimiter = ',', default_values_t = [0, 1])]
    pub cores: Vec<usize>,
    /// Monocoque's profiles, each run in turn (the others have none).
    #[arg(long = "profile", value_enum, value_delimiter = ',', default_values_t = [Profile::Balanced])]
    pub profiles: Vec<Profile>,
    /// Also write every run as a JSON array to this file.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
    /// Also plot latency percentiles and throughput by size into this SVG file.
    #[arg(long)]
    pub svg: Option<std::path::PathBuf>,
}

/// The box scenario's settings: `Common` without what a box does not vary
/// (it runs over tcp, and plots nothing).
#[derive(Debug, Args, Clone)]
pub struct BoxArgs {
    /// Boxes to run, in order (monocoque: the appliance; libzmq: zmq_proxy).
    #[arg(long = "impl", value_enum, value_delimiter = ',', default_values_t = [Impl::Monocoque, Impl::Libzmq])]
    pub impls: Vec<Impl>,
    /// Message size in bytes.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Round trips, and messages published, measured.
    #[arg(long, default_value_t = 100_000)]
    pub count: u64,
    /// Round trips, and messages published, before measuring.
    #[arg(long, default_value_t = 10_000)]
    pub warmup: u64,
    /// Runs per box; the table shows the median, min and max.
    #[arg(long, default_value_t = 1)]
    pub runs: u32,
    /// The clients' core and the box's.
    #[arg(long, value_delimiter = ',', default_values_t = [0, 1])]
    pub cores: Vec<usize>,
    /// The appliance's profiles, each run in turn (zmq_proxy has none).
    #[arg(long = "profile", value_enum, value_delimiter = ',', default_values_t = [Profile::Balanced])]
    pub profiles: Vec<Profile>,
    /// Also write every run as a JSON array to this file.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

impl BoxArgs {
    /// The settings every scenario shares, for the shared loop and table.
    pub fn common(&self) -> Common {
        Common {
            impls: self.impls.clone(),
            transport: Transport::Tcp,
            size: self.size,
            count: self.count,
            warmup: self.warmup,
            runs: self.runs,
            cores: self.cores.clone(),
            profiles: self.profiles.clone(),
            json: self.json.clone(),
            svg: None,
        }
    }
}

/// The soak scenario's settings.
#[derive(Debug, Args, Clone)]
pub struct SoakArgs {
    /// Servers to soak, in order (monocoque and libzmq).
    #[arg(long = "impl", value_enum, value_delimiter = ',', default_values_t = [Impl::Monocoque, Impl::Libzmq])]
    pub impls: Vec<Impl>,
    /// Idle connections held.
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// How long they are held while the client goes on.
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// Round trips measured before and after.
    #[arg(long, default_value_t = 2_000)]
    pub samples: u64,
    /// The client's message size in bytes.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// The measuring process's core and the server's.
    #[arg(long, value_delimiter = ',', default_values_t = [0, 1])]
    pub cores: Vec<usize>,
    /// Monocoque's profile for its server.
    #[arg(long, value_enum, default_value_t = Profile::Balanced)]
    pub profile: Profile,
    /// Also write every phase as a JSON array to this file.
    #[arg(long)]
    pub json: Option<std::path::PathBuf>,
}

/// The standard matrix's settings.
#[derive(Debug, Args, Clone)]
pub struct SuiteArgs {
    /// Implementations to run, in order.
    #[arg(long = "impl", value_enum, value_delimiter = ',', default_values_t = [Impl::Monocoque, Impl::Libzmq, Impl::Zeromq, Impl::Raw])]
    pub impls: Vec<Impl>,
    /// Monocoque's profiles.
    #[arg(long = "profile", value_enum, value_delimiter = ',', default_values_t = [Profile::Latency, Profile::Balanced])]
    pub profiles: Vec<Profile>,
    /// Messages (or round trips) measured per run; capped at 2 GiB of payload.
    #[arg(long, default_value_t = 100_000)]
    pub count: u64,
    /// Warm-up per run; at most a tenth of the run's count.
    #[arg(long, default_value_t = 10_000)]
    pub warmup: u64,
    /// Runs per cell.
    #[arg(long, default_value_t = 1)]
    pub runs: u32,
    /// The two cores.
    #[arg(long, value_delimiter = ',', default_values_t = [0, 1])]
    pub cores: Vec<usize>,
    /// Message sizes.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 64, 1024, 65536])]
    pub sizes: Vec<usize>,
    /// Transports.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Transport::Tcp, Transport::Ipc])]
    pub transports: Vec<Transport>,
    /// The Markdown file whose suite section is replaced (the plot and the
    /// JSON go beside it).
    #[arg(long, default_value = "docs/BENCHMARKS.md")]
    pub doc: std::path::PathBuf,
    /// Run even when another process is using the CPU.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Impl {
    Monocoque,
    Libzmq,
    /// zmq.rs (the `zeromq` crate) on a current-thread tokio runtime.
    Zeromq,
    Raw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    Tcp,
    Ipc,
    Inproc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Pattern {
    PushPull,
    PubSub,
}

/// Monocoque's runtime settings for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// Busy-polling reactors: lowest latency, a core each.
    Latency,
    /// Parking reactors with larger receive buffers.
    Throughput,
    /// Parking reactors, default buffers.
    Balanced,
}

/// The peer's side of a run.
#[derive(Debug, Args, Clone)]
pub struct PeerArgs {
    #[arg(long, value_enum)]
    pub role: Role,
    #[arg(long = "impl", value_enum)]
    pub imp: Impl,
    #[arg(long)]
    pub endpoint: String,
    #[arg(long)]
    pub size: usize,
    /// Warm-up plus measured messages: all the peer handles.
    #[arg(long)]
    pub total: u64,
    #[arg(long)]
    pub core: usize,
    #[arg(long, value_enum)]
    pub profile: Profile,
    #[arg(long, value_enum, default_value_t = Pattern::PushPull)]
    pub pattern: Pattern,
    /// lb: the DEALERs this process runs; fanout: the subscribers the
    /// publisher waits for.
    #[arg(long, default_value_t = 1)]
    pub peers: usize,
    /// fanout: messages per second (0: as fast as possible).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
}

/// What the peer process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Echo every message (lat).
    Echo,
    /// Send `total` messages (thr).
    Send,
    /// Raw busy-polling echo (floor).
    BusyEcho,
    /// Bind a PUB, print its endpoint, wait for the subscribers, send `total` (fanout).
    Publish,
    /// `peers` DEALERs each send `total` messages (lb).
    Dealers,
    /// Bind a REP, print its endpoint, echo until the stop message (soak).
    Serve,
    /// Bind a ROUTER and a DEALER, print both endpoints, run zmq_proxy
    /// between them until released (box: libzmq's queue).
    Queue,
    /// Bind an XSUB and an XPUB, print both endpoints, run zmq_proxy
    /// between them until released (box: libzmq's forwarder).
    Forwarder,
}

impl Impl {
    pub fn name(self) -> &'static str {
        match self {
            Impl::Monocoque => "monocoque",
            Impl::Libzmq => "libzmq",
            Impl::Zeromq => "zeromq",
            Impl::Raw => "raw",
        }
    }
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Ipc => "ipc",
            Transport::Inproc => "inproc",
        }
    }
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Latency => "latency",
            Profile::Throughput => "throughput",
            Profile::Balanced => "balanced",
        }
    }
}

impl Pattern {
    pub fn name(self) -> &'static str {
        match self {
            Pattern::PushPull => "push-pull",
            Pattern::PubSub => "pub-sub",
        }
    }
}
