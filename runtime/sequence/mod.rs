//! The shutdown sequence: stopping, delay, cancel, drain, hooks, report.
//!
//! Each step is commented where it happens in [`run`].

pub(crate) mod blocking;
pub(crate) mod slot;

use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::time::{sleep_until, timeout_at};

use crate::config::Config;
use crate::hooks::registry::{self, Hook, HookFn, Run};
use crate::log;
use crate::reason::Reason;
use crate::report::Listed;
use crate::report::{self, HookOutcome, HookReport, MainOutcome, Report};
use crate::sequence::slot::{Scheduled, Slot, outcome_of, skipped};
use crate::shutdown::{Inner, Shutdown, Trigger};
use crate::systemd;
use crate::util::clock;
use crate::util::unwind::{CatchUnwind, join_error_text, panic_text};

/// How long the drain waits for aborted tasks to be dropped.
const ABORTED_DROP_WAIT: Duration = Duration::from_secs(1);

/// How often a phase that runs long says what it waits for (debug level).
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// From how far into a phase that line is at info level, once every [`PROGRESS_LOUD_EVERY`]
/// ticks.
const PROGRESS_LOUD_AFTER: Duration = Duration::from_secs(5);
const PROGRESS_LOUD_EVERY: u32 = 5;

/// The main body's outcome: the exit code it asked for (`std::process::ExitCode`), or the
/// error's `Debug` text.
pub(crate) type MainResult = Result<Option<u8>, String>;

/// The main body, boxed once so that the sequence is compiled in this crate rather than
/// monomorphized into every binary.
pub(crate) type MainFuture<'a> = Pin<Box<dyn Future<Output = MainResult> + 'a>>;

/// Runs the main body until the shutdown starts, then the whole sequence; returns the report,
/// which the caller logs (see [`log::summary`]).
pub(crate) async fn run(shutdown: &Shutdown, config: &Config, main: MainFuture<'_>) -> Report {
    let inner = &shutdown.inner;
    let mut main = Main::start(inner, main).await;
    // The thread the plain `fn` hooks will run on, if there are any: started once the body has
    // started (not before it, nor at the trigger, where it would be on the shutdown's path),
    // it sleeps until the hooks' turn.
    let mut worker = blocking::Worker::start(registry::has_blocking_hooks());
    main.run_until_trigger(shutdown).await;

    // 1. Stopping: `is_shutting_down()` is true from the trigger on. The span `shutdown`
    //    covers the sequence (one trace), with a span per phase. The delay's and the drain's
    //    are not entered while the main body is polled: its own spans stay its own.
    let trigger = inner.trigger().expect("the shutdown has started");
    let span = log::shutdown_span(&trigger.reason);
    let deadline = span.in_scope(|| stopping(&trigger, config));

    // 2. Delay: the main body still serves (readiness says 503) while load balancers move away.
    //    Pointless once the main body has ended, and after an upgrade, where the sockets stay
    //    open in the new process: cut short then.
    if trigger.reason != Reason::Upgrade {
        let delay = log::delay_span(&span, config.drain_delay);
        let delay_end = clock::later(trigger.at, config.drain_delay).min(deadline);
        main.run_until(delay_end).await;
        drop(delay);
        crate::metrics::phase_ended("delay", trigger.at.elapsed());
    }

    // 3. Cancel.
    inner.cancel();

    // 4. Drain: the main body and the tracked tasks, at most `drain_timeout`.
    let drain_started = Instant::now();
    let drain_span = log::drain_span(&span, config.drain_timeout);
    let drained = drain(inner, main, config, deadline, &drain_span);
    let (main_outcome, main_code, aborted) =
        with_progress(inner, &drain_span, "drain", drained).await;
    drain_span.record("aborted", aborted.len());
    drain_span.record("connections_cut", inner.connections_cut());
    drop(drain_span);
    crate::metrics::phase_ended("drain", drain_started.elapsed());
    crate::metrics::tasks_aborted(aborted.len());

    // 5. Hooks, phase by phase, each hook in a span of its own inside `hooks`. A terminal that
    //    went away with the signal (`app | tee log` and Ctrl-C) must not make the hooks' own
    //    prints panic.
    crate::util::stderr::silence_if_gone();
    let hooks = registry::all_hooks(inner.hooks());
    let hooks_started = Instant::now();
    let hooks_span = log::hooks_span(&span);
    let hooks = hooks_span.handle().instrument(run_hooks(
        inner,
        &mut worker,
        hooks,
        &trigger.reason,
        deadline,
    ));
    let hooks = with_progress(inner, &hooks_span, "hooks", hooks).await;
    inner.progress().hooks_over();
    crate::metrics::phase_ended("hooks", hooks_started.elapsed());
    drop(hooks_span);
    drop(worker);

    // 6. Report; the caller logs it and exits. A code the main body asked for wins over the
    //    trigger's: it is the body's last word.
    let (services, services_left_out) = inner.services().reports();
    let mut report = Report {
        reason: trigger.reason,
        main: main_outcome,
        services,
        services_left_out,
        hooks,
        aborted: aborted.labels,
        aborted_left_out: aborted.left_out,
        connections_cut: inner.connections_cut(),
        elapsed: trigger.at.elapsed(),
        exit_code: 0,
    };
    report.exit_code = report::exit_code(&report, main_code.or(trigger.code));
    span.record("exit_code", report.exit_code);
    crate::metrics::shutdown_ended(report.elapsed);
    report
}

