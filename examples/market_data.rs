//! Market-data fan-out: publishers send quotes to a forwarder (XSUB on 5556,
//! XPUB on 5557, joined by `proxy`), subscribers pick the symbols they want.
//! Subscriptions travel upstream through the forwarder, so a publisher only
//! sends what somebody downstream asked for.
//!
//! Each quote is three frames: the symbol (the topic), the price, and the send
//! time in nanoseconds since the Unix epoch, from which subscribers report
//! the delivery latency.
//!
//! ```sh
//! cargo run --release --example market_data                      # all of it in one process
//! cargo run --release --example market_data -- forwarder         # terminal 1
//! cargo run --release --example market_data -- publisher         # terminal 2
//! cargo run --release --example market_data -- subscriber EURUSD # terminal 3 (any symbol prefixes)
//! ```
//!
//! The demo (no argument) runs a forwarder, one publisher and two
//! subscribers (EURUSD only, and everything) on one core, and prints what each
//! subscriber received and its latency percentiles.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use monocoque::runtime::{sleep, spawn};
use monocoque::{proxy, Bytes, Msg, Runtime, Socket, SocketOption, SocketType};

type Result<T> = std::result::Result<T, monocoque::patterns::Error>;

const FOR_PUBLISHERS: &str = "tcp://127.0.0.1:5556";
const FOR_SUBSCRIBERS: &str = "tcp://127.0.0.1:5557";
const SYMBOLS: [&str; 4] = ["EURUSD", "GBPUSD", "USDJPY", "XAUUSD"];

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// XSUB for publishers, XPUB for subscribers, forwarding both ways for ever.
async fn forwarder(publishers: &str, subscribers: &str) -> Result<()> {
    let xsub = Socket::new(SocketType::XSub)?;
    xsub.bind(publishers)?;
    let xpub = Socket::new(SocketType::XPub)?;
    xpub.bind(subscribers)?;
    println!("forwarder: publishers -> {publishers}, subscribers -> {subscribers}");
    proxy(&xsub, &xpub, None).await
}

/// Publishes `count` quotes (`None`: for ever), one every `every`.
async fn publish(publisher: &Socket, count: Option<u64>, every: Duration) -> Result<()> {
    let mut n = 0u64;
    while count.is_none_or(|c| n < c) {
        let symbol = SYMBOLS[(n % SYMBOLS.len() as u64) as usize];
        let price = format!("{:.5}", 1.0 + (n % 1000) as f64 / 10_000.0);
        let mut quote = Msg::from(Bytes::from_static(symbol.as_bytes()));
        quote.push(price.into_bytes());
        quote.push(now_ns().to_be_bytes().to_vec());
        publisher.send(quote).await?;
        n += 1;
        sleep(every).await;
    }
    Ok(())
}

/// Receives quotes for `symbols` (prefixes; empty: everything) until `count`
/// arrived or `wait` passed without one; returns the delivery latencies (ns).
async fn subscriber(
    name: &str,
    endpoint: &str,
    symbols: &[String],
    count: Option<usize>,
    wait: Option<Duration>,
) -> Result<Vec<u64>> {
    let subscriber = Socket::new(SocketType::Sub)?;
    subscriber.set_option(SocketOption::RcvTimeo(wait))?;
    for s in symbols {
        subscriber.set_option(SocketOption::Subscribe(Bytes::copy_from_slice(
            s.as_bytes(),
        )))?;
    }
    if symbols.is_empty() {
        subscriber.set_option(SocketOption::Subscribe(Bytes::new()))?;
    }
    subscriber.connect(endpoint)?;
    let mut latencies = Vec::new();
    while count.is_none_or(|c| latencies.len() < c) {
        let quote = match subscriber.recv().await {
            Ok(q) => q,
            Err(monocoque::patterns::Error::WouldBlock(_)) => break,
            Err(e) => return Err(e),
        };
        let sent = quote
            .frames()
            .get(2)
            .and_then(|f| <[u8; 8]>::try_from(&f[..]).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        latencies.push(now_ns().saturating_sub(sent));
        if count.is_none() {
            let line = writeln!(
                std::io::stdout(),
                "{name}: {} {} ({} us)",
                String::from_utf8_lossy(&quote[0]),
                String::from_utf8_lossy(&quote[1]),
                latencies.last().unwrap_or(&0) / 1000
            );
            if line.is_err() {
                break; // stdout closed (piped into head, say)
            }
        }
    }
    Ok(latencies)
}

fn report(name: &str, mut latencies: Vec<u64>) {
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize] / 1000;
    if latencies.is_empty() {
        println!("{name}: nothing received");
    } else {
        println!(
            "{name}: {} quotes, latency p50 {} us, p99 {} us, max {} us",
            latencies.len(),
            at(0.5),
            at(0.99),
            at(1.0)
        );
    }
}

/// Forwarder, publisher and two subscribers in one process, on ephemeral ports.
async fn demo() -> Result<()> {
    let xsub = Socket::new(SocketType::XSub)?;
    xsub.bind("tcp://127.0.0.1:0")?;
    let xpub = Socket::new(SocketType::XPub)?;
    xpub.bind("tcp://127.0.0.1:0")?;
    let up = xsub.last_endpoint().expect("bound");
    let down = xpub.last_endpoint().expect("bound");
    println!("forwarder: publishers -> {up}, subscribers -> {down}");
    let forwarding = spawn(async move { proxy(&xsub, &xpub, None).await });

    let quotes = 2_000;
    let eur = {
        let down = down.clone();
        spawn(async move {
            subscriber(
                "EURUSD only",
                &down,
                &["EURUSD".into()],
                Some(quotes / 4),
                None,
            )
            .await
        })
    };
    let all = {
        let down = down.clone();
        spawn(async move { subscriber("everything", &down, &[], Some(quotes), None).await })
    };
    // Quotes sent before the subscriptions reach the publisher go nowhere, so
    // it starts once it knows both ("EURUSD" and "").
    let publisher = Socket::new(SocketType::Pub)?;
    publisher.connect(&up)?;
    while publisher.topics_count() < 2 {
        sleep(Duration::from_millis(1)).await;
    }
    publish(&publisher, Some(quotes as u64), Duration::from_micros(50)).await?;
    report("EURUSD only", eur.await?);
    report("everything", all.await?);
    drop(forwarding);
    Ok(())
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = Runtime::builder().build()?;
    rt.block_on(async {
        match args.first().map(String::as_str) {
            None | Some("demo") => demo().await,
            Some("forwarder") => forwarder(FOR_PUBLISHERS, FOR_SUBSCRIBERS).await,
            Some("publisher") => {
                let publisher = Socket::new(SocketType::Pub)?;
                publisher.connect(FOR_PUBLISHERS)?;
                println!("publisher: quoting {SYMBOLS:?} to {FOR_PUBLISHERS}");
                publish(&publisher, None, Duration::from_millis(100)).await
            }
            Some("subscriber") => {
                let name = "subscriber";
                subscriber(name, FOR_SUBSCRIBERS, &args[1..], None, None)
                    .await
                    .map(|l| report(name, l))
            }
            Some(other) => {
                eprintln!("unknown role {other:?}: use forwarder, publisher, subscriber or demo");
                std::process::exit(2);
            }
        }
    })?;
    Ok(())
}
