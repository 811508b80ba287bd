//! Measures the drain delay as a readiness probe sees it: from the moment
//! `is_shutting_down()` turns true (the token not yet cancelled) to the cancellation.

use std::time::{Duration, Instant};

use graceful_process_tests::ready;

#[graceful::main]
async fn main(shutdown: graceful::Shutdown) {
    ready();
    while !shutdown.is_shutting_down() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seen = Instant::now();
    println!("shutting down, cancelled={}", shutdown.is_cancelled());
    shutdown.cancelled().await;
    println!("cancelled after {}ms", seen.elapsed().as_millis());
}
