//! A tracked task that needs `FIXTURE_WORK_MS` (default 1000) to finish its job once the
//! token is cancelled; the attribute's `drain_timeout` (5 s) waits for it, a shorter
//! `GRACEFUL_DRAIN_TIMEOUT` does not. The hook says when it runs.

use std::time::Duration;

use graceful_process_tests::{env, ready};

#[graceful::main(drain_timeout = "5s")]
async fn main(shutdown: graceful::Shutdown) {
    let work = env("FIXTURE_WORK_MS").map_or(1000, |ms| ms.parse().expect("FIXTURE_WORK_MS=<ms>"));
    let worker = shutdown.clone();
    graceful::spawn(async move {
        worker.cancelled().await;
        println!("task saw cancel");
        tokio::time::sleep(Duration::from_millis(work)).await;
        println!("task finished");
    });
    ready();
    shutdown.cancelled().await;
}

#[graceful::on_shutdown(order = 10)]
fn after_drain() {
    println!("hook after_drain ran");
}
