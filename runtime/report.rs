//! What a shutdown did: [`Report`], one [`HookReport`] per hook, and the exit code.

use std::borrow::Cow;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use crate::reason::Reason;
use crate::util::sync::lock;

/// The account of one shutdown: why it started, how the main body ended, every hook with its
/// outcome and duration, the tasks the drain aborted, and the exit code.
///
/// [`Builder::run`](crate::Builder::run) logs it and exits with [`exit_code`](Self::exit_code);
/// [`Builder::run_to_report`](crate::Builder::run_to_report) returns it. Its `Display` is the
/// human summary:
///
/// ```text
/// shutdown (received SIGTERM) took 1.204s, exit code 1
///   main     returned
///   order 10 app::flush_metrics   ok         12ms
///   order 10 app::deregister      failed     3ms: connection refused
///   order 20 app::close_log       timed out  5s
///   aborted  task spawned at src/main.rs:12:5
/// ```
///
/// ```
/// let report = graceful::Builder::new()
///     .signals([])
///     .run_to_report(|_| async {})
///     .unwrap();
/// assert_eq!(report.reason(), graceful::Reason::MainReturned);
/// assert_eq!(report.exit_code(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct Report {
    pub(crate) reason: Reason,
    pub(crate) main: MainOutcome,
    pub(crate) services: Vec<ServiceReport>,
    /// Services that ended but are not listed (see [`Report::services_left_out`]).
    pub(crate) services_left_out: LeftOut,
    pub(crate) hooks: Vec<HookReport>,
    pub(crate) aborted: Vec<String>,
    /// Tasks aborted but not listed (see [`Report::aborted_left_out`]).
    pub(crate) aborted_left_out: usize,
    pub(crate) connections_cut: usize,
    pub(crate) elapsed: Duration,
    pub(crate) exit_code: u8,
}

/// How the main body ended.
///
/// ```
/// use graceful::MainOutcome;
/// assert!(MainOutcome::Returned.is_success());
/// assert!(!MainOutcome::Aborted.is_success());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MainOutcome {
    /// It returned `()` or `Ok(())`.
    Returned,
    /// It returned `Err`; the error's `Debug` text.
    Failed(String),
    /// It panicked; the panic message.
    Panicked(String),
    /// It was still running when the drain ran out of time, and was dropped.
    Aborted,
}

impl MainOutcome {
    /// Whether it returned successfully.
    ///
    /// ```
    /// assert!(!graceful::MainOutcome::Failed("boom".into()).is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        matches!(self, MainOutcome::Returned)
    }
}

/// One hook's line in the [`Report`].
///
/// ```
/// # let report = graceful::Builder::new().signals([]).run_to_report(|_| async {
/// #     graceful::register(1, "close", async {});
/// # }).unwrap();
/// for hook in report.hooks() {
///     println!("{} {} {:?} {}", hook.order(), hook.name(), hook.duration(), hook.outcome());
/// }
/// ```
#[derive(Clone, Debug)]
pub struct HookReport {
    pub(crate) order: i32,
    pub(crate) name: Cow<'static, str>,
    pub(crate) duration: Duration,
    pub(crate) outcome: HookOutcome,
}

/// How a hook ended.
///
/// ```
/// use graceful::HookOutcome;
/// assert!(HookOutcome::Returned.is_success());
/// assert_eq!(HookOutcome::Failed("disk full".into()).to_string(), "failed: disk full");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HookOutcome {
    /// It returned `()` or `Ok(())`.
    Returned,
    /// It returned `Err`; the error's `Display` text.
    Failed(String),
    /// It panicked; the panic message.
    Panicked(String),
    /// It ran past its limit (its own `timeout`, or the global deadline) and was abandoned.
    TimedOut(Duration),
    /// The global deadline passed before its phase could start.
    Skipped,
}

impl HookOutcome {
    /// Whether the hook succeeded.
    ///
    /// ```
    /// assert!(!graceful::HookOutcome::Skipped.is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        matches!(self, HookOutcome::Returned)
    }
}

