#[graceful::main(upgrade = "SIGHUP", upgrade_timeout = "0s")]
async fn main() {}
