//! `monocoque cat`: a command-line peer of any socket type, for scripts and
//! debugging, like `nc` for ZeroMQ.
//!
//! Each line on stdin is one message, its frames separated by a TAB (with
//! `--hex`, each frame hex-encoded). Each message received is printed the same
//! way, one line each, flushed at once. The socket sends when its type allows:
//! a REQ alternates (a line, then the reply); a REP answers each request with
//! the next line, or with `--echo` with the request itself (so does a ROUTER
//! with `--echo`); the others send as lines arrive.
//!
//! It ends when `--count` messages have arrived and every line of stdin is
//! sent; when nothing arrived for `--timeout-ms` (exit status 1 if `--count`
//! was not reached, or a REQ's reply is missing); or, for a socket that
//! cannot receive (PUSH, PUB) and for a REQ with its last reply, at the end
//! of stdin. `--timeout-ms` bounds sends too (SNDTIMEO): a message no peer
//! takes in time ends it with status 1. It lingers up to a second for what
//! it sent.

use std::future::{poll_fn, Future};
use std::io::{BufRead, Write};
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::directions::{can_receive, can_send};
use bytes::Bytes;
use monocoque_patterns::{Monitor, MonitorEvent, Socket, SocketOption};
use monocoque_runtime::{spsc, Runtime};
use monocoque_zmtp::mechanism::{CurvePublicKey, CurveSecretKey};
use monocoque_zmtp::{Msg, SocketType};

/// What `monocoque cat` was asked to do.
#[derive(Debug, Clone, clap::Args)]
pub struct CatArgs {
    /// The socket type (req, rep, dealer, router, push, pull, pub, sub, xpub, xsub, pair).
    #[arg(long = "type", value_parser = parse_type)]
    pub socket_type: SocketType,
    /// An endpoint to bind (repeatable).
    #[arg(long)]
    pub bind: Vec<String>,
    /// An endpoint to connect to (repeatable).
    #[arg(long)]
    pub connect: Vec<String>,
    /// A topic to subscribe to (SUB; repeatable; "" is everything).
    #[arg(long)]
    pub subscribe: Vec<String>,
    /// The routing id this socket gives its peers (ZMQ_ROUTING_ID).
    #[arg(long)]
    pub identity: Option<String>,
    /// Exit after this many messages received.
    #[arg(long)]
    pub count: Option<u64>,
    /// Exit when nothing arrived for this long.
    #[arg(long = "timeout-ms")]
    pub timeout_ms: Option<u64>,
    /// Frames are hex on stdin and stdout.
    #[arg(long)]
    pub hex: bool,
    /// REP and ROUTER send each message received back unchanged.
    #[arg(long)]
    pub echo: bool,
    /// Be a CURVE server (needs --curve-secretkey).
    #[arg(long = "curve-server")]
    pub curve_server: bool,
    /// Our long-term CURVE secret key, Z85 (visible to `ps`: for tests and
    /// debugging; the appliance reads keys from files). A client without
    /// one uses a fresh pair.
    #[arg(long = "curve-secretkey", value_parser = parse_secret, allow_hyphen_values = true)]
    pub curve_secretkey: Option<CurveSecretKey>,
    /// Our long-term CURVE public key, Z85 (optional: it follows from the
    /// secret key; checked against it).
    #[arg(long = "curve-publickey", value_parser = parse_public, allow_hyphen_values = true)]
    pub curve_publickey: Option<CurvePublicKey>,
    /// The server's CURVE public key, Z85: be a CURVE client.
    #[arg(long = "curve-serverkey", value_parser = parse_public, allow_hyphen_values = true)]
    pub curve_serverkey: Option<CurvePublicKey>,
    /// Admit only this client key, Z85 (repeatable; a --curve-server
    /// without it admits any client).
    #[arg(long = "curve-allow", value_parser = parse_public, allow_hyphen_values = true)]
    pub curve_allow: Vec<CurvePublicKey>,
}

fn parse_public(s: &str) -> Result<CurvePublicKey, String> {
    crate::zcert::parse_public_z85(s)
}

