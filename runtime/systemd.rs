//! systemd's notification protocol, with the `systemd` feature: when the shutdown starts,
//! `STOPPING=1`, and systemd's stop timeout extended to cover our deadline, so that a
//! `TimeoutStopSec=` shorter than `timeout` does not kill the sequence half-way; `READY=1`
//! from [`graceful::ready()`](crate::ready()); and after an upgrade, `MAINPID=` naming the new
//! process.
//!
//! Nothing is sent without the feature, or without `NOTIFY_SOCKET` (what systemd sets for a
//! `Type=notify` service).

use std::time::Duration;

/// How much longer than our deadline systemd is asked to wait: time to exit and be reaped.
/// The watchdog exits the process at the latest 100 ms after the deadline.
#[cfg(all(feature = "systemd", unix))]
const EXIT_MARGIN: Duration = Duration::from_secs(1);

/// Announces the shutdown, just after the trigger: the deadline is `timeout` away (less the
/// microseconds since the trigger, which the margin covers). One message covers the whole
/// sequence, since the process exits by the deadline whatever happens.
#[cfg(all(feature = "systemd", unix))]
pub(crate) fn stopping(timeout: Duration) {
    use sd_notify::NotifyState;

    let usec = u32::try_from(timeout.saturating_add(EXIT_MARGIN).as_micros()).unwrap_or(u32::MAX);
    let states = [NotifyState::Stopping, NotifyState::ExtendTimeoutUsec(usec)];
    match sd_notify::notify(&states) {
        Ok(()) => {
            tracing::debug!(target: "graceful", extend_timeout_usec = usec, "systemd notified: STOPPING=1")
        }
        Err(error) => tracing::warn!(target: "graceful", %error, "could not notify systemd"),
    }
}

#[cfg(not(all(feature = "systemd", unix)))]
pub(crate) fn stopping(_timeout: Duration) {}

/// `READY=1`: the process accepts work ([`graceful::ready()`](crate::ready())).
#[cfg(all(feature = "systemd", unix))]
pub(crate) fn ready() {
    send(&[sd_notify::NotifyState::Ready], "READY=1");
}

#[cfg(not(all(feature = "systemd", unix)))]
pub(crate) fn ready() {}

/// `MAINPID=pid` (and `READY=1` when `ready`), sent by the current main process: the new
/// process of an upgrade is the service now. Sent from the main process, it needs no
/// `NotifyAccess=all`; the new process does not send `READY=1` itself, since systemd would
/// refuse it from a process that is not yet the main one.
#[cfg(all(feature = "systemd", unix))]
pub(crate) fn main_pid(pid: u32, ready: bool) {
    use sd_notify::NotifyState;

    let states: &[NotifyState<'_>] = if ready {
        &[NotifyState::MainPid(pid), NotifyState::Ready]
    } else {
        &[NotifyState::MainPid(pid)]
    };
    send(states, "MAINPID=");
}

// Only an upgrade, Unix only, names a new main process.
#[cfg(all(unix, not(feature = "systemd")))]
pub(crate) fn main_pid(_pid: u32, _ready: bool) {}

#[cfg(all(feature = "systemd", unix))]
fn send(states: &[sd_notify::NotifyState<'_>], what: &str) {
    match sd_notify::notify(states) {
        Ok(()) => tracing::debug!(target: "graceful", "systemd notified: {what}"),
        Err(error) => tracing::warn!(target: "graceful", %error, "could not notify systemd"),
    }
}
