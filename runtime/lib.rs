//! Graceful shutdown for tokio services.
//!
//! A process killed mid-request loses data: half-written rows, dropped requests, unflushed
//! buffers. `graceful` makes it stop well with two attributes:
//!
//! - [`#[graceful::main]`](macro@main) builds the tokio runtime, installs the signal handlers
//!   (SIGINT and SIGTERM; Windows console events) and hands `main` a [`Shutdown`] handle;
//! - [`#[graceful::on_shutdown(order = n)]`](macro@on_shutdown) tags cleanup functions anywhere
//!   in the program; they run in ascending order, each under its timeout, inside one global
//!   deadline, once the shutdown starts.
//!
//! ```no_run,standalone_crate
//! use std::time::Duration;
//!
//! #[graceful::main(timeout = "20s", drain_delay = "1s")]
//! async fn main(shutdown: graceful::Shutdown) -> std::io::Result<()> {
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     loop {
//!         tokio::select! {
//!             _ = shutdown.cancelled() => return Ok(()),
//!             accepted = listener.accept() => {
//!                 let (socket, _) = accepted?;
//!                 // Tracked: the shutdown waits for it (at most `drain_timeout`).
//!                 graceful::spawn(async move { drop(socket) });
//!             }
//!         }
//!     }
//! }
//!
//! #[graceful::on_shutdown(order = 10, timeout = "5s")]
//! async fn flush_metrics() -> Result<(), std::io::Error> {
//!     tokio::time::sleep(Duration::from_millis(10)).await;
//!     Ok(())
//! }
//!
//! #[graceful::on_shutdown(order = 20)]
//! fn close_log_file() {
//!     // Runs on a blocking thread: a stuck one cannot stall the runtime.
//! }
//! ```
//!
//! # The sequence
//! Shutdown starts once, on the first signal, [`Shutdown::trigger`], or the end of `main`.
//! Then:
//! 1. **Stopping**: [`Shutdown::is_shutting_down`] turns true, the reason is logged.
//! 2. **Delay**: `drain_delay` passes (default 0) while the token is not yet cancelled.
//! 3. **Cancel**: the token is cancelled; [`Shutdown::cancelled`] resolves.
//! 4. **Drain**: `main` and the tasks started with [`spawn`] are awaited, at most
//!    `drain_timeout`; the rest are aborted and reported.
//! 5. **Hooks**: phases in ascending `order`, equal orders concurrently, each hook under its
//!    own timeout and the global deadline; failures are recorded and the sequence goes on.
//! 6. **Exit**: a [`Report`] is logged and the process exits with its code.
//!
//! A second signal during the shutdown exits at once with 128 + its number (a signal after a
//! shutdown that something else started is absorbed once). The signals are received, and the
//! global deadline enforced, by threads of their own: a body or hook that blocks every runtime
//! thread cannot hold them.
//!
//! # Exit codes
//! | code | when |
//! | --- | --- |
//! | 0 | `main` and every [`service`] succeeded, the drain finished and every hook succeeded |
//! | 1 | `main` returned `Err`, a service failed, a hook failed, panicked, timed out or was skipped, the drain aborted tasks or cut connections, or the watchdog ended an overrunning shutdown |
//! | 101 | `main` or a service panicked (the hooks still ran) |
//! | 128+N | forced by a second signal N (130 for SIGINT, 143 for SIGTERM) |
//! | 2 | invalid configuration at start-up (e.g. a malformed `GRACEFUL_TIMEOUT`) |
//! | n | [`Shutdown::trigger_with_code`]`(n)`, or `main` returning `ExitCode::from(n)`, when the shutdown is otherwise clean |
//!
//! # Guides
//! How each part behaves and how to run it in production (Kubernetes, systemd, Docker,
//! Windows) is in [`guide`].
//!
//! # Hooks in library crates
//! Hooks are collected at link time. A library crate that the binary never names is not
//! linked, and its hooks do not exist: name it once, e.g. `use my_hooks as _;`. The hooks
//! found are logged at start-up (debug level, target `graceful`).

#![warn(missing_docs)]
#![forbid(unsafe_code)]
// docs.rs (`--cfg docsrs`): each item behind a feature says which.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
mod config;
#[cfg(any(feature = "http", feature = "grpc"))]
mod drain;
#[cfg(feature = "grpc")]
#[cfg_attr(docsrs, doc(cfg(feature = "grpc")))]
pub mod grpc;
pub mod guide;
mod hooks;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
mod keep;
mod log;
mod metrics;
mod process;
mod progress;
mod reason;
mod report;
mod sequence;
mod servers;
mod services;
mod shutdown;
mod signal;
mod snapshot;
mod systemd;
mod tasks;
#[cfg(feature = "upgrade")]
mod upgrade;
mod util;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;

pub use crate::builder::Builder;
pub use crate::config::{
    ENV_DRAIN_DELAY, ENV_DRAIN_TIMEOUT, ENV_TIMEOUT, ENV_UPGRADE_TIMEOUT, Flavor, StartError,
};
pub use crate::hooks::registry::IntoHook;
pub use crate::hooks::{Fallible, HookContext, MainOutput};
pub use crate::reason::Reason;
pub use crate::report::{
    HookOutcome, HookReport, MainOutcome, Report, ServiceOutcome, ServiceReport,
};
pub use crate::services::Restart;
pub use crate::shutdown::Shutdown;
pub use crate::signal::Signal;
pub use crate::snapshot::{Phase, ServerSnapshot, Snapshot};

pub use crate::process::readiness::ready;
#[cfg(feature = "upgrade")]
pub use crate::upgrade::UpgradeError;
#[cfg(feature = "upgrade")]
pub use crate::upgrade::sockets::listen;
#[cfg(all(unix, feature = "upgrade"))]
pub use crate::upgrade::sockets::listen_unix;
/// tokio-util, a public dependency (0.7): [`Shutdown::child_token`] hands out its
/// `CancellationToken`, and [`Shutdown::cancelled`] returns its futures. Re-exported so that
/// the version always matches.
///
/// ```
/// let token: graceful::tokio_util::sync::CancellationToken = graceful::shutdown().child_token();
/// assert!(!token.is_cancelled());
/// ```
#[doc(no_inline)]
pub use tokio_util;

#[doc(inline)]
pub use graceful_macros::{main, on_shutdown};

/// The process-wide [`Shutdown`] handle, usable from any crate and any thread.
///
/// Inside a run of [`Builder::run_to_report`], on the threads of its runtime, it is that run's
/// handle instead; inside [`Builder::run_async`], in any task of the runtime it runs on, that
/// run's.
///
/// # Panics
/// In a task started with `tokio::spawn` on a runtime where two `Builder::run_async` runs are
/// in progress at once: which one it belongs to cannot be known (pass the handle there, or
/// use [`Shutdown::try_current`], which returns `None`).
///
/// ```
/// let shutdown = graceful::shutdown();
/// assert!(!shutdown.is_shutting_down());
/// ```
pub fn shutdown() -> Shutdown {
    Shutdown::current()
}

/// Spawns a tracked task: the shutdown waits for it after cancelling the token (at most
/// `drain_timeout`), then aborts it and reports it by where it was spawned
/// (`task spawned at src/main.rs:12:5`).
///
/// The tracked version of `tokio::spawn`, on the current runtime.
///
/// # Panics
/// Outside a tokio runtime, as `tokio::spawn` does.
///
/// ```no_run
/// #[graceful::main]
/// async fn main(shutdown: graceful::Shutdown) {
///     for id in 0..4 {
///         let shutdown = shutdown.clone();
///         graceful::spawn(async move {
///             while !shutdown.is_cancelled() {
///                 // finish the job in hand, then look again
///                 # break;
///             }
///             println!("worker {id} done");
///         });
///     }
/// }
/// ```
#[track_caller]
pub fn spawn<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    shutdown().spawn(fut)
}

