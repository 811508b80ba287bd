//! `blocked_main` on the multi-thread runtime: the main body blocks the thread that drives
//! the sequence, the worker threads are free.

use std::time::Duration;

use graceful_process_tests::ready;

#[graceful::main(timeout = "1s")]
async fn main() {
    ready();
    std::thread::sleep(Duration::from_secs(60));
    println!("main woke up");
}

#[graceful::on_shutdown(order = 10)]
fn after() {
    println!("hook after ran");
}
