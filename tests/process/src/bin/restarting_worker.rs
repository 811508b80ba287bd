//! A service started with a restart policy (`graceful::service_with`): its run prints
//! `worker run N`, then fails (`FAIL_MODE=panic`: panics) with `failure N` for the first
//! `FAILS` runs (default 3; `always`: every run), after which it prints `worker holding` and
//! runs until the cancel. The policy: back-off `BACKOFF_MS` (default 10, the same for every
//! restart), at most `RESTARTS` (default 5) restarts within a minute. `TRACE=1` installs a
//! `tracing` subscriber that writes to stdout (so the summary of a clean run is seen).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use graceful::Restart;
use graceful_process_tests::{env, flag, ready};

fn number(name: &str, default: u64) -> u64 {
    env(name).map_or(default, |value| value.parse().expect("a number"))
}

#[graceful::main(flavor = "current_thread")]
async fn main(shutdown: graceful::Shutdown) {
    if flag("TRACE") {
        tracing_subscriber::fmt()
            .with_writer(std::io::stdout)
            .with_ansi(false)
            .without_time()
            .init();
    }
    let fails = match env("FAILS").as_deref() {
        Some("always") => u32::MAX,
        _ => u32::try_from(number("FAILS", 3)).expect("a count"),
    };
    let panics = env("FAIL_MODE").as_deref() == Some("panic");
    let backoff = Duration::from_millis(number("BACKOFF_MS", 10));
    let restarts = u32::try_from(number("RESTARTS", 5)).expect("a count");
    let policy = Restart::on_failure()
        .backoff(backoff, backoff)
        .at_most(restarts, Duration::from_secs(60));
    let runs = AtomicU32::new(0);
    graceful::service_with("worker", policy, move || {
        let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            println!("worker run {run}");
            if run <= fails {
                if panics {
                    panic!("failure {run}");
                }
                return Err(format!("failure {run}"));
            }
            println!("worker holding");
            graceful::shutdown().cancelled().await;
            Ok(())
        }
    });
    ready();
    shutdown.cancelled().await;
}
