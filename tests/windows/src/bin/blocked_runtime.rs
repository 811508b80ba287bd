//! An async hook that blocks the only thread of a `current_thread` runtime (a user error: a
//! blocking call in an `async fn`): no timer can fire any more, so only the deadline's
//! watchdog, a thread of its own, can end the process at the 1 s deadline. The hook after it
//! never starts and is reported as skipped.

use std::time::Duration;

use graceful_windows_fixtures::ready;

#[graceful::main(flavor = "current_thread", timeout = "1s")]
async fn main(shutdown: graceful::Shutdown) {
    ready();
    shutdown.trigger();
    shutdown.cancelled().await;
}

#[graceful::on_shutdown(order = 10)]
async fn blocks() {
    println!("hook blocks started");
    std::thread::sleep(Duration::from_secs(600));
    println!("hook blocks ended");
}

#[graceful::on_shutdown(order = 20)]
async fn never() {
    println!("hook never ran");
}
