// A plain `fn` hook, no parameter, no return type; no warning.
#![deny(warnings)]

#[graceful::on_shutdown]
fn close_log_file() {}

#[graceful::main]
async fn main() {}