/// Runs `phase`; while it runs, says every [`PROGRESS_EVERY`] what it waits for (the main
/// body, tasks and services by name, the hooks running), in `span`: at debug level, then at
/// info level every [`PROGRESS_LOUD_EVERY`] ticks from [`PROGRESS_LOUD_AFTER`] on. A phase that
/// ends within a second says nothing.
async fn with_progress<F: Future>(
    inner: &Inner,
    span: &log::Span,
    name: &'static str,
    phase: F,
) -> F::Output {
    let started = Instant::now();
    let mut phase = pin!(phase);
    let mut ticks = 0u32;
    loop {
        ticks = ticks.saturating_add(1);
        let tick = clock::later(started, PROGRESS_EVERY.saturating_mul(ticks));
        match timeout_at(tick.into(), phase.as_mut()).await {
            Ok(output) => return output,
            Err(_) => {
                let elapsed = started.elapsed();
                let loud = elapsed >= PROGRESS_LOUD_AFTER;
                if loud && ticks % PROGRESS_LOUD_EVERY != 0 {
                    continue;
                }
                let waiting = inner.progress().waiting_for(inner.tasks());
                span.in_scope(|| log::still_waiting(name, elapsed, &waiting, loud));
            }
        }
    }
}

/// Step 1: logs the start and tells systemd; returns the global deadline (the configured
/// one, unless the system ends the process sooner after this trigger).
fn stopping(trigger: &Trigger, config: &Config) -> Instant {
    let timeout = trigger.timeout(config.timeout);
    if timeout < config.timeout {
        log::deadline_cut(&trigger.reason, config.timeout, timeout);
    }
    log::started(&trigger.reason, timeout);
    // After an upgrade systemd's main process is the new one: `STOPPING=1` from this one would
    // be refused, or (with `NotifyAccess=all`) stop the service that just took over.
    if trigger.reason != Reason::Upgrade {
        systemd::stopping(timeout);
    }
    clock::later(trigger.at, timeout)
}

