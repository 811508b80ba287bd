#[graceful::main(timeout = "20s", drain_timeout = "30s")]
async fn main() {}
