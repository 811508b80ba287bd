//! The signal names: those that ask a process to stop, which `signals = [...]`,
//! `Builder::signals` and `upgrade` may use, and what to say about those they may not. One
//! table, so that a signal is either accepted or refused with a reason, never both.

/// A signal or console event that asks a process to stop. The runtime's `graceful::Signal`
/// has one constant for each, of the same [name](StopSignal::name), and no other.
///
/// ```
/// use graceful_rules::signal::StopSignal;
///
/// assert_eq!(StopSignal::Term.name(), "SIGTERM");
/// assert!(StopSignal::CtrlC.is_console_event());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StopSignal {
    /// SIGHUP.
    Hup,
    /// SIGINT.
    Int,
    /// SIGQUIT.
    Quit,
    /// SIGTERM.
    Term,
    /// SIGUSR1.
    Usr1,
    /// SIGUSR2.
    Usr2,
    /// Windows: Ctrl-C in the console.
    CtrlC,
    /// Windows: Ctrl-Break in the console.
    CtrlBreak,
    /// Windows: the console window is being closed.
    CtrlClose,
    /// Windows: the user is logging off (services only).
    CtrlLogoff,
    /// Windows: the system is shutting down.
    CtrlShutdown,
}

impl StopSignal {
    /// Every one, in the order error messages list them.
    ///
    /// ```
    /// assert_eq!(graceful_rules::signal::StopSignal::ALL.len(), 11);
    /// ```
    pub const ALL: [StopSignal; 11] = [
        StopSignal::Hup,
        StopSignal::Int,
        StopSignal::Quit,
        StopSignal::Term,
        StopSignal::Usr1,
        StopSignal::Usr2,
        StopSignal::CtrlC,
        StopSignal::CtrlBreak,
        StopSignal::CtrlClose,
        StopSignal::CtrlLogoff,
        StopSignal::CtrlShutdown,
    ];

    /// The name, as written in `signals = [...]` and as the `graceful::Signal` constant.
    ///
    /// ```
    /// assert_eq!(graceful_rules::signal::StopSignal::CtrlBreak.name(), "CTRL_BREAK");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            StopSignal::Hup => "SIGHUP",
            StopSignal::Int => "SIGINT",
            StopSignal::Quit => "SIGQUIT",
            StopSignal::Term => "SIGTERM",
            StopSignal::Usr1 => "SIGUSR1",
            StopSignal::Usr2 => "SIGUSR2",
            StopSignal::CtrlC => "CTRL_C",
            StopSignal::CtrlBreak => "CTRL_BREAK",
            StopSignal::CtrlClose => "CTRL_CLOSE",
            StopSignal::CtrlLogoff => "CTRL_LOGOFF",
            StopSignal::CtrlShutdown => "CTRL_SHUTDOWN",
        }
    }

    /// Whether this is a Windows console event rather than a Unix signal.
    ///
    /// ```
    /// assert!(!graceful_rules::signal::StopSignal::Hup.is_console_event());
    /// ```
    pub const fn is_console_event(self) -> bool {
        matches!(
            self,
            StopSignal::CtrlC
                | StopSignal::CtrlBreak
                | StopSignal::CtrlClose
                | StopSignal::CtrlLogoff
                | StopSignal::CtrlShutdown
        )
    }

    /// The signals a shutdown listens for when none are listed, on Unix (the platform
    /// upgrades need): SIGINT and SIGTERM.
    ///
    /// ```
    /// use graceful_rules::signal::StopSignal;
    ///
    /// assert_eq!(StopSignal::UNIX_DEFAULTS, [StopSignal::Int, StopSignal::Term]);
    /// ```
    pub const UNIX_DEFAULTS: [StopSignal; 2] = [StopSignal::Int, StopSignal::Term];
}

/// Signals the kernel never delivers to a handler.
const UNCATCHABLE: &[&str] = &["SIGKILL", "SIGSTOP"];

