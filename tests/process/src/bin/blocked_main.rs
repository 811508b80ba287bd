//! A main body that blocks its thread (a user error: `std::thread::sleep` in `async fn
//! main`), on a `current_thread` runtime: nothing on the runtime can run, so whatever
//! receives the second signal and enforces the 1 s deadline must live outside it.

use std::time::Duration;

use graceful_process_tests::ready;

#[graceful::main(flavor = "current_thread", timeout = "1s")]
async fn main() {
    ready();
    std::thread::sleep(Duration::from_secs(60));
    println!("main woke up");
}

#[graceful::on_shutdown(order = 10)]
fn after() {
    println!("hook after ran");
}
