//! The metrics, through the `metrics` crate's facade (feature `metrics`), every one named
//! `graceful_*`: each is emitted here, and nowhere else. Without the feature each function is
//! empty.
//!
//! Nothing here is called per request or per task: the open connections move when a
//! connection opens or closes, and the gauges that would otherwise cost a write per request
//! or per task (the requests in flight, the tracked tasks) are sampled by a task of the run
//! ([`Sampler`]), every second and once more as the run ends, from what the snapshot reads.

#![cfg_attr(not(feature = "metrics"), allow(unused_variables, dead_code))]

use std::time::Duration;

use crate::reason::Reason;
use crate::report::HookOutcome;
use crate::snapshot::ServerSnapshot;

/// How often the sampled gauges are read.
#[cfg(feature = "metrics")]
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// What a sample reads: the tracked tasks running, and each server as a snapshot sees it.
#[cfg(feature = "metrics")]
type Read = Box<dyn Fn() -> (usize, Vec<ServerSnapshot>) + Send + Sync>;

/// The task that samples the gauges of one run, from its start to its end: dropped with the
/// run, it samples once more (the tasks and requests left, zero after a clean drain) and
/// stops. Nothing without the feature.
pub(crate) struct Sampler {
    #[cfg(feature = "metrics")]
    task: tokio::task::JoinHandle<()>,
    #[cfg(feature = "metrics")]
    read: std::sync::Arc<Read>,
}

impl Sampler {
    /// Starts sampling what `read` returns, on the current runtime.
    pub(crate) fn start(
        read: impl Fn() -> (usize, Vec<ServerSnapshot>) + Send + Sync + 'static,
    ) -> Sampler {
        #[cfg(feature = "metrics")]
        {
            let read: std::sync::Arc<Read> = std::sync::Arc::new(Box::new(read));
            let sampled = read.clone();
            let task = tokio::spawn(async move {
                loop {
                    let (tasks, servers) = sampled();
                    sampled_now(tasks, servers);
                    tokio::time::sleep(SAMPLE_EVERY).await;
                }
            });
            Sampler { task, read }
        }
        #[cfg(not(feature = "metrics"))]
        {
            drop(read);
            Sampler {}
        }
    }
}

#[cfg(feature = "metrics")]
impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
        let (tasks, servers) = (self.read)();
        sampled_now(tasks, servers);
    }
}

/// `graceful_requests_in_flight{server}`: zero once the server has ended (its requests are
/// over, or were cut).
pub(crate) fn server_ended(server: &str) {
    #[cfg(feature = "metrics")]
    metrics::gauge!("graceful_requests_in_flight", "server" => server.to_owned()).set(0.0);
}

/// `graceful_tasks_running` and `graceful_requests_in_flight{server}`: the tracked tasks
/// running and each server's requests in flight, as a snapshot reads them.
fn sampled_now(tasks_running: usize, servers: Vec<ServerSnapshot>) {
    #[cfg(feature = "metrics")]
    {
        metrics::gauge!("graceful_tasks_running").set(tasks_running as f64);
        for server in servers {
            if let Some(requests) = server.requests_in_flight {
                metrics::gauge!("graceful_requests_in_flight", "server" => server.label)
                    .set(requests as f64);
            }
        }
    }
}

/// The `reason` label of a shutdown: the signal's name, or what started it.
pub(crate) fn reason_label(reason: &Reason) -> &'static str {
    match reason {
        Reason::Signal(signal) => signal.name(),
        Reason::Triggered => "triggered",
        Reason::MainReturned => "main_returned",
        Reason::MainFailed => "main_failed",
        Reason::MainPanicked => "main_panicked",
        Reason::Upgrade => "upgrade",
        Reason::ServiceFailed { .. } => "service_failed",
        Reason::ServicePanicked { .. } => "service_panicked",
    }
}

