//! The appliance's configuration: TOML read through serde, then checked as a
//! whole before anything starts.
//!
//! ```toml
//! profile = "balanced"                 # latency | throughput | balanced | auto
//! [metrics]
//! listen = "127.0.0.1:9464"            # or "off"
//! [[service]]
//! name = "market-data"
//! kind = "forwarder"                   # forwarder | queue | streamer | bridge
//! frontend = { bind = ["tcp://*:5556"] }
//! backend = { bind = ["tcp://*:5557"], options = { sndhwm = 100000 } }
//! core = 1                             # optional: the core this service runs on
//! profile = "latency"                  # optional: this service's own profile
//! io_cores = "auto"                    # optional: IO cores for the accepted connections
//! ```
//!
//! `io_cores` is for a service with a side that binds. Its bound PUB or XPUB
//! sides are spread (a forwarder's backend; `"auto"` is the default there);
//! a service with none spreads every side that binds (a queue's, a
//! streamer's, a bridge's; no default: ask for them). `"auto"` takes the
//! service's share of the cores the placement plan leaves spare (at most
//! two), a number asks for exactly that many (0 for none). Each IO core
//! serves some of the accepted connections.
//!
//! Every mistake is refused with the file, the line and column, and the field:
//! `appliance.toml:14:11: service "md" backend option sndhwm: must be 0 or more`.
//! Unknown fields are mistakes too (a misspelt option must not be ignored).
//! So are two binds that `run` could not both make: the same TCP port on
//! overlapping addresses (`*` covers every IPv4 address, `::` every address),
//! whether two services' or a service's and the metrics listener's, or the
//! same ipc path; the error points at the later of the two in the file.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};

use monocoque_patterns::{Endpoint, Options};
use monocoque_zmtp::SocketType;
use serde::Deserialize;
use toml::{Spanned, Value};

use crate::directions::{can_receive, can_send};
use crate::security::{self, RawCurve, RawPlain, Security, SecurityError};
use crate::socket_options::{self, Applied};
use monocoque_tuning::plan::IoCoresRequest;
use monocoque_tuning::Profile;

/// The embedded default: a market-data forwarder and a request queue.
pub const DEFAULT: &str = include_str!("default.toml");

/// Where the embedded default says it comes from in messages.
pub const DEFAULT_NAME: &str = "<embedded default>";

/// A checked configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The profile for every service without its own.
    pub profile: Profile,
    /// Where metrics are served (`None`: not at all).
    pub metrics: Option<SocketAddr>,
    /// The services, in the file's order.
    pub services: Vec<ServiceSpec>,
}

/// What a service does with its two sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// XSUB (publishers) to XPUB (subscribers); subscriptions go back up.
    Forwarder,
    /// ROUTER (clients) to DEALER (workers); replies come back.
    Queue,
    /// PULL to PUSH.
    Streamer,
    /// Any two socket types that can carry messages from frontend to backend.
    Bridge,
}

impl Kind {
    /// The config's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Forwarder => "forwarder",
            Kind::Queue => "queue",
            Kind::Streamer => "streamer",
            Kind::Bridge => "bridge",
        }
    }

    /// The socket types the kind fixes (`None` for a bridge).
    fn types(self) -> Option<(SocketType, SocketType)> {
        match self {
            Kind::Forwarder => Some((SocketType::XSub, SocketType::XPub)),
            Kind::Queue => Some((SocketType::Router, SocketType::Dealer)),
            Kind::Streamer => Some((SocketType::Pull, SocketType::Push)),
            Kind::Bridge => None,
        }
    }
}

/// One service, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    /// Unique; the `service` label of its metrics.
    pub name: String,
    /// What it does.
    pub kind: Kind,
    /// The side messages come in from.
    pub frontend: SocketSpec,
    /// The side they go out to (and replies or subscriptions come back from).
    pub backend: SocketSpec,
    /// The core it runs on, if the config places it.
    pub core: Option<usize>,
    /// Its own profile, if it overrides the file's.
    pub profile: Option<Profile>,
    /// The IO cores it asks for (for the connections its bound sides accept,
    /// [`spreads`](Self::spreads)).
    pub io_cores: IoCoresRequest,
}

impl ServiceSpec {
    /// Its sides whose accepted connections are spread over its IO cores:
    /// its PUB or XPUB sides that bind, where it has any (a forwarder's
    /// backend: its publishers' few connections stay on the service's core,
    /// one cross-core step fewer for every message in); otherwise every
    /// side that binds (a queue's, a streamer's, a bridge's).
    pub fn spreads(&self) -> Vec<&SocketSpec> {
        let sides = [&self.frontend, &self.backend];
        let bound = sides.into_iter().filter(|s| !s.bind.is_empty());
        if self.publishes_bound() {
            bound.filter(|s| s.socket_type.is_publisher()).collect()
        } else {
            bound.collect()
        }
    }

