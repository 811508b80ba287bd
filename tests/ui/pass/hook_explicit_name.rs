// `name = "..."` replaces the default `module::path::fn_name`.
#[graceful::on_shutdown(name = "flush metrics")]
async fn flush(ctx: graceful::HookContext) {
    assert_eq!(ctx.name(), "flush metrics");
}

#[graceful::on_shutdown(name = "r#type hook")]
fn r#type(ctx: graceful::HookContext) {
    assert_eq!(ctx.name(), "r#type hook");
}

// A raw identifier's default name is written without `r#`.
#[graceful::on_shutdown]
fn r#final(ctx: graceful::HookContext) {
    assert_eq!(ctx.name(), concat!(module_path!(), "::final"));
}

#[graceful::main]
async fn main() {}
