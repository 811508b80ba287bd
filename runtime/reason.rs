//! Why a shutdown started.

use std::borrow::Cow;
use std::fmt;

use crate::signal::Signal;

/// What started the shutdown: the first trigger wins, later ones are ignored.
///
/// `Debug` shows a signal by name (`Signal(SIGTERM)`), `Display` reads as a sentence.
///
/// ```
/// use graceful::{Reason, Signal};
///
/// let reason = Reason::Signal(Signal::SIGTERM);
/// assert_eq!(format!("{reason:?}"), "Signal(SIGTERM)");
/// assert_eq!(reason.to_string(), "received SIGTERM");
/// assert_eq!(reason.signal(), Some(Signal::SIGTERM));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// A configured signal (or Windows console event) arrived.
    Signal(Signal),
    /// [`Shutdown::trigger`](crate::Shutdown::trigger) or
    /// [`trigger_with_code`](crate::Shutdown::trigger_with_code) was called.
    Triggered,
    /// The main body returned `()` or `Ok(())`.
    MainReturned,
    /// The main body returned `Err`.
    MainFailed,
    /// The main body panicked.
    MainPanicked,
    /// A new process, started by an upgrade ([`Builder::upgrade`](crate::Builder::upgrade),
    /// [`Shutdown::upgrade`](crate::Shutdown::upgrade)), is ready and serves on the sockets this
    /// one handed over: this one drains and exits. A hook that deregisters the instance from
    /// service discovery skips its work on this reason, since the service stays where it was.
    Upgrade,
    /// A [`service`](crate::service) returned `Err` before the shutdown started.
    ServiceFailed {
        /// The service's name.
        service: Cow<'static, str>,
        /// The error's `Display` text.
        error: String,
    },
    /// A [`service`](crate::service) panicked before the shutdown started.
    ServicePanicked {
        /// The service's name.
        service: Cow<'static, str>,
        /// The panic message.
        message: String,
    },
}

impl Reason {
    /// The signal, when a signal started the shutdown.
    ///
    /// ```
    /// assert_eq!(graceful::Reason::Triggered.signal(), None);
    /// ```
    pub fn signal(&self) -> Option<Signal> {
        match self {
            Reason::Signal(signal) => Some(*signal),
            _ => None,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Signal(signal) => write!(f, "received {signal}"),
            Reason::Triggered => f.write_str("triggered"),
            Reason::MainReturned => f.write_str("main returned"),
            Reason::MainFailed => f.write_str("main returned an error"),
            Reason::MainPanicked => f.write_str("main panicked"),
            Reason::Upgrade => f.write_str("upgraded: a new process took over"),
            Reason::ServiceFailed { service, error } => {
                write!(f, "service {service} failed: {error}")
            }
            Reason::ServicePanicked { service, message } => {
                write!(f, "service {service} panicked: {message}")
            }
        }
    }
}