    /// Whether a PUB or XPUB side binds: `io_cores = "auto"` is its default,
    /// as a fanout box's subscribers are many.
    pub fn publishes_bound(&self) -> bool {
        [&self.frontend, &self.backend]
            .iter()
            .any(|s| s.socket_type.is_publisher() && !s.bind.is_empty())
    }
}

/// One socket of a service, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketSpec {
    /// Its type.
    pub socket_type: SocketType,
    /// Endpoints to bind.
    pub bind: Vec<String>,
    /// Endpoints to connect to.
    pub connect: Vec<String>,
    /// The options as written (already checked by [`SocketSpec::applied`]).
    pub options: BTreeMap<String, Value>,
    /// Its `curve` or `plain` table, checked and its files loaded.
    pub security: Option<Security>,
}

/// LINGER when the config sets none: a stopping appliance waits this long
/// for queued messages, where libzmq's default (-1) could wait for ever.
pub const DEFAULT_LINGER_MS: i64 = 1000;

impl SocketSpec {
    /// What to apply to the socket, in order: the options, then the
    /// subscriptions. Checked when the config was read.
    pub fn applied(&self) -> Vec<Applied> {
        let mut out = Vec::new();
        let (mut user, mut pass) = (None, None);
        if !self.options.contains_key("linger") {
            out.push(
                socket_options::parse("linger", &Value::Integer(DEFAULT_LINGER_MS))
                    .expect("a valid linger"),
            );
        }
        for (name, value) in &self.options {
            match socket_options::parse(name, value).expect("checked when read") {
                Applied::PlainUsername(u) => user = Some(u),
                Applied::PlainPassword(p) => pass = Some(p),
                a => out.push(a),
            }
        }
        if let (Some(username), Some(password)) = (user, pass) {
            out.push(Applied::Option(
                monocoque_patterns::SocketOption::PlainClient { username, password },
            ));
        }
        if let Some(security) = &self.security {
            out.extend(security.options().into_iter().map(Applied::Option));
        }
        out
    }
}

/// A configuration mistake, located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {what}")]
pub struct ConfigError {
    /// The file (or [`DEFAULT_NAME`]).
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// The field and what is wrong with it.
    pub what: String,
}

/// Reads and checks `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.display().to_string(),
        line: 0,
        column: 0,
        what: format!("cannot read it: {e}"),
    })?;
    parse(&path.display().to_string(), &text)
}

/// Checks `text`, naming it `file` in errors.
pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
    let at = |span: Range<usize>, what: String| {
        let (line, column) = line_column(text, span.start);
        ConfigError {
            file: file.to_string(),
            line,
            column,
            what,
        }
    };
    let raw = read_toml(text, &at)?;
    let profile = raw.profile.map(|p| *p.get_ref()).unwrap_or_default();
    let (metrics, metrics_span) = metrics_listener(raw.metrics, &at)?;
    if raw.services.is_empty() {
        return Err(at(
            0..0,
            "no [[service]]: there would be nothing to run".into(),
        ));
    }
    // Every bind, the metrics listener's too, for the overlap check at the end.
    let mut binds: Vec<BindSite> = Vec::new();
    if let Some(addr) = metrics {
        binds.push(BindSite {
            span: metrics_span,
            field: "metrics.listen".into(),
            owner: "metrics.listen".into(),
            text: addr.to_string(),
            key: BindKey::Tcp(addr.ip(), addr.port()),
        });
    }
    let mut names = HashSet::new();
    let mut services = Vec::new();
    // Files a config names (keys, certificates, users) are read from its
    // directory.
    let base = Path::new(file)
        .parent()
        .filter(|_| file != DEFAULT_NAME)
        .unwrap_or(Path::new("."));
    for s in raw.services {
        services.push(check_service(s, &mut names, &mut binds, base, &at)?);
    }
    check_overlaps(binds, &at)?;
    Ok(Config {
        profile,
        metrics,
        services,
    })
}

/// Deserializes `text`, naming the field of a bad value in the error.
fn read_toml(
    text: &str,
    at: &dyn Fn(Range<usize>, String) -> ConfigError,
) -> Result<RawConfig, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim_end();
        // toml names an unknown field but not the field of a bad value:
        // the key before the value's `=` is it.
        match key_before(text, span.start) {
            Some(key) => at(span, format!("{key}: {message}")),
            None => at(span, message.to_string()),
        }
    })
}

