// `crate = "..."` reaches the runtime through a re-export, for crates that wrap `graceful`.
mod platform {
    pub use ::graceful;
}

#[platform::graceful::on_shutdown(crate = "platform::graceful", order = 1)]
fn close(ctx: platform::graceful::HookContext) {
    assert_eq!(ctx.order(), 1);
}

#[platform::graceful::main(crate = "crate::platform::graceful", timeout = "5s")]
async fn main(shutdown: platform::graceful::Shutdown) {
    assert!(!shutdown.is_shutting_down());
}