/// Signals that report a fault in the process itself, and what kind.
const FAULTS: &[(&str, &str)] = &[
    ("SIGSEGV", "a bad memory access or instruction"),
    ("SIGILL", "a bad memory access or instruction"),
    ("SIGFPE", "a bad memory access or instruction"),
    ("SIGBUS", "a bad memory access or instruction"),
    ("SIGABRT", "a call to `abort()`, e.g. a failed assertion"),
    ("SIGIOT", "a call to `abort()`, e.g. a failed assertion"),
    ("SIGSYS", "a bad system call"),
    ("SIGTRAP", "a breakpoint or trace trap, for a debugger"),
    ("SIGEMT", "an emulator trap"),
    ("SIGSTKFLT", "a coprocessor stack fault"),
];

/// Catchable signals that report an event rather than ask to stop, and when they are sent.
const NOT_STOP_REQUESTS: &[(&str, &str)] = &[
    ("SIGCHLD", "when a child process stops or exits"),
    ("SIGCLD", "when a child process stops or exits"),
    ("SIGWINCH", "when a terminal is resized"),
    (
        "SIGPIPE",
        "when the process writes to a pipe or socket whose other end is closed",
    ),
    (
        "SIGURG",
        "when urgent (out-of-band) data arrives on a socket",
    ),
    ("SIGCONT", "to resume a process paused by job control"),
    ("SIGALRM", "when a timer set with `alarm()` expires"),
    (
        "SIGTSTP",
        "to pause the process from its terminal (Ctrl-Z) until `SIGCONT` resumes it",
    ),
    (
        "SIGTTIN",
        "to pause a background process that reads from its terminal",
    ),
    (
        "SIGTTOU",
        "to pause a background process that writes to its terminal",
    ),
    ("SIGPROF", "when a profiling timer expires"),
    ("SIGVTALRM", "when a virtual (CPU time) timer expires"),
    ("SIGIO", "when a file descriptor is ready for I/O"),
    ("SIGPOLL", "when a file descriptor is ready for I/O"),
    ("SIGXCPU", "when the process exceeds its CPU time limit"),
    ("SIGXFSZ", "when the process exceeds its file size limit"),
    ("SIGINFO", "to ask for a status line (Ctrl-T)"),
    ("SIGPWR", "to init when the power fails"),
];

/// What every refusal ends with: the signals to write instead.
const USE_INSTEAD: &str =
    "use `SIGTERM` (what `kill`, systemd and Kubernetes send) or `SIGINT` (Ctrl-C)";

/// What `upgrade = "..."` refusals end with: the signals to write instead.
pub(crate) const UPGRADE_INSTEAD: &str =
    "use `SIGHUP` (what `ExecReload=kill -HUP $MAINPID` sends), `SIGUSR1` or `SIGUSR2`";

/// What the signal is asked to do, for the messages.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Purpose {
    /// `signals = [...]`.
    Shutdown,
    /// `upgrade = "..."`.
    Upgrade,
}

/// Reads a signal name as written in `signals = [...]`; the error says why the signal
/// cannot start a shutdown, or what to write instead.
///
/// ```
/// use graceful_rules::signal::{lookup, StopSignal};
///
/// assert_eq!(lookup("SIGHUP"), Ok(StopSignal::Hup));
/// assert!(lookup("SIGCHLD").unwrap_err().contains("when a child process stops or exits"));
/// ```
pub fn lookup(written: &str) -> Result<StopSignal, String> {
    classify(written, Purpose::Shutdown)
}

/// Reads the signal of `upgrade = "..."`: a Unix signal that asks the process to stop (the
/// ones an operator sends on purpose); the error says why not, or what to write instead.
///
/// ```
/// use graceful_rules::signal::{lookup_upgrade, StopSignal};
///
/// assert_eq!(lookup_upgrade("SIGUSR2"), Ok(StopSignal::Usr2));
/// assert!(lookup_upgrade("SIGCHLD").unwrap_err().contains("cannot ask for an upgrade"));
/// ```
pub fn lookup_upgrade(written: &str) -> Result<StopSignal, String> {
    classify(written, Purpose::Upgrade)
}

