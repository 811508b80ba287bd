// Hooks, sync and async, may take the `HookContext`; the default name is
// `module::path::fn_name` and the default order 0.
use graceful::{HookContext, Reason};

#[graceful::on_shutdown]
fn sync_hook(ctx: HookContext) {
    assert_eq!(ctx.name(), concat!(module_path!(), "::sync_hook"));
    assert_eq!(ctx.order(), 0);
    assert_eq!(ctx.reason(), Reason::MainReturned);
}

#[graceful::on_shutdown]
async fn async_hook(ctx: HookContext) {
    assert_eq!(ctx.name(), concat!(module_path!(), "::async_hook"));
    assert!(ctx.time_left() > std::time::Duration::ZERO);
}

#[graceful::main]
async fn main() {}
