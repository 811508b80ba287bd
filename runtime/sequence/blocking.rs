//! Blocking hooks in a row: consecutive phases that each hold one plain `fn` hook run on one
//! blocking thread, one after the other, instead of one thread hand-off per hook (which would
//! cost more than most hooks themselves).
//!
//! The guarantees stay: each hook runs for at most its own limit (its `timeout`, or the
//! global deadline). The sequence's task watches the hook that runs now; if it overruns, the
//! sequence reports it as timed out, abandons that thread (never joined: a stuck `fn` cannot
//! hold the exit), and runs the hooks after it on a new one. A phase whose turn comes after
//! the deadline is skipped, as in the rest of the sequence.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::time::timeout_at;

use crate::hooks::registry::{Hook, HookFn, Run};
use crate::log;
use crate::reason::Reason;
use crate::report::{HookOutcome, HookReport};
use crate::sequence::slot::{self, Slot, outcome_of};
use crate::shutdown::Inner;
use crate::util::sync::lock;
use crate::util::unwind::panic_text;

/// Whether `hook` is a plain `fn`, which this module can run.
pub(crate) fn is_blocking(hook: &Hook) -> bool {
    matches!(hook.run, Run::Static(HookFn::Blocking(_)))
}

/// What the blocking thread and the sequence's task share.
struct Batch {
    state: Mutex<BatchState>,
    /// Notified when the thread is done with the batch, or starts a hook that must be watched
    /// sooner than the sequence planned to look.
    changed: Notify,
}

struct BatchState {
    /// The hooks not started yet, in order.
    queue: std::collections::VecDeque<Hook>,
    /// The hooks' reports, in order, as they end.
    reports: Vec<HookReport>,
    /// The hook running now: its index in the batch, and its report line.
    current: Option<(usize, Current)>,
    /// Set by the sequence when it gives up on the thread: the thread records nothing more.
    abandoned: bool,
    /// Set by the thread when it is done: every hook ended, or the deadline passed.
    done: bool,
    /// When the sequence looks next, unless woken.
    watched_until: Option<Instant>,
}

struct Current {
    order: i32,
    name: std::borrow::Cow<'static, str>,
    limit_at: Instant,
    limit: Duration,
    /// The hook's span, held here rather than by the thread, so that the sequence closes it
    /// when it abandons a stuck hook. The thread does not enter it while the `fn` runs: a
    /// thread stuck inside would keep it open.
    span: log::Span,
}

/// What a hook thread runs.
type Job = Box<dyn FnOnce() + Send>;

/// The blocking thread the hooks run on, started once the main body has started when the
/// program has plain `fn` hooks: by the time the hooks start, it exists and sleeps, so handing
/// it the first row costs a wake-up, not a thread start on the shutdown's path (which, on a
/// busy machine, waits milliseconds for its first time slice). A thread abandoned with a stuck
/// hook is replaced by a new one.
pub(crate) struct Worker {
    jobs: Option<std::sync::mpsc::Sender<Job>>,
}

impl Worker {
    /// A thread waiting for rows, if there are plain `fn` hooks; otherwise none until needed.
    pub(crate) fn start(wanted: bool) -> Worker {
        let mut worker = Worker { jobs: None };
        if wanted {
            worker.spawn_thread();
        }
        worker
    }

    fn spawn_thread(&mut self) -> &std::sync::mpsc::Sender<Job> {
        let (jobs, waiting) = std::sync::mpsc::channel::<Job>();
        tokio::task::spawn_blocking(move || {
            // It sleeps until its row comes: no busy wait.
            while let Ok(job) = waiting.recv() {
                job();
            }
        });
        self.jobs.insert(jobs)
    }

    /// Runs `job` on the thread, starting one if there is none (or it is gone).
    fn run(&mut self, job: Job) {
        let job = match &self.jobs {
            Some(jobs) => match jobs.send(job) {
                Ok(()) => return,
                Err(std::sync::mpsc::SendError(job)) => job,
            },
            None => job,
        };
        if self.spawn_thread().send(job).is_err() {
            unreachable!("a thread just started waits for its job");
        }
    }

    /// The thread is stuck in a hook: the next row goes to a new one.
    fn abandon(&mut self) {
        self.jobs = None;
    }
}