/// The metrics listener's address (`None`: "off") and where it was written
/// (`None`: the default, which no line names).
fn metrics_listener(
    raw: Option<RawMetrics>,
    at: &dyn Fn(Range<usize>, String) -> ConfigError,
) -> Result<(Option<SocketAddr>, Option<Range<usize>>), ConfigError> {
    match raw.and_then(|m| m.listen) {
        None => Ok((Some(default_metrics()), None)),
        Some(l) if l.get_ref() == "off" => Ok((None, None)),
        Some(l) => {
            let addr = l.get_ref().parse().map_err(|e| {
                at(
                    l.span(),
                    format!("metrics.listen: {e} (ip:port, or \"off\")"),
                )
            })?;
            Ok((Some(addr), Some(l.span())))
        }
    }
}

/// Checks one service, given the names of those before it, and adds its
/// binds to `binds`.
fn check_service(
    s: RawService,
    names: &mut HashSet<String>,
    binds: &mut Vec<BindSite>,
    base: &Path,
    at: &dyn Fn(Range<usize>, String) -> ConfigError,
) -> Result<ServiceSpec, ConfigError> {
    let name = check_service_name(&s.name, names, at)?;
    let kind = *s.kind.get_ref();
    let side = |raw: Spanned<RawSocketFields>, which: &str, fixed: Option<SocketType>| {
        check_socket(raw.into(), &name, which, fixed, base, at)
    };
    let fixed = kind.types();
    let (frontend, frontend_spans) = side(s.frontend, "frontend", fixed.map(|t| t.0))?;
    let (backend, backend_spans) = side(s.backend, "backend", fixed.map(|t| t.1))?;
    if kind == Kind::Bridge && !(can_receive(frontend.socket_type) && can_send(backend.socket_type))
    {
        return Err(at(
            s.kind.span(),
            format!(
                "service {name:?}: a bridge carries messages from a frontend that receives \
                 to a backend that sends; {} to {} cannot",
                frontend.socket_type.as_str(),
                backend.socket_type.as_str()
            ),
        ));
    }
    for (which, spec, spans) in [
        ("frontend", &frontend, frontend_spans),
        ("backend", &backend, backend_spans),
    ] {
        for (ep, span) in spec.bind.iter().zip(spans) {
            let owner = format!("service {name:?} {which}");
            binds.push(BindSite {
                span: Some(span),
                field: format!("{owner} bind"),
                owner,
                text: ep.clone(),
                key: BindKey::of(ep),
            });
        }
    }
    let mut spec = ServiceSpec {
        name,
        kind,
        frontend,
        backend,
        core: s.core.map(|c| *c.get_ref()),
        profile: s.profile.map(|p| *p.get_ref()),
        io_cores: IoCoresRequest::None,
    };
    let spreads = !spec.spreads().is_empty();
    spec.io_cores = match s.io_cores {
        None if spec.publishes_bound() => IoCoresRequest::Auto,
        None => IoCoresRequest::None,
        Some(raw) => {
            let request = match raw.get_ref() {
                Value::String(a) if a == "auto" => IoCoresRequest::Auto,
                Value::Integer(n) if (0..=1024).contains(n) => IoCoresRequest::Count(*n as usize),
                other => {
                    return Err(at(
                        raw.span(),
                        format!(
                        "service {:?} io_cores: \"auto\" or a number from 0 to 1024, not {other}",
                        spec.name
                    ),
                    ))
                }
            };
            if !spreads && request != IoCoresRequest::Count(0) {
                return Err(at(
                    raw.span(),
                    format!(
                        "service {:?} io_cores: only a service with a side that binds has \
                         accepted connections to spread over IO cores",
                        spec.name
                    ),
                ));
            }
            request
        }
    };
    Ok(spec)
}

/// A service's name, refused unless it is a plain word (it becomes a metrics
/// label) not used by an earlier service in `names`.
fn check_service_name(
    name: &Spanned<String>,
    names: &mut HashSet<String>,
    at: &dyn Fn(Range<usize>, String) -> ConfigError,
) -> Result<String, ConfigError> {
    let text = name.get_ref();
    if text.is_empty()
        || !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(at(
            name.span(),
            format!("service name {text:?}: use letters, digits, - and _"),
        ));
    }
    if !names.insert(text.clone()) {
        return Err(at(
            name.span(),
            format!("service name {text:?} is used twice"),
        ));
    }
    Ok(text.clone())
}

