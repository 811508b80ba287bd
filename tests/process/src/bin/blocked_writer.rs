//! A tracing subscriber whose writer blocks for good on one event, as a writer to a full pipe
//! nobody reads does: the event whose message starts with `FIXTURE_BLOCK_ON`. Blocked on the
//! report's summary, the normal exit must still happen (by the deadline plus its margin, with
//! the run's exit code); blocked on the event of an absorbed signal (on the signal listener's
//! thread), the next signal must still force the exit and the watchdog must still fire.

use std::fmt;

use graceful_process_tests::{Announce, env, ready};
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

struct Blocking {
    on: String,
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: Subscriber> Layer<S> for Blocking {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        if message.0.starts_with(&self.on) {
            println!("writer blocked");
            loop {
                std::thread::park();
            }
        }
    }
}

#[graceful::main(timeout = "2s")]
async fn main(shutdown: graceful::Shutdown) {
    let on = env("FIXTURE_BLOCK_ON").expect("FIXTURE_BLOCK_ON names the event");
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Blocking { on }))
        .expect("the only subscriber");
    graceful::keep_until_exit(Announce);
    if env("FIXTURE_TRIGGER").is_some() {
        // The shutdown starts from inside: a signal that comes now is absorbed.
        shutdown.trigger();
    }
    ready();
    shutdown.cancelled().await;
    if env("FIXTURE_HOLD").is_some() {
        // Holds the drain, so that the signals come while it runs.
        std::future::pending::<()>().await;
    }
}

#[graceful::on_shutdown(order = 10)]
async fn flush() {
    println!("hook flush ran");
}
