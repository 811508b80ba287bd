// `timeout = "..."` bounds the hook; the context shows the time left.
use std::time::Duration;

#[graceful::on_shutdown(timeout = "2s")]
async fn bounded(ctx: graceful::HookContext) {
    assert!(
        ctx.time_left() <= Duration::from_secs(2),
        "{:?}",
        ctx.time_left()
    );
}

#[graceful::on_shutdown(order = 1, timeout = "1m 30s", name = "long")]
fn generous() {}

#[graceful::main(timeout = "20s")]
async fn main() {}
