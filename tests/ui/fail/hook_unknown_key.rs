#[graceful::on_shutdown(priority = 10)]
fn close() {}

fn main() {}
