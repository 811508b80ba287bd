//! systemd's notification protocol, with the `systemd` feature: when the shutdown starts,
//! `STOPPING=1`, and systemd's stop timeout extended to cover our deadline, so that a
//! `TimeoutStopSec=` shorter than `timeout` does not kill the sequence half-way; `READY=1`
//! from [`graceful::ready()`](crate::ready()); and each zero-downtime upgrade told as a reload,
//! which is what `Type=notify-reload` waits for.
//!
//! Nothing is sent without the feature, or without `NOTIFY_SOCKET` (what systemd sets for a
//! `Type=notify` or `Type=notify-reload` service).
//!
//! An upgrade is told as a reload, every message from the process being upgraded (systemd's
//! main process until the hand-over): `RELOADING=1` with `MONOTONIC_USEC=` and
//! `EXTEND_TIMEOUT_USEC=` when the attempt starts, `MAINPID=` with `READY=1` once the new
//! process is ready, `READY=1` with `STATUS=` when it failed. Why each, and what systemd does
//! with it, is in the systemd guide (`docs/systemd.md`).

use std::time::Duration;

#[cfg(feature = "upgrade")]
use crate::shutdown::Shutdown;

/// How much longer than our deadline systemd is asked to wait: time to exit and be reaped.
/// The watchdog exits the process at the latest its own grace after the deadline, well within
/// this margin.
#[cfg(all(feature = "systemd", unix))]
const EXIT_MARGIN: Duration = Duration::from_secs(1);

/// How much longer than `upgrade_timeout` systemd is asked to wait for the end of a reload: a
/// new process that is not ready in time is stopped (SIGTERM, then SIGKILL after the
/// upgrade's stop grace) before the failure is told.
#[cfg(all(feature = "systemd", feature = "upgrade", unix))]
const RELOAD_MARGIN: Duration = Duration::from_secs(2);

/// Whether this process told systemd of a failed upgrade (`STATUS=`), to be cleared by the
/// next upgrade that succeeds.
#[cfg(all(feature = "systemd", feature = "upgrade", unix))]
static FAILURE_SHOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Microseconds for `EXTEND_TIMEOUT_USEC=`, saturating at `u64::MAX` (systemd reads a
/// 64-bit count; sd-notify's own variant holds 32 bits, about 71 minutes).
#[cfg(all(feature = "systemd", unix))]
fn usec(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// The `EXTEND_TIMEOUT_USEC=` line for `duration`.
#[cfg(all(feature = "systemd", unix))]
fn extend_timeout(duration: Duration) -> String {
    format!("EXTEND_TIMEOUT_USEC={}", usec(duration))
}

/// Announces the shutdown, just after the trigger: the deadline is `timeout` away (less the
/// microseconds since the trigger, which the margin covers). One message covers the whole
/// sequence, since the process exits by the deadline whatever happens.
#[cfg(all(feature = "systemd", unix))]
pub(crate) fn stopping(timeout: Duration) {
    use sd_notify::NotifyState;

    let usec = usec(timeout.saturating_add(EXIT_MARGIN));
    let extend = extend_timeout(timeout.saturating_add(EXIT_MARGIN));
    let states = [NotifyState::Stopping, NotifyState::Custom(&extend)];
    match sd_notify::notify(&states) {
        Ok(()) => {
            crate::log::emit!(debug, target: "graceful", extend_timeout_usec = usec, "systemd notified: STOPPING=1")
        }
        Err(error) => {
            crate::log::emit!(warn, target: "graceful", %error, "could not notify systemd")
        }
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

/// An upgrade attempt starts: `RELOADING=1` with the monotonic time, and the reload's timeout
/// extended to cover ours. Its end is told by [`main_pid`] (the new process is ready, before
/// this one starts its exit) or [`reload_ended`].
#[cfg(all(feature = "systemd", feature = "upgrade", unix))]
pub(crate) fn reloading(upgrade_timeout: Duration) {
    use sd_notify::NotifyState;

    let extend = extend_timeout(upgrade_timeout.saturating_add(RELOAD_MARGIN));
    let extend = NotifyState::Custom(&extend);
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now, extend], "RELOADING=1"),
        Err(error) => {
            // Never seen: without the time, Type=notify-reload takes the reload as not begun.
            crate::log::emit!(warn, target: "graceful", %error, "cannot read CLOCK_MONOTONIC for systemd");
            send(&[NotifyState::Reloading, extend], "RELOADING=1");
        }
    }
}

#[cfg(all(feature = "upgrade", not(all(feature = "systemd", unix))))]
pub(crate) fn reloading(_upgrade_timeout: Duration) {}

/// An upgrade attempt ended. After a failure, `READY=1` and `STATUS=upgrade failed: <why>`:
/// the reload is over and this process serves on. Nothing if the shutdown has started (its
/// `STOPPING=1` ends the reload), nor after a success (told by [`main_pid`]).
#[cfg(all(feature = "systemd", feature = "upgrade", unix))]
pub(crate) fn reload_ended<T, E: std::fmt::Display>(outcome: &Result<T, E>, shutdown: &Shutdown) {
    use sd_notify::NotifyState;

    let Err(why) = outcome else { return };
    if shutdown.is_shutting_down() {
        return;
    }
    // One line of UTF-8, as systemd wants a status.
    let status = format!("upgrade failed: {why}").replace(['\n', '\r'], " ");
    FAILURE_SHOWN.store(true, std::sync::atomic::Ordering::Release);
    send(
        &[NotifyState::Ready, NotifyState::Status(&status)],
        "READY=1 (upgrade failed)",
    );
}

#[cfg(all(feature = "upgrade", not(all(feature = "systemd", unix))))]
pub(crate) fn reload_ended<T, E>(_outcome: &Result<T, E>, _shutdown: &Shutdown) {}

/// `MAINPID=pid` (and `READY=1` when `ready`), sent by the current main process: the new
/// process of an upgrade is the service now. Sent from the main process, it needs no
/// `NotifyAccess=all`; the new process does not send `READY=1` itself, since systemd would
/// refuse it from a process that is not yet the main one. With `READY=1`, a failure this
/// process left in `STATUS=` is cleared.
#[cfg(all(feature = "systemd", feature = "upgrade", unix))]
pub(crate) fn main_pid(pid: u32, ready: bool) {
    use sd_notify::NotifyState;

    let mut states = vec![NotifyState::MainPid(pid)];
    if ready {
        states.push(NotifyState::Ready);
        if FAILURE_SHOWN.swap(false, std::sync::atomic::Ordering::AcqRel) {
            states.push(NotifyState::Status(""));
        }
    }
    send(&states, "MAINPID=");
}

// Only an upgrade, Unix only, names a new main process.
#[cfg(all(unix, feature = "upgrade", not(feature = "systemd")))]
pub(crate) fn main_pid(_pid: u32, _ready: bool) {}

#[cfg(all(feature = "systemd", unix))]
fn send(states: &[sd_notify::NotifyState<'_>], what: &str) {
    match sd_notify::notify(states) {
        Ok(()) => crate::log::emit!(debug, target: "graceful", "systemd notified: {what}"),
        Err(error) => {
            crate::log::emit!(warn, target: "graceful", %error, "could not notify systemd")
        }
    }
}
