#[graceful::main(signals = ["SIGSEGV", "SIGTRAP", "SIGSYS", "SIGABRT"])]
async fn main() {}
