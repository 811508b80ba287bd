#[graceful::main(signals = ["SIGTERM", "SIGHUP"], upgrade = "SIGHUP")]
async fn main() {}
