//! An upgrade configured on Windows, where zero-downtime upgrades do not exist: the process
//! must refuse to start (exit code 2, a message saying why) before the main body runs.

#[graceful::main(upgrade = "SIGHUP")]
async fn main() {
    println!("main ran");
}
