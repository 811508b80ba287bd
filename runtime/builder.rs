//! [`Builder`]: what `#[graceful::main]` expands to, usable without the macro.

use std::future::Future;
use std::time::Duration;

use crate::config::{Config, Flavor, Settings, StartError};
use crate::hooks::MainOutput;
use crate::log;
use crate::process::exit;
use crate::process::listener::{self, SignalListener};
use crate::process::watchdog::Watchdog;
use crate::report::Report;
use crate::sequence;
use crate::shutdown::Shutdown;
use crate::signal::Signal;
use crate::util::stderr;

/// What `run` and `run_to_report` say when called on a thread that already runs a tokio
/// runtime, instead of tokio's panic.
const INSIDE_A_RUNTIME: &str = "cannot build graceful's runtime from within a tokio runtime \
     (`#[tokio::main]`, `#[tokio::test]`, a framework's runtime): use \
     `graceful::Builder::run_async(main).await` there, which runs the same shutdown sequence on \
     the runtime you have and returns the Report";

/// Builds the runtime, installs the signal handlers, runs `main` and the shutdown sequence.
///
/// `#[graceful::main(...)]` is sugar for it: each option of the attribute is the method of the
/// same name. The `GRACEFUL_TIMEOUT`, `GRACEFUL_DRAIN_TIMEOUT` and `GRACEFUL_DRAIN_DELAY`
/// environment variables win over the values set here.
///
/// ```no_run
/// use std::time::Duration;
///
/// // The same as `#[graceful::main(timeout = "20s", drain_delay = "5s")]` on `async fn main`.
/// graceful::Builder::new()
///     .timeout(Duration::from_secs(20))
///     .drain_delay(Duration::from_secs(5))
///     .run(|shutdown| async move {
///         shutdown.cancelled().await;
///         Ok::<(), std::io::Error>(())
///     })
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "a Builder does nothing until `run` is called"]
pub struct Builder {
    settings: Settings,
}

impl Builder {
    /// The defaults: a 25 s deadline, a 10 s drain, no delay, SIGINT and SIGTERM, forced exit
    /// on a second signal, a multi-threaded runtime.
    ///
    /// ```
    /// let builder = graceful::Builder::new();
    /// # let _ = builder;
    /// ```
    pub fn new() -> Self {
        Builder::default()
    }

