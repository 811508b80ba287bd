//! Values kept alive until the process exits: [`keep_until_exit`](crate::keep_until_exit).
//!
//! `std::process::exit` runs no destructor, so a guard that flushes on drop (tracing-appender's
//! `WorkerGuard`, a Sentry guard, an OpenTelemetry provider) would lose the last lines: the
//! hooks' and the report's. Kept values are dropped after the report is logged and before
//! the exit, last kept first, each on a thread of its own for at most [`DROP_LIMIT`], so a
//! stuck flush cannot hold the exit.

use std::any::Any;
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

use crate::log;
use crate::tasks::lock;

/// How long one kept value may take to drop before the exit goes on without it.
pub(crate) const DROP_LIMIT: Duration = Duration::from_secs(2);

/// The kept values of one run, in the order they were kept.
#[derive(Default)]
pub(crate) struct Kept {
    values: Mutex<Vec<Box<dyn Any + Send>>>,
}

impl Kept {
    pub(crate) fn keep(&self, value: Box<dyn Any + Send>) {
        lock(&self.values).push(value);
    }

    /// Drops every kept value, last kept first, each for at most [`DROP_LIMIT`].
    pub(crate) fn drop_all(&self) {
        let values = std::mem::take(&mut *lock(&self.values));
        for (index, value) in values.into_iter().enumerate().rev() {
            drop_bounded(index, value);
        }
    }
}

fn drop_bounded(index: usize, value: Box<dyn Any + Send>) {
    let (dropped, done) = mpsc::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("graceful-keep".to_owned())
        .spawn(move || {
            drop(value);
            let _ = dropped.send(());
        });
    // If no thread can be started, the closure (and the value) was dropped right here.
    if spawned.is_ok() && done.recv_timeout(DROP_LIMIT) == Err(mpsc::RecvTimeoutError::Timeout) {
        log::kept_value_stuck(index, DROP_LIMIT);
    }
}
