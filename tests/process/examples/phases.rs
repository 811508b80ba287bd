//! Hooks in phases: a negative order first, two hooks of one order that can only finish if
//! they run at the same time (one async, one blocking), a hook registered at run time, the
//! library crate's hook (order 15), and a last one. Each hook prints what it does.

use std::time::Duration;

use graceful_fixture_hooks as _;
use graceful_process_tests::{Rendezvous, ready};

/// The two hooks of order 10 meet here; run one after the other, the first gives up.
static PAIR: Rendezvous = Rendezvous::new(2);
const PATIENCE: Duration = Duration::from_secs(3);

#[graceful::main]
async fn main(shutdown: graceful::Shutdown) {
    graceful::register(12, "runtime_hook", async {
        println!("hook runtime_hook ran");
    });
    ready();
    shutdown.cancelled().await;
}

#[graceful::on_shutdown(order = -5)]
fn early() {
    println!("hook early ran");
}

#[graceful::on_shutdown(order = 10)]
async fn pair_async() -> Result<(), String> {
    println!("hook pair_async started");
    if !PAIR.arrive(PATIENCE).await {
        println!("hook pair_async waited alone");
        return Err("the other hook of order 10 did not run at the same time".to_owned());
    }
    println!("hook pair_async ended");
    Ok(())
}

#[graceful::on_shutdown(order = 10)]
fn pair_blocking() -> Result<(), String> {
    println!("hook pair_blocking started");
    if !PAIR.arrive_blocking(PATIENCE) {
        println!("hook pair_blocking waited alone");
        return Err("the other hook of order 10 did not run at the same time".to_owned());
    }
    // Ends well after its partner: the next phase must wait for this one too.
    std::thread::sleep(Duration::from_millis(300));
    println!("hook pair_blocking ended");
    Ok(())
}

#[graceful::on_shutdown(order = 20)]
async fn late() {
    println!("hook late ran");
}