    /// The global deadline, from the trigger to the exit (default 25 s). Overridden by
    /// `GRACEFUL_TIMEOUT`.
    ///
    /// ```
    /// let builder = graceful::Builder::new().timeout(std::time::Duration::from_secs(20));
    /// # let _ = builder;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = Some(timeout);
        self
    }

    /// How long the drain waits for the main body and the tracked tasks before aborting them
    /// (default 10 s, never more than the timeout). Overridden by `GRACEFUL_DRAIN_TIMEOUT`.
    ///
    /// Set together with [`timeout`](Builder::timeout), it must not be longer, as in the
    /// attribute: the run is refused with a [`StartError`](crate::StartError). The default,
    /// or a value from the environment, is only capped at the deadline.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let error = graceful::Builder::new()
    ///     .timeout(Duration::from_secs(3))
    ///     .drain_timeout(Duration::from_secs(5))
    ///     .run_to_report(|_| async {})
    ///     .unwrap_err();
    /// assert!(error.to_string().starts_with("drain_timeout (5s) must not be longer than timeout (3s)"));
    /// ```
    pub fn drain_timeout(mut self, drain_timeout: Duration) -> Self {
        self.settings.drain_timeout = Some(drain_timeout);
        self
    }

    /// How long to wait after the trigger before cancelling the token (default 0), while
    /// [`Shutdown::is_shutting_down`] is already true: time for a readiness probe to fail and
    /// load balancers to move away. Overridden by `GRACEFUL_DRAIN_DELAY`.
    ///
    /// ```
    /// let builder = graceful::Builder::new().drain_delay(std::time::Duration::from_secs(5));
    /// # let _ = builder;
    /// ```
    pub fn drain_delay(mut self, drain_delay: Duration) -> Self {
        self.settings.drain_delay = Some(drain_delay);
        self
    }

    /// The signals that start the shutdown (default [`Signal::defaults`]). An empty list
    /// installs no handler: only [`Shutdown::trigger`] or the end of `main` start it.
    /// Signals that do not exist on the platform are skipped; a signal given twice, or under
    /// two names (SIGINT and CTRL_C on Windows), is listened to once.
    ///
    /// ```
    /// use graceful::Signal;
    /// let builder = graceful::Builder::new().signals([Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP]);
    /// # let _ = builder;
    /// ```
    pub fn signals(mut self, signals: impl IntoIterator<Item = Signal>) -> Self {
        self.settings.signals = Some(signals.into_iter().collect());
        self
    }

    /// Whether a configured signal arriving during the shutdown exits at once with 128 + its
    /// number (default true). When false, later signals are ignored.
    ///
    /// ```
    /// let builder = graceful::Builder::new().force_exit(false);
    /// # let _ = builder;
    /// ```
    pub fn force_exit(mut self, force_exit: bool) -> Self {
        self.settings.force_exit = Some(force_exit);
        self
    }

    /// The signal that starts a zero-downtime upgrade (none by default): the binary at the
    /// path this process was started from runs again, with the same arguments and
    /// environment and every socket of [`graceful::listen`](crate::listen) and
    /// `graceful::listen_unix`; once it is [ready](crate::ready()), this process shuts down with [`Reason::Upgrade`] (without
    /// `drain_delay`). If it exits, or is not ready within
    /// [`upgrade_timeout`](Self::upgrade_timeout), it is stopped and this process goes on
    /// serving. The signal must not be one of [`signals`](Self::signals); Unix only (elsewhere
    /// `run` exits with code 2).
    ///
    /// [`Reason::Upgrade`]: crate::Reason::Upgrade
    ///
    /// ```
    /// // The same as `#[graceful::main(upgrade = "SIGHUP")]`.
    /// let builder = graceful::Builder::new().upgrade(graceful::Signal::SIGHUP);
    /// # let _ = builder;
    /// ```
    pub fn upgrade(mut self, signal: Signal) -> Self {
        self.settings.upgrade = Some(signal);
        self
    }

    /// How long the new process of an upgrade has to become ready before it is stopped and
    /// the upgrade fails (default 30 s). Overridden by `GRACEFUL_UPGRADE_TIMEOUT`.
    ///
    /// ```
    /// let builder = graceful::Builder::new()
    ///     .upgrade(graceful::Signal::SIGHUP)
    ///     .upgrade_timeout(std::time::Duration::from_secs(60));
    /// # let _ = builder;
    /// ```
    pub fn upgrade_timeout(mut self, upgrade_timeout: Duration) -> Self {
        self.settings.upgrade_timeout = Some(upgrade_timeout);
        self
    }

    /// The tokio runtime's flavor (default [`Flavor::MultiThread`]).
    ///
    /// ```
    /// let builder = graceful::Builder::new().flavor(graceful::Flavor::CurrentThread);
    /// # let _ = builder;
    /// ```
    pub fn flavor(mut self, flavor: Flavor) -> Self {
        self.settings.flavor = Some(flavor);
        self
    }

    /// The number of worker threads of the multi-threaded runtime (default: one per core).
    ///
    /// ```
    /// let builder = graceful::Builder::new().worker_threads(4);
    /// # let _ = builder;
    /// ```
    pub fn worker_threads(mut self, worker_threads: usize) -> Self {
        self.settings.worker_threads = Some(worker_threads);
        self
    }

    /// Runs `main` with the process-wide [`Shutdown`], then the shutdown sequence, and exits
    /// the process with the code of the [`Report`] (logged first). Never returns.
    ///
    /// A malformed `GRACEFUL_*` variable or contradictory settings exit with code 2 before
    /// `main` runs; so does a call from within a tokio runtime (use
    /// [`run_async`](Self::run_async) there). Exiting does not wait for abandoned work: a
    /// blocking hook stuck past its timeout does not keep the process alive.
    ///
    /// The signals are received, and the global deadline enforced, by threads of their own,
    /// started before `main` is first polled: a second signal and the deadline hold even when
    /// `main` or a hook blocks every runtime thread.
    ///
    /// ```no_run
    /// graceful::Builder::new().run(|shutdown| async move {
    ///     shutdown.cancelled().await;
    /// })
    /// ```
    pub fn run<M, F>(self, main: M) -> !
    where
        M: FnOnce(Shutdown) -> F,
        F: Future,
        F::Output: MainOutput,
    {
        self.run_boxed(boxed(main))
    }

    fn run_boxed(self, main: BoxedMain<'_>) -> ! {
        let refuse = |error: &dyn std::fmt::Display| -> ! {
            stderr::line(format_args!("graceful: invalid configuration: {error}"));
            std::process::exit(2)
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            refuse(&INSIDE_A_RUNTIME);
        }
        let config = self.resolve().unwrap_or_else(|error| refuse(&error));
        // Before any thread exists: taking the inherited sockets may edit the environment,
        // and a malformed `LISTEN_FDS` is refused before any handler is installed.
        prepare_upgrade(&config).unwrap_or_else(|error| refuse(&error));
        let shutdown = Shutdown::driven_global();
        shutdown.inner.set_timeout(config.timeout);
        // The handlers first: a signal while the runtime starts (a deploy tool that reloads
        // right after the start) does what it would do once the process runs, instead of
        // what the signal's default action does (end the process, for SIGHUP).
        let watchdog = Watchdog::new(&shutdown, config.timeout);
        let _listener =
            listen(&shutdown, &config, Some(watchdog)).unwrap_or_else(|error| refuse(&error));
        let runtime = runtime(&config, None).unwrap_or_else(|error| {
            stderr::line(format_args!(
                "graceful: cannot start the tokio runtime: {error}"
            ));
            std::process::exit(2)
        });
        let report = runtime.block_on(start(&shutdown, &config, main));
        // The runtime is not dropped: dropping it would wait for blocking threads.
        if !exit::claim() {
            // A forced exit or the watchdog got there first and is ending the process.
            exit::wait_for_the_winner();
        }
        let code = report.exit_code();
        exit::normal(&shutdown.inner, code, move || log::summary(&report))
    }

    /// Like [`run`](Self::run), but returns the [`Report`] instead of exiting: for tests.
    ///
    /// The run gets its own [`Shutdown`]: on the runtime's threads, [`graceful::shutdown()`],
    /// [`graceful::spawn`] and [`graceful::register`] use it, so runs in parallel tests do not
    /// see each other. Hooks registered with `#[on_shutdown]` run in every run. The runtime is
    /// shut down in the background before returning. Within a tokio runtime it returns an
    /// error: use [`run_async`](Self::run_async) there. There is no watchdog: a hook that
    /// blocks every runtime thread past the deadline holds the call.
    ///
    /// [`graceful::shutdown()`]: crate::shutdown()
    /// [`graceful::spawn`]: crate::spawn
    /// [`graceful::register`]: crate::register
    ///
    /// ```
    /// let report = graceful::Builder::new()
    ///     .signals([]) // a test process keeps its own signal handling
    ///     .run_to_report(|shutdown| async move {
    ///         graceful::register(10, "close", async { Ok::<(), String>(()) });
    ///         shutdown.trigger_with_code(3);
    ///     })
    ///     .unwrap();
    /// assert_eq!(report.reason(), graceful::Reason::Triggered);
    /// assert_eq!(report.hooks()[0].name(), "close");
    /// assert_eq!(report.exit_code(), 3);
    /// ```
    pub fn run_to_report<M, F>(self, main: M) -> Result<Report, StartError>
    where
        M: FnOnce(Shutdown) -> F,
        F: Future,
        F::Output: MainOutput,
    {
        self.run_to_report_boxed(boxed(main))
    }

    fn run_to_report_boxed(self, main: BoxedMain<'_>) -> Result<Report, StartError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(StartError::new(INSIDE_A_RUNTIME.to_owned()));
        }
        let config = self.resolve()?;
        prepare_upgrade(&config).map_err(StartError::new)?;
        let shutdown = Shutdown::detached();
        shutdown.inner.set_timeout(config.timeout);
        let listener = listen(&shutdown, &config, None)?;
        let runtime = runtime(&config, Some(&shutdown))
            .map_err(|error| StartError::new(format!("cannot start the tokio runtime: {error}")))?;
        let report = {
            let _current = shutdown.enter();
            runtime.block_on(start(&shutdown, &config, main))
        };
        drop(listener);
        runtime.shutdown_background();
        log::summary(&report);
        exit::end_of_run(&shutdown.inner);
        Ok(report)
    }

    /// Runs `main` and the shutdown sequence on the tokio runtime you already have
    /// (`#[tokio::main]`, `#[tokio::test]`, a framework that owns the runtime) and returns the
    /// [`Report`] instead of exiting.
    ///
    /// The run gets its own [`Shutdown`]: inside `main` and the tasks it starts with
    /// [`graceful::spawn`](crate::spawn), [`graceful::shutdown()`](crate::shutdown()) is that
    /// handle. The signals are listened to as with [`run`](Self::run) (pass `.signals([])` to
    /// leave the process's signals alone); there is no watchdog, since the runtime is not
    /// ours to exit from: the caller decides what to do with the report.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // In a `#[tokio::test]`, or any async code:
    /// let report = graceful::Builder::new()
    ///     .signals([])
    ///     .run_async(|shutdown| async move {
    ///         graceful::register(10, "close", async {});
    ///         shutdown.trigger();
    ///     })
    ///     .await
    ///     .unwrap();
    /// assert_eq!(report.hooks()[0].name(), "close");
    /// assert_eq!(report.exit_code(), 0);
    /// # }
    /// ```
    pub async fn run_async<M, F>(self, main: M) -> Result<Report, StartError>
    where
        M: FnOnce(Shutdown) -> F,
        F: Future,
        F::Output: MainOutput,
    {
        self.run_async_boxed(boxed(main)).await
    }

    async fn run_async_boxed(self, main: BoxedMain<'_>) -> Result<Report, StartError> {
        let config = self.resolve()?;
        prepare_upgrade(&config).map_err(StartError::new)?;
        let shutdown = Shutdown::scoped();
        shutdown.inner.set_timeout(config.timeout);
        let listener = listen(&shutdown, &config, None)?;
        let run = shutdown.run_on_this_runtime();
        let report = shutdown.scope(start(&shutdown, &config, main)).await;
        drop(run);
        drop(listener);
        log::summary(&report);
        exit::end_of_run(&shutdown.inner);
        Ok(report)
    }

    fn resolve(&self) -> Result<Config, StartError> {
        self.settings.resolve(|name| std::env::var_os(name))
    }
}

