//! `Builder::run_async` inside `#[tokio::main]` (or, with `FIXTURE_MAIN=report`,
//! `Builder::run_to_report` in a plain `main`), idle until a signal starts its shutdown. Once
//! the run has returned it prints `returned` and waits: a signal then must do what it did
//! before the run (here, the default: terminate the process).

use std::time::Duration;

use graceful_process_tests::{main_mode, ready};

fn main() {
    let report = if main_mode() == "report" {
        graceful::Builder::new()
            .run_to_report(serve)
            .expect("a valid configuration")
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(graceful::Builder::new().run_async(serve))
            .expect("a valid configuration")
    };
    println!("returned with exit code {}", report.exit_code());
    std::thread::sleep(Duration::from_secs(600));
    println!("still running after ten minutes");
}

async fn serve(shutdown: graceful::Shutdown) {
    ready();
    shutdown.cancelled().await;
}