/// Step 4: waits for the main body and the tracked tasks until `drain_timeout`, then aborts
/// what is left. Returns how the main body ended, the exit code it asked for, and what was
/// aborted.
async fn drain(
    inner: &Inner,
    mut main: Main<'_, '_>,
    config: &Config,
    deadline: Instant,
    span: &log::Span,
) -> (MainOutcome, Option<u8>, Listed) {
    let drain_end = clock::later(Instant::now(), config.drain_timeout).min(deadline);
    let drained = timeout_at(drain_end.into(), async {
        main.run_to_end().await;
        inner.tasks().all_done().await;
    })
    .await
    .is_ok();
    let mut aborted = Listed::default();
    if !drained {
        aborted = inner.tasks().abort_all();
        if main.outcome.is_none() {
            main.outcome = Some(MainOutcome::Aborted);
            aborted.labels.insert(0, "main".to_owned());
        }
    }
    let (outcome, code) = main.drop_body();
    if !drained {
        // The aborted tasks are dropped by their worker threads: wait (briefly) until they
        // are, so that what their drop records (a service aborted, connections cut) is in
        // the report.
        let dropped_by = clock::later(Instant::now(), ABORTED_DROP_WAIT).min(deadline);
        let _ = timeout_at(dropped_by.into(), inner.tasks().all_done()).await;
        span.in_scope(|| log::aborted(&aborted, inner.connections_cut(), config.drain_timeout));
    }
    (outcome, code, aborted)
}

/// The main body through the sequence: polled until it ends or the step it runs in does.
struct Main<'i, 'm> {
    inner: &'i Inner,
    body: CatchUnwind<dyn Future<Output = MainResult> + 'm>,
    /// How it ended, once it has.
    outcome: Option<MainOutcome>,
    /// The exit code it asked for.
    code: Option<u8>,
}

impl<'i, 'm> Main<'i, 'm> {
    /// Polls the body once. The hooks are logged then: a `#[graceful::main]` body is where
    /// users install their tracing subscriber.
    async fn start(inner: &'i Inner, body: MainFuture<'m>) -> Self {
        inner.progress().set_main_running(true);
        let mut main = Main {
            inner,
            body: CatchUnwind(body),
            outcome: None,
            code: None,
        };
        let body = &mut main.body;
        let first_poll = poll_fn(|cx| Poll::Ready(Pin::new(&mut *body).poll(cx))).await;
        log::static_hooks();
        if let Poll::Ready(output) = first_poll {
            main.ended(output);
        }
        main
    }

    /// Runs the body until the shutdown starts; a body that ends starts it.
    async fn run_until_trigger(&mut self, shutdown: &Shutdown) {
        if self.outcome.is_none() {
            match self.poll_until(shutdown.shutting_down()).await {
                Some(output) => self.ended(output),
                None => return,
            }
        }
        let reason = reason_for(self.outcome.as_ref().expect("it ended"));
        shutdown.start(reason, None, None);
    }

    /// Runs the body until `end`, if it still runs and there is time left to wait (the timer
    /// rounds up to its next millisecond tick, so even an elapsed deadline would cost up to a
    /// millisecond).
    async fn run_until(&mut self, end: Instant) {
        if self.outcome.is_none() && end > Instant::now() {
            if let Some(output) = self.poll_until(sleep_until(end.into())).await {
                self.ended(output);
            }
        }
    }

    /// Runs the body until it ends.
    async fn run_to_end(&mut self) {
        if self.outcome.is_none() {
            let output = (&mut self.body).await;
            self.ended(output);
        }
    }

    /// Polls the body until `other` completes; its output if it ended first.
    async fn poll_until(
        &mut self,
        other: impl Future<Output = ()>,
    ) -> Option<std::thread::Result<MainResult>> {
        let mut other = pin!(other);
        let body = &mut self.body;
        poll_fn(|cx| {
            if let Poll::Ready(output) = Pin::new(&mut *body).poll(cx) {
                return Poll::Ready(Some(output));
            }
            other.as_mut().poll(cx).map(|()| None)
        })
        .await
    }

    fn ended(&mut self, output: std::thread::Result<MainResult>) {
        self.inner.progress().set_main_running(false);
        let outcome = match output {
            Ok(Ok(requested)) => {
                self.code = requested;
                MainOutcome::Returned
            }
            Ok(Err(error)) => MainOutcome::Failed(error),
            Err(panic) => MainOutcome::Panicked(panic_text(&*panic)),
        };
        log::main_ended(&outcome);
        self.outcome = Some(outcome);
    }

