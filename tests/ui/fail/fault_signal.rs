#[graceful::main(signals = ["SIGSEGV"])]
async fn main() {}
