//! A shutdown that no signal started, then a slow hook (3 s, printing a tick every 100 ms)
//! during which the tests send signals. `FIXTURE_MAIN` says what starts the shutdown:
//! - `return`: the main body returns at once;
//! - `trigger`: the main body calls `trigger()`, then returns once cancelled.

use std::time::Duration;

use graceful_process_tests::{main_mode, ready};

#[graceful::main]
async fn main(shutdown: graceful::Shutdown) {
    ready();
    match main_mode().as_str() {
        "return" => {}
        "trigger" => {
            shutdown.trigger();
            shutdown.cancelled().await;
        }
        mode => panic!("FIXTURE_MAIN=return|trigger, not {mode:?}"),
    }
}

#[graceful::on_shutdown(order = 10)]
async fn slow() {
    println!("hook slow started");
    for tick in 1..=30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        println!("hook slow tick {tick}");
    }
    println!("hook slow ended");
}

#[graceful::on_shutdown(order = 20)]
fn after() {
    println!("hook after ran");
}
