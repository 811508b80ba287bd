#[graceful::main(upgrade = "SIGTERM")]
async fn main() {}
