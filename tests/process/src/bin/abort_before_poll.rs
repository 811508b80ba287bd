//! A tracked task aborted before it was ever polled: on a `current_thread` runtime the task
//! cannot run before `abort`, since the main body holds the only thread. Then the main body
//! returns. The drain (`drain_timeout = "8s"`) has nothing to wait for.

use graceful_process_tests::ready;

#[graceful::main(flavor = "current_thread", drain_timeout = "8s")]
async fn main() {
    let task = graceful::spawn(async {
        println!("task ran");
    });
    task.abort();
    ready();
}

#[graceful::on_shutdown(order = 10)]
fn after() {
    println!("hook after ran");
}
