#[graceful::main(signals = ["SIGTERM", "SIGKILL"])]
async fn main() {}