/// One bind of the config (a service's endpoint or the metrics listener),
/// for the overlap check.
struct BindSite {
    /// Where it is written (`None`: the default metrics address).
    span: Option<Range<usize>>,
    /// The field an error about it names.
    field: String,
    /// Who binds it, as the other side of an error names it.
    owner: String,
    /// As written.
    text: String,
    /// What it occupies.
    key: BindKey,
}

/// What a bind occupies.
#[derive(Debug, PartialEq)]
enum BindKey {
    /// An address (unspecified for `*` and `::`) and a port.
    Tcp(IpAddr, u16),
    /// A host name that did not resolve here, and a port: only the same name
    /// is known to overlap (`run` reports the name itself).
    Name(String, u16),
    /// A Unix socket path.
    Ipc(PathBuf),
    /// Nothing another bind can collide with (port 0: the kernel picks).
    Nothing,
}

impl BindKey {
    /// The key of a checked bind endpoint. A host is found as `run` finds
    /// it (an interface name, an address, a host name's first address).
    fn of(endpoint: &str) -> BindKey {
        match endpoint.parse::<Endpoint>() {
            Ok(Endpoint::Tcp { port: 0, .. }) => BindKey::Nothing,
            Ok(Endpoint::Tcp { host, port, .. }) if host == "*" => {
                BindKey::Tcp(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)
            }
            Ok(Endpoint::Tcp { host, port, .. }) => {
                match monocoque_patterns::tcp_bind_address(&host, port, false) {
                    Ok(addr) => BindKey::Tcp(addr.ip(), port),
                    Err(_) => BindKey::Name(host.to_ascii_lowercase(), port),
                }
            }
            Ok(Endpoint::Ipc(path)) => BindKey::Ipc(path),
            // Refused earlier, by check_socket.
            Ok(Endpoint::Inproc(_)) | Err(_) => BindKey::Nothing,
        }
    }

    /// Whether `run` could not make both binds.
    fn overlaps(&self, other: &BindKey) -> bool {
        match (self, other) {
            (BindKey::Tcp(a, p), BindKey::Tcp(b, q)) => {
                p == q && *p != 0 && addresses_overlap(*a, *b)
            }
            (BindKey::Name(a, p), BindKey::Name(b, q)) => p == q && a == b,
            (BindKey::Ipc(a), BindKey::Ipc(b)) => a == b,
            _ => false,
        }
    }
}

/// Whether listeners on `a` and `b` (same port) collide on Linux: equal
/// addresses, or one unspecified address of the other's family. `::` also
/// covers IPv4, as sockets bind dual-stack (IPV6_V6ONLY is not set and
/// Linux's default `net.ipv6.bindv6only` is 0); an IPv4-mapped IPv6 address
/// is its IPv4 address.
fn addresses_overlap(a: IpAddr, b: IpAddr) -> bool {
    let v4 = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let (a, b) = (v4(a), v4(b));
    if a == b {
        return true;
    }
    match (a, b) {
        (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
            a.is_unspecified() || b.is_unspecified()
        }
        (IpAddr::V6(v6), IpAddr::V4(_)) | (IpAddr::V4(_), IpAddr::V6(v6)) => v6.is_unspecified(),
    }
}

/// Refuses the first bind, in file order, that overlaps an earlier one.
fn check_overlaps(
    mut binds: Vec<BindSite>,
    at: &dyn Fn(Range<usize>, String) -> ConfigError,
) -> Result<(), ConfigError> {
    // The default metrics address, written nowhere, counts as first.
    binds.sort_by_key(|b| b.span.as_ref().map(|s| s.start + 1).unwrap_or(0));
    for (i, later) in binds.iter().enumerate() {
        let Some(earlier) = binds[..i].iter().find(|e| e.key.overlaps(&later.key)) else {
            continue;
        };
        let where_ = match &earlier.span {
            Some(span) => format!("at line {}", at(span.clone(), String::new()).line),
            None => "by default".to_string(),
        };
        return Err(at(
            later.span.clone().unwrap_or(0..0),
            format!(
                "{}: {} overlaps {} (bound by {} {where_})",
                later.field, later.text, earlier.text, earlier.owner
            ),
        ));
    }
    Ok(())
}

/// The default metrics address.
pub fn default_metrics() -> SocketAddr {
    "127.0.0.1:9464".parse().expect("a valid address")
}

