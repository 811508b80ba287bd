//! Every event the shutdown emits, under the `tracing` target `graceful`.
//!
//! Failures, timeouts and forced exits also print one line on stderr when no `tracing`
//! subscriber is installed: a failed shutdown is never silent.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use tracing::dispatcher;
use tracing::subscriber::NoSubscriber;

use crate::hooks::registry::{self, HookFn};
use crate::reason::Reason;
use crate::report::ServiceOutcome;
use crate::report::{HookOutcome, Listed, MainOutcome, Report};
use crate::signal::Signal;
use crate::util::stderr;

/// Hands one event to the subscriber. Nothing the subscriber does may abort what emitted it:
/// the usual `tracing_subscriber::fmt()` panics when stdout and stderr are gone (`app 2>&1 |
/// tee log` after Ctrl-C: its write fails, and the `eprintln!` that reports that panics), and
/// the sequence, the signal listener and the escape hatches must go on. A panic inside it is
/// caught and dropped (the panic hook has had its say).
pub(crate) fn guard(event: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(event));
}

/// A `tracing` event under [`guard`]: `emit!(info, target: "graceful", ...)`.
macro_rules! emit {
    ($level:ident, $($arg:tt)*) => {
        $crate::log::guard(|| ::tracing::$level!($($arg)*))
    };
}
pub(crate) use emit;

/// A `tracing` span whose every call into the subscriber (its creation, each enter and exit,
/// each field recorded, its clones and its close) is under [`guard`], as events are: spans
/// call into the subscriber too, and a panic there must not abort the sequence. A span whose
/// creation panicked is none at all.
#[derive(Default)]
pub(crate) struct Span(Option<tracing::Span>);

impl Span {
    fn make(make: impl FnOnce() -> tracing::Span) -> Span {
        Span(catch_unwind(AssertUnwindSafe(make)).ok())
    }

    /// Its id, to be the explicit parent of a span made elsewhere (on another thread).
    pub(crate) fn id(&self) -> Option<tracing::Id> {
        self.0.as_ref().and_then(tracing::Span::id)
    }

    /// Runs `f` inside the span: the events it emits are the span's.
    pub(crate) fn in_scope<T>(&self, f: impl FnOnce() -> T) -> T {
        let _entered = self.enter();
        f()
    }

    /// Enters the span; exited when the guard drops, even if entering panicked part-way (the
    /// subscriber may have pushed the span on its stack before it panicked).
    fn enter(&self) -> Option<Entered> {
        let span = self.0.as_ref()?;
        span.with_subscriber(|(id, dispatch)| {
            let entered = Entered {
                id: id.clone(),
                dispatch: dispatch.clone(),
            };
            guard(|| dispatch.enter(id));
            entered
        })
    }

    /// Records `value` as the span's `field` (declared empty when the span was made).
    pub(crate) fn record(&self, field: &str, value: impl tracing::Value) {
        if let Some(span) = &self.0 {
            guard(|| {
                span.record(field, value);
            });
        }
    }

    /// `fut`, polled inside the span.
    pub(crate) fn instrument<F: std::future::Future>(self, fut: F) -> Instrumented<F> {
        Instrumented {
            span: self,
            fut: Box::pin(fut),
        }
    }

    /// Another handle on the same span.
    pub(crate) fn handle(&self) -> Span {
        match &self.0 {
            Some(span) => Span::make(|| span.clone()),
            None => Span(None),
        }
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(span) = self.0.take() {
            guard(move || drop(span));
        }
    }
}

/// A span entered on this thread; exited when dropped.
struct Entered {
    id: tracing::Id,
    dispatch: tracing::Dispatch,
}

impl Drop for Entered {
    fn drop(&mut self) {
        guard(|| self.dispatch.exit(&self.id));
    }
}

/// A future polled inside a [`Span`] (tracing's `Instrumented`, under [`guard`]).
pub(crate) struct Instrumented<F> {
    span: Span,
    fut: std::pin::Pin<Box<F>>,
}

impl<F: std::future::Future> std::future::Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let this = &mut *self;
        let _entered = this.span.enter();
        this.fut.as_mut().poll(cx)
    }
}

/// The span of the whole shutdown, from the trigger to the report: one trace. Its fields are
/// few: `fmt` prints them on every line inside it.
pub(crate) fn shutdown_span(reason: &Reason) -> Span {
    Span::make(|| {
        tracing::info_span!(
            target: "graceful",
            "shutdown",
            %reason,
            exit_code = tracing::field::Empty,
        )
    })
}