/// Runs `hooks` (each a plain `fn`, each alone in its phase, in order) on `worker` and appends
/// their reports to `reports`. The first has id `reports.len()`.
pub(crate) async fn run(
    inner: &Arc<Inner>,
    worker: &mut Worker,
    hooks: Vec<Hook>,
    reason: &Reason,
    deadline: Instant,
    reports: &mut Vec<HookReport>,
) {
    let mut pending = hooks;
    while !pending.is_empty() {
        // Watched from now: the thread replaces this with the exact start once it starts the
        // hook, a few microseconds later.
        let first = &pending[0];
        let (limit_at, limit) = slot::limit_of(first, Instant::now(), deadline);
        let current = Current {
            order: first.order,
            name: first.name.clone(),
            limit_at,
            limit,
            span: log::Span::default(),
        };
        let batch = Arc::new(Batch {
            state: Mutex::new(BatchState {
                reports: Vec::with_capacity(pending.len()),
                queue: std::mem::take(&mut pending).into(),
                current: Some((0, current)),
                abandoned: false,
                done: false,
                watched_until: None,
            }),
            changed: Notify::new(),
        });
        let first_id = reports.len();
        {
            let batch = batch.clone();
            let inner = inner.clone();
            let reason = reason.clone();
            let parent = log::current_span_id();
            worker.run(Box::new(move || {
                work(&inner, &batch, first_id, &reason, deadline, parent);
            }));
        }
        let timed_out = watch(&batch).await;
        let mut state = lock(&batch.state);
        reports.append(&mut state.reports);
        if timed_out.is_none() {
            // The thread stopped at the deadline: what it did not start is skipped.
            for hook in state.queue.drain(..) {
                reports.push(slot::skipped(hook));
            }
        }
        if let Some(current) = timed_out {
            let outcome = HookOutcome::TimedOut(current.limit);
            let (order, name, limit) = (current.order, &current.name, current.limit);
            slot::end_span(&current.span, order, name, limit, &outcome);
            reports.push(HookReport {
                order: current.order,
                name: current.name,
                duration: current.limit,
                outcome,
            });
            // The thread is stuck in that hook; what follows it runs on a new thread.
            worker.abandon();
            pending = state.queue.drain(..).collect();
        }
    }
}

/// Waits until the thread is done, or the running hook overruns its limit: then abandons the
/// thread and returns that hook.
async fn watch(batch: &Batch) -> Option<Current> {
    loop {
        let mut changed = std::pin::pin!(batch.changed.notified());
        changed.as_mut().enable();
        let watched = {
            let mut state = lock(&batch.state);
            if state.done {
                return None;
            }
            let watched = state
                .current
                .as_ref()
                .map(|(index, current)| (*index, current.limit_at));
            state.watched_until = watched.map(|(_, limit_at)| limit_at);
            watched
        };
        match watched {
            // Not reached: the thread always has a hook running until it is done.
            None => changed.await,
            Some((index, limit_at)) => {
                if timeout_at(limit_at.into(), &mut changed).await.is_err() {
                    let mut state = lock(&batch.state);
                    let overran = !state.done
                        && matches!(&state.current, Some((i, _)) if *i == index)
                        && Instant::now() >= limit_at;
                    if overran {
                        state.abandoned = true;
                        return state.current.take().map(|(_, current)| current);
                    }
                }
            }
        }
    }
}

/// The blocking thread: each hook in turn, unless the deadline passed or the sequence gave
/// up on this thread. Ending one hook and starting the next happen under one lock, so the
/// sequence always watches the hook that runs.
fn work(
    inner: &Arc<Inner>,
    batch: &Batch,
    first_id: usize,
    reason: &Reason,
    deadline: Instant,
    parent: Option<tracing::Id>,
) {
    let mut state = lock(&batch.state);
    for index in 0.. {
        if state.abandoned {
            return;
        }
        // Past the deadline, the rest stays in the queue: the sequence skips it.
        let next = if Instant::now() < deadline {
            state.queue.pop_front()
        } else {
            None
        };
        let Some(hook) = next else {
            break;
        };
        let Run::Static(HookFn::Blocking(function)) = hook.run else {
            unreachable!("a batch holds plain `fn` hooks only");
        };
        let id = first_id + index;
        let (mut slot, scheduled) = Slot::start(hook, id, reason, deadline, parent.clone());
        let limit_at = scheduled.context.deadline;
        state.current = Some((
            index,
            Current {
                order: slot.order,
                name: slot.name.clone(),
                limit_at,
                limit: scheduled.limit,
                span: std::mem::take(&mut slot.span),
            },
        ));
        // The sequence sleeps until the limit of an earlier hook: wake it if this one's
        // comes sooner (a hook with a `timeout` of its own).
        let sooner = state.watched_until.is_none_or(|until| limit_at < until);
        drop(state);
        if sooner {
            batch.changed.notify_one();
        }

        inner.progress().hooks_started(id + 1);
        let outcome = match inner.progress().hook_running(id, slot.name.clone()) {
            Some(running) => {
                let result = catch_unwind(AssertUnwindSafe(|| function(scheduled.context)));
                drop(running);
                match result {
                    // Past its limit, but the sequence has not looked yet: still a time-out.
                    _ if Instant::now() > limit_at => HookOutcome::TimedOut(scheduled.limit),
                    Ok(result) => outcome_of(result),
                    Err(panic) => HookOutcome::Panicked(panic_text(&*panic)),
                }
            }
            // An escape hatch is ending the process: it named what ran, and this hook was not.
            None => HookOutcome::Skipped,
        };
        let ended = Instant::now();

        state = lock(&batch.state);
        if state.abandoned {
            return;
        }
        if let Some((_, current)) = &mut state.current {
            slot.span = std::mem::take(&mut current.span);
        }
        slot.finish(outcome, ended, &mut state.reports);
    }
    state.current = None;
    state.done = true;
    drop(state);
    batch.changed.notify_one();
}
