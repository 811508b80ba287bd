//! Three hooks in three orders: an async one that takes 200 ms (so that a hook of a later
//! order running too early shows up between its two lines), a plain `fn` one, and an async
//! one. Each prints what it does. `FIXTURE_MAIN` says how the main body ends:
//! - `trigger`: calls `trigger()`, then returns `Ok(())` once cancelled;
//! - `code=N`: calls `trigger_with_code(N)`, then returns `Ok(())` once cancelled;
//! - `ok`: returns `Ok(())` at once; `err`: returns `Err` at once; `panic`: panics at once;
//! - anything else: waits for the token (a console event), then returns `Ok(())`.
//!
//! With `FIXTURE_STUCK_FN=1` the `fn` hook sleeps for ten minutes: the sequence must abandon
//! it at the global deadline (the hook after it is skipped) and exit without waiting for it.
//! With `FIXTURE_SLOW=1` the async hook takes a minute instead, so that a second console
//! event arrives while it runs.

use std::time::Duration;

use graceful_windows_fixtures::{env, ready};

#[derive(Debug)]
struct AppError;

#[graceful::main]
async fn main(shutdown: graceful::Shutdown) -> Result<(), AppError> {
    ready();
    let mode = env("FIXTURE_MAIN");
    match mode.as_str() {
        "ok" => return Ok(()),
        "err" => return Err(AppError),
        "panic" => panic!("main exploded"),
        "trigger" => shutdown.trigger(),
        _ => {
            if let Some(code) = mode.strip_prefix("code=") {
                shutdown
                    .trigger_with_code(code.parse().expect("FIXTURE_MAIN=code=N, N in 0..=255"));
            }
        }
    }
    shutdown.cancelled().await;
    println!("main cancelled");
    Ok(())
}

#[graceful::on_shutdown(order = 10)]
async fn first(ctx: graceful::HookContext) {
    println!("hook first started reason={:?}", ctx.reason());
    let slow = env("FIXTURE_SLOW") == "1";
    tokio::time::sleep(Duration::from_millis(if slow { 60_000 } else { 200 })).await;
    println!("hook first ended");
}

#[graceful::on_shutdown(order = 20)]
fn second() {
    println!("hook second ran");
    if env("FIXTURE_STUCK_FN") == "1" {
        std::thread::sleep(Duration::from_secs(600));
        println!("hook second woke up");
    }
}

#[graceful::on_shutdown(order = 30)]
async fn third() {
    println!("hook third ran");
}
