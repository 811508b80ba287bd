//! The deadline watchdog: a thread, started with the runtime, that sleeps until the trigger,
//! then until just past the global deadline, and exits the process if it is still there.
//!
//! Armed at the trigger, whatever started the shutdown (a signal, `trigger()`, the main body
//! ending), and independent of the runtime: a main body or a hook that blocks every runtime
//! thread cannot hold the exit past `timeout`.

use std::time::{Duration, Instant};

use crate::clock;
use crate::exit;
use crate::log;
use crate::shutdown::Shutdown;

/// How long past the global deadline the watchdog waits for the sequence to report before it
/// exits the process itself.
pub(crate) const GRACE: Duration = Duration::from_millis(100);

/// Starts the watchdog of the run of `shutdown`.
pub(crate) fn start(shutdown: &Shutdown, timeout: Duration) {
    let watched = shutdown.clone();
    let spawned = std::thread::Builder::new()
        .name("graceful-watchdog".to_owned())
        .spawn(move || watch(&watched, timeout));
    match spawned {
        Ok(thread) => shutdown.inner.set_watchdog(thread.thread().clone()),
        Err(error) => {
            tracing::warn!(target: "graceful", %error, "could not start the deadline watchdog thread");
        }
    }
}

fn watch(shutdown: &Shutdown, timeout: Duration) {
    let inner = &shutdown.inner;
    // `begin` unparks this thread; a wake-up without a trigger parks again.
    let trigger = loop {
        if let Some(trigger) = inner.trigger() {
            break trigger;
        }
        std::thread::park();
    };
    let limit = clock::later(clock::later(trigger.at, timeout), GRACE);
    loop {
        let now = Instant::now();
        if now >= limit {
            break;
        }
        std::thread::sleep(limit - now);
    }
    if !exit::claim() {
        return;
    }
    let running = inner.still_running().join(", ");
    let skipped = inner.not_started().join(", ");
    log::deadline_watchdog(timeout, &running, &skipped);
    exit::now(inner, 1);
}
