//! Installs a `tracing_subscriber` fmt subscriber (stderr, DEBUG, no time, no colour) first
//! thing in `main`, as a `#[tokio::main]` user would. With `FIXTURE_FAIL=1` the second hook
//! fails; with `FIXTURE_LOG_NOWHERE=1` the subscriber writes nowhere (as one that writes to a
//! file or a collector, from the terminal's point of view).

use graceful_process_tests::{flag, ready};

#[graceful::main]
async fn main(shutdown: graceful::Shutdown) {
    let nowhere = flag("FIXTURE_LOG_NOWHERE");
    tracing_subscriber::fmt()
        .with_writer(move || -> Box<dyn std::io::Write> {
            if nowhere {
                Box::new(std::io::sink())
            } else {
                Box::new(std::io::stderr())
            }
        })
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