impl Report {
    /// What started the shutdown.
    ///
    /// ```
    /// # let report = graceful::Builder::new().signals([]).run_to_report(|_| async {}).unwrap();
    /// println!("{}", report.reason());
    /// ```
    pub fn reason(&self) -> Reason {
        self.reason.clone()
    }

    /// How the main body ended.
    ///
    /// ```
    /// # let report = graceful::Builder::new().signals([]).run_to_report(|_| async {}).unwrap();
    /// assert_eq!(report.main(), &graceful::MainOutcome::Returned);
    /// ```
    pub fn main(&self) -> &MainOutcome {
        &self.main
    }

    /// Every hook, in the order they were scheduled (ascending `order`).
    ///
    /// ```
    /// # let report = graceful::Builder::new().signals([]).run_to_report(|_| async {}).unwrap();
    /// let failed = report.hooks().iter().filter(|h| !h.outcome().is_success()).count();
    /// # assert_eq!(failed, 0);
    /// ```
    pub fn hooks(&self) -> &[HookReport] {
        &self.hooks
    }

    /// Every service started with [`service`](crate::service), in the order they were
    /// started, with how it ended.
    ///
    /// ```
    /// # let report = graceful::Builder::new().signals([]).run_to_report(|_| async {}).unwrap();
    /// assert!(report.services().is_empty());
    /// ```
    pub fn services(&self) -> &[ServiceReport] {
        &self.services
    }

    /// How many services ended without being listed in [`services`](Self::services): a
    /// report lists at most 100, those that did not end well first, so that a process that
    /// starts services by the million keeps a report of bounded size. Counted in the
    /// headline.
    ///
    /// ```
    /// let report = graceful::Builder::new()
    ///     .signals([])
    ///     .run_to_report(|_| async {
    ///         for _ in 0..150 {
    ///             graceful::service("job", async {});
    ///         }
    ///     })
    ///     .unwrap();
    /// assert_eq!(report.services().len() + report.services_left_out(), 150);
    /// assert_eq!(report.services().len(), 100);
    /// ```
    pub fn services_left_out(&self) -> usize {
        self.services_left_out.all
    }

    /// The connections the HTTP and gRPC integrations cut because they were still open at
    /// the end of the drain.
    ///
    /// ```
    /// # let report = graceful::Builder::new().signals([]).run_to_report(|_| async {}).unwrap();
    /// assert_eq!(report.connections_cut(), 0);
    /// ```
    pub fn connections_cut(&self) -> usize {
        self.connections_cut
    }

    /// The tasks the drain aborted, oldest first (the main body appears as `main`, first):
    /// at most 100 tasks besides `main`; the others are counted by
    /// [`aborted_left_out`](Self::aborted_left_out).
    ///
    /// ```
    /// # let report = graceful::Builder::new().signals([]).run_to_report(|_| async {}).unwrap();
    /// assert!(report.aborted().is_empty());
    /// ```
    pub fn aborted(&self) -> &[String] {
        &self.aborted
    }

    /// How many tasks the drain aborted that [`aborted`](Self::aborted) does not list: the
    /// report keeps the names of the oldest, so that its size does not grow with the work.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let report = graceful::Builder::new()
    ///     .signals([])
    ///     .drain_timeout(Duration::from_millis(50))
    ///     .run_to_report(|_| async {
    ///         for _ in 0..150 {
    ///             graceful::spawn(std::future::pending::<()>());
    ///         }
    ///     })
    ///     .unwrap();
    /// assert_eq!(report.aborted().len(), 100);
    /// assert_eq!(report.aborted_left_out(), 50);
    /// ```
    pub fn aborted_left_out(&self) -> usize {
        self.aborted_left_out
    }

    /// From the trigger to the end of the last hook.
    ///
    /// ```
    /// # let report = graceful::Builder::new().signals([]).run_to_report(|_| async {}).unwrap();
    /// assert!(report.elapsed() < std::time::Duration::from_secs(25));
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The process's exit code: 0 when everything succeeded, 1 on any failure (a failed
    /// service or hook, an aborted task, a cut connection), 101 if the main body or a service
    /// panicked, or the code asked for (by [`trigger_with_code`](crate::Shutdown::trigger_with_code)
    /// or a main body returning `ExitCode`) when the shutdown was otherwise clean.
    ///
    /// ```
    /// # let report = graceful::Builder::new().signals([]).run_to_report(|_| async {}).unwrap();
    /// assert_eq!(report.exit_code(), 0);
    /// ```
    pub fn exit_code(&self) -> u8 {
        self.exit_code
    }