fn check_socket(
    raw: RawSocket,
    service: &str,
    which: &str,
    fixed: Option<SocketType>,
    base: &Path,
    at: &dyn Fn(std::ops::Range<usize>, String) -> ConfigError,
) -> Result<(SocketSpec, Vec<Range<usize>>), ConfigError> {
    let field = |f: &str| format!("service {service:?} {which} {f}");
    let socket_type = match (fixed, raw.socket_type) {
        (Some(t), None) => t,
        (Some(t), Some(given)) => {
            return Err(at(
                given.span(),
                format!(
                    "{}: the service's kind makes it {}; only a bridge takes a type",
                    field("type"),
                    t.as_str()
                ),
            ))
        }
        (None, None) => {
            return Err(at(
                raw.span.clone(),
                format!("{}: a bridge needs both socket types", field("type")),
            ))
        }
        (None, Some(given)) => {
            let name = given.get_ref().to_ascii_uppercase();
            match SocketType::from_wire(name.as_bytes()) {
                Some(SocketType::Req | SocketType::Rep) => {
                    return Err(at(
                        given.span(),
                        format!(
                            "{}: REQ and REP keep strict turns and cannot be bridged; \
                             use ROUTER or DEALER",
                            field("type")
                        ),
                    ))
                }
                Some(t) => t,
                None => {
                    return Err(at(
                        given.span(),
                        format!("{}: no socket type {:?}", field("type"), given.get_ref()),
                    ))
                }
            }
        }
    };
    if raw.bind.is_empty() && raw.connect.is_empty() {
        return Err(at(
            raw.span.clone(),
            format!("service {service:?} {which}: needs at least one bind or connect"),
        ));
    }
    for (list, verb) in [(&raw.bind, "bind"), (&raw.connect, "connect")] {
        for ep in list {
            match ep.get_ref().parse::<Endpoint>() {
                Err(e) => return Err(at(ep.span(), format!("{}: {e}", field(verb)))),
                Ok(Endpoint::Inproc(_)) => {
                    return Err(at(
                        ep.span(),
                        format!(
                            "{}: inproc reaches only sockets in the same process; \
                             use tcp or ipc",
                            field(verb)
                        ),
                    ))
                }
                Ok(Endpoint::Tcp {
                    source: Some(_), ..
                }) if verb == "bind" => {
                    return Err(at(
                        ep.span(),
                        format!(
                            "{}: a source address (source;destination) is for connect, \
                             not bind",
                            field(verb)
                        ),
                    ))
                }
                Ok(_) => {}
            }
        }
    }
    let mut scratch = Options::new(socket_type);
    let mut options = BTreeMap::new();
    for (name, value) in raw.options {
        let what = field(&format!("option {name}"));
        let applied = socket_options::parse(&name, value.get_ref())
            .map_err(|e| at(value.span(), format!("{what}: {e}")))?;
        let refused = match applied {
            Applied::Option(o) => scratch.apply(socket_type, o).err().map(|e| e.to_string()),
            Applied::Subscribe(_) => (!matches!(socket_type, SocketType::Sub | SocketType::XSub))
                .then(|| "only a SUB or XSUB subscribes".to_string()),
            Applied::PlainUsername(_) | Applied::PlainPassword(_) => None,
        };
        if let Some(e) = refused {
            return Err(at(value.span(), format!("{what}: {e}")));
        }
        options.insert(name, value.into_inner());
    }
    if options.contains_key("plain_username") != options.contains_key("plain_password") {
        return Err(at(
            raw.span,
            format!(
                "{}: plain_username and plain_password go together",
                field("options")
            ),
        ));
    }
    let security = check_security((&raw.curve, &raw.plain), &options, base, &field, at)?;
    // The binds' positions go apart from the spec: a spec compares equal
    // across a reload whatever line it moved to.
    let bind_spans = raw.bind.iter().map(Spanned::span).collect();
    Ok((
        SocketSpec {
            socket_type,
            bind: raw.bind.into_iter().map(Spanned::into_inner).collect(),
            connect: raw.connect.into_iter().map(Spanned::into_inner).collect(),
            options,
            security,
        },
        bind_spans,
    ))
}

