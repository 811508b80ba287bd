//! The settings of a run, resolved from the [`Builder`](crate::Builder) and the `GRACEFUL_*`
//! environment variables (which win).

use std::error::Error;
use std::ffi::OsString;
use std::fmt;
use std::time::Duration;

use graceful_rules::duration;
use graceful_rules::settings::{self, DurationSetting, Named};

use crate::signal::Signal;

/// Environment variable overriding the global deadline, e.g. `GRACEFUL_TIMEOUT=20s`.
///
/// ```
/// assert_eq!(graceful::ENV_TIMEOUT, "GRACEFUL_TIMEOUT");
/// ```
pub const ENV_TIMEOUT: &str = "GRACEFUL_TIMEOUT";
/// Environment variable overriding the drain bound, e.g. `GRACEFUL_DRAIN_TIMEOUT=5s`.
///
/// ```
/// assert_eq!(graceful::ENV_DRAIN_TIMEOUT, "GRACEFUL_DRAIN_TIMEOUT");
/// ```
pub const ENV_DRAIN_TIMEOUT: &str = "GRACEFUL_DRAIN_TIMEOUT";
/// Environment variable overriding the delay before the token is cancelled, e.g.
/// `GRACEFUL_DRAIN_DELAY=5s`.
///
/// ```
/// assert_eq!(graceful::ENV_DRAIN_DELAY, "GRACEFUL_DRAIN_DELAY");
/// ```
pub const ENV_DRAIN_DELAY: &str = "GRACEFUL_DRAIN_DELAY";

/// Environment variable overriding how long a new process has to become ready during an
/// upgrade, e.g. `GRACEFUL_UPGRADE_TIMEOUT=1m`.
///
/// ```
/// assert_eq!(graceful::ENV_UPGRADE_TIMEOUT, "GRACEFUL_UPGRADE_TIMEOUT");
/// ```
pub const ENV_UPGRADE_TIMEOUT: &str = "GRACEFUL_UPGRADE_TIMEOUT";

pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(25);
pub(crate) const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const DEFAULT_UPGRADE_TIMEOUT: Duration = Duration::from_secs(30);

/// How the tokio runtime schedules tasks, as `#[tokio::main(flavor = ...)]`.
///
/// ```
/// let builder = graceful::Builder::new().flavor(graceful::Flavor::CurrentThread);
/// # let _ = builder;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Flavor {
    /// A work-stealing pool of worker threads (the default).
    #[default]
    MultiThread,
    /// Everything on the thread that calls `run`.
    CurrentThread,
}

/// The settings a run uses.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) timeout: Duration,
    pub(crate) drain_timeout: Duration,
    pub(crate) drain_delay: Duration,
    pub(crate) signals: Vec<Signal>,
    pub(crate) force_exit: bool,
    pub(crate) flavor: Flavor,
    pub(crate) worker_threads: Option<usize>,
    /// The signal that starts an upgrade, if any.
    pub(crate) upgrade: Option<Signal>,
    /// Read by the upgrade (feature `upgrade`); checked whatever the features, as the
    /// variable is.
    #[cfg_attr(not(feature = "upgrade"), allow(dead_code))]
    pub(crate) upgrade_timeout: Duration,
}

/// The settings as given to the builder, each possibly unset.
#[derive(Clone, Debug, Default)]
pub(crate) struct Settings {
    pub(crate) timeout: Option<Duration>,
    pub(crate) drain_timeout: Option<Duration>,
    pub(crate) drain_delay: Option<Duration>,
    pub(crate) signals: Option<Vec<Signal>>,
    pub(crate) force_exit: Option<bool>,
    pub(crate) flavor: Option<Flavor>,
    pub(crate) worker_threads: Option<usize>,
    pub(crate) upgrade: Option<Signal>,
    pub(crate) upgrade_timeout: Option<Duration>,
}

