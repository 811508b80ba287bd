#[graceful::main(force_exit = "false")]
async fn main() {}
