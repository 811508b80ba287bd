//! Shared by the fixture binaries: the `ready` line, reading settings from the environment,
//! and a rendezvous that two hooks can only pass if they run at the same time.
//!
//! No shutdown hook is defined here: a hook in this library would be linked into every
//! fixture. Each fixture defines its own hooks in its own file.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The line a fixture prints once `main`'s body runs (the signal handlers are installed by
/// then): the tests wait for it before sending a signal.
pub const READY: &str = "ready";

/// Prints [`READY`] on stdout (line-buffered: it leaves at once).
pub fn ready() {
    println!("{READY}");
}

/// The value of the environment variable `name`, if it is set and valid UTF-8.
#[must_use]
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// What the main body of a fixture should do, from `FIXTURE_MAIN` (empty if unset).
#[must_use]
pub fn main_mode() -> String {
    env("FIXTURE_MAIN").unwrap_or_default()
}

/// Whether the environment variable `name` is set to `1`.
#[must_use]
pub fn flag(name: &str) -> bool {
    env(name).as_deref() == Some("1")
}

/// The name of the current thread, `"unnamed"` if it has none.
#[must_use]
pub fn thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_owned()
}

/// A meeting point for `expected` parties: each arrives, then waits until all have arrived.
/// If they run one after another instead of together, the first one gives up after its
/// patience runs out.
pub struct Rendezvous {
    arrived: AtomicUsize,
    expected: usize,
}

impl Rendezvous {
    /// A rendezvous for `expected` parties.
    #[must_use]
    pub const fn new(expected: usize) -> Self {
        Rendezvous {
            arrived: AtomicUsize::new(0),
            expected,
        }
    }

    fn complete(&self) -> bool {
        self.arrived.load(Ordering::SeqCst) >= self.expected
    }

    /// Arrives and waits on this thread; whether everyone arrived within `patience`.
    pub fn arrive_blocking(&self, patience: Duration) -> bool {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        let until = Instant::now() + patience;
        while !self.complete() {
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Arrives and waits asynchronously; whether everyone arrived within `patience`.
    pub async fn arrive(&self, patience: Duration) -> bool {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        let until = Instant::now() + patience;
        while !self.complete() {
            if Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }
}

/// A value for `graceful::keep_until_exit` that prints "kept value dropped" when it is dropped:
/// the last step of the exit.
pub struct Announce;

impl Drop for Announce {
    fn drop(&mut self) {
        println!("kept value dropped");
    }
}

/// Installs `tracing_subscriber`'s fmt subscriber as the global default: stderr, DEBUG and
/// above, no colour, no time, so that the tests can match whole lines.
pub fn log_to_stderr() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
        .with_ansi(false)
        .without_time()
        .init();
}
