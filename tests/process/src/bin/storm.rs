//! The storm: 64 threads call `trigger()` at once (released by a line on stdin) while the
//! test sends signals. `FIXTURE_FORCE_EXIT=1` turns the force exit on. A `tracing_subscriber`
//! on stderr (INFO) shows the start of the shutdown and the summary; the hooks are short, so
//! the normal exit races the forced one.

use std::io::BufRead;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use graceful_process_tests::{flag, ready};

const TRIGGERS: usize = 64;

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_ansi(false)
        .without_time()
        .init();
    graceful::Builder::new()
        .force_exit(flag("FIXTURE_FORCE_EXIT"))
        .run(|shutdown| async move {
            let barrier = Arc::new(Barrier::new(TRIGGERS + 1));
            for _ in 0..TRIGGERS {
                let (barrier, shutdown) = (barrier.clone(), shutdown.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    shutdown.trigger();
                });
            }
            std::thread::spawn(move || {
                let mut line = String::new();
                let _ = std::io::stdin().lock().read_line(&mut line);
                barrier.wait();
            });
            ready();
            shutdown.cancelled().await;
        })
}

#[graceful::on_shutdown(order = 10)]
async fn first() {
    println!("hook first ran");
    tokio::time::sleep(Duration::from_millis(20)).await;
}

#[graceful::on_shutdown(order = 10)]
fn alongside() {
    println!("hook alongside ran");
}

#[graceful::on_shutdown(order = 20)]
fn last() {
    println!("hook last ran");
    std::thread::sleep(Duration::from_millis(10));
}
