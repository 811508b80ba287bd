//! `flavor = "current_thread"`: everything async runs on the thread that called `main`
//! (named `main`), which the tracked task and the async hook print.

use std::time::Duration;

use graceful_process_tests::{ready, thread_name};

#[graceful::main(flavor = "current_thread")]
async fn main(shutdown: graceful::Shutdown) {
    let worker = shutdown.clone();
    graceful::spawn(async move {
        worker.cancelled().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        println!("task finished on {}", thread_name());
    });
    ready();
    shutdown.cancelled().await;
}

#[graceful::on_shutdown(order = 10)]
async fn async_hook() {
    tokio::time::sleep(Duration::from_millis(50)).await;
    println!("hook async_hook ran on {}", thread_name());
}

#[graceful::on_shutdown(order = 20)]
fn blocking_hook() {
    println!("hook blocking_hook ran");
}