fn parse_secret(s: &str) -> Result<CurveSecretKey, String> {
    // Never quote the text: it is meant to be a secret.
    let refused = || "not a CURVE secret key (40 Z85 characters)".to_string();
    if s.len() != monocoque_zmtp::mechanism::curve::KEY_Z85_LEN {
        return Err(refused());
    }
    CurveSecretKey::parse(s.as_bytes()).map_err(|_| refused())
}

fn parse_type(s: &str) -> Result<SocketType, String> {
    SocketType::from_wire(s.to_ascii_uppercase().as_bytes())
        .ok_or_else(|| format!("no socket type {s:?}"))
}

/// How long the socket may linger for messages sent just before the end.
const LINGER: Duration = Duration::from_secs(1);

/// Runs `cat`; `Ok(false)` when `--count` was not reached.
pub fn run(args: CatArgs) -> Result<bool, String> {
    let t = args.socket_type;
    if args.echo && !matches!(t, SocketType::Rep | SocketType::Router) {
        return Err("--echo is for REP and ROUTER".into());
    }
    if !args.subscribe.is_empty() && t != SocketType::Sub {
        return Err("--subscribe is for SUB (an XSUB sends subscriptions as messages)".into());
    }
    if args.bind.is_empty() && args.connect.is_empty() {
        return Err("give at least one --bind or --connect".into());
    }
    if t == SocketType::Sub && args.subscribe.is_empty() {
        eprintln!(
            "monocoque cat: a SUB without --subscribe receives nothing (--subscribe '' takes everything)"
        );
    }
    let (mut lines_tx, lines_rx) = spsc::channel::<Result<Msg, String>>(64);
    // `--echo` answers by itself: stdin is not read.
    if !args.echo && can_send(t) {
        let hex = args.hex;
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let item = line
                    .map_err(|e| format!("reading stdin: {e}"))
                    .and_then(|l| parse_line(&l, hex));
                let stop = item.is_err();
                if lines_tx.send_blocking(item).is_err() || stop {
                    return;
                }
            }
        });
    } else {
        drop(lines_tx);
    }
    let runtime = Runtime::builder()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(serve(args, lines_rx))
}

/// One stdin line as a message.
pub fn parse_line(line: &str, hex: bool) -> Result<Msg, String> {
    let mut msg = Msg::new();
    for frame in line.split('\t') {
        if hex {
            msg.push(decode_hex(frame)?);
        } else {
            msg.push(Bytes::copy_from_slice(frame.as_bytes()));
        }
    }
    Ok(msg)
}

/// One message as an output line (without the newline).
pub fn format_message(msg: &Msg, hex: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, frame) in msg.frames().iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        if hex {
            for b in frame.iter() {
                out.extend_from_slice(format!("{b:02x}").as_bytes());
            }
        } else {
            out.extend_from_slice(frame);
        }
    }
    out
}

