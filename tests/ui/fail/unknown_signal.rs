#[graceful::main(signals = ["SIGTERM", "SIGFOO"])]
async fn main() {}