/// The span of the delay (`drain_delay`), in `shutdown`.
pub(crate) fn delay_span(parent: &Span, drain_delay: Duration) -> Span {
    let parent = parent.id();
    Span::make(|| tracing::info_span!(target: "graceful", parent: parent, "delay", ?drain_delay))
}

/// The span of the drain, in `shutdown`; what it aborted is recorded when it ends.
pub(crate) fn drain_span(parent: &Span, drain_timeout: Duration) -> Span {
    let parent = parent.id();
    Span::make(|| {
        tracing::info_span!(
            target: "graceful",
            parent: parent,
            "drain",
            ?drain_timeout,
            aborted = tracing::field::Empty,
            connections_cut = tracing::field::Empty,
        )
    })
}

/// The span of the hooks' phases, in `shutdown`.
pub(crate) fn hooks_span(parent: &Span) -> Span {
    let parent = parent.id();
    Span::make(|| tracing::info_span!(target: "graceful", parent: parent, "hooks"))
}

/// The span of one hook, in `hooks` (`parent`); its outcome and duration are recorded when it
/// ends.
pub(crate) fn hook_span(parent: Option<tracing::Id>, order: i32, name: &str) -> Span {
    Span::make(|| {
        tracing::info_span!(
            target: "graceful",
            parent: parent,
            "hook",
            order,
            name,
            outcome = tracing::field::Empty,
            duration = tracing::field::Empty,
        )
    })
}

/// The span entered on this thread now, if any: the parent of a span made here.
pub(crate) fn current_span_id() -> Option<tracing::Id> {
    catch_unwind(|| tracing::Span::current().id())
        .ok()
        .flatten()
}

/// Whether events go nowhere, so failures must be printed on stderr instead.
fn unobserved() -> bool {
    catch_unwind(|| dispatcher::get_default(|dispatch| dispatch.is::<NoSubscriber>()))
        .unwrap_or(false)
}

fn fallback(line: std::fmt::Arguments<'_>) {
    if unobserved() {
        stderr::line(format_args!("graceful: {line}"));
    }
}

/// A line on stderr whatever the subscriber when `always` (what stopped the program must be
/// seen, as std prints `Error: ..` for a failed `main`), else only without a subscriber.
fn stderr_if(always: bool, line: std::fmt::Arguments<'_>) {
    if always {
        stderr::line(format_args!("graceful: {line}"));
    } else {
        fallback(line);
    }
}

pub(crate) fn started(reason: &Reason, timeout: Duration) {
    emit!(info, target: "graceful", %reason, ?timeout, "shutdown started");
}

/// The system ends the process soon after what started the shutdown (Windows' Ctrl-Close,
/// logoff and shutdown events), sooner than the configured deadline.
pub(crate) fn deadline_cut(reason: &Reason, configured: Duration, timeout: Duration) {
    emit!(warn, target: "graceful", %reason, ?configured, ?timeout, "the system ends the process about 5 s after this event: the shutdown's deadline is cut to fit");
    fallback(format_args!(
        "{reason}: the system ends the process about 5 s after this event, so the shutdown's deadline is cut from {configured:?} to {timeout:?}"
    ));
}

/// The hooks linked into this binary (debug level).
pub(crate) fn static_hooks() {
    guard(|| {
        if !tracing::enabled!(target: "graceful", tracing::Level::DEBUG) {
            return;
        }
        let mut count = 0usize;
        for hook in registry::static_hooks() {
            count += 1;
            tracing::debug!(
                target: "graceful",
                order = hook.order,
                name = hook.name,
                timeout = ?hook.timeout,
                blocking = matches!(hook.run, HookFn::Blocking(_)),
                "shutdown hook registered"
            );
        }
        tracing::debug!(target: "graceful", count, "static shutdown hooks linked into this binary");
    });
}

pub(crate) fn hook_started(order: i32, name: &str) {
    emit!(debug, target: "graceful", order, name, "hook started");
}

/// Set once an escape hatch has claimed the exit and named what ran: the hooks the run then
/// leaves unstarted are not reported one by one (their lines would come after the exit's own,
/// which must be the last).
static HUSHED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// An escape hatch is ending the process: the sequence's hook lines stop.
pub(crate) fn hush() {
    HUSHED.store(true, std::sync::atomic::Ordering::Release);
}

