//! `signals = ["SIGHUP", "SIGUSR1"]`: only these start the shutdown; SIGINT and SIGTERM keep
//! their default action. With `FIXTURE_SLOW_HOOK=1` the hook then takes a minute, so a
//! second signal can force the exit.

use std::time::Duration;

use graceful_process_tests::{flag, ready};

#[graceful::main(signals = ["SIGHUP", "SIGUSR1"])]
async fn main(shutdown: graceful::Shutdown) {
    ready();
    shutdown.cancelled().await;
}

#[graceful::on_shutdown(order = 10)]
async fn announce(ctx: graceful::HookContext) {
    println!("hook announce ran reason={:?}", ctx.reason());
    if flag("FIXTURE_SLOW_HOOK") {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}
