//! The blocking API from plain threads, as with the `zmq` crate: one
//! `Context`, a REP worker thread per request stream, and a client on the main
//! thread. No async code in sight; the sockets run on the context's thread.
//!
//! ```sh
//! cargo run --release --example blocking_workers
//! ```

use monocoque::{Context, SocketType};

fn main() -> Result<(), monocoque::patterns::Error> {
    let ctx = Context::new()?;

    let frontend = ctx.socket(SocketType::Rep)?;
    frontend.bind("tcp://127.0.0.1:0")?;
    let endpoint = frontend.last_endpoint()?.expect("bound");
    println!("REP bound on {endpoint}");

    // The socket moves into the worker thread: a socket is used by one
    // thread at a time, like a libzmq socket.
    let worker = std::thread::spawn(move || -> Result<(), monocoque::patterns::Error> {
        for _ in 0..3 {
            let request = frontend.recv()?;
            let n: u64 = String::from_utf8_lossy(&request[0]).parse().unwrap_or(0);
            frontend.send(format!("{}", n * n).into_bytes())?;
        }
        // Returned, not dropped: dropping it here could close the socket
        // before the last reply is written if LINGER were 0.
        Ok(())
    });

    let client = ctx.socket(SocketType::Req)?;
    client.connect(&endpoint)?;
    for n in [3u64, 12, 2026] {
        client.send(n.to_string().into_bytes())?;
        let reply = client.recv()?;
        println!("{n} squared is {}", String::from_utf8_lossy(&reply[0]));
    }
    worker.join().expect("worker thread")?;
    // Dropping the last handle waits until queued messages are sent (LINGER).
    Ok(())
}
