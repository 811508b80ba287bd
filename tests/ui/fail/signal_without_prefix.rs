#[graceful::main(signals = ["INT", "sigterm"])]
async fn main() {}
