//! A STREAM socket as a tiny HTTP server: raw TCP peers behind a ROUTER-like
//! interface (libzmq's ZMQ_STREAM). Each connection arrives as
//! `[routing id, ""]`, its bytes as `[routing id, data]`; the reply goes to
//! the same id, and an empty data frame closes the connection.
//!
//! A plain `std::net::TcpStream` plays the browser.
//!
//! ```sh
//! cargo run --release --example stream_http
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;

use monocoque::{Bytes, Msg, Runtime, Socket, SocketType};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = Runtime::builder().build()?;
    rt.block_on(async {
        let server = Socket::new(SocketType::Stream)?;
        server.bind("tcp://127.0.0.1:0")?;
        let endpoint = server.last_endpoint().expect("bound");
        let address = endpoint.trim_start_matches("tcp://").to_string();
        println!("STREAM socket listening on {endpoint}");

        let browser = std::thread::spawn(move || -> std::io::Result<String> {
            let mut c = TcpStream::connect(address)?;
            c.write_all(b"GET /hello HTTP/1.0\r\n\r\n")?;
            let mut response = String::new();
            c.read_to_string(&mut response)?;
            Ok(response)
        });

        let mut request = Vec::new();
        let id = loop {
            let msg = server.recv().await?;
            let (id, data) = (msg[0].clone(), &msg[1]);
            if data.is_empty() {
                println!("connection {id:?} opened");
                continue;
            }
            request.extend_from_slice(data);
            if request.ends_with(b"\r\n\r\n") {
                break id;
            }
        };
        let first_line = String::from_utf8_lossy(&request);
        println!("request: {:?}", first_line.lines().next().unwrap_or(""));
        let body = "hello from a STREAM socket\n";
        let response = format!(
            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        server
            .send(Msg::from(vec![id.clone(), Bytes::from(response)]))
            .await?;
        // An empty data frame: close once the response is written.
        server
            .send(Msg::from(vec![id.clone(), Bytes::new()]))
            .await?;
        let notice = server.recv().await?;
        println!("connection {:?} closed", notice[0]);
        // The browser thread has its answer by now (the close came after it).
        let response = browser.join().expect("browser thread")?;
        println!("browser got:\n{response}");
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