    /// Whether the main body, every service, the drain and every hook succeeded.
    ///
    /// ```
    /// # let report = graceful::Builder::new().signals([]).run_to_report(|_| async {}).unwrap();
    /// assert!(report.is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.main.is_success()
            && self.services.iter().all(|s| s.outcome.is_success())
            && self.services_left_out.not_ok == 0
            && self.aborted.is_empty()
            && self.connections_cut == 0
            && self.hooks.iter().all(|h| h.outcome.is_success())
    }
}

/// The exit code for what happened, as the table of [`guide::sequence`](crate::guide::sequence) says.
pub(crate) fn exit_code(report: &Report, requested: Option<u8>) -> u8 {
    let panicked = matches!(report.main, MainOutcome::Panicked(_))
        || report
            .services
            .iter()
            .any(|s| matches!(s.outcome, ServiceOutcome::Panicked(_)))
        || report.services_left_out.panicked > 0;
    if panicked {
        return 101;
    }
    match (report.is_clean(), requested) {
        (false, _) => 1,
        (true, Some(code)) => code,
        (true, None) => 0,
    }
}

impl HookReport {
    /// The hook's `order`.
    ///
    /// ```
    /// # let report = graceful::Builder::new().signals([]).run_to_report(|_| async {
    /// #     graceful::register(-3, "early", async {});
    /// # }).unwrap();
    /// assert_eq!(report.hooks()[0].order(), -3);
    /// ```
    pub fn order(&self) -> i32 {
        self.order
    }

    /// The hook's name (by default `module::path::fn_name`).
    ///
    /// ```
    /// # let report = graceful::Builder::new().signals([]).run_to_report(|_| async {
    /// #     graceful::register(0, "flush", async {});
    /// # }).unwrap();
    /// assert_eq!(report.hooks()[0].name(), "flush");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long it ran (zero if skipped).
    ///
    /// ```
    /// # let report = graceful::Builder::new().signals([]).run_to_report(|_| async {
    /// #     graceful::register(0, "flush", async {});
    /// # }).unwrap();
    /// assert!(report.hooks()[0].duration() < std::time::Duration::from_secs(1));
    /// ```
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// How it ended.
    ///
    /// ```
    /// # let report = graceful::Builder::new().signals([]).run_to_report(|_| async {
    /// #     graceful::register(0, "flush", async { Err::<(), _>("disk full") });
    /// # }).unwrap();
    /// assert_eq!(report.hooks()[0].outcome(), &graceful::HookOutcome::Failed("disk full".into()));
    /// ```
    pub fn outcome(&self) -> &HookOutcome {
        &self.outcome
    }
}

impl fmt::Display for HookOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HookOutcome::Returned => f.write_str("ok"),
            HookOutcome::Failed(message) => write!(f, "failed: {message}"),
            HookOutcome::Panicked(message) => write!(f, "panicked: {message}"),
            HookOutcome::TimedOut(limit) => write!(f, "timed out after {limit:?}"),
            HookOutcome::Skipped => f.write_str("skipped: the global deadline had passed"),
        }
    }
}

impl fmt::Display for MainOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MainOutcome::Returned => f.write_str("returned"),
            MainOutcome::Failed(error) => write!(f, "returned Err: {error}"),
            MainOutcome::Panicked(message) => write!(f, "panicked: {message}"),
            MainOutcome::Aborted => f.write_str("aborted: still running at the end of the drain"),
        }
    }
}

impl fmt::Display for HookReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "order {} {} {} in {:?}",
            self.order, self.name, self.outcome, self.duration
        )
    }
}

impl Report {
    /// The first line of the `Display` form: the logged summary (each hook was already
    /// logged as it ended).
    pub(crate) fn headline(&self) -> impl fmt::Display + '_ {
        Headline(self)
    }
}

struct Headline<'a>(&'a Report);

