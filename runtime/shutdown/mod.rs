//! The shutdown token: [`Shutdown`], the process-wide handle, and the trigger that starts the
//! sequence once.

mod current;
mod latch;

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use latch::Latch;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::{
    CancellationToken, WaitForCancellationFuture, WaitForCancellationFutureOwned,
};

use crate::hooks::registry::IntoHook;
use crate::hooks::registry::{Dynamic, Hook, Run};
use crate::keep::Kept;
use crate::progress::Progress;
use crate::reason::Reason;
use crate::report::Services;
use crate::servers::Servers;
use crate::snapshot::{Phase, Snapshot, TASKS_NAMED};
use crate::tasks::Label;
use crate::tasks::Tasks;

/// A handle on the shutdown: wait for it, ask whether it started, start it, and track the
/// tasks and hooks it must wait for.
///
/// Cheap to clone (one `Arc`), `Send + Sync`. `#[graceful::main]` passes one to `main`; from
/// anywhere else, [`graceful::shutdown()`](crate::shutdown()) returns the process-wide one.
///
/// ```no_run
/// #[graceful::main]
/// async fn main(shutdown: graceful::Shutdown) {
///     let worker = shutdown.clone();
///     graceful::spawn(async move {
///         while !worker.is_cancelled() {
///             // take a job, finish it
///             # break;
///         }
///     });
///     shutdown.cancelled().await; // until SIGINT or SIGTERM
/// }
/// ```
#[derive(Clone)]
pub struct Shutdown {
    pub(crate) inner: Arc<Inner>,
}

/// The state one run shares between the handles, the signal listener and the sequence.
///
/// Every part is private, and each has one owner. The trigger, the two tokens, the deadline
/// and the counters are this module's, behind methods that say what they do. The others are
/// types of the modules that write them, handed out by reference: the hooks registered at run
/// time (`registry`), the tracked tasks (`tasks`), the services' ends (`report`), how far the
/// sequence has got (`progress`), the values kept until exit (`keep`), the servers that serve
/// (`servers`).
pub(crate) struct Inner {
    /// Cancelled by the first trigger: what the sequence waits on.
    on_trigger: CancellationToken,
    /// Cancelled at step 3 of the sequence: what servers and workers wait on.
    on_cancel: CancellationToken,
    /// The first trigger, and what wakes the thread that keeps the watchdog at the trigger.
    trigger: Latch,
    /// The run's global deadline, from the trigger: set when the run starts.
    timeout: OnceLock<Duration>,
    /// Whether a signal was absorbed: one that arrived after a shutdown that something else
    /// started. The next one forces the exit.
    signal_absorbed: AtomicBool,
    /// Connections that the HTTP and gRPC integrations had to cut at the end of the drain.
    connections_cut: AtomicUsize,
    /// Whether the run is one of [`Builder::run_async`](crate::Builder::run_async), on a
    /// runtime that is not ours: its tasks carry the handle in a task-local.
    scoped: bool,
    hooks: Dynamic,
    tasks: Arc<Tasks>,
    /// How each service ended.
    services: Services,
    /// How far the sequence has got (named by the forced exit and the watchdog).
    progress: Progress,
    /// The values of [`Shutdown::keep_until_exit`].
    kept: Kept,
    /// The servers that serve now (read by [`Shutdown::snapshot`]).
    servers: Servers,
}

/// The first trigger: what it was, when, the exit code it asked for, and how long the system
/// lets the process live after it, if the system ends the process whatever it does (Windows,
/// after Ctrl-Close, logoff and shutdown events).
#[derive(Clone, Debug)]
pub(crate) struct Trigger {
    pub(crate) reason: Reason,
    pub(crate) code: Option<u8>,
    pub(crate) at: Instant,
    pub(crate) limit: Option<Duration>,
}

impl Trigger {
    /// The global deadline of the shutdown it started: the configured `timeout`, cut to the
    /// system's limit when there is one.
    pub(crate) fn timeout(&self, timeout: Duration) -> Duration {
        self.limit.map_or(timeout, |limit| limit.min(timeout))
    }
}

impl Inner {
    fn new(scoped: bool) -> Self {
        Inner {
            on_cancel: CancellationToken::new(),
            on_trigger: CancellationToken::new(),
            trigger: Latch::new(),
            tasks: Arc::default(),
            hooks: Dynamic::new(),
            progress: Progress::default(),
            signal_absorbed: AtomicBool::new(false),
            kept: Kept::default(),
            timeout: OnceLock::new(),
            services: Services::default(),
            connections_cut: AtomicUsize::new(0),
            servers: Servers::default(),
            scoped,
        }
    }

