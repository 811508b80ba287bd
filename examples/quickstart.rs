//! The quick start: three workers drained on shutdown, two ordered hooks, a run-time hook.
//!
//! Try it:
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! then press Ctrl-C (or `kill -TERM <pid>` from another terminal). The workers finish the
//! job in hand, the hooks run in order, and the report is logged. Press Ctrl-C twice to see
//! the forced exit (code 130). Try `GRACEFUL_TIMEOUT=1s` to see a deadline cut a slow hook.

use std::time::Duration;

use tracing::info;

#[graceful::main(timeout = "10s", drain_timeout = "5s")]
async fn main(shutdown: graceful::Shutdown) {
    tracing_subscriber::fmt()
        .with_env_filter("info,graceful=debug")
        .with_target(true)
        .init();

    for id in 1..=3 {
        let shutdown = shutdown.clone();
        graceful::spawn(async move {
            let mut jobs = 0;
            while !shutdown.is_cancelled() {
                // A job is never cut in half: the loop only looks at the token between jobs.
                tokio::time::sleep(Duration::from_millis(700)).await;
                jobs += 1;
            }
            info!(
                worker = id,
                jobs, "worker stopped after finishing its last job"
            );
        });
    }

    // A resource that only exists here, closed by a hook registered at run time.
    let connections = vec!["db-1", "db-2"];
    graceful::register(15, "close connections", async move {
        info!(?connections, "closing");
        Ok::<(), std::io::Error>(())
    });

    println!(
        "running as pid {}: press Ctrl-C to stop",
        std::process::id()
    );
    shutdown.cancelled().await;
}

/// Runs first: the workers have stopped by now.
#[graceful::on_shutdown(order = 10, timeout = "2s")]
async fn flush_metrics(ctx: graceful::HookContext) -> Result<(), std::io::Error> {
    info!(reason = ?ctx.reason(), time_left = ?ctx.time_left(), "flushing metrics");
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(())
}

/// Runs last, on a blocking thread.
#[graceful::on_shutdown(order = 20)]
fn close_log_file() {
    std::thread::sleep(Duration::from_millis(50));
    info!("log file synced and closed");
}
