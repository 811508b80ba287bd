#[graceful::on_shutdown(timeout = "2 fortnights")]
fn close() {}

fn main() {}
