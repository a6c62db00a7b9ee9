//! Hello world: a REP server and a REQ client over tcp, in one process.
//!
//! ```sh
//! cargo run --release --example hello_req_rep
//! ```

use monocoque::{Msg, Runtime, Socket, SocketType};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = Runtime::builder().build()?;
    rt.block_on(async {
        let server = Socket::new(SocketType::Rep)?;
        server.bind("tcp://127.0.0.1:0")?;
        let endpoint = server.last_endpoint().expect("bound");
        println!("REP bound on {endpoint}");

        // The server answers requests in the background on the same core.
        let serving = monocoque::runtime::spawn(async move {
            loop {
                let request = server.recv().await?;
                let name = String::from_utf8_lossy(&request[0]).into_owned();
                server.send(format!("hello, {name}").into_bytes()).await?;
            }
            #[allow(unreachable_code)]
            Ok::<(), monocoque::patterns::Error>(())
        });

        let client = Socket::new(SocketType::Req)?;
        client.connect(&endpoint)?;
        for name in ["world", "monocoque", "libzmq"] {
            client.send(name).await?;
            let reply: Msg = client.recv().await?;
            println!("REQ got: {}", String::from_utf8_lossy(&reply[0]));
        }
        drop(serving);
        Ok::<(), monocoque::patterns::Error>(())
    })?;
    Ok(())
}
