//! The rules a setting, or two settings together, must follow. Each is written once here and
//! checked in two places: by the attribute on its literals, and by the runtime on the
//! builder's values and the `GRACEFUL_*` variables.
//!
//! A rule is given each value with its [name](Named) as the place that set it writes it
//! (`` `timeout` `` in the attribute, `GRACEFUL_TIMEOUT` for the variable), and returns the
//! message, with the fix in it, that the place reports.

use std::time::Duration;

use crate::duration::display;
use crate::signal::StopSignal;

/// A setting's value and its name as written where it was set.
///
/// ```
/// use std::time::Duration;
/// use graceful_rules::settings::Named;
///
/// let timeout = Named::new("`timeout`", Duration::from_secs(20));
/// assert_eq!(timeout.value, Duration::from_secs(20));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Named<'a, T> {
    /// How the setting is named where it was set, ready to put in a sentence.
    pub name: &'a str,
    /// Its value.
    pub value: T,
}

impl<'a, T> Named<'a, T> {
    /// `value`, set under `name`.
    ///
    /// ```
    /// let threads = graceful_rules::settings::Named::new("worker_threads", 4);
    /// assert_eq!(threads.name, "worker_threads");
    /// ```
    pub fn new(name: &'a str, value: T) -> Self {
        Named { name, value }
    }
}

/// A duration setting: what it bounds decides whether it may be zero.
///
/// ```
/// use graceful_rules::settings::DurationSetting;
///
/// assert!(DurationSetting::DrainDelay.must_not_be_zero().is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurationSetting {
    /// The global deadline, `timeout` of `#[graceful::main]`.
    Timeout,
    /// The drain bound, `drain_timeout`.
    DrainTimeout,
    /// The delay before the cancel, `drain_delay`.
    DrainDelay,
    /// How long a new process has to become ready, `upgrade_timeout`.
    UpgradeTimeout,
    /// One hook's limit, `timeout` of `#[graceful::on_shutdown]`.
    HookTimeout,
}

impl DurationSetting {
    /// Why the setting may not be zero, or `None` when zero is a fine value (no delay, no
    /// drain).
    ///
    /// ```
    /// use graceful_rules::settings::DurationSetting;
    ///
    /// assert!(DurationSetting::Timeout.must_not_be_zero().is_some());
    /// ```
    pub fn must_not_be_zero(self) -> Option<&'static str> {
        match self {
            DurationSetting::Timeout | DurationSetting::HookTimeout => {
                Some("or nothing would have time to run")
            }
            DurationSetting::UpgradeTimeout => Some("or the new process has no time to start"),
            DurationSetting::DrainTimeout | DurationSetting::DrainDelay => None,
        }
    }
}

/// A duration on its own: zero only where zero means something.
///
/// ```
/// use std::time::Duration;
/// use graceful_rules::settings::{duration, DurationSetting, Named};
///
/// let zero = Named::new("`timeout`", Duration::ZERO);
/// assert_eq!(
///     duration(DurationSetting::Timeout, zero).unwrap_err(),
///     "`timeout` must be longer than zero, or nothing would have time to run"
/// );
/// assert!(duration(DurationSetting::DrainDelay, Named::new("`drain_delay`", Duration::ZERO)).is_ok());
/// ```
pub fn duration(setting: DurationSetting, value: Named<'_, Duration>) -> Result<(), String> {
    match setting.must_not_be_zero() {
        Some(why) if value.value.is_zero() => {
            Err(format!("{} must be longer than zero, {why}", value.name))
        }
        _ => Ok(()),
    }
}

/// `drain_timeout` is not longer than `timeout`, the deadline the drain is part of.
///
/// ```
/// use std::time::Duration;
/// use graceful_rules::settings::{drain_timeout, Named};
///
/// let timeout = Named::new("`timeout`", Duration::from_secs(20));
/// assert!(drain_timeout(Named::new("`drain_timeout`", Duration::from_secs(20)), timeout).is_ok());
/// let error = drain_timeout(Named::new("`drain_timeout`", Duration::from_secs(30)), timeout);
/// assert!(error.unwrap_err().starts_with("`drain_timeout` (30s) must not be longer than `timeout` (20s)"));
/// ```
pub fn drain_timeout(
    drain: Named<'_, Duration>,
    timeout: Named<'_, Duration>,
) -> Result<(), String> {
    if drain.value <= timeout.value {
        return Ok(());
    }
    Err(format!(
        "{} ({}) must not be longer than {} ({}), the deadline for the whole shutdown; lower {} or raise {}",
        drain.name,
        display(drain.value),
        timeout.name,
        display(timeout.value),
        drain.name,
        timeout.name,
    ))
}

