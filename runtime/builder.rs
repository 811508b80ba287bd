//! [`Builder`]: what `#[graceful::main]` expands to, usable without the macro.

use std::future::Future;
use std::time::Duration;

use crate::config::{Config, ConfigError, Flavor, Settings};
use crate::hook::MainOutput;
use crate::report::Report;
use crate::sequence;
use crate::shutdown::Shutdown;
use crate::signal::{self, Signal};

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
    /// ```
    /// let builder = graceful::Builder::new().drain_timeout(std::time::Duration::from_secs(5));
    /// # let _ = builder;
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
    /// Signals that do not exist on the platform are skipped.
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
    /// `main` runs. Exiting does not wait for abandoned work: a blocking hook stuck past its
    /// timeout does not keep the process alive.
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
        let config = match self.resolve() {
            Ok(config) => config,
            Err(error) => {
                eprintln!("graceful: invalid configuration: {error}");
                std::process::exit(2);
            }
        };
        let shutdown = Shutdown::global();
        let runtime = match runtime(&config, None) {
            Ok(runtime) => runtime,
            Err(error) => {
                eprintln!("graceful: cannot start the tokio runtime: {error}");
                std::process::exit(2);
            }
        };
        match runtime.block_on(start(&shutdown, &config, main, true)) {
            // The runtime is not dropped: dropping it would wait for blocking threads.
            Ok(report) => std::process::exit(i32::from(report.exit_code())),
            Err(error) => {
                eprintln!("graceful: invalid configuration: {error}");
                std::process::exit(2);
            }
        }
    }

    /// Like [`run`](Self::run), but returns the [`Report`] instead of exiting: for tests.
    ///
    /// The run gets its own [`Shutdown`]: on the runtime's threads, [`graceful::shutdown()`],
    /// [`graceful::spawn`] and [`graceful::register`] use it, so runs in parallel tests do not
    /// see each other. Hooks registered with `#[on_shutdown]` run in every run. The runtime is
    /// shut down in the background before returning. Must not be called from within a tokio
    /// runtime.
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
    pub fn run_to_report<M, F>(self, main: M) -> Result<Report, ConfigError>
    where
        M: FnOnce(Shutdown) -> F,
        F: Future,
        F::Output: MainOutput,
    {
        let config = self.resolve()?;
        let shutdown = Shutdown::detached();
        let runtime = runtime(&config, Some(&shutdown)).map_err(|error| {
            ConfigError::new(format!("cannot start the tokio runtime: {error}"))
        })?;
        let report = {
            let _current = shutdown.enter();
            runtime.block_on(start(&shutdown, &config, main, false))
        };
        runtime.shutdown_background();
        report
    }

    fn resolve(&self) -> Result<Config, ConfigError> {
        self.settings.resolve(|name| std::env::var_os(name))
    }
}

async fn start<M, F>(
    shutdown: &Shutdown,
    config: &Config,
    main: M,
    watchdog: bool,
) -> Result<Report, ConfigError>
where
    M: FnOnce(Shutdown) -> F,
    F: Future,
    F::Output: MainOutput,
{
    signal::listen(shutdown, &config.signals, config.force_exit)
        .map_err(|error| ConfigError::new(format!("cannot listen for signals: {error}")))?;
    let main = main(shutdown.clone());
    let main: sequence::MainFuture<'_> = Box::pin(async move { main.await.into_main_result() });
    Ok(sequence::run(shutdown, config, main, watchdog).await)
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
