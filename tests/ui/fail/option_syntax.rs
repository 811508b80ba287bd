#[graceful::on_shutdown(order: 10)]
fn close() {}

fn main() {}
