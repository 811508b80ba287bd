#[graceful::on_shutdown(10)]
fn close() {}

fn main() {}