fn classify(written: &str, purpose: Purpose) -> Result<StopSignal, String> {
    if let Some(&signal) = StopSignal::ALL
        .iter()
        .find(|signal| signal.name() == written)
    {
        return Ok(signal);
    }
    let full = normalize(written);
    let upgrade = purpose == Purpose::Upgrade;
    if StopSignal::ALL.iter().any(|signal| signal.name() == full) {
        let example = if upgrade {
            "`upgrade = \"SIGHUP\"`"
        } else if full.starts_with("CTRL_") {
            "`signals = [\"CTRL_C\", \"CTRL_CLOSE\"]`"
        } else {
            "`signals = [\"SIGINT\", \"SIGTERM\"]`"
        };
        Err(format!(
            "unknown signal `{written}`: did you mean `{full}`? Signals are written in full and in capitals, e.g. {example}"
        ))
    } else if UNCATCHABLE.contains(&full.as_str()) {
        if upgrade {
            return Err(format!(
                "`{full}` cannot be caught: the kernel stops the process without telling it; {UPGRADE_INSTEAD}"
            ));
        }
        Err(format!(
            "`{full}` cannot be caught: the kernel stops the process without telling it, so there is no chance to shut down gracefully; use `SIGTERM` (what `kill`, systemd and Kubernetes send) or `SIGINT`"
        ))
    } else if let Some((_, fault)) = FAULTS.iter().find(|(name, _)| *name == full) {
        if upgrade {
            return Err(format!(
                "`{full}` reports a fault in the process itself ({fault}), not a request to upgrade; {UPGRADE_INSTEAD}"
            ));
        }
        Err(format!(
            "`{full}` reports a fault in the process itself ({fault}), not a request to stop; use `SIGTERM` or `SIGINT`"
        ))
    } else if let Some((_, when)) = NOT_STOP_REQUESTS.iter().find(|(name, _)| *name == full) {
        if upgrade {
            return Err(format!(
                "`{full}` is sent {when}, not by an operator, so it cannot ask for an upgrade; {UPGRADE_INSTEAD}"
            ));
        }
        Err(format!(
            "`{full}` is sent {when}, not to ask a process to stop, so it cannot start a shutdown; {USE_INSTEAD}"
        ))
    } else {
        let known: Vec<String> = StopSignal::ALL
            .iter()
            .filter(|signal| !(upgrade && signal.is_console_event()))
            .map(|signal| format!("`{}`", signal.name()))
            .collect();
        Err(format!(
            "unknown signal `{written}`; expected one of {}",
            known.join(", ")
        ))
    }
}

