#[graceful::main]
async fn main(_token: tokio_util::sync::CancellationToken) {}
