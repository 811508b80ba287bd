#[graceful::main(signals = ["SIGINT", "SIGTERM", "SIGINT"])]
async fn main() {}