/// Takes the inherited sockets and records what an upgrade needs, or refuses an upgrade
/// signal without the `upgrade` feature.
///
/// Every kind of run takes the inherited sockets as it starts, before its main body, so that a
/// malformed environment is refused before anything runs. Taking them changes no environment
/// variable (the caller's threads may read the environment meanwhile).
fn prepare_upgrade(config: &Config) -> Result<(), String> {
    #[cfg(feature = "upgrade")]
    {
        crate::upgrade::sockets::take_inherited()?;
        crate::upgrade::prepare(config.upgrade_timeout, config.upgrade)
    }
    #[cfg(not(feature = "upgrade"))]
    {
        match config.upgrade {
            Some(signal) => Err(format!(
                "upgrade({signal}): zero-downtime upgrades are behind graceful's `upgrade` \
                 feature; enable it (features = [\"upgrade\"]) or remove the upgrade signal"
            )),
            None => Ok(()),
        }
    }
}

/// Starts the signal listener of a run, before its main body is first polled, with the
/// run's watchdog if it has one.
fn listen(
    shutdown: &Shutdown,
    config: &Config,
    watchdog: Option<Watchdog>,
) -> Result<Option<SignalListener>, StartError> {
    let (signals, upgrade) = (&config.signals, config.upgrade);
    listener::start(shutdown, signals, config.force_exit, upgrade, watchdog)
        .map_err(|error| StartError::new(format!("cannot listen for signals: {error}")))
}

