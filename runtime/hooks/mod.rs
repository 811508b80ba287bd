//! What a shutdown hook receives and returns: [`HookContext`], [`Fallible`] (what a service
//! returns too), and the main body's [`MainOutput`].

pub(crate) mod registry;

use std::borrow::Cow;
use std::fmt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::reason::Reason;

/// What a hook is told when it runs: why the shutdown started, and how long it has.
///
/// A hook takes it as its one optional parameter:
///
/// ```standalone_crate
/// #[graceful::on_shutdown(order = 10, timeout = "2s")]
/// async fn deregister(ctx: graceful::HookContext) {
///     // Use at most the time left, whichever limit is the nearest.
///     let budget = ctx.time_left();
///     println!("{} ({:?}): {budget:?} left", ctx.name(), ctx.reason());
/// }
/// # fn main() {}
/// ```
#[derive(Clone)]
pub struct HookContext {
    pub(crate) reason: Reason,
    pub(crate) deadline: Instant,
    pub(crate) name: Cow<'static, str>,
    pub(crate) order: i32,
}

impl HookContext {
    /// Why the shutdown started.
    ///
    /// ```
    /// fn log(ctx: &graceful::HookContext) {
    ///     if let Some(signal) = ctx.reason().signal() {
    ///         println!("stopping on {signal}");
    ///     }
    /// }
    /// ```
    pub fn reason(&self) -> Reason {
        self.reason.clone()
    }

    /// When this hook is cut off: its own `timeout` after it started, or the global deadline,
    /// whichever comes first.
    ///
    /// ```
    /// fn fits(ctx: &graceful::HookContext, work: std::time::Duration) -> bool {
    ///     std::time::Instant::now() + work <= ctx.deadline()
    /// }
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The time left before [`deadline`](Self::deadline) (zero once it has passed).
    ///
    /// ```
    /// async fn flush(ctx: graceful::HookContext) {
    ///     let _ = tokio::time::timeout(ctx.time_left(), async { /* flush */ }).await;
    /// }
    /// ```
    pub fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// The hook's name, as in the report.
    ///
    /// ```
    /// fn name(ctx: &graceful::HookContext) -> &str {
    ///     ctx.name()
    /// }
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The hook's `order`.
    ///
    /// ```
    /// fn order(ctx: &graceful::HookContext) -> i32 {
    ///     ctx.order()
    /// }
    /// ```
    pub fn order(&self) -> i32 {
        self.order
    }
}

impl fmt::Debug for HookContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookContext")
            .field("name", &self.name)
            .field("order", &self.order)
            .field("reason", &self.reason)
            .field("time_left", &self.time_left())
            .finish()
    }
}

/// What a shutdown hook and a [`service`](crate::service()) may return: `()`, or
/// `Result<(), E>` where `E: Display` (the message goes into the report; a service's `Err`
/// before the shutdown starts it, with the error as its reason). Sealed: implemented for these
/// types only.
///
/// ```standalone_crate
/// #[graceful::on_shutdown]
/// fn close() -> Result<(), std::io::Error> {
///     Ok(())
/// }
///
/// async fn consume() {
///     graceful::service("consumer", async {
///         // consume until the broker goes away
///         Err::<(), _>("broker connection lost")
///     });
/// }
/// # fn main() {}
/// ```
#[diagnostic::on_unimplemented(
    message = "a shutdown hook or a service must return `()` or `Result<(), E>` with `E: Display`, not `{Self}`",
    label = "this type is not a hook's or a service's result",
    note = "return `Result<(), E>` where `E` implements `Display`, e.g. `std::io::Error` or `String`"
)]
pub trait Fallible: sealed::Sealed {
    /// The outcome, with the error's `Display` text.
    #[doc(hidden)]
    fn into_result(self) -> Result<(), String>;
}

impl Fallible for () {
    fn into_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: fmt::Display> Fallible for Result<(), E> {
    fn into_result(self) -> Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// What the main body may return: `()`, `Result<(), E>` where `E: Debug` (printed as
/// `Error: {err:?}`, as std does), or a [`std::process::ExitCode`] (the exit code when the
/// shutdown is otherwise clean, as with
/// [`trigger_with_code`](crate::Shutdown::trigger_with_code)). Sealed: implemented for these
/// types only.
///
/// ```
/// #[graceful::main]
/// async fn main() -> Result<(), std::io::Error> {
///     Ok(())
/// }
/// ```
///
/// ```no_run
/// #[graceful::main]
/// async fn main() -> std::process::ExitCode {
///     std::process::ExitCode::from(3) // e.g. "configuration changed, restart me"
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`main` must return `()`, `Result<(), E>` with `E: Debug`, or `std::process::ExitCode`, not `{Self}`",
    label = "this type is not a main result",
    note = "return `Result<(), E>` where `E` implements `Debug`, e.g. `std::io::Error`"
)]
pub trait MainOutput: sealed::Sealed {
    /// The outcome: the exit code asked for, or the error's `Debug` text.
    #[doc(hidden)]
    fn into_main_result(self) -> Result<Option<u8>, String>;
}

impl MainOutput for () {
    fn into_main_result(self) -> Result<Option<u8>, String> {
        Ok(None)
    }
}

impl<E: fmt::Debug> MainOutput for Result<(), E> {
    fn into_main_result(self) -> Result<Option<u8>, String> {
        self.map(|()| None).map_err(|e| format!("{e:?}"))
    }
}

impl MainOutput for ExitCode {
    fn into_main_result(self) -> Result<Option<u8>, String> {
        // `ExitCode` does not expose its value; it is one of the 256 that `From<u8>` makes.
        let code = (0..=u8::MAX).find(|&code| ExitCode::from(code) == self);
        Ok(Some(code.unwrap_or(1)))
    }
}

mod sealed {
    /// Keeps [`Fallible`](super::Fallible) and [`MainOutput`](super::MainOutput) closed:
    /// the set of accepted return types can grow without breaking anyone.
    pub trait Sealed {}

    impl Sealed for () {}
    impl<E> Sealed for Result<(), E> {}
    impl Sealed for std::process::ExitCode {}
}
