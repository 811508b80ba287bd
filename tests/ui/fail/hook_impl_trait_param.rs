#[graceful::on_shutdown]
fn close(_ctx: impl std::fmt::Debug) {}

fn main() {}
