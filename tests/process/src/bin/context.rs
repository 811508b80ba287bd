//! Hooks that print their `HookContext`: one with its own 2 s timeout (async), one bound
//! only by the global 5 s deadline (blocking).

use graceful_process_tests::ready;

#[graceful::main(timeout = "5s")]
async fn main(shutdown: graceful::Shutdown) {
    ready();
    shutdown.cancelled().await;
}

#[graceful::on_shutdown(order = 10, timeout = "2s")]
async fn with_timeout(ctx: graceful::HookContext) {
    print_context(&ctx);
}

#[graceful::on_shutdown(order = 20)]
fn blocking(ctx: graceful::HookContext) {
    print_context(&ctx);
}

fn print_context(ctx: &graceful::HookContext) {
    println!(
        "hook {} order={} reason={:?} time_left_ms={}",
        ctx.name(),
        ctx.order(),
        ctx.reason(),
        ctx.time_left().as_millis()
    );
}
