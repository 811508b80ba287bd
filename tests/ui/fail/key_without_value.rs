#[graceful::on_shutdown(order)]
fn close() {}

fn main() {}
