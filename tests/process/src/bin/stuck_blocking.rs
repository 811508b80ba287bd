//! A blocking hook stuck in `std::thread::sleep` for ten minutes, then two hooks that the
//! global deadline leaves no time for. The attribute's deadline is a minute: the tests
//! shorten it with `GRACEFUL_TIMEOUT`.

use std::time::Duration;

use graceful_process_tests::ready;

#[graceful::main(timeout = "60s")]
async fn main(shutdown: graceful::Shutdown) {
    ready();
    shutdown.cancelled().await;
}

#[graceful::on_shutdown(order = 10)]
fn stuck() {
    println!("hook stuck started");
    std::thread::sleep(Duration::from_secs(600));
    println!("hook stuck ended");
}

#[graceful::on_shutdown(order = 20)]
fn after() {
    println!("hook after ran");
}

#[graceful::on_shutdown(order = 30)]
async fn after_too() {
    println!("hook after_too ran");
}
