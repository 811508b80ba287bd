//! Five plain `fn` hooks in five orders, run in a row on one blocking thread: one overruns its
//! timeout (it sleeps for a minute), one panics, the others succeed. Each is reported for what
//! it did, and those after the stuck one still run (on another thread).

use std::time::Duration;

use graceful_process_tests::{ready, thread_name};

#[graceful::main]
async fn main(shutdown: graceful::Shutdown) {
    ready();
    shutdown.cancelled().await;
}

#[graceful::on_shutdown(order = 1)]
fn first() {
    println!("hook first ran on {}", thread_name());
}

#[graceful::on_shutdown(order = 2)]
fn second() {
    println!("hook second ran on {}", thread_name());
}

#[graceful::on_shutdown(order = 3, timeout = "300ms")]
fn stuck() {
    println!("hook stuck started");
    std::thread::sleep(Duration::from_secs(60));
    println!("hook stuck ended");
}

#[graceful::on_shutdown(order = 4, name = "panicker")]
fn panics() {
    println!("hook panicker ran");
    panic!("hook exploded");
}

#[graceful::on_shutdown(order = 5)]
fn last() -> Result<(), String> {
    println!("hook last ran");
    Ok(())
}
