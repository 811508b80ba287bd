//! Services: named, tracked, long-running parts of the program (a server, a consumer, a
//! scheduler) that live and die together, as Go's errgroup runs them.
//!
//! Before the shutdown, a service that fails or panics starts it, and the reason names the
//! service; one that returns `Ok` ends alone. After, services are drained like any tracked
//! task. Every service's end is recorded for the [`Report`](crate::Report).

use std::borrow::Cow;
use std::fmt;
use std::future::IntoFuture;

use crate::log;
use crate::reason::Reason;
use crate::report::{ServiceOutcome, ServiceReport};
use crate::shutdown::Shutdown;
use crate::tasks::Label;
use crate::unwind::{CatchUnwind, panic_text};

/// What a service may return: `()`, or `Result<(), E>` where `E: Display` (an `Err` before
/// the shutdown starts it, with the error as its reason). Sealed: implemented for these
/// types only.
///
/// ```no_run
/// # async fn f() {
/// graceful::service("consumer", async {
///     // consume until the broker goes away
///     Err::<(), _>("broker connection lost")
/// });
/// # }
/// ```
#[diagnostic::on_unimplemented(
    message = "a service must return `()` or `Result<(), E>` with `E: Display`, not `{Self}`",
    label = "this type is not a service result",
    note = "return `Result<(), E>` where `E` implements `Display`, e.g. `std::io::Error` or `String`"
)]
pub trait ServiceOutput: sealed::Sealed {
    /// The outcome, with the error's `Display` text.
    #[doc(hidden)]
    fn into_service_result(self) -> Result<(), String>;
}

impl ServiceOutput for () {
    fn into_service_result(self) -> Result<(), String> {
        Ok(())
    }
}

impl<E: fmt::Display> ServiceOutput for Result<(), E> {
    fn into_service_result(self) -> Result<(), String> {
        self.map_err(|error| error.to_string())
    }
}

mod sealed {
    pub trait Sealed {}

    impl Sealed for () {}
    impl<E> Sealed for Result<(), E> {}
}

/// Records how a service ended; if its future is dropped before it ends (the drain aborted
/// it), records that.
pub(crate) struct Ending {
    shutdown: Shutdown,
    id: u64,
    name: Cow<'static, str>,
    ended: bool,
}

impl Ending {
    pub(crate) fn new(shutdown: &Shutdown, name: Cow<'static, str>) -> Self {
        let id = shutdown.inner.services.start();
        Ending {
            shutdown: shutdown.clone(),
            id,
            name,
            ended: false,
        }
    }

    /// The service's future ended: `Ok(result)`, or `Err(panic)`.
    pub(crate) fn ended(mut self, output: std::thread::Result<Result<(), String>>) {
        self.ended = true;
        let during_shutdown = self.shutdown.is_shutting_down();
        let name = self.name.clone();
        let outcome = match output {
            Ok(Ok(())) => ServiceOutcome::Returned,
            Ok(Err(error)) => ServiceOutcome::Failed(error),
            Err(panic) => ServiceOutcome::Panicked(panic_text(&*panic)),
        };
        let reason = match &outcome {
            ServiceOutcome::Failed(error) => Some(Reason::ServiceFailed {
                service: name.clone(),
                error: error.clone(),
            }),
            ServiceOutcome::Panicked(message) => Some(Reason::ServicePanicked {
                service: name.clone(),
                message: message.clone(),
            }),
            _ => None,
        };
        // A failure before the shutdown starts it (errgroup); after, it is only reported.
        let started = reason.is_some_and(|reason| self.shutdown.begin(reason, None));
        log::service_ended(&name, &outcome, started);
        self.record(outcome, during_shutdown);
    }

    fn record(&self, outcome: ServiceOutcome, during_shutdown: bool) {
        let report = ServiceReport {
            name: self.name.clone(),
            outcome,
            during_shutdown,
        };
        self.shutdown.inner.services.ended(self.id, report);
    }
}

impl Drop for Ending {
    fn drop(&mut self) {
        if !self.ended {
            let during_shutdown = self.shutdown.is_shutting_down();
            log::service_ended(&self.name, &ServiceOutcome::Aborted, false);
            self.record(ServiceOutcome::Aborted, during_shutdown);
        }
    }
}

impl Shutdown {
    /// Starts a service: a named, tracked, long-running part of the program (a server, a
    /// consumer, a scheduler), as Go's errgroup runs them. Same as
    /// [`graceful::service`](crate::service). It takes a future, or anything that turns into
    /// one (`graceful::http::serve(..)`, `axum::serve(..)`).
    ///
    /// Before the shutdown has started, a service that returns `Err` or panics starts it:
    /// the [`Reason`] names the service and carries the error, the exit code is 1 (101 for a
    /// panic), and one line on stderr says so even without a tracing subscriber. One that
    /// returns `Ok` ends alone. After the shutdown started, services are drained like
    /// [`spawn`](Self::spawn)ed tasks; an `Err` then is reported and makes the exit code 1.
    /// The [`Report`](crate::Report) lists every service and how it ended.
    ///
    /// A service started once the shutdown has begun is not started (and says so on the
    /// log), as a late hook is not run.
    ///
    /// # Panics
    /// If `name` is empty or blank, or outside a tokio runtime.
    ///
    /// ```no_run
    /// # async fn f(shutdown: graceful::Shutdown) {
    /// let worker = shutdown.clone();
    /// shutdown.service("worker", async move {
    ///     while !worker.is_cancelled() {
    ///         // take a job; a lost broker connection is an `Err`, which stops the program
    ///         # break;
    ///     }
    ///     Ok::<(), std::io::Error>(())
    /// });
    /// # }
    /// ```
    #[track_caller]
    pub fn service<F>(&self, name: impl Into<Cow<'static, str>>, fut: F)
    where
        F: IntoFuture,
        F::IntoFuture: Send + 'static,
        F::Output: ServiceOutput,
    {
        let fut = fut.into_future();
        let name = name.into();
        assert!(
            !name.trim().is_empty(),
            "graceful::service: the service's name is empty; name it after what it is, e.g. \
             graceful::service(\"http\", serve(listener))"
        );
        if self.is_shutting_down() {
            crate::log::late_service(&name);
            return;
        }
        let ending = Ending::new(self, name.clone());
        self.spawn_tracked(Label::Service(name), async move {
            let output =
                CatchUnwind(Box::pin(async move { fut.await.into_service_result() })).await;
            ending.ended(output);
        });
    }
}
