//! Registered buffers and WRITE_FIXED: used when configured, sized from
//! RLIMIT_MEMLOCK, and a clean fallback when the limit leaves no room. Its own
//! test binary, because it changes the process's RLIMIT_MEMLOCK.

use std::io::Read;
use std::time::Duration;

use bytes::Bytes;
use monocoque_runtime::net::TcpListener;
use monocoque_runtime::{timeout, DriverKind, Runtime};

fn send_and_check(rt: &Runtime) {
    rt.block_on(async {
        timeout(Duration::from_secs(20), async {
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = listener.local_addr().unwrap();
            // Small messages (WRITE_FIXED when registered) and large ones (SEND), interleaved.
            let msgs: Vec<Bytes> = (0..2000u32)
                .map(|i| {
                    let len = if i % 10 == 0 {
                        10_000
                    } else {
                        1 + (i as usize % 300)
                    };
                    Bytes::from(vec![(i % 251) as u8; len])
                })
                .collect();
            let expected: Vec<u8> = msgs.iter().flat_map(|m| m.iter().copied()).collect();
            let total = expected.len();
            let reader = std::thread::spawn(move || {
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                let mut got = vec![0u8; total];
                c.read_exact(&mut got).unwrap();
                got
            });
            let (s, _) = listener.accept().await.unwrap();
            for m in msgs {
                s.write_all(m).await.unwrap();
            }
            assert!(
                reader.join().unwrap() == expected,
                "bytes lost or reordered"
            );
        })
        .await
        .expect("timed out");
    });
}

fn set_memlock(bytes: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim), 0);
        lim.rlim_cur = bytes;
        assert_eq!(libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim), 0);
    }
}

#[test]
fn write_fixed_when_registered_and_fallback_when_memlock_is_too_small() {
    // Room for 16 of 4 KiB under half of a 128 KiB limit: the pool is cut to fit.
    set_memlock(128 * 1024);
    let rt = Runtime::builder()
        .registered_buffers(Some((64, 4096)))
        .build()
        .unwrap();
    if rt.driver() == DriverKind::Uring {
        assert_eq!(
            rt.registered_buffer_count(),
            16,
            "sized from RLIMIT_MEMLOCK"
        );
    } else {
        assert_eq!(rt.registered_buffer_count(), 0);
    }
    send_and_check(&rt);
    drop(rt);

    // A limit below one buffer: nothing registered, sends still work.
    set_memlock(4096);
    let rt = Runtime::builder()
        .registered_buffers(Some((64, 4096)))
        .build()
        .unwrap();
    assert_eq!(rt.registered_buffer_count(), 0);
    send_and_check(&rt);
}
