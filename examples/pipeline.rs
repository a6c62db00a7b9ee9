//! A PUSH/PULL pipeline: a ventilator pushes tasks to three workers, which
//! push results to a sink. Work spreads round robin; the sink fair-queues.
//!
//! ```sh
//! cargo run --release --example pipeline
//! ```

use monocoque::runtime::spawn;
use monocoque::{Runtime, Socket, SocketType};

type Result<T> = std::result::Result<T, monocoque::patterns::Error>;

const TASKS: u32 = 30;

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let rt = Runtime::builder().build()?;
    rt.block_on(async {
        let ventilator = Socket::new(SocketType::Push)?;
        ventilator.bind("tcp://127.0.0.1:0")?;
        let sink = Socket::new(SocketType::Pull)?;
        sink.bind("ipc:///tmp/monocoque-pipeline-sink.sock")?;
        let tasks_ep = ventilator.last_endpoint().expect("bound");
        let results_ep = sink.last_endpoint().expect("bound");

        let mut workers = Vec::new();
        for w in 0..3u32 {
            let (tasks_ep, results_ep) = (tasks_ep.clone(), results_ep.clone());
            workers.push(spawn(async move {
                let tasks = Socket::new(SocketType::Pull)?;
                tasks.connect(&tasks_ep)?;
                let results = Socket::new(SocketType::Push)?;
                results.connect(&results_ep)?;
                loop {
                    let task = tasks.recv().await?;
                    let n: u32 = String::from_utf8_lossy(&task[0]).parse().unwrap_or(0);
                    results.send(format!("{w} {}", n * n).into_bytes()).await?;
                }
                #[allow(unreachable_code)]
                Result::Ok(())
            }));
        }
        // Wait until every worker is connected, so the work spreads over all three.
        while ventilator.peer_count() < 3 {
            monocoque::runtime::sleep(std::time::Duration::from_millis(1)).await;
        }
        for n in 0..TASKS {
            ventilator.send(n.to_string().into_bytes()).await?;
        }
        let mut per_worker = [0u32; 3];
        let mut sum = 0u64;
        for _ in 0..TASKS {
            let result = sink.recv().await?;
            let text = String::from_utf8_lossy(&result[0]).into_owned();
            let (w, sq) = text.split_once(' ').expect("worker and result");
            per_worker[w.parse::<usize>().expect("worker")] += 1;
            sum += sq.parse::<u64>().expect("result");
        }
        println!("sum of squares 0..{TASKS} = {sum}; tasks per worker: {per_worker:?}");
        drop(workers);
        Result::Ok(())
    })?;
    Ok(())
}
