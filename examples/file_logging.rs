//! Logging into a file with tracing-appender's non-blocking writer, without losing the last
//! lines.
//!
//! The non-blocking writer hands lines to a background thread, which writes them when it gets
//! to them; its `WorkerGuard` flushes what is left when dropped. `graceful` ends the process
//! with `std::process::exit`, which runs no destructor: a guard that merely lives in `main`
//! is never dropped, and the report, the most useful lines of a shutdown, never reach the file.
//! `graceful::keep_until_exit(guard)` drops it after the report is logged, right before the
//! exit.
//!
//! ```text
//! LOG_DIR=/tmp/logs cargo run --example file_logging
//! # in another terminal: kill -TERM <pid>, then look at /tmp/logs/file_logging.log
//! ```

use std::path::PathBuf;
use std::time::Duration;

/// The log file, in `LOG_DIR`.
const LOG_FILE: &str = "file_logging.log";

#[graceful::main]
async fn main(shutdown: graceful::Shutdown) -> Result<(), String> {
    let dir = std::env::var_os("LOG_DIR").map(PathBuf::from).ok_or(
        "LOG_DIR is not set: it names the directory of the log file, e.g. LOG_DIR=/tmp/logs",
    )?;
    let (writer, guard) =
        tracing_appender::non_blocking(tracing_appender::rolling::never(&dir, LOG_FILE));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .init();
    // Dropped (flushing the file) after the report is logged, right before the exit.
    graceful::keep_until_exit(guard);

    tracing::info!(log_dir = %dir.display(), "started");
    println!("running; logging into {}", dir.join(LOG_FILE).display());
    shutdown.cancelled().await;
    tracing::info!("main: no more work accepted");
    Ok(())
}

/// Some last work that logs what it did: the lines must reach the file too.
#[graceful::on_shutdown(order = 10)]
async fn save_state() {
    tokio::time::sleep(Duration::from_millis(50)).await;
    tracing::info!("save_state: state saved");
}
