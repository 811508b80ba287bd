// A signal listed twice, or a console event listed twice, is accepted and listened to once.
#![deny(warnings)]

#[graceful::main(signals = ["SIGTERM", "SIGINT", "SIGTERM", "CTRL_C", "CTRL_C", "SIGINT"])]
async fn main() {}