    /// The hooks registered at run time.
    pub(crate) fn hooks(&self) -> &Dynamic {
        &self.hooks
    }

    /// The tracked tasks.
    pub(crate) fn tasks(&self) -> &Arc<Tasks> {
        &self.tasks
    }

    /// How each service ended.
    pub(crate) fn services(&self) -> &Services {
        &self.services
    }

    /// How far the sequence has got.
    pub(crate) fn progress(&self) -> &Progress {
        &self.progress
    }

    /// The values kept until exit.
    pub(crate) fn kept(&self) -> &Kept {
        &self.kept
    }

    /// The servers that serve now.
    #[allow(dead_code)] // used by the integrations and the metrics, behind their features
    pub(crate) fn servers(&self) -> &Servers {
        &self.servers
    }

    /// Counts `count` connections cut by the end of the drain (reported, exit code 1).
    #[allow(dead_code)] // used by the integrations, behind their features
    pub(crate) fn record_cut(&self, count: usize) {
        self.connections_cut.fetch_add(count, Ordering::AcqRel);
    }

    /// How many connections the integrations cut.
    pub(crate) fn connections_cut(&self) -> usize {
        self.connections_cut.load(Ordering::Acquire)
    }

    /// Whether this call is the first to absorb a signal (one that arrived after a shutdown
    /// that something else started); the next one forces the exit.
    pub(crate) fn absorb_signal(&self) -> bool {
        !self.signal_absorbed.swap(true, Ordering::AcqRel)
    }

    /// Registers how to wake the thread that keeps the watchdog, at the trigger.
    pub(crate) fn set_watchdog(&self, wake: latch::Wake) {
        // A trigger that came before the waker was registered may have been missed by the
        // thread: it is woken now.
        if let Some(wake) = self.trigger.wake_with(wake) {
            wake();
        }
    }

    /// Records the run's global deadline (`timeout` from the trigger).
    pub(crate) fn set_timeout(&self, timeout: Duration) {
        let _ = self.timeout.set(timeout);
    }

    /// When the run must have ended: `timeout` after the trigger; `None` before the trigger.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let trigger = self.trigger.get()?;
        let timeout = self.timeout.get().copied().unwrap_or(Duration::ZERO);
        Some(crate::util::clock::later(trigger.at, timeout))
    }

    pub(crate) fn trigger(&self) -> Option<Trigger> {
        self.trigger.get()
    }

    pub(crate) fn cancel(&self) {
        self.on_cancel.cancel();
    }

    /// For an escape hatch that exits: no hook starts from now on; what still runs (the
    /// main body, tracked tasks, running hooks).
    pub(crate) fn close(&self) -> Vec<String> {
        self.progress.close(&self.tasks)
    }

    /// The hooks that have not started.
    pub(crate) fn not_started(&self) -> Vec<String> {
        self.progress.not_started(&self.hooks)
    }
}

impl Shutdown {
    /// Starts the shutdown unless it has started already; returns whether this call started
    /// it. `code` is the exit code asked for (used if the shutdown is otherwise clean);
    /// `limit`, for a trigger after which the system ends the process within that time
    /// whatever it does (Windows' console events): the shutdown's deadline is cut to fit.
    pub(crate) fn start(&self, reason: Reason, code: Option<u8>, limit: Option<Duration>) -> bool {
        let label = crate::metrics::reason_label(&reason);
        let trigger = Trigger {
            reason,
            code,
            at: Instant::now(),
            limit,
        };
        let Some(wake) = self.inner.trigger.start(trigger) else {
            return false;
        };
        crate::metrics::shutdown_started(label);
        crate::util::stderr::silence_if_gone();
        self.inner.on_trigger.cancel();
        if let Some(wake) = wake {
            wake();
        }
        true
    }

