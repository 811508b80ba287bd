//! The harness of the workspace's tests: starts a program (an example, a fixture binary) as a
//! real process, reads its stdout and stderr line by line, sends it real signals, waits for
//! its exit, and talks to it over real sockets on 127.0.0.1 with a real HTTP client (hyper).
//!
//! Nothing here sleeps and hopes: every wait is for a line, a status or a response, and has a
//! deadline; past it the child is killed and the test fails with everything the child printed.
//! A child whose handle is dropped while it still runs (a failed assertion) is killed, so no
//! test leaves a process behind.
//!
//! - [`Process`]: a running child, for async tests (`#[tokio::test]`);
//! - [`Fixture`]: the same child for plain `#[test]` functions, its waits blocking;
//! - [`Exited`]: a child that has exited, its status and everything it printed;
//! - [`Connection`], [`get`], [`EventStream`]: the HTTP client side;
//! - [`TempDir`], [`Rng`], [`example`], [`free_port`], [`count`]: the small things around.

mod example;
mod exited;
mod fixture;
mod http;
mod output;
mod process;
mod rng;
mod signals;
mod sse;
mod temp_dir;

use std::time::Duration;

pub use example::example;
pub use exited::Exited;
pub use fixture::{Fixture, READY, burst};
#[cfg(unix)]
pub use http::get_unix;
pub use http::{ClientError, Connection, REQUEST_TIMEOUT, Reply, free_port, get};
pub use nix::sys::signal::Signal;
pub use output::Line;
pub use process::Process;
pub use rng::Rng;
pub use sse::{Event, EventStream};
pub use temp_dir::TempDir;

/// How long a child may take to print its first line, or the line that says it is ready
/// (generous: the tests run in parallel on a small, loaded machine).
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for a line once the child runs.
pub const LINE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long to wait for the exit, unless a test says otherwise.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many of `items` satisfy `wanted`, for the figures a test prints.
pub fn count<T>(items: &[T], wanted: impl Fn(&T) -> bool) -> usize {
    items.iter().filter(|item| wanted(item)).count()
}

/// The name libtest knows the test `name` by, for a test defined in the module whose
/// `module_path!()` is `module`: its path inside the test binary's crate, as `--exact` wants it
/// when a test runs its own binary again as a child.
///
/// ```
/// assert_eq!(
///     graceful_test_support::test_name("processes::upgrade", "a_test"),
///     "upgrade::a_test",
/// );
/// assert_eq!(graceful_test_support::test_name("ui", "a_test"), "a_test");
/// ```
pub fn test_name(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_crate, path)) => format!("{path}::{name}"),
        None => name.to_owned(),
    }
}
