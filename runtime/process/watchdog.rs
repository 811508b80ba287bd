//! The deadline watchdog: once the shutdown has started, it ends the process just past the
//! global deadline if the process is still there.
//!
//! Armed at the trigger, whatever started the shutdown (a signal, `trigger()`, the main body
//! ending), and independent of the runtime: a main body or a hook that blocks every runtime
//! thread cannot hold the exit past `timeout`. On Unix it is kept by the signal listener's
//! thread, which waits for the deadline and the signals at once; elsewhere it has a thread of
//! its own.

use std::time::{Duration, Instant};

use crate::log;
use crate::process::exit;
use crate::shutdown::Shutdown;
use crate::util::clock;

/// How long past the global deadline the watchdog waits for the sequence to report before it
/// exits the process itself.
pub(crate) const GRACE: Duration = Duration::from_millis(100);

/// The watchdog of one run.
pub(crate) struct Watchdog {
    shutdown: Shutdown,
    timeout: Duration,
}

impl Watchdog {
    pub(crate) fn new(shutdown: &Shutdown, timeout: Duration) -> Self {
        Watchdog {
            shutdown: shutdown.clone(),
            timeout,
        }
    }

    /// Has `wake` called at the trigger (at once if the trigger already came), so that the
    /// thread keeping the watchdog looks at [`left`](Self::left) again.
    pub(crate) fn wake_with(&self, wake: std::sync::Arc<dyn Fn() + Send + Sync>) {
        self.shutdown.inner.set_watchdog(wake);
    }

    /// The global deadline of the shutdown that started: `timeout`, or less if the system ends
    /// the process sooner after its trigger. `None` before the trigger.
    fn timeout(&self) -> Option<Duration> {
        let trigger = self.shutdown.inner.trigger()?;
        Some(trigger.timeout(self.timeout))
    }

    /// How long until the watchdog ends the process: `None` before the trigger.
    pub(crate) fn left(&self) -> Option<Duration> {
        let trigger = self.shutdown.inner.trigger()?;
        let deadline = clock::later(trigger.at, trigger.timeout(self.timeout));
        let limit = clock::later(deadline, GRACE);
        Some(limit.saturating_duration_since(Instant::now()))
    }

    /// Once the deadline has passed, ends the process, unless the normal or the forced exit
    /// claimed it first (then it returns `false`: the watchdog has nothing more to do). `true`
    /// while it is still waiting.
    pub(crate) fn check(&self) -> bool {
        if self.left() != Some(Duration::ZERO) {
            return true;
        }
        if !exit::claim() {
            return false;
        }
        let inner = &self.shutdown.inner;
        let running = inner.close().join(", ");
        let skipped = inner.not_started().join(", ");
        let timeout = self.timeout().unwrap_or(self.timeout);
        log::deadline_watchdog(timeout, &running, &skipped);
        exit::now(inner, 1)
    }
}

/// Starts a thread of its own for `watchdog`.
#[cfg(not(unix))]
pub(crate) fn start(watchdog: Watchdog) {
    let waker = Watchdog::new(&watchdog.shutdown, watchdog.timeout);
    let spawned = std::thread::Builder::new()
        .name("graceful-watchdog".to_owned())
        .spawn(move || {
            while watchdog.check() {
                match watchdog.left() {
                    // The trigger unparks this thread; a wake-up without one parks again.
                    None => std::thread::park(),
                    Some(left) => std::thread::sleep(left),
                }
            }
        });
    match spawned {
        Ok(thread) => {
            let thread = thread.thread().clone();
            waker.wake_with(std::sync::Arc::new(move || thread.unpark()));
        }
        Err(error) => {
            crate::log::emit!(warn, target: "graceful", %error, "could not start the deadline watchdog thread");
        }
    }
}