/// `written` as the table spells names: in capitals, with `SIG` (but not before `CTRL_`),
/// and `_` in a console event's name (`ctrl-c` is `CTRL_C`).
fn normalize(written: &str) -> String {
    let upper = written.trim().to_ascii_uppercase().replace(['-', ' '], "_");
    if upper.starts_with("SIG") || upper.starts_with("CTRL_") {
        upper
    } else if let Some(event) = upper.strip_prefix("CTRL") {
        format!("CTRL_{event}")
    } else {
        format!("SIG{upper}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_requests_are_accepted_by_name() {
        for signal in StopSignal::ALL {
            assert_eq!(lookup(signal.name()), Ok(signal));
        }
    }

    #[test]
    fn every_name_is_in_one_list() {
        let mut names: Vec<&str> = StopSignal::ALL.iter().map(|signal| signal.name()).collect();
        names.extend(UNCATCHABLE);
        names.extend(FAULTS.iter().map(|(name, _)| name));
        names.extend(NOT_STOP_REQUESTS.iter().map(|(name, _)| name));
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a name is in two lists");
    }

    /// The runtime no longer has these constants: the macro must refuse them.
    #[test]
    fn signals_that_do_not_ask_to_stop_are_refused_with_a_reason() {
        let cases = [
            ("SIGCHLD", "is sent when a child process stops or exits"),
            ("SIGWINCH", "is sent when a terminal is resized"),
            ("SIGPIPE", "pipe or socket"),
            ("SIGURG", "urgent (out-of-band) data"),
            ("SIGCONT", "to resume"),
            ("SIGALRM", "`alarm()`"),
            ("SIGTSTP", "Ctrl-Z"),
            ("SIGTTIN", "background process"),
            ("SIGTTOU", "background process"),
            ("SIGPROF", "profiling timer"),
            ("SIGVTALRM", "virtual (CPU time) timer"),
            ("SIGIO", "ready for I/O"),
            ("SIGPOLL", "ready for I/O"),
            ("SIGXCPU", "CPU time limit"),
            ("SIGXFSZ", "file size limit"),
        ];
        for (name, why) in cases {
            let message = lookup(name).unwrap_err();
            assert!(message.starts_with(&format!("`{name}` ")), "{message}");
            assert!(message.contains(why), "{message}");
            assert!(
                message.contains("not to ask a process to stop"),
                "{message}"
            );
            assert!(message.contains("use `SIGTERM`"), "{message}");
        }
    }

    #[test]
    fn refusals_read_lowercase_and_short_names_too() {
        assert!(
            lookup("winch")
                .unwrap_err()
                .starts_with("`SIGWINCH` is sent when a terminal is resized")
        );
        assert!(
            lookup("sigchld")
                .unwrap_err()
                .starts_with("`SIGCHLD` is sent")
        );
    }

    #[test]
    fn faults() {
        assert!(lookup("SIGSEGV").unwrap_err().contains(
            "reports a fault in the process itself (a bad memory access or instruction)"
        ));
        assert!(
            lookup("SIGSYS")
                .unwrap_err()
                .contains("(a bad system call)")
        );
        assert!(lookup("SIGTRAP").unwrap_err().contains("for a debugger"));
        assert!(lookup("SIGABRT").unwrap_err().contains("`abort()`"));
    }

    #[test]
    fn upgrade_signals() {
        assert_eq!(lookup_upgrade("SIGHUP"), Ok(StopSignal::Hup));
        assert_eq!(lookup_upgrade("SIGUSR2"), Ok(StopSignal::Usr2));
        let chld = lookup_upgrade("SIGCHLD").unwrap_err();
        assert!(chld.contains("cannot ask for an upgrade"), "{chld}");
        assert!(chld.contains("use `SIGHUP`"), "{chld}");
        assert!(
            lookup_upgrade("hup")
                .unwrap_err()
                .contains("did you mean `SIGHUP`")
        );
        assert!(!lookup_upgrade("SIGFOO").unwrap_err().contains("CTRL_"));
    }

    #[test]
    fn hints() {
        assert!(lookup("INT").unwrap_err().contains("did you mean `SIGINT`"));
        assert!(
            lookup("sigint")
                .unwrap_err()
                .contains("did you mean `SIGINT`")
        );
        assert!(
            lookup("ctrl-c")
                .unwrap_err()
                .contains("did you mean `CTRL_C`")
        );
        assert!(
            lookup("CtrlBreak")
                .unwrap_err()
                .contains("did you mean `CTRL_BREAK`")
        );
        assert!(lookup("SIGKILL").unwrap_err().contains("cannot be caught"));
        assert!(lookup("stop").unwrap_err().contains("cannot be caught"));
        assert_eq!(
            lookup("SIGFOO").unwrap_err(),
            "unknown signal `SIGFOO`; expected one of `SIGHUP`, `SIGINT`, `SIGQUIT`, `SIGTERM`, `SIGUSR1`, `SIGUSR2`, `CTRL_C`, `CTRL_BREAK`, `CTRL_CLOSE`, `CTRL_LOGOFF`, `CTRL_SHUTDOWN`"
        );
    }
}
