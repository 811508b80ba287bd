//! Services: named, tracked, long-running parts of the program (a server, a consumer, a
//! scheduler) that live and die together, as Go's errgroup runs them.
//!
//! Before the shutdown, a service that fails or panics starts it, and the reason names the
//! service; one that returns `Ok` ends alone. After, services are drained like any tracked
//! task. Every service's end is recorded for the [`Report`](crate::Report).
//!
//! A service started with a [`Restart`] policy (`service_with`) is a factory run again after
//! a failure, within the policy's limit, until the shutdown starts ([`supervise`]).

mod restart;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::future::IntoFuture;
use std::time::Instant;

pub use self::restart::Restart;
use self::restart::Restarts;
use crate::hooks::Fallible;
use crate::log;
use crate::reason::Reason;
use crate::report::{LAST_ERRORS, ServiceOutcome, ServiceReport};
use crate::shutdown::Shutdown;
use crate::tasks::Label;
use crate::util::unwind::{CatchUnwind, panic_text};

/// Records how a service ended; if its future is dropped before it ends (the drain aborted
/// it), records that. Keeps its restarts and last errors for the report.
pub(crate) struct Ending {
    shutdown: Shutdown,
    id: u64,
    name: Cow<'static, str>,
    ended: bool,
    restarts: u32,
    last_errors: VecDeque<String>,
}

/// How a run of a service ended: `Ok(result)`, or `Err(panic)`.
fn outcome_of(output: std::thread::Result<Result<(), String>>) -> ServiceOutcome {
    match output {
        Ok(Ok(())) => ServiceOutcome::Returned,
        Ok(Err(error)) => ServiceOutcome::Failed(error),
        Err(panic) => ServiceOutcome::Panicked(panic_text(&*panic)),
    }
}

impl Ending {
    pub(crate) fn new(shutdown: &Shutdown, name: Cow<'static, str>) -> Self {
        let id = shutdown.inner.services().start();
        crate::metrics::service_started(&name);
        Ending {
            shutdown: shutdown.clone(),
            id,
            name,
            ended: false,
            restarts: 0,
            last_errors: VecDeque::new(),
        }
    }

    /// The service's future ended: `Ok(result)`, or `Err(panic)`.
    pub(crate) fn ended(mut self, output: std::thread::Result<Result<(), String>>) {
        let outcome = outcome_of(output);
        self.note(&outcome);
        self.end(outcome);
    }

    /// Keeps a run's error among the last ones (bounded).
    fn note(&mut self, outcome: &ServiceOutcome) {
        let error = match outcome {
            ServiceOutcome::Failed(error) => error.clone(),
            ServiceOutcome::Panicked(message) => format!("panicked: {message}"),
            ServiceOutcome::Returned | ServiceOutcome::Aborted => return,
        };
        if self.last_errors.len() == LAST_ERRORS {
            self.last_errors.pop_front();
        }
        self.last_errors.push_back(error);
    }

    /// The service ends with `outcome` (already [`note`](Self::note)d).
    fn end(mut self, outcome: ServiceOutcome) {
        self.ended = true;
        let during_shutdown = self.shutdown.is_shutting_down();
        let name = self.name.clone();
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
        let started = reason.is_some_and(|reason| self.shutdown.start(reason, None, None));
        log::service_ended(&name, &outcome, started, self.restarts);
        self.record(outcome, during_shutdown);
    }

    fn record(&mut self, outcome: ServiceOutcome, during_shutdown: bool) {
        crate::metrics::service_ended(&self.name);
        let report = ServiceReport {
            name: self.name.clone(),
            outcome,
            during_shutdown,
            restarts: self.restarts,
            last_errors: std::mem::take(&mut self.last_errors).into(),
        };
        self.shutdown.inner.services().ended(self.id, report);
    }
}

impl Drop for Ending {
    fn drop(&mut self) {
        if !self.ended {
            let during_shutdown = self.shutdown.is_shutting_down();
            log::service_ended(&self.name, &ServiceOutcome::Aborted, false, self.restarts);
            self.record(ServiceOutcome::Aborted, during_shutdown);
        }
    }
}