/// A socket's `curve` or `plain` table, with the files it names loaded.
/// A problem in a file is reported at that file's line.
fn check_security(
    tables: (&Option<Spanned<RawCurve>>, &Option<Spanned<RawPlain>>),
    options: &BTreeMap<String, Value>,
    base: &Path,
    field: &dyn Fn(&str) -> String,
    at: &dyn Fn(Range<usize>, String) -> ConfigError,
) -> Result<Option<Security>, ConfigError> {
    let (loaded, span, table) = match tables {
        (None, None) => return Ok(None),
        (Some(c), Some(_)) => {
            return Err(at(
                c.span(),
                format!(
                    "{}: a socket has one mechanism, curve or plain",
                    field("curve")
                ),
            ))
        }
        (Some(c), None) => (security::curve(c.get_ref(), base), c.span(), "curve"),
        (None, Some(p)) => (security::plain(p.get_ref(), base), p.span(), "plain"),
    };
    if options.contains_key("plain_username") {
        return Err(at(
            span,
            format!(
                "{}: plain_username makes the socket a PLAIN client; it has one mechanism",
                field(table)
            ),
        ));
    }
    loaded.map(Some).map_err(|e| match e {
        SecurityError::Field(what) => at(span, format!("{}: {what}", field(table))),
        SecurityError::File(f) => ConfigError {
            file: f.file,
            line: f.line,
            column: usize::from(f.line > 0),
            what: format!("{}: {}", field(table), f.what),
        },
    })
}

/// The key whose value starts at `offset` (`kind` in `kind = "x"`), if the
/// text before it on its line ends with `key =`.
fn key_before(text: &str, offset: usize) -> Option<&str> {
    let line = text[..offset.min(text.len())].rsplit('\n').next()?;
    let before_eq = line.trim_end().strip_suffix('=')?.trim_end();
    let start = before_eq
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .map_or(0, |i| i + 1);
    let key = &before_eq[start..];
    (!key.is_empty()).then_some(key)
}

/// 1-based line and column of byte `offset`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    profile: Option<Spanned<Profile>>,
    metrics: Option<RawMetrics>,
    #[serde(rename = "service", default)]
    services: Vec<RawService>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: Spanned<String>,
    kind: Spanned<Kind>,
    frontend: Spanned<RawSocketFields>,
    backend: Spanned<RawSocketFields>,
    core: Option<Spanned<usize>>,
    profile: Option<Spanned<Profile>>,
    io_cores: Option<Spanned<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSocketFields {
    #[serde(rename = "type")]
    socket_type: Option<Spanned<String>>,
    #[serde(default)]
    bind: Vec<Spanned<String>>,
    #[serde(default)]
    connect: Vec<Spanned<String>>,
    #[serde(default)]
    options: BTreeMap<String, Spanned<Value>>,
    curve: Option<Spanned<RawCurve>>,
    plain: Option<Spanned<RawPlain>>,
}

/// A socket's fields with the span of its table, for errors about the whole.
struct RawSocket {
    socket_type: Option<Spanned<String>>,
    bind: Vec<Spanned<String>>,
    connect: Vec<Spanned<String>>,
    options: BTreeMap<String, Spanned<Value>>,
    curve: Option<Spanned<RawCurve>>,
    plain: Option<Spanned<RawPlain>>,
    span: std::ops::Range<usize>,
}

