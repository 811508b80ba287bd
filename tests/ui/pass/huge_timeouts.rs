// Timeouts far longer than any shutdown needs are taken exactly, and neither the macro nor
// the generated code overflows on them (the runtime saturates its deadlines).
#![deny(warnings)]

use std::time::Duration;

#[graceful::on_shutdown(timeout = "5000000000000s")]
async fn patient(ctx: graceful::HookContext) {
    assert!(ctx.time_left() <= Duration::from_secs(5_000_000_000_000));
}

#[graceful::on_shutdown(order = 1, timeout = "5000000000000d")]
fn very_patient() {}

#[graceful::main(
    timeout = "5000000000000s",
    drain_timeout = "5000000000000s",
    drain_delay = "1ms"
)]
async fn main() {}
