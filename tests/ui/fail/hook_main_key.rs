#[graceful::on_shutdown(drain_timeout = "5s")]
fn close() {}

fn main() {}