    /// Drops the body (an aborted one still holds its state) and returns how it ended and
    /// the code it asked for. A destructor of the body may panic: the sequence goes on.
    fn drop_body(self) -> (MainOutcome, Option<u8>) {
        let Main {
            inner,
            body,
            outcome,
            code,
        } = self;
        if let Err(panic) = catch_unwind(AssertUnwindSafe(move || drop(body))) {
            log::main_drop_panicked(&panic_text(&*panic));
        }
        inner.progress().set_main_running(false);
        (outcome.unwrap_or(MainOutcome::Aborted), code)
    }
}

fn reason_for(outcome: &MainOutcome) -> Reason {
    match outcome {
        MainOutcome::Returned | MainOutcome::Aborted => Reason::MainReturned,
        MainOutcome::Failed(_) => Reason::MainFailed,
        MainOutcome::Panicked(_) => Reason::MainPanicked,
    }
}

/// Runs the hooks in phases of equal `order`; a phase starts when the previous one has ended.
/// Hooks whose phase would start after the deadline are skipped.
async fn run_hooks(
    inner: &Arc<Inner>,
    worker: &mut blocking::Worker,
    hooks: Vec<Hook>,
    reason: &Reason,
    deadline: Instant,
) -> Vec<HookReport> {
    let mut reports = Vec::with_capacity(hooks.len());
    let schedule = hooks.iter().map(|hook| (hook.order, hook.name.clone()));
    inner.progress().schedule(schedule.collect());
    let mut hooks = hooks.into_iter().peekable();
    let mut phase = Vec::new();
    while let Some(first) = hooks.next() {
        let order = first.order;
        phase.push(first);
        while let Some(hook) = hooks.next_if(|hook| hook.order == order) {
            phase.push(hook);
        }
        if Instant::now() >= deadline {
            for hook in phase.drain(..).chain(hooks.by_ref()) {
                reports.push(skipped(hook));
            }
            break;
        }
        // A plain `fn` alone in its phase: it and the ones like it that follow run on one
        // blocking thread, in turn.
        if phase.len() == 1 && blocking::is_blocking(&phase[0]) {
            let mut batch = std::mem::take(&mut phase);
            while let Some(hook) = hooks.next_if(blocking::is_blocking) {
                // Only if it is alone in its phase too.
                let order = hook.order;
                if hooks.peek().is_some_and(|next| next.order == order) {
                    phase.push(hook);
                    while let Some(hook) = hooks.next_if(|hook| hook.order == order) {
                        phase.push(hook);
                    }
                    break;
                }
                batch.push(hook);
            }
            inner.progress().hooks_started(reports.len() + 1);
            blocking::run(inner, worker, batch, reason, deadline, &mut reports).await;
            if phase.is_empty() {
                continue;
            }
            // The phase that ended the batch runs now, unless the deadline passed.
            if Instant::now() >= deadline {
                for hook in phase.drain(..).chain(hooks.by_ref()) {
                    reports.push(skipped(hook));
                }
                break;
            }
        }
        run_phase(inner, &mut phase, reason, deadline, &mut reports).await;
    }
    reports
}

