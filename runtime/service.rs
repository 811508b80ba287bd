//! Services: named, tracked, long-running parts of the program (a server, a consumer, a
//! scheduler) that live and die together, as Go's errgroup runs them.
//!
//! Before the shutdown, a service that fails or panics starts it, and the reason names the
//! service; one that returns `Ok` ends alone. After, services are drained like any tracked
//! task. Every service's end is recorded for the [`Report`](crate::Report).

use std::borrow::Cow;
use std::fmt;
use std::sync::Mutex;

use crate::log;
use crate::reason::Reason;
use crate::shutdown::Shutdown;
use crate::tasks::lock;
use crate::unwind::panic_text;

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

/// How a service ended.
///
/// ```
/// use graceful::ServiceOutcome;
/// assert!(ServiceOutcome::Returned.is_success());
/// assert_eq!(ServiceOutcome::Failed("broker gone".into()).to_string(), "failed: broker gone");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServiceOutcome {
    /// It returned `()` or `Ok(())`.
    Returned,
    /// It returned `Err`; the error's `Display` text.
    Failed(String),
    /// It panicked; the panic message.
    Panicked(String),
    /// It was still running when the drain ran out of time, and was aborted.
    Aborted,
}

impl ServiceOutcome {
    /// Whether it returned successfully.
    ///
    /// ```
    /// assert!(!graceful::ServiceOutcome::Aborted.is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        matches!(self, ServiceOutcome::Returned)
    }
}

impl fmt::Display for ServiceOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceOutcome::Returned => f.write_str("returned"),
            ServiceOutcome::Failed(error) => write!(f, "failed: {error}"),
            ServiceOutcome::Panicked(message) => write!(f, "panicked: {message}"),
            ServiceOutcome::Aborted => {
                f.write_str("aborted: still running at the end of the drain")
            }
        }
    }
}

/// One service's line in the [`Report`](crate::Report).
///
/// ```
/// let report = graceful::Builder::new()
///     .signals([])
///     .run_to_report(|shutdown| async move {
///         graceful::service("ticker", async {});
///         shutdown.trigger();
///     })
///     .unwrap();
/// let ticker = &report.services()[0];
/// assert_eq!(ticker.name(), "ticker");
/// assert!(ticker.outcome().is_success());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceReport {
    pub(crate) name: Cow<'static, str>,
    pub(crate) outcome: ServiceOutcome,
    pub(crate) during_shutdown: bool,
}

impl ServiceReport {
    /// The service's name.
    ///
    /// ```
    /// # let report = graceful::Builder::new().signals([]).run_to_report(|_| async {
    /// #     graceful::service("http", async {});
    /// # }).unwrap();
    /// assert_eq!(report.services()[0].name(), "http");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How it ended.
    ///
    /// ```
    /// # let report = graceful::Builder::new().signals([]).run_to_report(|_| async {
    /// #     graceful::service("http", async { Err::<(), _>("bind failed") });
    /// # }).unwrap();
    /// assert_eq!(report.services()[0].outcome(), &graceful::ServiceOutcome::Failed("bind failed".into()));
    /// ```
    pub fn outcome(&self) -> &ServiceOutcome {
        &self.outcome
    }

    /// Whether it ended after the shutdown had started (drained), rather than before (when
    /// a failure starts the shutdown).
    ///
    /// ```
    /// # let report = graceful::Builder::new().signals([]).run_to_report(|s| async move {
    /// #     let inner = s.clone();
    /// #     graceful::service("http", async move { inner.cancelled().await });
    /// #     s.trigger();
    /// # }).unwrap();
    /// assert!(report.services()[0].during_shutdown());
    /// ```
    pub fn during_shutdown(&self) -> bool {
        self.during_shutdown
    }
}

impl fmt::Display for ServiceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "service {} {}", self.name, self.outcome)
    }
}

/// The services of one run, as they ended, in the order they were started.
#[derive(Default)]
pub(crate) struct Services {
    ended: Mutex<Vec<(u64, ServiceReport)>>,
    started: std::sync::atomic::AtomicU64,
}

impl Services {
    /// Every service that has ended, in the order they were started.
    pub(crate) fn reports(&self) -> Vec<ServiceReport> {
        let mut ended = lock(&self.ended).clone();
        ended.sort_by_key(|(id, _)| *id);
        ended.into_iter().map(|(_, report)| report).collect()
    }
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
        let services = &shutdown.inner.services;
        let id = services
            .started
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
        lock(&self.shutdown.inner.services.ended).push((self.id, report));
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