/// `main`, boxed: the runs are written against this type, so that their code is compiled once,
/// here, and not again in every program for the type of its `main`.
type BoxedMain<'a> = Box<dyn FnOnce(Shutdown) -> sequence::MainFuture<'a> + 'a>;

fn boxed<'a, M, F>(main: M) -> BoxedMain<'a>
where
    M: FnOnce(Shutdown) -> F + 'a,
    F: Future + 'a,
    F::Output: MainOutput,
{
    Box::new(move |shutdown| {
        let main = main(shutdown);
        Box::pin(async move { main.await.into_main_result() })
    })
}

async fn start(shutdown: &Shutdown, config: &Config, main: BoxedMain<'_>) -> Report {
    let sampled = shutdown.clone();
    let _sampler = crate::metrics::Sampler::start(move || {
        let inner = &sampled.inner;
        (inner.tasks().len(), inner.servers().snapshot())
    });
    let main = main(shutdown.clone());
    sequence::run(shutdown, config, main).await
}

fn runtime(
    config: &Config,
    current: Option<&Shutdown>,
) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match config.flavor {
        Flavor::MultiThread => tokio::runtime::Builder::new_multi_thread(),
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
    };
    builder.enable_all();
    if let Some(threads) = config.worker_threads {
        builder.worker_threads(threads);
    }
    if let Some(shutdown) = current {
        let shutdown = shutdown.clone();
        builder.on_thread_start(move || shutdown.make_current());
    }
    builder.build()
}
