#[graceful::main(signals = "SIGTERM")]
async fn main() {}
