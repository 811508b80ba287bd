//! A main body that ignores the token: the drain aborts it after `drain_timeout` (1 s), and
//! the hook still runs. The body holds a value that says when it is dropped.

use std::time::Duration;

use graceful_process_tests::ready;

struct SaysWhenDropped;

impl Drop for SaysWhenDropped {
    fn drop(&mut self) {
        println!("main dropped");
    }
}

#[graceful::main(drain_timeout = "1s")]
async fn main() {
    let _guard = SaysWhenDropped;
    ready();
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

#[graceful::on_shutdown(order = 10)]
fn after_abort() {
    println!("hook after_abort ran");
}
