//! An async hook that blocks the only thread of a `current_thread` runtime (a user error: a
//! blocking call in an `async fn`). Nothing on the runtime can run any more, timers
//! included: only the watchdog can end the process at the deadline.

use std::time::Duration;

use graceful_process_tests::ready;

#[graceful::main(timeout = "1s", flavor = "current_thread")]
async fn main(shutdown: graceful::Shutdown) {
    ready();
    shutdown.cancelled().await;
}

#[graceful::on_shutdown(order = 10)]
async fn hog() {
    println!("hook hog started");
    std::thread::sleep(Duration::from_secs(600));
    println!("hook hog ended");
}

#[graceful::on_shutdown(order = 20)]
async fn after() {
    println!("hook after ran");
}
