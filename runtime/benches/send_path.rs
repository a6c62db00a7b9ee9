//! Which send to use for large messages: SEND against SEND_ZC, by message size,
//! one-way over loopback to a reader thread on the other core.
//!
//! ```sh
//! cargo bench -p monocoque-runtime --bench send_path
//! ```
//! Prints Gb/s per size for each path; the size where SEND_ZC starts to win (if
//! it ever does here) is the `send_zc_threshold` to configure.

use std::io::Read;
use std::time::Instant;

use bytes::Bytes;
use monocoque_runtime::net::TcpListener;
use monocoque_runtime::Runtime;

const TOTAL: usize = 512 << 20;

fn run(size: usize, zc: bool) -> f64 {
    let threshold = zc.then_some(0);
    let rt = Runtime::builder()
        .core(0)
        .send_zc_threshold(threshold)
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = std::thread::spawn(move || {
            core_affinity::set_for_current(core_affinity::CoreId { id: 1 });
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            let mut buf = vec![0u8; 1 << 20];
            let mut got = 0;
            while got < TOTAL {
                let n = c.read(&mut buf).unwrap();
                assert!(n > 0);
                got += n;
            }
        });
        let (s, _) = listener.accept().await.unwrap();
        let msg = Bytes::from(vec![0xA5u8; size]);
        let start = Instant::now();
        for _ in 0..TOTAL / size {
            s.write_all(msg.clone()).await.unwrap();
        }
        drop(s);
        reader.join().unwrap();
        let secs = start.elapsed().as_secs_f64();
        (TOTAL as f64 * 8.0) / secs / 1e9
    })
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!("| message size | SEND Gb/s | SEND_ZC Gb/s | SEND_ZC / SEND |");
    println!("|---|---|---|---|");
    for size in [4096usize, 16384, 65536, 262144, 1 << 20] {
        let plain = run(size, false);
        let zc = run(size, true);
        println!(
            "| {} KiB | {:.1} | {:.1} | {:.2} |",
            size / 1024,
            plain,
            zc,
            zc / plain
        );
    }
}
