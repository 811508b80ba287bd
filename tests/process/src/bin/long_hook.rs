//! A shutdown whose hook runs for 7 s, with a `tracing_subscriber` fmt subscriber (stderr,
//! DEBUG, no time, no colour): while it runs, the sequence says what it waits for. With
//! `SLOW_DRAIN=1` a service named `worker` also takes 3 s to stop after the cancel.

use std::time::Duration;

use graceful_process_tests::{flag, log_to_stderr, ready};

#[graceful::main]
async fn main(shutdown: graceful::Shutdown) {
    log_to_stderr();
    if flag("SLOW_DRAIN") {
        let worker = shutdown.clone();
        graceful::service("worker", async move {
            worker.cancelled().await;
            tokio::time::sleep(Duration::from_secs(3)).await;
        });
    }
    ready();
    shutdown.cancelled().await;
}

#[graceful::on_shutdown(order = 10)]
async fn slow() {
    println!("hook slow started");
    tokio::time::sleep(Duration::from_secs(7)).await;
    println!("hook slow ended");
}