impl From<Spanned<RawSocketFields>> for RawSocket {
    fn from(s: Spanned<RawSocketFields>) -> RawSocket {
        let span = s.span();
        let f = s.into_inner();
        RawSocket {
            socket_type: f.socket_type,
            bind: f.bind,
            connect: f.connect,
            options: f.options,
            curve: f.curve,
            plain: f.plain,
            span,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse("f.toml", text).unwrap_err().to_string()
    }

    const OK: &str = "[[service]]\nname = \"s\"\nkind = \"streamer\"\n\
                      frontend = { bind = [\"tcp://*:7001\"] }\n\
                      backend = { connect = [\"tcp://127.0.0.1:7002\"] }\n";

    #[test]
    fn the_embedded_default_is_a_forwarder_and_a_queue() {
        let c = parse(DEFAULT_NAME, DEFAULT).unwrap();
        assert_eq!(c.profile, Profile::Balanced);
        assert_eq!(c.metrics, Some(default_metrics()));
        let kinds: Vec<_> = c
            .services
            .iter()
            .map(|s| (s.name.as_str(), s.kind))
            .collect();
        assert_eq!(
            kinds,
            [("market-data", Kind::Forwarder), ("requests", Kind::Queue)]
        );
        assert_eq!(c.services[0].frontend.socket_type, SocketType::XSub);
        assert_eq!(c.services[0].backend.bind, ["tcp://*:5557"]);
    }

    #[test]
    fn the_embedded_default_bounds_what_a_peer_can_make_every_socket_hold() {
        let c = parse(DEFAULT_NAME, DEFAULT).unwrap();
        for s in &c.services {
            for side in [&s.frontend, &s.backend] {
                assert_eq!(
                    side.options.get("maxmsgsize"),
                    Some(&Value::Integer(16 << 20)),
                    "{} {:?}",
                    s.name,
                    side.socket_type
                );
                assert_eq!(
                    side.options.get("maxmsgframes"),
                    Some(&Value::Integer(1024))
                );
            }
        }
        // Subscribers connect to the forwarder's backend: it caps them.
        let xpub = &c.services[0].backend.options;
        assert_eq!(xpub.get("max_subscriptions"), Some(&Value::Integer(10_000)));
        assert_eq!(
            xpub.get("max_subscription_bytes"),
            Some(&Value::Integer(1 << 20))
        );
    }

    #[test]
    fn mistakes_name_the_file_line_column_and_field() {
        assert_eq!(
            err("[[service]]\nname = \"s\"\nkind = \"nonsense\"\n"),
            "f.toml:3:8: kind: unknown variant `nonsense`, expected one of \
             `forwarder`, `queue`, `streamer`, `bridge`"
        );
        assert_eq!(
            err(&format!("{OK}colour = 3\n")),
            "f.toml:6:1: unknown field `colour`, expected one of `name`, `kind`, \
             `frontend`, `backend`, `core`, `profile`, `io_cores`"
        );
        assert_eq!(
            err(&OK.replace("connect = [", "options = { sndhwm = -5 }, connect = [")),
            "f.toml:5:34: service \"s\" backend option sndhwm: must be 0 or more"
        );
        assert_eq!(
            err(&OK.replace("options", "x").replace(
                "bind = [",
                "options = { router_mandatory = true }, bind = ["
            )),
            "f.toml:4:45: service \"s\" frontend option router_mandatory: \
             option ROUTER_MANDATORY: not supported by PULL sockets (EINVAL)"
        );
        assert_eq!(
            err(&OK.replace("tcp://*:7001", "tcp://*:99999")),
            "f.toml:4:22: service \"s\" frontend bind: invalid endpoint \"tcp://*:99999\": \
             the port must be a number from 0 to 65535, or *"
        );
        assert_eq!(
            err(&OK.replace("tcp://*:7001", "tcp://127.0.0.2:0;127.0.0.1:7001")),
            "f.toml:4:22: service \"s\" frontend bind: a source address \
             (source;destination) is for connect, not bind"
        );
        assert!(
            err(&format!("{OK}io_cores = \"many\"\n")).contains("io_cores: \"auto\" or a number")
        );
    }

    #[test]
    fn bridges_need_types_that_carry_messages_forward() {
        let bridge = |f: &str, b: &str| {
            format!(
                "[[service]]\nname = \"b\"\nkind = \"bridge\"\n\
                 frontend = {{ type = \"{f}\", bind = [\"tcp://*:7001\"] }}\n\
                 backend = {{ type = \"{b}\", bind = [\"tcp://*:7002\"] }}\n"
            )
        };
        let c = parse("f.toml", &bridge("sub", "pub")).unwrap();
        assert_eq!(c.services[0].frontend.socket_type, SocketType::Sub);
        assert!(err(&bridge("pub", "sub")).contains("PUB to SUB cannot"));
        assert!(err(&bridge("req", "dealer")).contains("REQ and REP keep strict turns"));
        assert!(err(&bridge("nope", "pub")).contains("no socket type \"nope\""));
        let typed_streamer = OK.replace(
            "bind = [\"tcp://*:7001\"]",
            "type = \"pull\", bind = [\"tcp://*:7001\"]",
        );
        assert!(err(&typed_streamer)
            .contains("the service's kind makes it PULL; only a bridge takes a type"));
    }

    #[test]
    fn a_port_bound_twice_and_a_name_used_twice_are_refused() {
        let twice = format!("{OK}{}", OK.replace("7002", "7003"));
        assert!(err(&twice).contains("service name \"s\" is used twice"));
        let same_port = format!("{OK}{}", OK.replace("name = \"s\"", "name = \"t\""));
        assert_eq!(
            err(&same_port),
            "f.toml:9:22: service \"t\" frontend bind: tcp://*:7001 overlaps tcp://*:7001 \
             (bound by service \"s\" frontend at line 4)"
        );
        assert!(err("profile = \"fast\"\n").contains("profile: unknown variant `fast`"));
        assert!(err("").contains("no [[service]]"));
        assert!(err(&format!("[metrics]\nlisten = \"nowhere\"\n{OK}")).contains("metrics.listen"));
    }

    /// Two streamers, `s` binding `first` and `t` binding `second` (their
    /// frontends, line 4 and line 9), metrics off.
    fn two(first: &str, second: &str) -> String {
        let one = |name: &str, ep: &str| {
            format!(
                "[[service]]\nname = \"{name}\"\nkind = \"streamer\"\n\
                 frontend = {{ bind = [\"{ep}\"] }}\n\
                 backend = {{ connect = [\"tcp://127.0.0.1:7002\"] }}\n"
            )
        };
        format!(
            "{}{}[metrics]\nlisten = \"off\"\n",
            one("s", first),
            one("t", second)
        )
    }

    #[test]
    fn overlapping_tcp_binds_are_refused_at_the_second() {
        let said = |second: &str, first: &str| {
            format!(
                "f.toml:9:22: service \"t\" frontend bind: {second} overlaps {first} \
                 (bound by service \"s\" frontend at line 4)"
            )
        };
        for (first, second) in [
            ("tcp://*:7001", "tcp://127.0.0.1:7001"),
            ("tcp://127.0.0.1:7001", "tcp://*:7001"),
            ("tcp://0.0.0.0:7001", "tcp://10.1.2.3:7001"),
            ("tcp://127.0.0.1:7001", "tcp://127.0.0.1:7001"),
            ("tcp://*:7001", "tcp://[::]:7001"),
            ("tcp://[::]:7001", "tcp://127.0.0.1:7001"),
            ("tcp://[::1]:7001", "tcp://[::]:7001"),
            ("tcp://[::ffff:127.0.0.1]:7001", "tcp://127.0.0.1:7001"),
            ("tcp://127.0.0.1:7001", "tcp://lo:7001"),
        ] {
            assert_eq!(err(&two(first, second)), said(second, first));
        }
        for (first, second) in [
            ("tcp://127.0.0.1:7001", "tcp://127.0.0.2:7001"),
            ("tcp://*:7001", "tcp://*:7003"),
            ("tcp://*:7001", "tcp://[::1]:7001"),
            ("tcp://127.0.0.1:0", "tcp://127.0.0.1:0"),
            ("tcp://*:0", "tcp://127.0.0.1:0"),
            ("tcp://*:7001", "ipc:///tmp/7001"),
        ] {
            assert!(
                parse("f.toml", &two(first, second)).is_ok(),
                "{first} {second}"
            );
        }
    }

    #[test]
    fn the_same_ipc_path_twice_is_refused() {
        assert_eq!(
            err(&two("ipc:///tmp/m.sock", "ipc:///tmp//m.sock")),
            "f.toml:9:22: service \"t\" frontend bind: ipc:///tmp//m.sock overlaps \
             ipc:///tmp/m.sock (bound by service \"s\" frontend at line 4)"
        );
        assert!(parse("f.toml", &two("ipc:///tmp/m.sock", "ipc:///tmp/n.sock")).is_ok());
    }

    #[test]
    fn one_service_binding_twice_is_refused() {
        let text = OK.replace(
            "backend = { connect = [\"tcp://127.0.0.1:7002\"] }",
            "backend = { bind = [\"tcp://127.0.0.1:7001\"] }",
        );
        assert_eq!(
            err(&text),
            "f.toml:5:21: service \"s\" backend bind: tcp://127.0.0.1:7001 overlaps \
             tcp://*:7001 (bound by service \"s\" frontend at line 4)"
        );
    }

    #[test]
    fn a_service_on_the_metrics_port_is_refused_at_the_later_line() {
        // Metrics first: the service's bind is the second.
        assert_eq!(
            err(&format!("[metrics]\nlisten = \"127.0.0.1:7001\"\n{OK}")),
            "f.toml:6:22: service \"s\" frontend bind: tcp://*:7001 overlaps \
             127.0.0.1:7001 (bound by metrics.listen at line 2)"
        );
        // Metrics after the service: the listener is the second.
        assert_eq!(
            err(&format!("{OK}[metrics]\nlisten = \"127.0.0.1:7001\"\n")),
            "f.toml:7:10: metrics.listen: 127.0.0.1:7001 overlaps tcp://*:7001 \
             (bound by service \"s\" frontend at line 4)"
        );
        // The default listener, written nowhere, comes first.
        assert_eq!(
            err(&OK.replace("tcp://*:7001", "tcp://*:9464")),
            "f.toml:4:22: service \"s\" frontend bind: tcp://*:9464 overlaps \
             127.0.0.1:9464 (bound by metrics.listen by default)"
        );
        assert!(parse(
            "f.toml",
            &format!("[metrics]\nlisten = \"127.0.0.1:7003\"\n{OK}")
        )
        .is_ok());
        assert!(parse(
            "f.toml",
            &format!(
                "[metrics]\nlisten = \"127.0.0.1:0\"\n{}",
                OK.replace("7001", "0")
            )
        )
        .is_ok());
    }
}
