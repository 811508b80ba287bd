//! A job runner: rounds of short `graceful::service`s and `graceful::spawn`ed tasks that end
//! at once, as a process that runs for weeks starts them. After each round it prints its
//! resident memory and its open descriptors (`round N rss KIB fds N`); then `ready`, and it
//! waits for the shutdown. `ROUNDS` (default 30) rounds of `PER_ROUND` (default 10,000) of
//! each.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use graceful_process_tests::{env, ready};

fn setting(name: &str, default: usize) -> usize {
    env(name).map_or(default, |value| value.parse().expect("a count"))
}

/// Resident memory in KiB, from `/proc/self/statm` (pages of 4 KiB).
fn rss_kib() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .expect("resident")
        .parse()
        .expect("pages");
    pages * 4
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

#[graceful::main(flavor = "current_thread")]
async fn main(shutdown: graceful::Shutdown) {
    let rounds = setting("ROUNDS", 30);
    let per_round = setting("PER_ROUND", 10_000);
    for round in 1..=rounds {
        let left = Arc::new(AtomicUsize::new(2 * per_round));
        for _ in 0..per_round {
            let done = left.clone();
            graceful::service("job", async move {
                done.fetch_sub(1, Ordering::Release);
            });
            let done = left.clone();
            graceful::spawn(async move {
                done.fetch_sub(1, Ordering::Release);
            });
        }
        while left.load(Ordering::Acquire) != 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        println!("round {round} rss {} fds {}", rss_kib(), open_fds());
    }
    ready();
    shutdown.cancelled().await;
}
