#[graceful::main]
async fn main(_shutdown: graceful::Shutdown, _args: Vec<String>, _port: u16) {}
