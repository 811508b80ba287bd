//! The server the interleaving harness drives (`tests/interleavings.rs`): HTTP through
//! `graceful::http::serve` on `graceful::listen("http", ..)`, upgrades on SIGHUP, an async and
//! a plain `fn` hook, a tracked task, a service and a value kept until exit, each of which
//! takes the time the harness draws for it. Every line on stdout starts with the pid, so that
//! the lines of the processes an upgrade chains (which share stdout) can be told apart.
//!
//! Settings, all in milliseconds, from the environment (the new process of an upgrade inherits
//! them): `START_MS` before the socket is taken, `HOOK_MS` in each hook, `TASK_MS` that the
//! tracked task and the service take to stop, `DROP_MS` that the kept value takes to drop.
//! `PORT` is the port. With `FAIL_NEW=1`, the new process of an upgrade fails as it starts
//! (a bad build): the upgrade fails, and the old process goes on serving.

use std::time::Duration;

use axum::Router;
use axum::routing::get;

fn millis(name: &str) -> Duration {
    let ms = graceful_process_tests::env(name).map_or(0, |ms| ms.parse().unwrap_or(0));
    Duration::from_millis(ms)
}

fn say(what: std::fmt::Arguments<'_>) {
    println!("pid {} {what}", std::process::id());
}

#[graceful::main(upgrade = "SIGHUP", timeout = "4s", drain_timeout = "2s")]
async fn main(shutdown: graceful::Shutdown) -> std::io::Result<()> {
    say(format_args!("starting"));
    tokio::time::sleep(millis("START_MS")).await;
    if graceful_process_tests::flag("FAIL_NEW")
        && std::env::var_os("GRACEFUL_UPGRADE_FROM").is_some()
    {
        return Err(std::io::Error::other("a bad build (FAIL_NEW=1)"));
    }
    let port: u16 = graceful_process_tests::env("PORT")
        .and_then(|port| port.parse().ok())
        .unwrap_or(3000);
    let listener = graceful::listen("http", ("127.0.0.1", port)).await?;

    let task = shutdown.clone();
    graceful::spawn(async move {
        task.cancelled().await;
        tokio::time::sleep(millis("TASK_MS")).await;
    });
    let service = shutdown.clone();
    graceful::service("ticker", async move {
        service.cancelled().await;
        tokio::time::sleep(millis("TASK_MS")).await;
    });
    graceful::keep_until_exit(SlowDrop);

    let app = Router::new()
        .route("/", get(|| async { "hello" }))
        .route("/pid", get(|| async { std::process::id().to_string() }));
    say(format_args!("listening on {port}"));
    graceful::http::serve(listener, app).await
}

/// Takes `DROP_MS` to drop, as a guard that flushes a log on drop.
struct SlowDrop;

impl Drop for SlowDrop {
    fn drop(&mut self) {
        std::thread::sleep(millis("DROP_MS"));
        say(format_args!("kept value dropped"));
    }
}

#[graceful::on_shutdown(order = 10)]
async fn flush(ctx: graceful::HookContext) {
    say(format_args!("hook flush started ({})", ctx.reason()));
    tokio::time::sleep(millis("HOOK_MS")).await;
    say(format_args!("hook flush ended"));
}

#[graceful::on_shutdown(order = 20)]
fn close() {
    say(format_args!("hook close started"));
    std::thread::sleep(millis("HOOK_MS"));
    say(format_args!("hook close ended"));
}