impl fmt::Display for Headline<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self.0;
        let failed = report
            .hooks
            .iter()
            .filter(|h| !h.outcome.is_success())
            .count();
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        write!(
            f,
            "shutdown ({}) took {:?}: main {}, ",
            report.reason, report.elapsed, report.main,
        )?;
        let left_out = report.services_left_out;
        if !report.services.is_empty() || left_out.all > 0 {
            let services = report.services.len() + left_out.all;
            let not_ok = report
                .services
                .iter()
                .filter(|s| !s.outcome.is_success())
                .count()
                + left_out.not_ok;
            write!(f, "{services} service{} ({not_ok} not ok", plural(services))?;
            let restarts = report
                .services
                .iter()
                .map(|s| u64::from(s.restarts))
                .sum::<u64>()
                + left_out.restarts;
            if restarts > 0 {
                let plural = if restarts == 1 { "" } else { "s" };
                write!(f, ", {restarts} restart{plural}")?;
            }
            if left_out.all > 0 {
                write!(f, ", {} not listed", left_out.all)?;
            }
            f.write_str("), ")?;
        }
        let hooks = report.hooks.len();
        let aborted = report.aborted.len() + report.aborted_left_out;
        write!(
            f,
            "{hooks} hook{} ({failed} not ok), {aborted} task{} aborted, ",
            plural(hooks),
            plural(aborted),
        )?;
        if report.connections_cut > 0 {
            let cut = report.connections_cut;
            write!(f, "{cut} connection{} cut, ", plural(cut))?;
        }
        write!(f, "exit code {}", report.exit_code)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.headline())?;
        for service in &self.services {
            write!(f, "\n  {service}")?;
        }
        let left_out = self.services_left_out;
        if left_out.all > 0 {
            write!(
                f,
                "\n  and {} more service(s) not listed ({} not ok)",
                left_out.all, left_out.not_ok
            )?;
        }
        let width = self.hooks.iter().map(|h| h.name.len()).max().unwrap_or(0);
        for hook in &self.hooks {
            write!(
                f,
                "\n  order {:<6} {:<width$}  {} ({:?})",
                hook.order, hook.name, hook.outcome, hook.duration
            )?;
        }
        for task in &self.aborted {
            write!(f, "\n  aborted {task}")?;
        }
        if self.aborted_left_out > 0 {
            write!(f, "\n  and {} more task(s) aborted", self.aborted_left_out)?;
        }
        Ok(())
    }
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
    pub(crate) restarts: u32,
    pub(crate) last_errors: Vec<String>,
}

/// How many of a service's last errors its report keeps.
pub(crate) const LAST_ERRORS: usize = 5;

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

    /// How many times it was restarted (by the [`Restart`](crate::Restart) policy of
    /// [`service_with`](crate::service_with); always 0 for [`service`](crate::service)).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::time::Duration;
    /// use graceful::Restart;
    ///
    /// static RUNS: AtomicU32 = AtomicU32::new(0);
    /// let report = graceful::Builder::new()
    ///     .signals([])
    ///     .run_to_report(|shutdown| async move {
    ///         let policy = Restart::on_failure().backoff(Duration::ZERO, Duration::ZERO);
    ///         let handle = shutdown.clone();
    ///         graceful::service_with("flaky", policy, move || {
    ///             let shutdown = handle.clone();
    ///             async move {
    ///                 match RUNS.fetch_add(1, Ordering::SeqCst) {
    ///                     0 | 1 => Err("not yet"),
    ///                     _ => {
    ///                         shutdown.trigger();
    ///                         Ok(())
    ///                     }
    ///                 }
    ///             }
    ///         });
    ///         shutdown.cancelled().await;
    ///     })
    ///     .unwrap();
    /// assert_eq!(report.services()[0].restarts(), 2);
    /// assert_eq!(report.services()[0].last_errors(), ["not yet", "not yet"]);
    /// ```
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// The last errors of its runs (at most 5, oldest first): each `Err`'s `Display` text, or
    /// `panicked: ` and the panic message. For a service that was never restarted, its
    /// error if it failed.
    ///
    /// ```
    /// # let report = graceful::Builder::new().signals([]).run_to_report(|_| async {
    /// #     graceful::service("http", async { Err::<(), _>("bind failed") });
    /// # }).unwrap();
    /// assert_eq!(report.services()[0].last_errors(), ["bind failed"]);
    /// ```
    pub fn last_errors(&self) -> &[String] {
        &self.last_errors
    }
}

