//! One hook's run, as the sequence and the blocking rows share it: its limit, its report
//! line, its place among the running hooks (named by a forced exit), its outcome.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use crate::hooks::HookContext;
use crate::hooks::registry::{Hook, HookResult, Run};
use crate::log;
use crate::reason::Reason;
use crate::report::{HookOutcome, HookReport};
use crate::util::clock;
use crate::util::unwind::drop_quietly;

/// The report of a hook whose phase came after the deadline.
pub(crate) fn skipped(hook: Hook) -> HookReport {
    let Hook {
        order, name, run, ..
    } = hook;
    // What a run-time hook captured is dropped unrun: its destructor must not end the
    // sequence.
    drop_quietly(run);
    let outcome = HookOutcome::Skipped;
    let span = log::hook_span(log::current_span_id(), order, &name);
    end_span(&span, order, &name, Duration::ZERO, &outcome);
    HookReport {
        order,
        name,
        duration: Duration::ZERO,
        outcome,
    }
}

/// When a hook started at `started` is cut off, and after how long: its own timeout, or the
/// global deadline, whichever comes first.
pub(crate) fn limit_of(hook: &Hook, started: Instant, deadline: Instant) -> (Instant, Duration) {
    let own_limit = hook
        .timeout
        .map(|timeout| (clock::later(started, timeout), timeout));
    match own_limit {
        Some((limit_at, timeout)) if limit_at < deadline => (limit_at, timeout),
        _ => (deadline, deadline.saturating_duration_since(started)),
    }
}

/// A hook being run: what its report line needs.
pub(crate) struct Slot {
    pub(crate) order: i32,
    pub(crate) name: Cow<'static, str>,
    started: Instant,
    pub(crate) limit: Duration,
    /// The hook's span: its outcome is recorded, and it is closed, when the hook ends.
    pub(crate) span: log::Span,
}

/// What a hook runs with.
pub(crate) struct Scheduled {
    pub(crate) id: usize,
    pub(crate) run: Run,
    pub(crate) context: HookContext,
    pub(crate) limit: Duration,
}

impl Slot {
    /// Starts the clock of `hook`: its limit is its own timeout or the global deadline,
    /// whichever comes first.
    pub(crate) fn start(
        hook: Hook,
        id: usize,
        reason: &Reason,
        deadline: Instant,
        parent: Option<tracing::Id>,
    ) -> (Slot, Scheduled) {
        let started = Instant::now();
        let (limit_at, limit) = limit_of(&hook, started, deadline);
        let span = log::hook_span(parent, hook.order, &hook.name);
        span.in_scope(|| log::hook_started(hook.order, &hook.name));
        let context = HookContext {
            reason: reason.clone(),
            deadline: limit_at,
            name: hook.name.clone(),
            order: hook.order,
        };
        let slot = Slot {
            order: hook.order,
            name: hook.name,
            started,
            limit,
            span,
        };
        let scheduled = Scheduled {
            id,
            run: hook.run,
            context,
            limit,
        };
        (slot, scheduled)
    }

    pub(crate) fn finish(
        self,
        outcome: HookOutcome,
        ended: Instant,
        reports: &mut Vec<HookReport>,
    ) {
        let duration = match outcome {
            HookOutcome::TimedOut(limit) => limit,
            _ => ended.saturating_duration_since(self.started),
        };
        end_span(&self.span, self.order, &self.name, duration, &outcome);
        reports.push(HookReport {
            order: self.order,
            name: self.name,
            duration,
            outcome,
        });
    }
}

pub(crate) fn outcome_of(result: HookResult) -> HookOutcome {
    match result {
        Ok(()) => HookOutcome::Returned,
        Err(message) => HookOutcome::Failed(message),
    }
}

/// Records how the hook ended on its span, and logs it there.
pub(crate) fn end_span(
    span: &log::Span,
    order: i32,
    name: &str,
    duration: Duration,
    outcome: &HookOutcome,
) {
    // The event first: its line carries the outcome once, not in the span's context too.
    span.in_scope(|| log::hook_ended(order, name, duration, outcome));
    span.record("outcome", tracing::field::display(outcome));
    span.record("duration", tracing::field::debug(duration));
    crate::metrics::hook_ended(name, outcome, duration);
}
