#[graceful::on_shutdown]
const fn noop() {}

fn main() {}
