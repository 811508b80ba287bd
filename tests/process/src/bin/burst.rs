//! `force_exit = false`: signals after the first are ignored. Two hooks that take a little
//! while, so that signals can arrive while they run.

use std::time::Duration;

use graceful_process_tests::ready;

#[graceful::main(force_exit = false)]
async fn main(shutdown: graceful::Shutdown) {
    ready();
    shutdown.cancelled().await;
}

#[graceful::on_shutdown(order = 10)]
async fn first() {
    println!("hook first ran");
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[graceful::on_shutdown(order = 20)]
fn second() {
    println!("hook second ran");
    std::thread::sleep(Duration::from_millis(200));
}