/// Runs a service's runs, one after another, as `policy` says; records how it ended.
async fn supervise<F, Fut>(shutdown: Shutdown, mut ending: Ending, policy: Restart, mut factory: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: IntoFuture + 'static,
    Fut::IntoFuture: Send + 'static,
    Fut::Output: Fallible,
{
    let after_return = policy.after_return();
    let mut restarts = Restarts::new(policy);
    loop {
        // The factory is called inside the caught future: its panic is a failed run too.
        let run = async { factory().into_future().await.into_result() };
        let outcome = outcome_of(CatchUnwind(Box::pin(run)).await);
        ending.note(&outcome);
        let wanted = after_return || !outcome.is_success();
        // Nothing restarts once the shutdown has started.
        if !wanted || shutdown.is_shutting_down() {
            return ending.end(outcome);
        }
        let Some(backoff) = restarts.next(Instant::now()) else {
            let (limit, within) = restarts.limit();
            log::service_restart_limit(&ending.name, &outcome, limit, within);
            return ending.end(outcome);
        };
        log::service_restarting(&ending.name, &outcome, ending.restarts + 1, backoff);
        // A stop during the back-off ends the service at once, with its last run's outcome.
        let stopped = tokio::time::timeout(backoff, shutdown.shutting_down()).await;
        if stopped.is_ok() {
            log::service_stopped_in_backoff(&ending.name);
            return ending.end(outcome);
        }
        restarts.restarted(Instant::now());
        ending.restarts = ending.restarts.saturating_add(1);
        crate::metrics::service_restarted(&ending.name);
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
        F::Output: Fallible,
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
            let output = CatchUnwind(Box::pin(async move { fut.await.into_result() })).await;
            ending.ended(output);
        });
    }

    /// Starts a service that restarts: `factory` makes its future, and is called again after
    /// a run fails (returns `Err` or panics), as `policy` says: after a back-off that grows
    /// with each restart, at most a number of times within a window. Past that limit the
    /// failure stops the process as one of [`service`](Self::service) does (the [`Reason`]
    /// names the service and carries its last error). Same as
    /// [`graceful::service_with`](crate::service_with).
    ///
    /// - Nothing restarts once the shutdown has started; a service waiting out its back-off
    ///   then ends at once, with its last run's outcome (so a failure just before a SIGTERM
    ///   still makes the exit code 1).
    /// - Each restart is logged (warn, with the error and the back-off; on stderr when no
    ///   subscriber is installed): failures are never silent.
    /// - The report gives the service's [`restarts`](crate::ServiceReport::restarts) and its
    ///   [`last_errors`](crate::ServiceReport::last_errors).
    /// - A panic inside a run unwinds through the state the factory shares with it: keep
    ///   that state in the future (or behind a lock that recovers from poisoning).
    ///
    /// # Panics
    /// If `name` is empty or blank, or outside a tokio runtime.
    ///
    /// ```no_run
    /// # async fn consume(shutdown: graceful::Shutdown) -> Result<(), std::io::Error> { Ok(()) }
    /// # async fn f(shutdown: graceful::Shutdown) {
    /// use graceful::Restart;
    ///
    /// let handle = shutdown.clone();
    /// shutdown.service_with("consumer", Restart::on_failure(), move || consume(handle.clone()));
    /// # }
    /// ```
    #[track_caller]
    pub fn service_with<F, Fut>(
        &self,
        name: impl Into<Cow<'static, str>>,
        policy: Restart,
        factory: F,
    ) where
        F: FnMut() -> Fut + Send + 'static,
        Fut: IntoFuture + 'static,
        Fut::IntoFuture: Send + 'static,
        Fut::Output: Fallible,
    {
        let name = name.into();
        assert!(
            !name.trim().is_empty(),
            "graceful::service_with: the service's name is empty; name it after what it is, \
             e.g. graceful::service_with(\"queue\", Restart::on_failure(), || consume())"
        );
        if self.is_shutting_down() {
            crate::log::late_service(&name);
            return;
        }
        let ending = Ending::new(self, name.clone());
        let shutdown = self.clone();
        self.spawn_tracked(
            Label::Service(name),
            supervise(shutdown, ending, policy, factory),
        );
    }
}
