//! One hook fails, one panics, one async and one blocking hook overrun their own timeout,
//! and a last one must still run. The global deadline (25 s by default) is far away: the
//! process must not wait for the blocking hook's thread, which sleeps for a minute.

use std::time::Duration;

use graceful_process_tests::ready;

#[graceful::main]
async fn main(shutdown: graceful::Shutdown) {
    ready();
    shutdown.cancelled().await;
}

#[graceful::on_shutdown(order = 10)]
async fn fails() -> Result<(), String> {
    println!("hook fails ran");
    Err("database unreachable".to_owned())
}

#[graceful::on_shutdown(order = 20, name = "panicker")]
fn panics() {
    println!("hook panicker ran");
    panic!("hook exploded");
}

#[graceful::on_shutdown(order = 30, timeout = "300ms")]
async fn overruns() {
    println!("hook overruns started");
    tokio::time::sleep(Duration::from_secs(60)).await;
    println!("hook overruns ended");
}

#[graceful::on_shutdown(order = 40, timeout = "300ms")]
fn overruns_blocking() {
    println!("hook overruns_blocking started");
    std::thread::sleep(Duration::from_secs(60));
    println!("hook overruns_blocking ended");
}

#[graceful::on_shutdown(order = 50)]
async fn last() {
    println!("hook last ran");
}
