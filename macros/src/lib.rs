//! Procedural macros for [`graceful`](https://docs.rs/graceful): `#[graceful::main]` and
//! `#[graceful::on_shutdown]`. Use them through `graceful`, which re-exports them; the
//! code they generate reaches everything through `::graceful`.
//!
//! Each attribute goes through the same three steps, in its own module: `attr` reads the
//! arguments into a raw configuration that remembers where each value was written, `check`
//! validates it together with the function into a final configuration, and `expand` writes
//! the code. Every error found on the way is reported at once, and the user's function is
//! emitted even then.
#![warn(missing_docs)]

mod attr;
mod check;
mod ctxt;
mod expand;
#[cfg(test)]
mod fuzz;
mod hook_attr;
mod item;
mod main_attr;
mod symbol;

use proc_macro::TokenStream;

/// Runs `async fn main` under graceful shutdown.
///
/// The attribute builds the tokio runtime, installs the signal handlers (SIGINT and SIGTERM
/// by default) and hands `main` the process-wide `graceful::Shutdown` handle. The shutdown
/// starts on the first signal, on `Shutdown::trigger()`, or when `main` returns; then the
/// hooks registered with `#[graceful::on_shutdown]` run, and the process exits with a code
/// that says how it went (0 when everything succeeded).
///
/// ```no_run
/// #[graceful::main(timeout = "20s")]
/// async fn main(shutdown: graceful::Shutdown) -> Result<(), std::io::Error> {
///     // serve until asked to stop, e.g. with axum's `with_graceful_shutdown`:
///     shutdown.cancelled().await;
///     Ok(())
/// }
/// ```
///
/// The function must be an `async fn`, free (no `self`), not generic, not `unsafe`,
/// `extern` or `const`. It takes no parameter or one `graceful::Shutdown`, and returns `()`,
/// `Result<(), E>` where `E: Debug` (an `Err` is printed as `Error: {err:?}`, as std
/// does, and the exit code is 1), or `std::process::ExitCode` (the exit code when the
/// shutdown is otherwise clean, as with `Shutdown::trigger_with_code`). Anything else is a
/// compile error that says what to write instead.
///
/// The attribute is sugar over `graceful::Builder`: each option below is the builder
/// method of the same name, and only the options written become calls.
///
/// The same without the macro:
/// ```no_run
/// fn main() {
///     graceful::Builder::new()
///         .timeout(std::time::Duration::from_secs(20))
///         .run(|shutdown| async move {
///             shutdown.cancelled().await;
///             Ok::<(), std::io::Error>(())
///         })
/// }
/// ```
///
/// # Options
/// Durations are string literals read by humantime, exactly as the `GRACEFUL_*` variables
/// are: `"500ms"`, `"10s"`, `"1m 30s"`, `"1.5h"`, `"1500msec"` (units `ns`, `us`, `ms`, `s`,
/// `m`, `h`, `d`, `w`, `M`, `y` and their long forms such as `msec`, `minutes`, `hours`). Any
/// length a `std::time::Duration` holds is taken, however large; a malformed or longer one is
/// a compile error on the literal.
///
/// ## `timeout`
/// The deadline from the trigger to the exit, covering the delay, the drain and the hooks
/// (default 25s, which fits Kubernetes' 30s grace period). At the deadline, whatever still
/// runs is abandoned and the process exits. It must be longer than zero. The
/// `GRACEFUL_TIMEOUT` environment variable, when set, wins.
///
/// ```
/// #[graceful::main(timeout = "20s")]
/// async fn main() {}
/// ```
/// The same without the macro:
/// ```
/// fn main() {
///     graceful::Builder::new()
///         .timeout(std::time::Duration::from_secs(20))
///         .run(|_shutdown| async {})
/// }
/// ```
///
/// ## `drain_timeout`
/// How long `main` and the tasks started with `graceful::spawn` may take to finish once
/// the token is cancelled (default 10s); the rest are aborted and reported. It may not be
/// longer than `timeout`. `GRACEFUL_DRAIN_TIMEOUT` wins.
///
/// ```
/// #[graceful::main(timeout = "30s", drain_timeout = "15s")]
/// async fn main() {}
/// ```
/// The same without the macro:
/// ```
/// use std::time::Duration;
///
/// fn main() {
///     graceful::Builder::new()
///         .timeout(Duration::from_secs(30))
///         .drain_timeout(Duration::from_secs(15))
///         .run(|_shutdown| async {})
/// }
/// ```
///
/// ## `drain_delay`
/// How long to wait, once the shutdown has started, before cancelling the token (default
/// 0s): `Shutdown::is_shutting_down()` is already true, so a readiness probe can fail and
/// load balancers move away before the server stops accepting. It must be shorter than
/// `timeout`. `GRACEFUL_DRAIN_DELAY` wins.
///
/// ```no_run
/// #[graceful::main(drain_delay = "5s")]
/// async fn main(shutdown: graceful::Shutdown) {
///     // e.g. in the readiness handler:
///     let ready = !shutdown.is_shutting_down();
///     # let _ = ready;
/// }
/// ```
/// The same without the macro:
/// ```no_run
/// fn main() {
///     graceful::Builder::new()
///         .drain_delay(std::time::Duration::from_secs(5))
///         .run(|shutdown| async move {
///             let ready = !shutdown.is_shutting_down();
///             # let _ = ready;
///         })
/// }
/// ```
///
/// ## `signals`
/// The signals that start the shutdown (default SIGINT and SIGTERM), by name, among those
/// that ask a process to stop: `SIGHUP`, `SIGINT`, `SIGQUIT`, `SIGTERM`, `SIGUSR1`,
/// `SIGUSR2`, and the Windows console events `CTRL_C`, `CTRL_BREAK`, `CTRL_CLOSE`,
/// `CTRL_LOGOFF` and `CTRL_SHUTDOWN` (a signal the platform lacks is skipped). A signal
/// listed twice is listened to once. Any other signal is a compile error that says why:
/// SIGKILL and SIGSTOP cannot be caught, fault signals such as SIGSEGV report a bug, and
/// signals such as SIGCHLD, SIGWINCH, SIGPIPE or SIGALRM report an event, not a request
/// to stop.
///
/// ```
/// #[graceful::main(signals = ["SIGINT", "SIGTERM", "SIGHUP"])]
/// async fn main() {}
/// ```
/// The same without the macro:
/// ```
/// use graceful::Signal;
///
/// fn main() {
///     graceful::Builder::new()
///         .signals([Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP])
///         .run(|_shutdown| async {})
/// }
/// ```
///
/// ## `force_exit`
/// Whether a second signal during the shutdown exits at once, with 128 + its number (130
/// for SIGINT, 143 for SIGTERM). Default `true`; with `false`, later signals are ignored.
///
/// ```
/// #[graceful::main(force_exit = false)]
/// async fn main() {}
/// ```
/// The same without the macro:
/// ```
/// fn main() {
///     graceful::Builder::new()
///         .force_exit(false)
///         .run(|_shutdown| async {})
/// }
/// ```
///
/// ## `flavor` and `worker_threads`
/// The tokio runtime, as with `#[tokio::main]`: `"multi_thread"` (the default, one worker
/// per CPU core unless `worker_threads` says otherwise) or `"current_thread"` (everything
/// on the main thread; `worker_threads` is then an error).
///
/// ```
/// #[graceful::main(flavor = "current_thread")]
/// async fn main() {}
/// ```
/// ```
/// #[graceful::main(flavor = "multi_thread", worker_threads = 4)]
/// async fn main() {}
/// ```
/// The same without the macro:
/// ```
/// use graceful::Flavor;
///
/// fn main() {
///     graceful::Builder::new()
///         .flavor(Flavor::MultiThread)
///         .worker_threads(4)
///         .run(|_shutdown| async {})
/// }
/// ```
///
/// ## `upgrade` and `upgrade_timeout`
/// The signal that starts a zero-downtime upgrade (none by default; Unix only): the binary at
/// the path the process was started from runs again with the same arguments and environment
/// and every socket of `graceful::listen`; once it is ready, this process shuts down with
/// `Reason::Upgrade`. A new process that exits, or is not ready within `upgrade_timeout`
/// (default `"30s"`, `GRACEFUL_UPGRADE_TIMEOUT` wins), is stopped, and this one goes on
/// serving. The signal asks on purpose (`"SIGHUP"`, `"SIGUSR1"`, `"SIGUSR2"`...) and must not
/// be one that stops the program (in `signals`, or SIGINT and SIGTERM by default).
///
/// ```no_run
/// #[graceful::main(upgrade = "SIGHUP", upgrade_timeout = "1m")]
/// async fn main(shutdown: graceful::Shutdown) -> std::io::Result<()> {
///     let listener = graceful::listen("http", "127.0.0.1:3000").await?;
///     # drop(listener);
///     shutdown.cancelled().await;
///     Ok(())
/// }
/// ```
/// The same without the macro:
/// ```
/// use std::time::Duration;
///
/// fn main() {
///     graceful::Builder::new()
///         .upgrade(graceful::Signal::SIGHUP)
///         .upgrade_timeout(Duration::from_secs(60))
///         .run(|_shutdown| async {})
/// }
/// ```
///
/// ## `crate`
/// The path to `graceful`, for a crate that uses it through a re-export (default
/// `::graceful`). Generated code reaches the runtime only through this path.
///
/// ```
/// mod platform {
///     pub use ::graceful;
/// }
///
/// #[platform::graceful::main(crate = "platform::graceful")]
/// async fn main() {}
/// ```
/// The same without the macro:
/// ```
/// mod platform {
///     pub use ::graceful;
/// }
///
/// fn main() {
///     platform::graceful::Builder::new().run(|_shutdown| async {})
/// }
/// ```
// The examples show the `fn main` a user writes instead of the attribute.
#[allow(clippy::needless_doctest_main)]
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    main_attr::main(args.into(), item.into()).into()
}

