//! Spawn throughput: `tokio::spawn`, `TaskTracker::spawn` and `graceful::spawn` measured in
//! this one process, inside `#[graceful::main]` (see `graceful_bench::spawns`).
//!
//! `spawn_throughput [ROUNDS [TOTAL]]`: the measured rounds (default 15) and the tasks spawned
//! per sample (default 200 000).

#[graceful::main]
async fn main() {
    let mut args = std::env::args().skip(1).map(|arg| {
        arg.parse::<usize>()
            .unwrap_or_else(|e| panic!("spawn_throughput: {arg:?}: {e}"))
    });
    let rounds = args.next().unwrap_or(graceful_bench::spawns::ROUNDS);
    let total = args.next().unwrap_or(graceful_bench::spawns::TOTAL).max(4);
    graceful_bench::spawns::run(rounds, total).await;
}