    /// Waits until the shutdown starts: step 1 of the sequence, at the trigger, before
    /// `drain_delay` (when [`is_shutting_down`](Self::is_shutting_down) turns true). What a
    /// readiness probe or a load-balancer registration waits on; servers and workers wait on
    /// [`cancelled`](Self::cancelled) instead.
    ///
    /// ```no_run
    /// # async fn f(shutdown: graceful::Shutdown) {
    /// shutdown.shutting_down().await;
    /// println!("deregistering from service discovery");
    /// # }
    /// ```
    pub fn shutting_down(&self) -> WaitForCancellationFuture<'_> {
        self.inner.on_trigger.cancelled()
    }

    /// Keeps `value` alive until the process exits: it is dropped after the report is
    /// logged, right before the exit. Same as [`graceful::keep_until_exit`](crate::keep_until_exit).
    ///
    /// ```no_run
    /// # async fn f(shutdown: graceful::Shutdown) {
    /// let flush_on_drop = String::from("e.g. tracing-appender's WorkerGuard");
    /// shutdown.keep_until_exit(flush_on_drop);
    /// # }
    /// ```
    pub fn keep_until_exit<T: Send + 'static>(&self, value: T) {
        self.inner.kept.keep(Box::new(value));
    }

    /// Waits until the token is cancelled: step 3 of the sequence, after `drain_delay`.
    ///
    /// ```no_run
    /// # async fn serve(shutdown: graceful::Shutdown) {
    /// tokio::select! {
    ///     _ = shutdown.cancelled() => println!("stopping"),
    ///     _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => println!("tick"),
    /// }
    /// # }
    /// ```
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.inner.on_cancel.cancelled()
    }

    /// Like [`cancelled`](Self::cancelled), but owns its handle, so it is `'static`: what
    /// axum's `with_graceful_shutdown` and hyper want.
    ///
    /// ```
    /// # use std::future::Future;
    /// // What `axum::serve(..).with_graceful_shutdown(signal)` asks for:
    /// fn with_graceful_shutdown(signal: impl Future<Output = ()> + Send + 'static) {}
    ///
    /// with_graceful_shutdown(graceful::shutdown().cancelled_owned());
    /// ```
    pub fn cancelled_owned(&self) -> WaitForCancellationFutureOwned {
        self.inner.on_cancel.clone().cancelled_owned()
    }

    /// Whether the token is cancelled (step 3 has happened).
    ///
    /// ```
    /// fn accept_more(shutdown: &graceful::Shutdown) -> bool {
    ///     !shutdown.is_cancelled()
    /// }
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.inner.on_cancel.is_cancelled()
    }

    /// Whether the shutdown has started (step 1): true from the trigger on, through
    /// `drain_delay`, while [`is_cancelled`](Self::is_cancelled) is still false. A readiness
    /// probe answers 503 from this moment.
    ///
    /// ```
    /// fn readiness(shutdown: &graceful::Shutdown) -> u16 {
    ///     if shutdown.is_shutting_down() { 503 } else { 200 }
    /// }
    /// ```
    pub fn is_shutting_down(&self) -> bool {
        self.inner.trigger.is_set()
    }

    /// Starts the shutdown, as a signal would. Does nothing if it has started already.
    ///
    /// ```no_run
    /// #[graceful::main]
    /// async fn main(shutdown: graceful::Shutdown) {
    ///     let admin = shutdown.clone();
    ///     tokio::spawn(async move {
    ///         // on an admin request:
    ///         admin.trigger();
    ///     });
    ///     shutdown.cancelled().await;
    /// }
    /// ```
    pub fn trigger(&self) {
        self.start(Reason::Triggered, None, None);
    }

    /// Starts the shutdown and asks for exit code `code`, used when the shutdown is otherwise
    /// clean (a failure still exits 1, a panic 101). Does nothing if it has started already.
    ///
    /// ```no_run
    /// #[graceful::main]
    /// async fn main(shutdown: graceful::Shutdown) {
    ///     // e.g. the configuration file changed: exit 3 so the supervisor restarts us.
    ///     shutdown.trigger_with_code(3);
    ///     shutdown.cancelled().await;
    /// }
    /// ```
    pub fn trigger_with_code(&self, code: u8) {
        self.start(Reason::Triggered, Some(code), None);
    }

    /// Why the shutdown started, once it has.
    ///
    /// ```
    /// fn why(shutdown: &graceful::Shutdown) -> String {
    ///     shutdown.reason().map_or("running".to_owned(), |r| r.to_string())
    /// }
    /// ```
    pub fn reason(&self) -> Option<Reason> {
        self.inner.trigger.get().map(|t| t.reason)
    }

    /// What the run is doing now: the phase, the time left to the deadline, the servers'
    /// open connections and requests in flight, the tracked tasks still running, the hooks
    /// done, running and left. Cheap enough for an admin page or a periodic log line: it
    /// takes a few short locks and walks the servers' connections, and writes nothing that
    /// requests touch.
    ///
    /// ```
    /// let snapshot = graceful::shutdown().snapshot();
    /// assert_eq!(snapshot.phase(), graceful::Phase::Running);
    /// println!("{snapshot}");
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        let inner = &self.inner;
        let hooks = inner.progress.hooks_seen(&inner.hooks);
        let trigger = inner.trigger();
        let phase = if trigger.is_none() {
            Phase::Running
        } else if !inner.on_cancel.is_cancelled() {
            Phase::Stopping
        } else if !hooks.scheduled {
            Phase::Draining
        } else if !hooks.over {
            Phase::Hooks
        } else {
            Phase::Exiting
        };
        let time_left = inner
            .deadline()
            .map(|deadline| deadline.saturating_duration_since(Instant::now()));
        let tasks_running = inner.tasks.len();
        let mut tasks = inner.tasks.running(TASKS_NAMED).labels;
        tasks.truncate(tasks_running);
        Snapshot {
            phase,
            reason: trigger.map(|trigger| trigger.reason.clone()),
            time_left,
            servers: inner.servers.snapshot(),
            tasks_running,
            tasks_named: tasks,
            hooks_done: hooks.done,
            hooks_running: hooks.running,
            hooks_left: hooks.left,
        }
    }

    /// A child of the shutdown token, for libraries that take a `CancellationToken`.
    /// Cancelling the child does not start the shutdown.
    ///
    /// ```
    /// let token = graceful::shutdown().child_token();
    /// assert!(!token.is_cancelled());
    /// ```
    pub fn child_token(&self) -> CancellationToken {
        self.inner.on_cancel.child_token()
    }

    /// Spawns a tracked task on the current tokio runtime; the shutdown waits for it (step 4,
    /// at most `drain_timeout`), then aborts it and reports it by where it was spawned.
    /// Same as [`graceful::spawn`](crate::spawn).
    ///
    /// # Panics
    /// Outside a tokio runtime, as `tokio::spawn` does.
    ///
    /// ```no_run
    /// # async fn f(shutdown: graceful::Shutdown) {
    /// let handle = shutdown.spawn(async { 40 + 2 });
    /// assert_eq!(handle.await.unwrap(), 42);
    /// # }
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_tracked(Label::At(Location::caller()), fut)
    }

    pub(crate) fn spawn_tracked<F>(&self, label: Label, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if self.inner.scoped {
            return self.inner.tasks.spawn(label, self.scope(fut));
        }
        self.inner.tasks.spawn(label, fut)
    }

    /// Registers a hook at run time, for a value that only exists in `main`; it runs with the
    /// static hooks of the same `order`. Same as [`graceful::register`](crate::register).
    ///
    /// The hook is a future, or a closure that receives the [`HookContext`](crate::HookContext)
    /// (the reason, the deadline, the time left) and returns one.
    ///
    /// ```no_run
    /// # async fn f(shutdown: graceful::Shutdown, pool: std::sync::Arc<()>) {
    /// shutdown.register(20, "close pool", async move { drop(pool) });
    /// shutdown.register(30, "deregister", |ctx: graceful::HookContext| async move {
    ///     println!("{:?} left to deregister", ctx.time_left());
    /// });
    /// # }
    /// ```
    pub fn register<H, M>(&self, order: i32, name: impl Into<Cow<'static, str>>, hook: H)
    where
        H: IntoHook<M>,
    {
        self.add_hook(order, name.into(), None, hook.into_hook());
    }

    /// [`register`](Self::register) with a timeout of the hook's own (the global deadline
    /// still applies; any duration is accepted, `Duration::MAX` meaning none).
    ///
    /// ```no_run
    /// # async fn f(shutdown: graceful::Shutdown) {
    /// use std::time::Duration;
    /// shutdown.register_with_timeout(20, "close pool", Duration::from_secs(2), async {});
    /// # }
    /// ```
    pub fn register_with_timeout<H, M>(
        &self,
        order: i32,
        name: impl Into<Cow<'static, str>>,
        timeout: Duration,
        hook: H,
    ) where
        H: IntoHook<M>,
    {
        self.add_hook(order, name.into(), Some(timeout), hook.into_hook());
    }

    fn add_hook(
        &self,
        order: i32,
        name: Cow<'static, str>,
        timeout: Option<Duration>,
        run: crate::hooks::registry::DynamicFn,
    ) {
        let hook = Hook {
            order,
            name,
            timeout,
            run: Run::Dynamic(run),
        };
        if let Err(hook) = self.inner.hooks.add(hook) {
            crate::log::late_registration(&hook.name, hook.order);
        }
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("reason", &self.reason())
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}