impl fmt::Display for ServiceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "service {} {}", self.name, self.outcome)?;
        self.restarts_suffix(f)
    }
}

impl ServiceReport {
    /// `, after 3 restarts (last errors: a; b; c)`, when it was restarted.
    fn restarts_suffix(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.restarts == 0 {
            return Ok(());
        }
        let plural = if self.restarts == 1 { "" } else { "s" };
        write!(f, ", after {} restart{plural}", self.restarts)?;
        if !self.last_errors.is_empty() {
            write!(f, " (last errors: {})", self.last_errors.join("; "))?;
        }
        Ok(())
    }
}

/// How many aborted tasks a report names; the others are counted.
pub(crate) const LISTED_TASKS: usize = 100;

/// Tasks named by their labels, oldest first, and how many others were left out.
#[derive(Debug, Default)]
pub(crate) struct Listed {
    pub(crate) labels: Vec<String>,
    pub(crate) left_out: usize,
}

impl Listed {
    /// How many tasks, listed or not.
    pub(crate) fn len(&self) -> usize {
        self.labels.len() + self.left_out
    }

    /// The labels, and `N more tasks` after them when some were left out: for a line.
    pub(crate) fn into_lines(self) -> Vec<String> {
        let mut lines = self.labels;
        match self.left_out {
            0 => {}
            1 => lines.push("1 more task".to_owned()),
            more => lines.push(format!("{more} more tasks")),
        }
        lines
    }
}

/// How many services a report lists; the others are counted.
pub(crate) const LISTED_SERVICES: usize = 100;

/// The services of one run, as they ended, in the order they were started: memory bounded
/// however many start and end over the run's life (a job runner starts thousands a minute).
/// At most [`LISTED_SERVICES`] are listed; past that, a service that did not end well takes
/// the place of the oldest that did, and the others are only counted.
#[derive(Default)]
pub(crate) struct Services {
    ended: Mutex<Ended>,
    started: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct Ended {
    listed: Vec<(u64, ServiceReport)>,
    left_out: LeftOut,
}

/// The services a report counts without listing them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LeftOut {
    pub(crate) all: usize,
    pub(crate) not_ok: usize,
    pub(crate) panicked: usize,
    /// The restarts of the services left out.
    pub(crate) restarts: u64,
}

impl Services {
    /// The place of a service just started, in start order.
    pub(crate) fn start(&self) -> u64 {
        self.started
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Records how the service started `id`-th ended.
    pub(crate) fn ended(&self, id: u64, report: ServiceReport) {
        let mut ended = lock(&self.ended);
        if ended.listed.len() < LISTED_SERVICES {
            ended.listed.push((id, report));
            return;
        }
        ended.left_out.all += 1;
        if report.outcome.is_success() {
            ended.left_out.restarts += u64::from(report.restarts);
            return;
        }
        let ok = ended
            .listed
            .iter()
            .position(|(_, listed)| listed.outcome.is_success());
        match ok {
            Some(ok) => {
                let (_, evicted) = ended.listed.remove(ok);
                ended.left_out.restarts += u64::from(evicted.restarts);
                ended.listed.push((id, report));
            }
            None => {
                ended.left_out.restarts += u64::from(report.restarts);
                ended.left_out.not_ok += 1;
                if matches!(report.outcome, ServiceOutcome::Panicked(_)) {
                    ended.left_out.panicked += 1;
                }
            }
        }
    }

    /// The services listed, in the order they were started, and how many were left out.
    pub(crate) fn reports(&self) -> (Vec<ServiceReport>, LeftOut) {
        let ended = lock(&self.ended);
        let mut listed = ended.listed.clone();
        listed.sort_by_key(|(id, _)| *id);
        let listed = listed.into_iter().map(|(_, report)| report).collect();
        (listed, ended.left_out)
    }
}