impl Settings {
    /// Applies the environment (read through `var`) and the defaults, then checks the result.
    pub(crate) fn resolve(
        &self,
        var: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Config, StartError> {
        let setting = |kind, env, builder, set, default| {
            duration_setting(&var, kind, env, builder, set, default)
        };
        use DurationSetting::{DrainDelay, DrainTimeout, Timeout, UpgradeTimeout};
        let timeout = setting(
            Timeout,
            ENV_TIMEOUT,
            "timeout",
            self.timeout,
            DEFAULT_TIMEOUT,
        )?;
        let drain_timeout = setting(
            DrainTimeout,
            ENV_DRAIN_TIMEOUT,
            "drain_timeout",
            self.drain_timeout,
            DEFAULT_DRAIN_TIMEOUT,
        )?;
        let drain_delay = setting(
            DrainDelay,
            ENV_DRAIN_DELAY,
            "drain_delay",
            self.drain_delay,
            Duration::ZERO,
        )?;
        let upgrade_timeout = setting(
            UpgradeTimeout,
            ENV_UPGRADE_TIMEOUT,
            "upgrade_timeout",
            self.upgrade_timeout,
            DEFAULT_UPGRADE_TIMEOUT,
        )?;
        let flavor = self.flavor.unwrap_or_default();
        let signals = self
            .signals
            .clone()
            .unwrap_or_else(|| Signal::defaults().to_vec());

        self.check_rules(drain_delay, timeout, flavor)?;
        let drain_timeout = drain_timeout.value.min(timeout.value);
        let (timeout, drain_delay, upgrade_timeout) =
            (timeout.value, drain_delay.value, upgrade_timeout.value);
        Ok(Config {
            timeout,
            drain_timeout,
            drain_delay,
            signals,
            force_exit: self.force_exit.unwrap_or(true),
            flavor,
            worker_threads: self.worker_threads,
            upgrade: self.upgrade,
            upgrade_timeout,
        })
    }

    /// The rules between settings, on the values resolved: the delay shorter than the
    /// deadline, the drain bound the code set within the deadline the code set, worker
    /// threads only for the multi-threaded runtime, the upgrade signal its own.
    fn check_rules(
        &self,
        drain_delay: Named<'_, Duration>,
        timeout: Named<'_, Duration>,
        flavor: Flavor,
    ) -> Result<(), StartError> {
        let check = |result: Result<(), String>| result.map_err(StartError::new);
        check(settings::drain_delay(drain_delay, timeout))?;
        // The rule the attribute checks, on the values the code set. A drain bound left to its
        // default, or set or capped by the environment, only ends at the deadline.
        if let (Some(drain), Some(deadline)) = (self.drain_timeout, self.timeout) {
            check(settings::drain_timeout(
                Named::new("drain_timeout", drain),
                Named::new("timeout", deadline),
            ))?;
        }
        if let Some(threads) = self.worker_threads {
            let current_thread =
                (flavor == Flavor::CurrentThread).then_some("the current_thread flavor");
            check(settings::worker_threads(
                Named::new("worker_threads", threads),
                current_thread,
            ))?;
        }
        if let Some(upgrade) = self.upgrade {
            check_upgrade(upgrade, self.signals.as_deref())?;
        }
        Ok(())
    }
}

/// The upgrade signal must be one the shutdown does not listen to, and upgrades need Unix.
fn check_upgrade(upgrade: Signal, signals: Option<&[Signal]>) -> Result<(), StartError> {
    let name = format!("upgrade({upgrade})");
    if cfg!(not(unix)) {
        return Err(StartError::new(format!(
            "{name}: zero-downtime upgrades hand listening sockets to a new process, which \
             graceful supports on Unix only (Linux, macOS); remove upgrade on this platform"
        )));
    }
    let signals: Option<Vec<_>> = signals.map(|signals| signals.iter().map(|s| s.0).collect());
    settings::upgrade(Named::new(&name, upgrade.0), signals.as_deref()).map_err(StartError::new)
}

/// Why a run could not start, found before the main body runs: a malformed `GRACEFUL_*`
/// variable, contradictory settings, a run started inside a tokio runtime, or signal handlers
/// or a runtime the system refused. [`Builder::run`](crate::Builder::run) prints it and exits
/// with code 2; [`Builder::run_to_report`](crate::Builder::run_to_report) and
/// [`Builder::run_async`](crate::Builder::run_async) return it.
///
/// ```
/// let error = graceful::Builder::new()
///     .worker_threads(0)
///     .run_to_report(|_| async {})
///     .unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "worker_threads must be at least 1; remove it to get one thread per CPU core"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartError {
    message: String,
}

