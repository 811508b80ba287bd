#[graceful::main(timeout = 30)]
async fn main() {}
