//! A slow shutdown, for the second signal: two hooks of order 10 (one async, one blocking)
//! that take a minute, and one after them that must never run when the exit is forced.
//!
//! With `FIXTURE_MAIN=stubborn`, the main body and a tracked task ignore the token, so the
//! shutdown is stuck in the drain (10 s by default) instead; a side task prints
//! `token cancelled` when the drain starts.

use std::time::Duration;

use graceful_process_tests::{main_mode, ready};

#[graceful::main]
async fn main(shutdown: graceful::Shutdown) {
    if main_mode() == "stubborn" {
        graceful::spawn(async {
            tokio::time::sleep(Duration::from_secs(600)).await;
        });
        let watcher = shutdown.clone();
        tokio::spawn(async move {
            watcher.cancelled().await;
            println!("token cancelled");
        });
        ready();
        tokio::time::sleep(Duration::from_secs(600)).await;
    } else {
        ready();
        shutdown.cancelled().await;
    }
}

#[graceful::on_shutdown(order = 10)]
async fn slow_async() {
    println!("hook slow_async started");
    tokio::time::sleep(Duration::from_secs(60)).await;
    println!("hook slow_async ended");
}

#[graceful::on_shutdown(order = 10)]
fn slow_blocking() {
    println!("hook slow_blocking started");
    std::thread::sleep(Duration::from_secs(60));
    println!("hook slow_blocking ended");
}

#[graceful::on_shutdown(order = 20)]
fn never() {
    println!("hook never ran");
}
