//! Installs a `tracing_subscriber` fmt subscriber (stderr, DEBUG, no time, no colour) first
//! thing in `main`, as a `#[tokio::main]` user would. With `FIXTURE_FAIL=1` the second hook
//! fails.

use graceful_process_tests::{flag, ready};

#[graceful::main]
async fn main(shutdown: graceful::Shutdown) {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
        .with_ansi(false)
        .without_time()
        .init();
    ready();
    shutdown.cancelled().await;
}

#[graceful::on_shutdown(order = 10)]
async fn flush() {
    println!("hook flush ran");
}

#[graceful::on_shutdown(order = 20)]
fn close() -> Result<(), String> {
    println!("hook close ran");
    if flag("FIXTURE_FAIL") {
        return Err("disk full".to_owned());
    }
    Ok(())
}