fn decode_hex(s: &str) -> Result<Bytes, String> {
    if s.len() % 2 != 0 {
        return Err(format!("{s:?}: hex needs an even number of digits"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| format!("{s:?}: not hex")))
        .collect::<Result<Vec<u8>, String>>()
        .map(Bytes::from)
}

async fn serve(
    args: CatArgs,
    mut lines: spsc::Receiver<Result<Msg, String>>,
) -> Result<bool, String> {
    let t = args.socket_type;
    let (socket, monitor) = open_socket(&args)?;
    let timeout = args.timeout_ms.map(Duration::from_millis);
    let mut progress = Progress {
        received: 0,
        stdin_open: !args.echo && can_send(t),
        in_turn: false,
    };
    let mut stdout = std::io::stdout().lock();
    let outcome = loop {
        if let Some(done) = progress.finished(&args) {
            break Ok(done);
        }
        let (may_recv, may_send) = (progress.may_recv(&args), progress.may_send(t));
        match next_event(&socket, &mut lines, may_recv, may_send, timeout).await {
            Next::Received(msg) => {
                progress.on_received(&args);
                let mut line = format_message(&msg, args.hex);
                line.push(b'\n');
                stdout
                    .write_all(&line)
                    .and_then(|()| stdout.flush())
                    .map_err(|e| format!("writing stdout: {e}"))?;
                if args.echo {
                    if let Err(e) = socket.send(msg).await {
                        break Err(send_failure("echo", &e, timeout));
                    }
                }
            }
            Next::Line(Some(Ok(msg))) => {
                if let Err(e) = socket.send(msg).await {
                    break Err(send_failure("send", &e, timeout));
                }
                progress.on_sent(t);
            }
            Next::Line(Some(Err(e))) => break Err(e),
            Next::Line(None) => progress.stdin_open = false,
            Next::Quiet => break progress.quiet(&args, timeout),
            Next::Failed(e) => break Err(e),
        }
    };
    drop(stdout);
    // Let what was sent leave (within LINGER): the monitor's last event says
    // the socket's connections are done.
    drop(socket);
    let _ = monocoque_runtime::timeout(LINGER + Duration::from_millis(100), async {
        while monitor.recv().await != MonitorEvent::Stopped {}
    })
    .await;
    outcome
}

/// Why a send failed, in words: under `--timeout-ms` a send that waited
/// that long found no peer to take the message.
fn send_failure(what: &str, e: &monocoque_patterns::Error, timeout: Option<Duration>) -> String {
    match (e, timeout) {
        (monocoque_patterns::Error::WouldBlock(_), Some(t)) => format!(
            "{what}: no peer took the message within --timeout-ms {}",
            t.as_millis()
        ),
        _ => format!("{what}: {e}"),
    }
}

/// The socket `args` describe, with its options set, bound and connected,
/// and its monitor (taken first, so that it sees every connection).
fn open_socket(args: &CatArgs) -> Result<(Socket, Monitor), String> {
    let socket = Socket::new(args.socket_type).map_err(|e| e.to_string())?;
    let option = |o: SocketOption| socket.set_option(o).map_err(|e| e.to_string());
    option(SocketOption::Linger(Some(LINGER)))?;
    if let Some(ms) = args.timeout_ms {
        // Sends wait no longer than receives: a bound REQ or DEALER with
        // no peer ends instead of hanging.
        option(SocketOption::SndTimeo(Some(Duration::from_millis(ms))))?;
    }
    for o in crate::security::cat_options(
        args.curve_server,
        args.curve_secretkey.clone(),
        args.curve_publickey,
        args.curve_serverkey,
        &args.curve_allow,
    )? {
        option(o)?;
    }
    if let Some(id) = &args.identity {
        option(SocketOption::RoutingId(Bytes::copy_from_slice(
            id.as_bytes(),
        )))?;
    }
    for topic in &args.subscribe {
        option(SocketOption::Subscribe(Bytes::copy_from_slice(
            topic.as_bytes(),
        )))?;
    }
    let monitor = socket.monitor();
    for ep in &args.bind {
        socket.bind(ep).map_err(|e| format!("bind {ep}: {e}"))?;
    }
    for ep in &args.connect {
        socket
            .connect(ep)
            .map_err(|e| format!("connect {ep}: {e}"))?;
    }
    Ok((socket, monitor))
}

/// Where a cat session is in its conversation.
struct Progress {
    /// Messages received (and printed).
    received: u64,
    /// Whether stdin may still give lines to send.
    stdin_open: bool,
    /// REQ: a request is out, its reply not yet in. REP: a request is in,
    /// its reply not yet out.
    in_turn: bool,
}

impl Progress {
    /// `Some(success)` once the session is over: `--count` messages arrived,
    /// or nothing is left to send and nothing more can be received.
    fn finished(&self, args: &CatArgs) -> Option<bool> {
        let t = args.socket_type;
        // `--count` reached: done once stdin has nothing left to send (a
        // REQ or REP cannot send without receiving again).
        if self.count_reached(args)
            && (!self.stdin_open || matches!(t, SocketType::Req | SocketType::Rep))
        {
            return Some(true);
        }
        let done_sending = !self.stdin_open;
        if done_sending && (!can_receive(t) || (t == SocketType::Req && !self.in_turn)) {
            return Some(args.count.is_none());
        }
        // A REP holding a request it has no line left to answer with.
        if done_sending && t == SocketType::Rep && !args.echo && self.in_turn {
            return Some(args.count.is_none());
        }
        None
    }

    fn count_reached(&self, args: &CatArgs) -> bool {
        args.count.is_some_and(|n| self.received >= n)
    }

    /// The outcome when nothing happened for `--timeout-ms`: a REQ still
    /// waiting for its reply fails, and so does a `--count` not reached.
    fn quiet(&self, args: &CatArgs, timeout: Option<Duration>) -> Result<bool, String> {
        let ms = timeout.map_or(0, |t| t.as_millis());
        if args.socket_type == SocketType::Req && self.in_turn {
            return Err(format!("no reply within --timeout-ms {ms}"));
        }
        Ok(args.count.is_none() || self.count_reached(args))
    }

    /// Whether the socket's turn allows sending the next line.
    fn may_send(&self, t: SocketType) -> bool {
        self.stdin_open
            && match t {
                SocketType::Req => !self.in_turn,
                SocketType::Rep => self.in_turn,
                _ => true,
            }
    }

    /// Whether the socket's turn allows receiving.
    fn may_recv(&self, args: &CatArgs) -> bool {
        let t = args.socket_type;
        can_receive(t)
            && !self.count_reached(args)
            && match t {
                SocketType::Req => self.in_turn,
                SocketType::Rep => !self.in_turn || args.echo,
                _ => true,
            }
    }

    /// Counts a received message and takes the turn it gives.
    fn on_received(&mut self, args: &CatArgs) {
        self.received += 1;
        match args.socket_type {
            SocketType::Req => self.in_turn = false,
            SocketType::Rep if !args.echo => self.in_turn = true,
            _ => {}
        }
    }

    /// Takes the turn a sent line gives.
    fn on_sent(&mut self, t: SocketType) {
        if matches!(t, SocketType::Req | SocketType::Rep) {
            self.in_turn = t == SocketType::Req;
        }
    }
}

/// What a cat session waited for.
enum Next {
    /// A message from the socket.
    Received(Msg),
    /// A line from stdin (`None`: stdin ended).
    Line(Option<Result<Msg, String>>),
    /// Nothing arrived for `--timeout-ms`.
    Quiet,
    /// The socket failed.
    Failed(String),
}

/// Waits for a message (when `may_recv`), a line (when `may_send`), or
/// `timeout` of neither, whichever is first; a message wins a tie.
async fn next_event(
    socket: &Socket,
    lines: &mut spsc::Receiver<Result<Msg, String>>,
    may_recv: bool,
    may_send: bool,
    timeout: Option<Duration>,
) -> Next {
    let deadline = timeout.map(|d| Instant::now() + d);
    let mut quiet = pin!(async {
        match deadline {
            Some(at) => monocoque_runtime::sleep_until(at).await,
            None => std::future::pending::<()>().await,
        }
    });
    let mut recv = pin!(socket.recv());
    poll_fn(|cx| {
        if may_recv {
            if let Poll::Ready(r) = recv.as_mut().poll(cx) {
                return Poll::Ready(match r {
                    Ok(m) => Next::Received(m),
                    Err(e) => Next::Failed(e.to_string()),
                });
            }
        }
        if may_send {
            if let Poll::Ready(line) = lines.poll_recv(cx) {
                return Poll::Ready(Next::Line(line));
            }
        }
        if quiet.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Next::Quiet);
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_messages_round_trip_as_text_and_hex() {
        let m = parse_line("a\tbc\t", false).unwrap();
        assert_eq!(m.frames(), [&b"a"[..], b"bc", b""]);
        assert_eq!(format_message(&m, false), b"a\tbc\t");
        let h = parse_line("00ff\t41", true).unwrap();
        assert_eq!(h.frames(), [&[0u8, 255][..], b"A"]);
        assert_eq!(format_message(&h, true), b"00ff\t41");
        assert!(parse_line("0", true).unwrap_err().contains("even"));
        assert!(parse_line("zz", true).unwrap_err().contains("not hex"));
    }
}
