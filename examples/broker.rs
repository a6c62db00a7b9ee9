//! A request broker: clients (REQ) talk to a ROUTER, workers (REP) sit behind
//! a DEALER, and the broker moves messages between the two, envelopes intact.
//! Three clients and two workers run in the same process; each request is
//! answered by whichever worker the DEALER's round robin picked.
//!
//! ```sh
//! cargo run --release --example broker
//! ```

use monocoque::runtime::spawn;
use monocoque::{Runtime, Socket, SocketType};

type Result<T> = std::result::Result<T, monocoque::patterns::Error>;

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let rt = Runtime::builder().build()?;
    rt.block_on(async {
        let frontend = Socket::new(SocketType::Router)?;
        frontend.bind("tcp://127.0.0.1:0")?;
        let backend = Socket::new(SocketType::Dealer)?;
        backend.bind("tcp://127.0.0.1:0")?;
        let (front_ep, back_ep) = (
            frontend.last_endpoint().expect("bound"),
            backend.last_endpoint().expect("bound"),
        );
        println!("clients connect to {front_ep}, workers to {back_ep}");

        let mut tasks = Vec::new();
        for w in 0..2 {
            let back_ep = back_ep.clone();
            tasks.push(spawn(async move {
                let worker = Socket::new(SocketType::Rep)?;
                worker.connect(&back_ep)?;
                loop {
                    let request = worker.recv().await?;
                    let text = String::from_utf8_lossy(&request[0]).into_owned();
                    worker
                        .send(format!("{text} (done by worker {w})").into_bytes())
                        .await?;
                }
                #[allow(unreachable_code)]
                Result::Ok(())
            }));
        }

        // The broker: two forwarding loops on the same core, one per direction.
        let frontend = std::rc::Rc::new(frontend);
        let backend = std::rc::Rc::new(backend);
        let (f, b) = (frontend.clone(), backend.clone());
        tasks.push(spawn(async move {
            loop {
                b.send(f.recv().await?).await?;
            }
            #[allow(unreachable_code)]
            Result::Ok(())
        }));
        let (f, b) = (frontend.clone(), backend.clone());
        tasks.push(spawn(async move {
            loop {
                f.send(b.recv().await?).await?;
            }
            #[allow(unreachable_code)]
            Result::Ok(())
        }));

        let mut clients = Vec::new();
        for c in 0..3 {
            let front_ep = front_ep.clone();
            clients.push(spawn(async move {
                let client = Socket::new(SocketType::Req)?;
                client.connect(&front_ep)?;
                for k in 0..2 {
                    client
                        .send(format!("client {c} request {k}").into_bytes())
                        .await?;
                    let reply = client.recv().await?;
                    println!("{}", String::from_utf8_lossy(&reply[0]));
                }
                Result::Ok(())
            }));
        }
        for c in clients {
            c.await?;
        }
        drop(tasks);
        Result::Ok(())
    })?;
    Ok(())
}
