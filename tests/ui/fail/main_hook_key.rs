#[graceful::main(order = 1)]
async fn main() {}
