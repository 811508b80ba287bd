#[graceful::on_shutdown]
async fn flush(_shutdown: graceful::Shutdown) {}

fn main() {}
