//! Has `graceful-fixture-hooks` among its dependencies (every example of this package does)
//! but never names it: the crate is not linked, so its hook does not run here; only this
//! program's own hook does.

use graceful_process_tests::ready;

#[graceful::main]
async fn main(shutdown: graceful::Shutdown) {
    ready();
    shutdown.cancelled().await;
}

#[graceful::on_shutdown]
fn own() {
    println!("hook own ran");
}
