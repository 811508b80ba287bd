//! The settings of a run, resolved from the [`Builder`](crate::Builder) and the `GRACEFUL_*`
//! environment variables (which win).

use std::error::Error;
use std::ffi::OsString;
use std::fmt;
use std::time::Duration;

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
    ) -> Result<Config, ConfigError> {
        let env = |name: &'static str| -> Result<Option<Duration>, ConfigError> {
            var(name).map(|value| parse_env(name, value)).transpose()
        };
        let timeout = env(ENV_TIMEOUT)?
            .or(self.timeout)
            .unwrap_or(DEFAULT_TIMEOUT);
        let drain_timeout = env(ENV_DRAIN_TIMEOUT)?
            .or(self.drain_timeout)
            .unwrap_or(DEFAULT_DRAIN_TIMEOUT)
            .min(timeout);
        let drain_delay = env(ENV_DRAIN_DELAY)?
            .or(self.drain_delay)
            .unwrap_or_default();
        let flavor = self.flavor.unwrap_or_default();
        let upgrade_timeout = env(ENV_UPGRADE_TIMEOUT)?
            .or(self.upgrade_timeout)
            .unwrap_or(DEFAULT_UPGRADE_TIMEOUT);
        let signals = self
            .signals
            .clone()
            .unwrap_or_else(|| Signal::defaults().to_vec());

        if timeout.is_zero() {
            return Err(ConfigError::new(
                "the shutdown timeout must be greater than zero (e.g. 25s)".to_owned(),
            ));
        }
        if drain_delay >= timeout {
            return Err(ConfigError::new(format!(
                "drain_delay ({drain_delay:?}) must be shorter than the timeout ({timeout:?}), \
                 or no time is left for the drain and the hooks; set {ENV_DRAIN_DELAY} or \
                 {ENV_TIMEOUT} accordingly"
            )));
        }
        match (flavor, self.worker_threads) {
            (_, Some(0)) => {
                return Err(ConfigError::new(
                    "worker_threads must be at least 1".to_owned(),
                ));
            }
            (Flavor::CurrentThread, Some(_)) => {
                return Err(ConfigError::new(
                    "worker_threads cannot be set with the current_thread flavor: remove it, or \
                     use Flavor::MultiThread"
                        .to_owned(),
                ));
            }
            _ => {}
        }
        if let Some(upgrade) = self.upgrade {
            check_upgrade(upgrade, &signals, self.signals.is_some())?;
        }
        if upgrade_timeout.is_zero() {
            return Err(ConfigError::new(
                "the upgrade timeout must be greater than zero (e.g. 30s): the new process needs \
                 time to start"
                    .to_owned(),
            ));
        }
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
}

/// The upgrade signal must be one the shutdown does not listen to, and upgrades need Unix.
fn check_upgrade(upgrade: Signal, signals: &[Signal], listed: bool) -> Result<(), ConfigError> {
    if cfg!(not(unix)) || upgrade.is_console_event() {
        return Err(ConfigError::new(format!(
            "upgrade_on({upgrade}): zero-downtime upgrades hand listening sockets to a new \
             process, which graceful supports on Unix only (Linux, macOS); remove upgrade_on \
             on this platform"
        )));
    }
    if signals.contains(&upgrade) {
        let which = if listed {
            "it is also in `signals`"
        } else {
            "it is one of the default shutdown signals (SIGINT, SIGTERM)"
        };
        return Err(ConfigError::new(format!(
            "upgrade_on({upgrade}): {which}, so it would both stop and upgrade the process; \
             upgrade on another signal, e.g. SIGHUP or SIGUSR2"
        )));
    }
    Ok(())
}

fn parse_env(name: &'static str, value: OsString) -> Result<Duration, ConfigError> {
    let text = value.to_string_lossy();
    let example = format!("write it like {name}=10s, {name}=500ms or {name}=\"1m 30s\"");
    match humantime::parse_duration(text.trim()) {
        Ok(duration)
            if duration.is_zero() && (name == ENV_TIMEOUT || name == ENV_UPGRADE_TIMEOUT) =>
        {
            Err(ConfigError::new(format!(
                "{name}={text:?} leaves no time to shut down: the timeout must be greater than zero; {example}"
            )))
        }
        Ok(duration) => Ok(duration),
        Err(error) => Err(ConfigError::new(format!(
            "{name}={text:?} is not a duration ({error}); {example}"
        ))),
    }
}

/// A setting that cannot be used, found before the main body runs: a malformed `GRACEFUL_*`
/// variable, or contradictory builder settings. [`Builder::run`](crate::Builder::run) prints it
/// and exits with code 2.
///
/// ```
/// let error = graceful::Builder::new()
///     .worker_threads(0)
///     .run_to_report(|_| async {})
///     .unwrap_err();
/// assert_eq!(error.to_string(), "worker_threads must be at least 1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    message: String,
}

impl ConfigError {
    pub(crate) fn new(message: String) -> Self {
        ConfigError { message }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(settings: &Settings, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
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
            message.starts_with("GRACEFUL_TIMEOUT=\"0s\" leaves no time"),
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
                .contains("must be shorter than the timeout"),
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
        assert!(error.contains("default shutdown signals"), "{error}");
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
                .contains("current_thread")
        );
    }
}
