#[graceful::main(signals = [])]
async fn main() {}
