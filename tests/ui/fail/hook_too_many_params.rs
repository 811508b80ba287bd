#[graceful::on_shutdown]
fn close(_ctx: graceful::HookContext, _pool: &str) {}

fn main() {}