/// Registers a function to run when the process shuts down.
///
/// Hooks run after the drain, in phases of ascending `order`: hooks that share an `order`
/// run concurrently, and the next phase starts when the whole phase has ended. Each runs
/// for at most its own `timeout`, and never past the global deadline. A hook that fails,
/// panics or times out is reported, and the sequence goes on.
///
/// ```
/// #[graceful::on_shutdown(order = 10, timeout = "5s")]
/// async fn flush_metrics() -> Result<(), std::io::Error> {
///     Ok(())
/// }
///
/// #[graceful::on_shutdown(order = 20)]
/// fn close_log_file() {}
///
/// #[graceful::main]
/// async fn main() {}
/// ```
///
/// The function is a `fn` (run on a blocking thread, so a stuck one cannot stall the
/// runtime) or an `async fn` (its future must be `Send`). It is free (no `self`: reach
/// values through a global, or use `graceful::register`), not generic, not `unsafe`,
/// `extern` or `const`. It takes no parameter or one `graceful::HookContext` (the reason,
/// the deadline, the time left), and returns `()` or `Result<(), E>` where `E: Display`
/// (the message goes into the report). It stays an ordinary function that code can call.
///
/// Hooks are collected at link time, in any crate of the program. A library crate the
/// binary never names is not linked, and its hooks do not exist: name it once, e.g.
/// `use my_hooks as _;`. The hooks found are logged at start-up (debug level, target
/// `graceful`).
///
/// The same without the macro: `graceful::register`, from code that runs before the
/// shutdown, for values that only exist at run time.
/// ```no_run
/// #[graceful::main]
/// async fn main(shutdown: graceful::Shutdown) {
///     graceful::register(10, "flush metrics", async {
///         Ok::<(), std::io::Error>(())
///     });
///     shutdown.cancelled().await;
/// }
/// ```
///
/// # Options
/// ## `order`
/// The phase, an `i32` literal (default 0, negative allowed): lower runs first. Leave room
/// between the values you pick, such as 10, 20, 30.
///
/// ```
/// #[graceful::on_shutdown(order = -5)]
/// async fn deregister() {}
/// # fn main() {}
/// ```
/// The same without the macro:
/// ```
/// # async fn main_body() {
/// graceful::register(-5, "deregister", async {});
/// # }
/// ```
///
/// ## `timeout`
/// The hook's own time limit, a duration literal longer than zero such as `"2s"` or
/// `"500ms"` (default: none but the global deadline).
///
/// ```
/// #[graceful::on_shutdown(timeout = "2s")]
/// async fn flush() -> Result<(), std::io::Error> {
///     Ok(())
/// }
/// # fn main() {}
/// ```
/// The same without the macro:
/// ```
/// # async fn main_body() {
/// use std::time::Duration;
///
/// graceful::register_with_timeout(0, "flush", Duration::from_secs(2), async {
///     Ok::<(), std::io::Error>(())
/// });
/// # }
/// ```
///
/// ## `name`
/// The name in logs and in the report, a non-empty string literal (default
/// `module::path::fn_name`).
///
/// ```
/// #[graceful::on_shutdown(name = "close the pool")]
/// fn close() {}
/// # fn main() {}
/// ```
/// The same without the macro:
/// ```
/// # async fn main_body() {
/// graceful::register(0, "close the pool", async {});
/// # }
/// ```
///
/// ## `crate`
/// The path to `graceful`, for a crate that uses it through a re-export (default
/// `::graceful`), as for `#[graceful::main]`.
///
/// ```
/// mod platform {
///     pub use ::graceful;
/// }
///
/// #[platform::graceful::on_shutdown(crate = "platform::graceful")]
/// fn close() {}
/// # fn main() {}
/// ```
/// The same without the macro:
/// ```
/// # mod platform { pub use ::graceful; }
/// # async fn main_body() {
/// platform::graceful::register(0, "close", async {});
/// # }
/// ```
#[proc_macro_attribute]
pub fn on_shutdown(args: TokenStream, item: TokenStream) -> TokenStream {
    hook_attr::on_shutdown(args.into(), item.into()).into()
}
