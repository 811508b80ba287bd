//! A tracing subscriber that panics on every event, as `tracing_subscriber::fmt()` does when
//! stdout and stderr are gone: installed first thing in `main`, it is called by every event of
//! the shutdown, in every phase (the start, the drain, each hook, the services, the report),
//! from the runtime's threads, the blocking hooks' thread and the signal listener. None of
//! those panics may abort the sequence: every hook still runs, and the exit code is the one of
//! a clean shutdown.

use graceful_process_tests::{Announce, ready};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

struct Panicking;

impl<S: Subscriber> Layer<S> for Panicking {
    fn on_event(&self, _event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        panic!("the subscriber cannot write its event");
    }
}

#[graceful::main(drain_delay = "50ms")]
async fn main(shutdown: graceful::Shutdown) {
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Panicking))
        .expect("the only subscriber");
    let task = shutdown.clone();
    graceful::spawn(async move {
        task.cancelled().await;
        println!("task drained");
    });
    let service = shutdown.clone();
    graceful::service("worker", async move {
        service.cancelled().await;
        println!("service drained");
    });
    graceful::register(15, "run-time", async {
        println!("hook run-time ran");
    });
    graceful::keep_until_exit(Announce);
    ready();
    shutdown.cancelled().await;
}

#[graceful::on_shutdown(order = 10)]
async fn flush() {
    println!("hook flush ran");
}

#[graceful::on_shutdown(order = 20)]
fn close() {
    println!("hook close ran");
}
