#[graceful::on_shutdown(order = 10, timeout = "1s", order = 20)]
fn close() {}

fn main() {}
