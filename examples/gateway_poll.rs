//! A blocking order gateway: one thread waits on two sockets and a plain
//! descriptor at once with `poll` (libzmq's zmq_poll), and reads who sent
//! each order from the message's properties (libzmq's zmq_msg_gets).
//!
//! - a ROUTER takes orders from desks (DEALERs with a routing id and an
//!   `X-Desk` property);
//! - a SUB takes a price feed;
//! - a pipe stands in for a descriptor of the program's own (a timerfd, a
//!   control socket).
//!
//! ```sh
//! cargo run --release --example gateway_poll
//! ```

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use monocoque::{poll, Bytes, Context, Events, PollItem, SocketOption, SocketType};

fn main() -> Result<(), monocoque::Error> {
    let ctx = Context::new()?;
    let orders = ctx.socket(SocketType::Router)?;
    orders.bind("tcp://127.0.0.1:0")?;
    let orders_at = orders.last_endpoint()?.expect("bound");
    let prices = ctx.socket(SocketType::Sub)?;
    prices.set_option(SocketOption::Subscribe(Bytes::from_static(b"EURUSD")))?;
    prices.bind("inproc://prices")?;
    let (mut control, control_fd) = UnixStream::pair().expect("a socket pair");

    // The other side: a desk sending two orders, a feed publishing prices,
    // then a word on the control descriptor.
    let desk = ctx.socket(SocketType::Dealer)?;
    desk.set_option(SocketOption::RoutingId(Bytes::from_static(b"desk-7")))?;
    desk.set_option(SocketOption::Metadata {
        name: "X-Desk".into(),
        value: Bytes::from_static(b"fx-spot"),
    })?;
    desk.connect(&orders_at)?;
    let feed = ctx.socket(SocketType::Pub)?;
    feed.connect("inproc://prices")?;
    std::thread::spawn(move || {
        for order in ["BUY 1M EURUSD", "SELL 2M EURUSD"] {
            desk.send(order).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        for price in ["EURUSD 1.0842", "EURUSD 1.0843"] {
            feed.send(price).unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
        control.write_all(b"stop").unwrap();
        // Kept until the gateway has read everything.
        std::thread::sleep(Duration::from_millis(200));
    });

    loop {
        let mut items = [
            PollItem::socket(&orders, Events::POLLIN),
            PollItem::socket(&prices, Events::POLLIN),
            PollItem::fd(control_fd.as_raw_fd(), Events::POLLIN),
        ];
        if poll(&mut items, Some(Duration::from_secs(5)))? == 0 {
            println!("nothing for 5 s");
            return Ok(());
        }
        if items[0].is_readable() {
            let (order, from) = orders.recv_with_properties()?;
            let from = from.expect("sent by a peer");
            println!(
                "order {:?} from {} at {} (desk {:?})",
                String::from_utf8_lossy(&order[1]),
                String::from_utf8_lossy(from.routing_id()),
                from.peer_address().unwrap_or("?"),
                from.get("X-Desk")
                    .map(|d| String::from_utf8_lossy(&d).into_owned()),
            );
        }
        if items[1].is_readable() {
            let price = prices.recv()?;
            println!("price {}", String::from_utf8_lossy(&price[0]));
        }
        if items[2].is_readable() {
            println!("control: stop");
            return Ok(());
        }
    }
}