impl StartError {
    pub(crate) fn new(message: String) -> Self {
        StartError { message }
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for StartError {}

/// One duration setting with the name of where it was set (the variable `env` wins over the
/// builder's `set`, then `default`), checked on its own.
fn duration_setting(
    var: &impl Fn(&str) -> Option<OsString>,
    kind: DurationSetting,
    env: &'static str,
    builder: &'static str,
    set: Option<Duration>,
    default: Duration,
) -> Result<Named<'static, Duration>, StartError> {
    let Some(text) = var(env) else {
        let value = Named::new(builder, set.unwrap_or(default));
        settings::duration(kind, value).map_err(StartError::new)?;
        return Ok(value);
    };
    let text = text.to_string_lossy();
    let example = format!("write it like {env}=10s, {env}=500ms or {env}=\"1m 30s\"");
    let value = duration::parse(&text).map_err(|error| {
        StartError::new(format!(
            "{env}={text:?} is not a duration ({error}); {example}"
        ))
    })?;
    let written = format!("{env}={text:?}");
    settings::duration(kind, Named::new(&written, value))
        .map_err(|message| StartError::new(format!("{message}; {example}")))?;
    Ok(Named::new(env, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(settings: &Settings, env: &[(&str, &str)]) -> Result<Config, StartError> {
        settings.resolve(|name| {
            env.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        })
    }

    #[test]
    fn defaults_fit_kubernetes() {
        let config = resolve(&Settings::default(), &[]).unwrap();
        assert_eq!(config.timeout, Duration::from_secs(25));
        assert_eq!(config.drain_timeout, Duration::from_secs(10));
        assert_eq!(config.drain_delay, Duration::ZERO);
        assert!(config.force_exit);
        assert_eq!(config.signals, Signal::defaults());
    }

    #[test]
    fn environment_wins_over_the_builder() {
        let settings = Settings {
            timeout: Some(Duration::from_secs(5)),
            drain_delay: Some(Duration::from_secs(1)),
            ..Settings::default()
        };
        let config = resolve(
            &settings,
            &[
                ("GRACEFUL_TIMEOUT", "1m 30s"),
                ("GRACEFUL_DRAIN_DELAY", "250ms"),
            ],
        )
        .unwrap();
        assert_eq!(config.timeout, Duration::from_secs(90));
        assert_eq!(config.drain_delay, Duration::from_millis(250));
    }

    #[test]
    fn the_variables_read_durations_as_the_attribute_does() {
        let config = resolve(
            &Settings::default(),
            &[
                ("GRACEFUL_TIMEOUT", "1500msec"),
                ("GRACEFUL_DRAIN_TIMEOUT", "1.5s"),
            ],
        )
        .unwrap();
        assert_eq!(config.timeout, Duration::from_millis(1500));
        assert_eq!(config.drain_timeout, Duration::from_millis(1500));
        // humantime alone panics on this one.
        let error = resolve(
            &Settings::default(),
            &[("GRACEFUL_TIMEOUT", "18446744073709551615s 1000000000ns")],
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("is not a duration (number is too large"),
            "{error}"
        );
    }

    /// The attribute refuses `drain_timeout = "5s"` with `timeout = "3s"`: so does the builder.
    #[test]
    fn a_drain_timeout_set_longer_than_the_timeout_set_is_refused() {
        let settings = Settings {
            timeout: Some(Duration::from_secs(3)),
            drain_timeout: Some(Duration::from_secs(5)),
            ..Settings::default()
        };
        let error = resolve(&settings, &[]).unwrap_err().to_string();
        assert!(
            error.starts_with("drain_timeout (5s) must not be longer than timeout (3s)"),
            "{error}"
        );
        // An operator lowering the deadline caps the drain rather than breaking the start.
        let drain_only = Settings {
            drain_timeout: Some(Duration::from_secs(5)),
            ..Settings::default()
        };
        let config = resolve(&drain_only, &[("GRACEFUL_TIMEOUT", "2s")]).unwrap();
        assert_eq!(config.drain_timeout, Duration::from_secs(2));
        let config = resolve(
            &Settings::default(),
            &[("GRACEFUL_TIMEOUT", "2s"), ("GRACEFUL_DRAIN_TIMEOUT", "5s")],
        )
        .unwrap();
        assert_eq!(config.drain_timeout, Duration::from_secs(2));
    }

    #[test]
    fn drain_timeout_never_exceeds_timeout() {
        let settings = Settings {
            timeout: Some(Duration::from_secs(3)),
            ..Settings::default()
        };
        let config = resolve(&settings, &[]).unwrap();
        assert_eq!(config.drain_timeout, Duration::from_secs(3));
    }

    #[test]
    fn malformed_variable_names_variable_value_and_example() {
        let error =
            resolve(&Settings::default(), &[("GRACEFUL_DRAIN_TIMEOUT", "ten")]).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("GRACEFUL_DRAIN_TIMEOUT=\"ten\" is not a duration"),
            "{message}"
        );
        assert!(message.contains("GRACEFUL_DRAIN_TIMEOUT=10s"), "{message}");
    }

    #[test]
    fn zero_timeout_variable_is_named() {
        let error = resolve(&Settings::default(), &[("GRACEFUL_TIMEOUT", "0s")]).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("GRACEFUL_TIMEOUT=\"0s\" must be longer than zero"),
            "{message}"
        );
        assert!(message.contains("GRACEFUL_TIMEOUT=10s"), "{message}");
    }

    #[test]
    fn delay_must_leave_time() {
        let error = resolve(&Settings::default(), &[("GRACEFUL_DRAIN_DELAY", "30s")]).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("GRACEFUL_DRAIN_DELAY (30s) must be shorter than timeout (25s)"),
            "{error}"
        );
    }