pub(crate) fn hook_ended(order: i32, name: &str, duration: Duration, outcome: &HookOutcome) {
    if HUSHED.load(std::sync::atomic::Ordering::Acquire) {
        return;
    }
    match outcome {
        HookOutcome::Returned => {
            emit!(info, target: "graceful", order, name, ?duration, "hook ended");
        }
        HookOutcome::Failed(message) => {
            emit!(warn, target: "graceful", order, name, ?duration, error = %message, "hook failed");
            fallback(format_args!(
                "hook {name} (order {order}) failed after {duration:?}: {message}"
            ));
        }
        HookOutcome::Panicked(message) => {
            emit!(error, target: "graceful", order, name, ?duration, panic = %message, "hook panicked");
            fallback(format_args!(
                "hook {name} (order {order}) panicked after {duration:?}: {message}"
            ));
        }
        HookOutcome::TimedOut(limit) => {
            emit!(error, target: "graceful", order, name, ?limit, "hook timed out");
            fallback(format_args!(
                "hook {name} (order {order}) timed out after {limit:?}"
            ));
        }
        HookOutcome::Skipped => {
            emit!(error, target: "graceful", order, name, "hook skipped: the global deadline had passed");
            fallback(format_args!(
                "hook {name} (order {order}) skipped: the global deadline had passed"
            ));
        }
    }
}

/// A phase (the drain, the hooks) still runs after `elapsed`: what it waits for. Debug level
/// at first, info once `loud` (the phase runs long).
pub(crate) fn still_waiting(phase: &str, elapsed: Duration, waiting: &[String], loud: bool) {
    let list = if waiting.is_empty() {
        "nothing named".to_owned()
    } else {
        waiting.join(", ")
    };
    if loud {
        emit!(info, target: "graceful", phase, ?elapsed, "still waiting for: {list}");
    } else {
        emit!(debug, target: "graceful", phase, ?elapsed, "still waiting for: {list}");
    }
}

pub(crate) fn main_ended(outcome: &MainOutcome) {
    if let MainOutcome::Failed(error) = outcome {
        // As std does for `fn main() -> Result<(), E>`, whether or not anyone traces.
        stderr::line(format_args!("Error: {error}"));
        emit!(error, target: "graceful", %error, "main returned an error");
    }
}

pub(crate) fn main_drop_panicked(message: &str) {
    emit!(error, target: "graceful", panic = %message, "dropping the aborted main body panicked");
    fallback(format_args!(
        "dropping the aborted main body panicked: {message}"
    ));
}

pub(crate) fn aborted(tasks: &Listed, connections_cut: usize, drain_timeout: Duration) {
    if tasks.len() == 0 && connections_cut == 0 {
        return;
    }
    let list = tasks.labels.join(", ");
    let list = match tasks.left_out {
        0 => list,
        more => format!("{list} and {more} more"),
    };
    let cut = match connections_cut {
        0 => String::new(),
        1 => "; 1 connection cut".to_owned(),
        n => format!("; {n} connections cut"),
    };
    emit!(error, target: "graceful", ?drain_timeout, tasks = %list, connections_cut, "drain timed out: tasks aborted{cut}");
    fallback(format_args!(
        "drain did not finish within {drain_timeout:?}; aborted: {list}{cut}"
    ));
}

/// The report's headline; each hook and aborted task was already logged on its own line.
/// A non-zero exit code also says why on stderr, whatever the subscriber: it may write
/// elsewhere, or nowhere.
pub(crate) fn summary(report: &Report) {
    // Formatted only if a subscriber wants it.
    let headline = report.headline();
    if report.exit_code() != 0 {
        stderr::line(format_args!("graceful: {headline}"));
    }
    if report.is_clean() {
        emit!(info, target: "graceful", "{headline}");
    } else {
        emit!(warn, target: "graceful", "{headline}");
    }
}

/// The forced exit's line, once the exit is claimed: on stderr first (best effort, whatever
/// stderr is), then as an event for the subscriber, given at most [`EXIT_EVENT_WAIT`].
pub(crate) fn forced_exit(signal: Signal, code: u8, running: &str) {
    stderr::line(format_args!(
        "graceful: second {signal} during shutdown, exiting now with code {code}; still running: {running}"
    ));
    let running = running.to_owned();
    on_the_way_out(move || {
        emit!(error, target: "graceful", %signal, code, running, "second signal: forced exit");
    });
}

