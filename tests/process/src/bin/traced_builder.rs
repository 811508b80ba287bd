//! Like `traced`, without the macro: the subscriber is installed before `Builder::run`, so
//! the start-up events (the registered hooks) have somewhere to go.

use graceful_process_tests::ready;

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
        .with_ansi(false)
        .without_time()
        .init();
    graceful::Builder::new().run(|shutdown| async move {
        ready();
        shutdown.cancelled().await;
    })
}

#[graceful::on_shutdown(order = 10)]
async fn flush() {
    println!("hook flush ran");
}
