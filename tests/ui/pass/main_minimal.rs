// The smallest accepted form: no parameter, no return type, no option; no warning.
#![deny(warnings)]

#[graceful::main]
async fn main() {}