/// A signal during an exit's last step (an upgrade's new process stopped, then the values kept
/// until exit dropped): the exit happens now, and says which new process it `killed`, if any.
pub(crate) fn forced_exit_while_dropping(signal: Signal, code: u8, killed: Option<u32>) {
    match killed {
        Some(pid) => stderr::line(format_args!(
            "graceful: {signal} while the exit stopped the upgrade's new process (pid {pid}): \
             it was killed with SIGKILL; exiting now with code {code}"
        )),
        None => stderr::line(format_args!(
            "graceful: {signal} while the values kept until exit were dropped, exiting now with code {code}"
        )),
    }
}

/// How long an escape hatch waits for the subscriber to take its event.
const EXIT_EVENT_WAIT: Duration = Duration::from_millis(100);

/// Emits an event on a thread of its own and waits for it at most [`EXIT_EVENT_WAIT`]: a
/// subscriber that writes to a full pipe, or panics, must not hold the exit.
fn on_the_way_out(event: impl FnOnce() + Send + 'static) {
    within(EXIT_EVENT_WAIT, event);
}

/// Runs `events` on a thread of its own and waits for them at most `wait`; false if they
/// did not end in time (the thread goes on, and the process may exit under it). A writer
/// that blocks (a full pipe nobody reads) cannot hold the caller past `wait`. Without a
/// subscriber the events run here: they only write graceful's own stderr lines, which never
/// block for long.
pub(crate) fn within(wait: Duration, events: impl FnOnce() + Send + 'static) -> bool {
    // The subscriber of this thread (its scoped one, or the global one) goes with the events.
    let dispatch = dispatcher::get_default(dispatcher::Dispatch::clone);
    if dispatch.is::<NoSubscriber>() {
        // No subscriber: nothing can block, and no thread is worth starting.
        guard(events);
        return true;
    }
    let (done, emitted) = std::sync::mpsc::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("graceful-exit-log".to_owned())
        .spawn(move || {
            dispatcher::with_default(&dispatch, || guard(events));
            let _ = done.send(());
        });
    let Ok(thread) = spawned else {
        return false;
    };
    if emitted.recv_timeout(wait).is_err() {
        return false;
    }
    // Done: its end is a moment away. The process must not exit while a thread of its own
    // is still ending (Windows then fails the exit itself).
    let _ = thread.join();
    true
}

/// A signal after the shutdown started, with `force_exit` off; on the listener's thread, so
/// not waited for (see [`absorbed`]).
pub(crate) fn ignored(signal: Signal) {
    within(Duration::ZERO, move || {
        emit!(debug, target: "graceful", signal = signal.name(), "signal ignored: shutdown already running and force_exit is off");
    });
}

/// Called on the signal listener's thread, which keeps the escape hatches: the event is
/// handed to a thread of its own and not waited for, so that a subscriber whose writer
/// blocks cannot hold the next signal or the watchdog.
pub(crate) fn absorbed(signal: Signal, reason: &Reason) {
    let reason = reason.clone();
    within(Duration::ZERO, move || {
        emit!(warn, target: "graceful", %signal, %reason, "signal absorbed: the shutdown was already running; the next signal forces the exit");
        fallback(format_args!(
            "{signal} received while the shutdown ({reason}) was already running: absorbed; the next signal forces the exit"
        ));
    });
}

pub(crate) fn kept_values_stuck(left: usize, budget: Duration) {
    stderr::line(format_args!(
        "graceful: {left} value(s) kept until exit did not drop within {budget:?}: exiting without them"
    ));
    on_the_way_out(move || {
        emit!(error, target: "graceful", left, ?budget, "values kept until exit did not drop in time: exiting without them");
    });
}

pub(crate) fn deadline_watchdog(timeout: Duration, running: &str, skipped: &str) {
    let running = if running.is_empty() {
        "nothing"
    } else {
        running
    };
    let skipped = if skipped.is_empty() { "none" } else { skipped };
    stderr::line(format_args!(
        "graceful: the shutdown overran its {timeout:?} deadline and the runtime did not respond, exiting with code 1; still running: {running}; skipped: {skipped}"
    ));
}

