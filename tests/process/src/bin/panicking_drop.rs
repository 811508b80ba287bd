//! A main body that ignores the token and holds a value whose destructor panics: the drain
//! aborts the body at `drain_timeout`, the drop panics, and the hooks and the report must
//! still follow.

use std::time::Duration;

use graceful_process_tests::ready;

struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("the destructor of the main body's guard panicked");
    }
}

#[graceful::main(timeout = "10s", drain_timeout = "300ms")]
async fn main() {
    let _guard = PanicsOnDrop;
    ready();
    tokio::time::sleep(Duration::from_secs(600)).await;
}

#[graceful::on_shutdown(order = 10)]
async fn after() {
    println!("hook after ran");
}