/// Starts every hook of the phase at once and waits for all of them. A hook alone in its
/// phase runs on this task (no task to spawn and join: the common case costs no thread
/// hand-off); hooks that share a phase each get a task, so they run in parallel.
async fn run_phase(
    inner: &Arc<Inner>,
    phase: &mut Vec<Hook>,
    reason: &Reason,
    deadline: Instant,
    reports: &mut Vec<HookReport>,
) {
    inner.progress().hooks_started(reports.len() + phase.len());
    let parent = log::current_span_id();
    if phase.len() == 1 {
        let hook = phase.pop().expect("a phase of one hook");
        let (slot, run) = Slot::start(hook, reports.len(), reason, deadline, parent);
        let hook = slot.span.handle().instrument(run_hook(inner.clone(), run));
        let (outcome, ended) = match CatchUnwind(Box::pin(hook)).await {
            Ok(ended) => ended,
            Err(panic) => (HookOutcome::Panicked(panic_text(&*panic)), Instant::now()),
        };
        slot.finish(outcome, ended, reports);
        return;
    }
    let mut running = Vec::with_capacity(phase.len());
    for hook in phase.drain(..) {
        let id = reports.len() + running.len();
        let (slot, run) = Slot::start(hook, id, reason, deadline, parent.clone());
        let hook = slot.span.handle().instrument(run_hook(inner.clone(), run));
        running.push((slot, tokio::spawn(hook)));
    }
    for (slot, mut task) in running {
        let (outcome, ended) = match timeout_at(deadline.into(), &mut task).await {
            Ok(Ok(ended)) => ended,
            Ok(Err(error)) => (
                HookOutcome::Panicked(join_error_text(error)),
                Instant::now(),
            ),
            // Its task is stuck (blocking a worker thread): abandon it at the global deadline.
            Err(_) => {
                task.abort();
                (HookOutcome::TimedOut(slot.limit), Instant::now())
            }
        };
        slot.finish(outcome, ended, reports);
    }
}

/// One hook, bounded by its context's deadline (`limit` after it was scheduled): async hooks
/// on the calling task, blocking ones on a blocking thread (abandoned, never joined, if they
/// overrun). Returns the outcome and when it ended.
async fn run_hook(inner: Arc<Inner>, scheduled: Scheduled) -> (HookOutcome, Instant) {
    let Scheduled {
        id,
        run,
        context,
        limit,
    } = scheduled;
    let limit_at = context.deadline;
    let Some(_running) = inner.progress().hook_running(id, context.name.clone()) else {
        // An escape hatch is ending the process: it named what ran, and this hook was not.
        return (HookOutcome::Skipped, Instant::now());
    };
    let timed_out = || HookOutcome::TimedOut(limit);
    let outcome = match run {
        Run::Static(HookFn::Async(hook)) => {
            match timeout_at(limit_at.into(), hook(context)).await {
                Ok(result) => outcome_of(result),
                Err(_) => timed_out(),
            }
        }
        Run::Dynamic(hook) => match timeout_at(limit_at.into(), hook(context)).await {
            Ok(result) => outcome_of(result),
            Err(_) => timed_out(),
        },
        Run::Static(HookFn::Blocking(hook)) => {
            let thread = tokio::task::spawn_blocking(move || hook(context));
            match timeout_at(limit_at.into(), thread).await {
                Ok(Ok(result)) => outcome_of(result),
                Ok(Err(error)) => HookOutcome::Panicked(join_error_text(error)),
                Err(_) => timed_out(),
            }
        }
    };
    (outcome, Instant::now())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::config::Settings;
    use crate::signal::Signal;

    /// A trigger after which the system ends the process (Windows' Ctrl-Close) cuts the
    /// deadline: a hook that would run for a minute is abandoned at the cut deadline, not at
    /// the configured timeout.
    #[test]
    fn a_trigger_with_a_system_limit_cuts_the_deadline() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = Settings::default().resolve(|_| None).unwrap();
        assert_eq!(config.timeout, Duration::from_secs(25));
        let shutdown = Shutdown::scoped();
        shutdown.register(10, "slow", async {
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
        let limit = Duration::from_millis(300);
        let started = Instant::now();
        assert!(shutdown.start(Reason::Signal(Signal::CTRL_CLOSE), None, Some(limit)));
        let report = runtime.block_on(run(&shutdown, &config, Box::pin(async { Ok(None) })));
        let elapsed = started.elapsed();
        assert!(
            elapsed >= limit && elapsed < Duration::from_secs(5),
            "{elapsed:?}"
        );
        assert_eq!(report.hooks()[0].name(), "slow");
        assert!(
            matches!(report.hooks()[0].outcome(), crate::HookOutcome::TimedOut(_)),
            "{:?}",
            report.hooks()[0].outcome()
        );
        assert_eq!(report.exit_code(), 1);
    }
}