/// How a service ended; `started_shutdown` when its failure started the shutdown, `restarts`
/// how many times it had been restarted.
pub(crate) fn service_ended(
    name: &str,
    outcome: &ServiceOutcome,
    started_shutdown: bool,
    restarts: u32,
) {
    let when = if started_shutdown {
        "; shutting down"
    } else {
        ""
    };
    let after = match restarts {
        0 => String::new(),
        1 => " after 1 restart".to_owned(),
        n => format!(" after {n} restarts"),
    };
    match outcome {
        ServiceOutcome::Returned => {
            emit!(info, target: "graceful", service = name, restarts, "service ended");
        }
        ServiceOutcome::Failed(error) => {
            emit!(error, target: "graceful", service = name, %error, started_shutdown, restarts, "service failed");
            stderr_if(
                started_shutdown,
                format_args!("service {name} failed{after}: {error}{when}"),
            );
        }
        ServiceOutcome::Panicked(message) => {
            emit!(error, target: "graceful", service = name, panic = %message, started_shutdown, restarts, "service panicked");
            stderr_if(
                started_shutdown,
                format_args!("service {name} panicked{after}: {message}{when}"),
            );
        }
        ServiceOutcome::Aborted => {
            emit!(warn, target: "graceful", service = name, restarts, "service aborted at the end of the drain");
        }
    }
}

/// A run of a service ended and it restarts after `backoff` (its `restart`-th restart).
pub(crate) fn service_restarting(
    name: &str,
    outcome: &ServiceOutcome,
    restart: u32,
    backoff: Duration,
) {
    match outcome {
        ServiceOutcome::Failed(error) => {
            emit!(warn, target: "graceful", service = name, %error, restart, ?backoff, "service failed: restarting after the back-off");
        }
        ServiceOutcome::Panicked(message) => {
            emit!(warn, target: "graceful", service = name, panic = %message, restart, ?backoff, "service panicked: restarting after the back-off");
        }
        ServiceOutcome::Returned | ServiceOutcome::Aborted => {
            emit!(info, target: "graceful", service = name, restart, ?backoff, "service returned: restarting after the back-off");
            return;
        }
    }
    fallback(format_args!(
        "service {name} {outcome}; restart {restart} in {backoff:?}"
    ));
}

/// A run ended past the limit of its policy: not restarted again.
pub(crate) fn service_restart_limit(
    name: &str,
    outcome: &ServiceOutcome,
    limit: u32,
    within: Duration,
) {
    emit!(error, target: "graceful", service = name, %outcome, limit, ?within, "service restarted {limit} times within {within:?}, its limit: not restarted again");
    fallback(format_args!(
        "service {name} {outcome}: restarted {limit} times within {within:?}, its limit; not restarted again"
    ));
}

/// The shutdown started while the service waited out its back-off: it ends now.
pub(crate) fn service_stopped_in_backoff(name: &str) {
    emit!(info, target: "graceful", service = name, "service stopped during its back-off: the shutdown started");
}

pub(crate) fn late_service(name: &str) {
    emit!(error, target: "graceful", service = name, "service started after the shutdown began: not started");
    fallback(format_args!(
        "service {name} was started after the shutdown began: it was not started"
    ));
}

pub(crate) fn late_registration(name: &str, order: i32) {
    emit!(error, target: "graceful", name, order, "hook registered after the hooks started: it will not run");
    fallback(format_args!(
        "hook {name} (order {order}) was registered after the shutdown hooks started: it will not run"
    ));
}

#[cfg(all(unix, feature = "upgrade"))] // upgrades exist on Unix only
pub(crate) fn upgrade_started(pid: u32) {
    emit!(info, target: "graceful", pid, "upgrade started: new process {pid}; waiting until it is ready");
}

#[cfg(all(unix, feature = "upgrade"))]
pub(crate) fn upgraded(pid: u32, after: Duration) {
    emit!(info, target: "graceful", pid, ?after, "upgrade: the new process {pid} is ready after {after:?}; this one shuts down");
}

/// Always said: on the log, or on stderr when nothing traces.
#[cfg(feature = "upgrade")]
pub(crate) fn upgrade_failed(why: &str) {
    emit!(error, target: "graceful", "upgrade failed: {why}");
    fallback(format_args!("upgrade failed: {why}"));
}

#[cfg(feature = "upgrade")]
pub(crate) fn upgrade_ignored(signal: Signal, why: &str) {
    emit!(warn, target: "graceful", %signal, "{signal} ignored: {why}");
    fallback(format_args!("{signal} ignored: {why}"));
}
