#[graceful::on_shutdown(name = "")]
fn close() {}

fn main() {}
