//! Values kept alive until the process exits: [`keep_until_exit`](crate::keep_until_exit).
//!
//! `std::process::exit` runs no destructor, so a guard that flushes on drop (tracing-appender's
//! `WorkerGuard`, a Sentry guard, an OpenTelemetry provider) would lose the last lines: the
//! hooks' and the report's. Kept values are dropped after the report is logged and before
//! the exit, last kept first, on a thread of their own, all within one budget that the exit
//! gives them (the deadline plus a margin), so that stuck flushes cannot hold the exit past it,
//! however many there are.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use crate::log;
use crate::util::sync::lock;

/// The kept values of one run, in the order they were kept.
#[derive(Default)]
pub(crate) struct Kept {
    values: Mutex<Vec<Box<dyn Any + Send>>>,
}

impl Kept {
    pub(crate) fn keep(&self, value: Box<dyn Any + Send>) {
        lock(&self.values).push(value);
    }

    /// Drops every kept value, last kept first, on one thread; waits for them until `until`,
    /// then goes on without those left (they are dropped, or not, as the process ends).
    pub(crate) fn drop_all(&self, until: Instant) {
        let values = std::mem::take(&mut *lock(&self.values));
        if values.is_empty() {
            return;
        }
        let left = Arc::new(AtomicUsize::new(values.len()));
        let (dropped, done) = mpsc::channel::<()>();
        let counting = left.clone();
        let spawned = std::thread::Builder::new()
            .name("graceful-keep".to_owned())
            .spawn(move || {
                for value in values.into_iter().rev() {
                    // A destructor that panics ends its own drop, not the others'.
                    let _ = catch_unwind(AssertUnwindSafe(move || drop(value)));
                    counting.fetch_sub(1, Ordering::AcqRel);
                }
                let _ = dropped.send(());
            });
        // If no thread can be started, the closure (and the values) was dropped right here.
        if spawned.is_err() {
            return;
        }
        let budget = until.saturating_duration_since(Instant::now());
        if done.recv_timeout(budget) == Err(mpsc::RecvTimeoutError::Timeout) {
            log::kept_values_stuck(left.load(Ordering::Acquire), budget);
        }
    }
}
