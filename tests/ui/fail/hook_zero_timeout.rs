#[graceful::on_shutdown(timeout = "0ms")]
fn close() {}

fn main() {}
