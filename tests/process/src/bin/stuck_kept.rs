//! Five values kept until exit, each stuck in its destructor for ten minutes: the exit must
//! come within the deadline (`GRACEFUL_TIMEOUT`) plus the kept values' small margin, and a
//! second signal during their drops must still force it.

use std::time::Duration;

use graceful_process_tests::ready;

struct Stuck(usize);

impl Drop for Stuck {
    fn drop(&mut self) {
        println!("dropping kept {}", self.0);
        std::thread::sleep(Duration::from_secs(600));
    }
}

#[graceful::main]
async fn main(shutdown: graceful::Shutdown) {
    for index in 0..5 {
        graceful::keep_until_exit(Stuck(index));
    }
    ready();
    shutdown.cancelled().await;
}

#[graceful::on_shutdown(order = 10)]
fn hook() {
    println!("hook ran");
}
