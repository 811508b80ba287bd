//! The [`Signal`] value: a Unix signal or a Windows console event that asks the process to
//! stop. What listens for them is the signal listener (`process::listener`), above this.

use std::fmt;

/// A signal that asks the process to stop, and so can start a shutdown: a Unix signal, or a
/// Windows console event. Signals that mean something else (SIGCHLD, SIGWINCH, SIGPIPE...)
/// have no constant: a program cannot listen to them by mistake.
///
/// Its `Debug` and `Display` forms are its name (`SIGTERM`, `CTRL_C`).
///
/// ```
/// use graceful::Signal;
///
/// assert_eq!(format!("{:?}", Signal::SIGTERM), "SIGTERM");
/// assert_eq!(Signal::SIGTERM.force_exit_code(), 143);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal(pub(crate) Kind);

/// The names and which signals there are come from the table the attribute reads too.
pub(crate) use graceful_rules::signal::StopSignal as Kind;

#[allow(missing_docs)] // each constant is the signal of the same name
impl Signal {
    pub const SIGHUP: Signal = Signal(Kind::Hup);
    pub const SIGINT: Signal = Signal(Kind::Int);
    pub const SIGQUIT: Signal = Signal(Kind::Quit);
    pub const SIGTERM: Signal = Signal(Kind::Term);
    pub const SIGUSR1: Signal = Signal(Kind::Usr1);
    pub const SIGUSR2: Signal = Signal(Kind::Usr2);
    /// Windows: Ctrl-C in the console.
    pub const CTRL_C: Signal = Signal(Kind::CtrlC);
    /// Windows: Ctrl-Break in the console.
    pub const CTRL_BREAK: Signal = Signal(Kind::CtrlBreak);
    /// Windows: the console window is being closed.
    pub const CTRL_CLOSE: Signal = Signal(Kind::CtrlClose);
    /// Windows: the user is logging off (services only).
    pub const CTRL_LOGOFF: Signal = Signal(Kind::CtrlLogoff);
    /// Windows: the system is shutting down.
    pub const CTRL_SHUTDOWN: Signal = Signal(Kind::CtrlShutdown);
}

impl Signal {
    /// The signals a shutdown listens for by default on this platform: SIGINT and SIGTERM on
    /// Unix; Ctrl-C, Ctrl-Break, Ctrl-Close and Ctrl-Shutdown on Windows.
    ///
    /// ```
    /// # #[cfg(unix)]
    /// assert_eq!(graceful::Signal::defaults(), &[graceful::Signal::SIGINT, graceful::Signal::SIGTERM]);
    /// ```
    pub fn defaults() -> &'static [Signal] {
        if cfg!(windows) {
            &[
                Signal::CTRL_C,
                Signal::CTRL_BREAK,
                Signal::CTRL_CLOSE,
                Signal::CTRL_SHUTDOWN,
            ]
        } else {
            const UNIX: [Signal; 2] = [
                Signal(Kind::UNIX_DEFAULTS[0]),
                Signal(Kind::UNIX_DEFAULTS[1]),
            ];
            &UNIX
        }
    }

    /// The name, as written in `signals = [...]`: `"SIGTERM"`, `"CTRL_C"`.
    ///
    /// ```
    /// assert_eq!(graceful::Signal::SIGHUP.name(), "SIGHUP");
    /// ```
    pub const fn name(self) -> &'static str {
        self.0.name()
    }

    /// The signal's number on this platform (`15` for SIGTERM on Linux); for a Windows console
    /// event, the event's number (`CTRL_C_EVENT` is 0).
    ///
    /// ```
    /// # #[cfg(unix)]
    /// assert_eq!(graceful::Signal::SIGINT.number(), 2);
    /// ```
    pub fn number(self) -> i32 {
        match self.0 {
            Kind::CtrlC => 0,
            Kind::CtrlBreak => 1,
            Kind::CtrlClose => 2,
            Kind::CtrlLogoff => 5,
            Kind::CtrlShutdown => 6,
            unix => unix_number(unix),
        }
    }

    /// The exit code when this signal forces the exit during a shutdown: 128 + its number, as a
    /// shell reports a process killed by it (130 for SIGINT, 143 for SIGTERM). A Windows console
    /// event uses the code of the Unix signal it stands for (Ctrl-C and Ctrl-Break as SIGINT,
    /// the others as SIGTERM).
    ///
    /// ```
    /// assert_eq!(graceful::Signal::SIGINT.force_exit_code(), 130);
    /// ```
    pub fn force_exit_code(self) -> u8 {
        let number = match self.0 {
            Kind::CtrlC | Kind::CtrlBreak => 2,
            Kind::CtrlClose | Kind::CtrlLogoff | Kind::CtrlShutdown => 15,
            unix => unix_number(unix),
        };
        u8::try_from(128 + number).unwrap_or(u8::MAX)
    }
}

#[cfg(unix)]
fn unix_number(kind: Kind) -> i32 {
    match kind {
        Kind::Hup => libc::SIGHUP,
        Kind::Int => libc::SIGINT,
        Kind::Quit => libc::SIGQUIT,
        Kind::Term => libc::SIGTERM,
        Kind::Usr1 => libc::SIGUSR1,
        Kind::Usr2 => libc::SIGUSR2,
        _ => unreachable!("console events are not Unix signals"),
    }
}

// The Linux numbers, for display on platforms without these signals.
#[cfg(not(unix))]
fn unix_number(kind: Kind) -> i32 {
    match kind {
        Kind::Hup => 1,
        Kind::Int => 2,
        Kind::Quit => 3,
        Kind::Term => 15,
        Kind::Usr1 => 10,
        Kind::Usr2 => 12,
        _ => unreachable!("console events are not Unix signals"),
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
