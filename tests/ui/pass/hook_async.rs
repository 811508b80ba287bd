// An `async fn` hook, no parameter, no return type.
#[graceful::on_shutdown]
async fn flush_metrics() {
    tokio::task::yield_now().await;
}

#[graceful::main]
async fn main() {}