/// Starts a service: a named, tracked, long-running part of the program that lives and dies
/// with the others, as Go's errgroup runs them. An `Err` or a panic before the shutdown
/// starts it (exit code 1, or 101); after, services are drained like [`spawn`]ed tasks.
/// See [`Shutdown::service`].
///
/// # Panics
/// If `name` is empty, or outside a tokio runtime.
///
/// ```no_run
/// #[graceful::main]
/// async fn main(shutdown: graceful::Shutdown) {
///     let worker = shutdown.clone();
///     graceful::service("worker", async move {
///         worker.cancelled().await;
///         Ok::<(), std::io::Error>(())
///     });
///     shutdown.cancelled().await;
/// }
/// ```
#[track_caller]
pub fn service<F>(name: impl Into<Cow<'static, str>>, fut: F)
where
    F: std::future::IntoFuture,
    F::IntoFuture: Send + 'static,
    F::Output: Fallible,
{
    shutdown().service(name, fut);
}

/// Starts a service that restarts after a failure: `factory` makes its future again, after a
/// back-off, at most a number of times within a window ([`Restart`]); past that, the failure
/// stops the process as one of [`service`] does. The supervisors of Erlang/OTP, one for one.
/// See [`Shutdown::service_with`].
///
/// # Panics
/// If `name` is empty, or outside a tokio runtime.
///
/// ```no_run
/// use graceful::Restart;
///
/// # async fn consume(shutdown: graceful::Shutdown) -> Result<(), std::io::Error> { Ok(()) }
/// #[graceful::main]
/// async fn main(shutdown: graceful::Shutdown) {
///     let handle = shutdown.clone();
///     // Back-off 100 ms doubling to 30 s, at most 5 restarts within 60 s.
///     graceful::service_with("consumer", Restart::on_failure(), move || consume(handle.clone()));
///     shutdown.cancelled().await;
/// }
/// ```
#[track_caller]
pub fn service_with<F, Fut>(name: impl Into<Cow<'static, str>>, policy: Restart, factory: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::IntoFuture + 'static,
    Fut::IntoFuture: Send + 'static,
    Fut::Output: Fallible,
{
    shutdown().service_with(name, policy, factory);
}

/// Keeps `value` alive until the process exits: it is dropped after the report is logged,
/// right before the exit, last kept first. The drops share one budget (until the deadline
/// plus 500 ms; 500 ms for a forced exit) so that stuck flushes cannot hold the exit, and a
/// signal during them still forces it.
///
/// The process ends with `std::process::exit`, which runs no destructor: a guard that
/// flushes on drop and lives in `main` would be gone before the hooks run, or never dropped
/// at all, and the last log lines (the hooks', the report's) lost. Keep such guards here:
/// tracing-appender's `WorkerGuard`, a Sentry guard, an OpenTelemetry provider.
///
/// ```no_run
/// #[graceful::main]
/// async fn main(shutdown: graceful::Shutdown) {
///     // let (writer, guard) = tracing_appender::non_blocking(file);
///     let guard = String::from("a value that flushes when dropped");
///     graceful::keep_until_exit(guard);
///     shutdown.cancelled().await;
/// }
/// ```
pub fn keep_until_exit<T: Send + 'static>(value: T) {
    shutdown().keep_until_exit(value);
}

/// Registers a shutdown hook at run time, for a value that only exists in `main` (a
/// connection pool, a listener). It runs once, in the phase of its `order`, concurrently
/// with the static hooks of the same order. It returns `()` or `Result<(), E: Display>`. The
/// hook is a future, or a closure that receives the [`HookContext`] and returns one.
///
/// A hook registered after the hooks have started never runs, and says so on the log.
///
/// ```no_run
/// #[graceful::main]
/// async fn main(shutdown: graceful::Shutdown) {
///     let pool = std::sync::Arc::new(Vec::<u8>::new()); // e.g. a database pool
///     let closing = pool.clone();
///     graceful::register(30, "close the pool", async move {
///         drop(closing);
///         Ok::<(), std::io::Error>(())
///     });
///     shutdown.cancelled().await;
/// }
/// ```
pub fn register<H, M>(order: i32, name: impl Into<Cow<'static, str>>, hook: H)
where
    H: IntoHook<M>,
{
    shutdown().register(order, name, hook);
}

/// [`register`] with a timeout of the hook's own (the global deadline still applies).
///
/// ```no_run
/// # async fn f() {
/// use std::time::Duration;
/// graceful::register_with_timeout(30, "close the pool", Duration::from_secs(2), async {});
/// # }
/// ```
pub fn register_with_timeout<H, M>(
    order: i32,
    name: impl Into<Cow<'static, str>>,
    timeout: Duration,
    hook: H,
) where
    H: IntoHook<M>,
{
    shutdown().register_with_timeout(order, name, timeout, hook);
}
