//! Listens for Ctrl-Break only (`signals = ["CTRL_BREAK"]`). A Ctrl-C must then not start the
//! shutdown: it takes Windows' default action, which ends the process at once (exit status
//! STATUS_CONTROL_C_EXIT) without running the hook. Wine cannot send Ctrl-Break (it delivers
//! Ctrl-C only), so this is how the subset checks that a name listens to its own event and
//! no other.

use graceful_windows_fixtures::ready;

#[graceful::main(signals = ["CTRL_BREAK"])]
async fn main(shutdown: graceful::Shutdown) {
    ready();
    shutdown.cancelled().await;
    println!("main cancelled");
}

#[graceful::on_shutdown(order = 10)]
fn hook() {
    println!("hook ran");
}
