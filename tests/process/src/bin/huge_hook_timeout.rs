//! A hook whose `timeout` (`u64::MAX` seconds, the largest literal humantime reads) is past
//! what `Instant` can add: it must saturate, not overflow. The main body returns at once.

use graceful_process_tests::ready;

#[graceful::main]
async fn main() {
    ready();
}

#[graceful::on_shutdown(order = 10, timeout = "18446744073709551615s")]
async fn patient() {
    println!("hook patient ran");
}

#[graceful::on_shutdown(order = 20)]
fn after() {
    println!("hook after ran");
}