/// The `outcome` label of a hook.
pub(crate) fn outcome_label(outcome: &HookOutcome) -> &'static str {
    match outcome {
        HookOutcome::Returned => "returned",
        HookOutcome::Failed(_) => "failed",
        HookOutcome::Panicked(_) => "panicked",
        HookOutcome::TimedOut(_) => "timed_out",
        HookOutcome::Skipped => "skipped",
    }
}

/// `graceful_shutdowns_total{reason}`: a shutdown started, `reason` its [`reason_label`].
pub(crate) fn shutdown_started(reason: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("graceful_shutdowns_total", "reason" => reason).increment(1);
}

/// `graceful_shutdown_duration_seconds`: from the trigger to the report.
pub(crate) fn shutdown_ended(elapsed: Duration) {
    #[cfg(feature = "metrics")]
    metrics::histogram!("graceful_shutdown_duration_seconds").record(elapsed.as_secs_f64());
}

/// `graceful_phase_duration_seconds{phase}`: `delay`, `drain` or `hooks`.
pub(crate) fn phase_ended(phase: &'static str, elapsed: Duration) {
    #[cfg(feature = "metrics")]
    metrics::histogram!("graceful_phase_duration_seconds", "phase" => phase)
        .record(elapsed.as_secs_f64());
}

/// `graceful_hook_duration_seconds{hook}` and `graceful_hooks_total{hook, outcome}`.
pub(crate) fn hook_ended(name: &str, outcome: &HookOutcome, elapsed: Duration) {
    #[cfg(feature = "metrics")]
    {
        let hook = name.to_owned();
        metrics::histogram!("graceful_hook_duration_seconds", "hook" => hook.clone())
            .record(elapsed.as_secs_f64());
        metrics::counter!("graceful_hooks_total", "hook" => hook, "outcome" => outcome_label(outcome))
            .increment(1);
    }
}

/// `graceful_tasks_aborted_total`: tracked tasks aborted at the end of the drain.
pub(crate) fn tasks_aborted(count: usize) {
    #[cfg(feature = "metrics")]
    metrics::counter!("graceful_tasks_aborted_total").increment(count as u64);
}

/// `graceful_services_running{service}`: up by one when a service starts.
pub(crate) fn service_started(name: &str) {
    #[cfg(feature = "metrics")]
    metrics::gauge!("graceful_services_running", "service" => name.to_owned()).increment(1.0);
}

/// `graceful_services_running{service}`: down by one when a service ends.
pub(crate) fn service_ended(name: &str) {
    #[cfg(feature = "metrics")]
    metrics::gauge!("graceful_services_running", "service" => name.to_owned()).decrement(1.0);
}

/// `graceful_service_restarts_total{service}`.
pub(crate) fn service_restarted(name: &str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("graceful_service_restarts_total", "service" => name.to_owned()).increment(1);
}

/// `graceful_connections_open{server}`: up by one when a connection opens.
pub(crate) fn connection_opened(server: &str) {
    #[cfg(feature = "metrics")]
    metrics::gauge!("graceful_connections_open", "server" => server.to_owned()).increment(1.0);
}

/// `graceful_connections_open{server}`: down by one when a connection closes.
pub(crate) fn connection_closed(server: &str) {
    #[cfg(feature = "metrics")]
    metrics::gauge!("graceful_connections_open", "server" => server.to_owned()).decrement(1.0);
}

/// `graceful_connections_cut_total{server}`: the server's label, as for the open connections
/// (`http` alone for a connection handed over by a protocol switch).
pub(crate) fn connections_cut(server: &str, count: usize) {
    #[cfg(feature = "metrics")]
    metrics::counter!("graceful_connections_cut_total", "server" => server.to_owned())
        .increment(count as u64);
}

/// `graceful_upgrades_total`: an upgrade attempt started.
pub(crate) fn upgrade_attempted() {
    #[cfg(feature = "metrics")]
    metrics::counter!("graceful_upgrades_total").increment(1);
}

/// `graceful_upgrades_failed_total`: an upgrade attempt failed.
pub(crate) fn upgrade_failed() {
    #[cfg(feature = "metrics")]
    metrics::counter!("graceful_upgrades_failed_total").increment(1);
}
