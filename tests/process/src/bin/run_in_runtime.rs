//! `Builder::run` called from inside a tokio runtime (`#[tokio::main]`): a user who already
//! owns a runtime must be told to use `Builder::run_async`, not get tokio's "Cannot start a
//! runtime from within a runtime".

use graceful_process_tests::ready;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    ready();
    graceful::Builder::new().run(|_| async {
        println!("main body ran");
    })
}