/// `drain_delay` is shorter than `timeout`: the deadline runs from the trigger, so a delay as
/// long would leave no time for the drain and the hooks.
///
/// ```
/// use std::time::Duration;
/// use graceful_rules::settings::{drain_delay, Named};
///
/// let timeout = Named::new("GRACEFUL_TIMEOUT", Duration::from_secs(20));
/// let error = drain_delay(Named::new("GRACEFUL_DRAIN_DELAY", Duration::from_secs(20)), timeout);
/// assert!(error.unwrap_err().starts_with("GRACEFUL_DRAIN_DELAY (20s) must be shorter than GRACEFUL_TIMEOUT (20s)"));
/// ```
pub fn drain_delay(delay: Named<'_, Duration>, timeout: Named<'_, Duration>) -> Result<(), String> {
    if delay.value < timeout.value {
        return Ok(());
    }
    Err(format!(
        "{} ({}) must be shorter than {} ({}), or the deadline would pass before the work is even cancelled; lower {} or raise {}",
        delay.name,
        display(delay.value),
        timeout.name,
        display(timeout.value),
        delay.name,
        timeout.name,
    ))
}

/// `worker_threads` is at least 1, and only set for the multi-threaded runtime. `current_thread`
/// is how the current-thread flavor was chosen, if it was.
///
/// ```
/// use graceful_rules::settings::{worker_threads, Named};
///
/// assert!(worker_threads(Named::new("worker_threads", 4), None).is_ok());
/// assert_eq!(
///     worker_threads(Named::new("worker_threads", 0), None).unwrap_err(),
///     "worker_threads must be at least 1; remove it to get one thread per CPU core"
/// );
/// assert!(worker_threads(Named::new("worker_threads", 2), Some("the current_thread flavor")).is_err());
/// ```
pub fn worker_threads(
    threads: Named<'_, usize>,
    current_thread: Option<&str>,
) -> Result<(), String> {
    if threads.value == 0 {
        return Err(format!(
            "{} must be at least 1; remove it to get one thread per CPU core",
            threads.name
        ));
    }
    match current_thread {
        Some(flavor) => Err(format!(
            "{} needs the multi-threaded runtime, and {flavor} runs everything on one thread; remove {} or choose the multi-threaded flavor",
            threads.name, threads.name
        )),
        None => Ok(()),
    }
}

/// The upgrade signal is a Unix signal the shutdown does not listen to. `signals` is the list
/// as set, or `None` when it was left to the default (SIGINT and SIGTERM on Unix).
///
/// ```
/// use graceful_rules::settings::{upgrade, Named};
/// use graceful_rules::signal::StopSignal;
///
/// assert!(upgrade(Named::new("`SIGHUP`", StopSignal::Hup), None).is_ok());
/// let error = upgrade(Named::new("`SIGTERM`", StopSignal::Term), None).unwrap_err();
/// assert!(error.starts_with("`SIGTERM` stops the program"));
/// let listed = [StopSignal::Term, StopSignal::Hup];
/// assert!(upgrade(Named::new("`SIGHUP`", StopSignal::Hup), Some(&listed)).is_err());
/// ```
pub fn upgrade(
    signal: Named<'_, StopSignal>,
    signals: Option<&[StopSignal]>,
) -> Result<(), String> {
    let name = signal.name;
    if signal.value.is_console_event() {
        return Err(format!(
            "{name} is a Windows console event, and upgrades work on Unix only (Linux, macOS); {}",
            crate::signal::UPGRADE_INSTEAD
        ));
    }
    match signals {
        Some(signals) if signals.contains(&signal.value) => Err(format!(
            "{name} is also in `signals`, so it would both stop and upgrade the program: upgrade on another signal, e.g. SIGUSR2, or remove {} from `signals`",
            signal.value.name()
        )),
        None if StopSignal::UNIX_DEFAULTS.contains(&signal.value) => Err(format!(
            "{name} stops the program (`signals` defaults to SIGINT and SIGTERM), so it cannot also upgrade it: upgrade on another signal, e.g. SIGHUP"
        )),
        _ => Ok(()),
    }
}
