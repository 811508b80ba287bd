#[graceful::on_shutdown(order = -3000000000)]
fn close() {}

fn main() {}
