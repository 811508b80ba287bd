//! Like `traced`, without the macro: the subscriber is installed before `Builder::run`, so
//! the start-up events (the registered hooks) have somewhere to go.

use graceful_process_tests::{log_to_stderr, ready};

fn main() {
    log_to_stderr();
    graceful::Builder::new().run(|shutdown| async move {
        ready();
        shutdown.cancelled().await;
    })
}

#[graceful::on_shutdown(order = 10)]
async fn flush() {
    println!("hook flush ran");
}