    #[test]
    fn upgrade_signal_must_not_stop_the_process() {
        let on_term = Settings {
            upgrade: Some(Signal::SIGTERM),
            ..Settings::default()
        };
        let error = resolve(&on_term, &[]).unwrap_err().to_string();
        assert!(
            error.contains("`signals` defaults to SIGINT and SIGTERM"),
            "{error}"
        );
        let listed = Settings {
            upgrade: Some(Signal::SIGHUP),
            signals: Some(vec![Signal::SIGTERM, Signal::SIGHUP]),
            ..Settings::default()
        };
        let error = resolve(&listed, &[]).unwrap_err().to_string();
        assert!(error.contains("also in `signals`"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn upgrade_timeout_defaults_to_30s_and_the_variable_wins() {
        let settings = Settings {
            upgrade: Some(Signal::SIGHUP),
            upgrade_timeout: Some(Duration::from_secs(5)),
            ..Settings::default()
        };
        let config = resolve(&Settings::default(), &[]).unwrap();
        assert_eq!(config.upgrade_timeout, Duration::from_secs(30));
        assert_eq!(config.upgrade, None);
        let config = resolve(&settings, &[]).unwrap();
        assert_eq!(config.upgrade, Some(Signal::SIGHUP));
        assert_eq!(config.upgrade_timeout, Duration::from_secs(5));
        let config = resolve(&settings, &[("GRACEFUL_UPGRADE_TIMEOUT", "1m")]).unwrap();
        assert_eq!(config.upgrade_timeout, Duration::from_secs(60));
        let error = resolve(&settings, &[("GRACEFUL_UPGRADE_TIMEOUT", "0s")]).unwrap_err();
        assert!(
            error.to_string().contains("GRACEFUL_UPGRADE_TIMEOUT"),
            "{error}"
        );
    }

    #[test]
    fn worker_threads_checks() {
        let zero = Settings {
            worker_threads: Some(0),
            ..Settings::default()
        };
        assert!(resolve(&zero, &[]).is_err());
        let current = Settings {
            worker_threads: Some(2),
            flavor: Some(Flavor::CurrentThread),
            ..Settings::default()
        };
        assert!(
            resolve(&current, &[])
                .unwrap_err()
                .to_string()
                .contains("the current_thread flavor runs everything on one thread")
        );
    }
}
