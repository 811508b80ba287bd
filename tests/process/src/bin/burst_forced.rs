//! The default `force_exit = true`, with hooks like those of `burst` (the first one slower,
//! so that a burst surely arrives while it runs): a later signal forces the exit, and no
//! hook runs twice on the way.

use std::time::Duration;

use graceful_process_tests::ready;

#[graceful::main]
async fn main(shutdown: graceful::Shutdown) {
    ready();
    shutdown.cancelled().await;
}

#[graceful::on_shutdown(order = 10)]
async fn first() {
    println!("hook first ran");
    tokio::time::sleep(Duration::from_secs(5)).await;
}

#[graceful::on_shutdown(order = 20)]
fn second() {
    println!("hook second ran");
    std::thread::sleep(Duration::from_millis(200));
}
