//! The signals `signals = [...]` may name, and what to say about those it may not: one
//! table, so that a signal is either accepted or refused with a reason, never both.

/// Signals and console events that ask a process to stop. Each is a `graceful::Signal`
/// constant of the same name; the macro emits no other.
const STOP_REQUESTS: &[&str] = &[
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGTERM",
    "SIGUSR1",
    "SIGUSR2",
    "CTRL_C",
    "CTRL_BREAK",
    "CTRL_CLOSE",
    "CTRL_LOGOFF",
    "CTRL_SHUTDOWN",
];

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

/// A signal that asks the process to stop, by its `graceful::Signal` constant name.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Signal(&'static str);

impl Signal {
    /// The constant name, such as `SIGTERM`.
    pub fn name(self) -> &'static str {
        self.0
    }
}

/// What `upgrade = "..."` refusals end with: the signals to write instead.
const UPGRADE_INSTEAD: &str =
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
pub fn lookup(written: &str) -> Result<Signal, String> {
    classify(written, Purpose::Shutdown)
}

/// Reads the signal of `upgrade = "..."`: a Unix signal that asks the process to stop (the
/// ones an operator sends on purpose); the error says why not, or what to write instead.
pub fn lookup_upgrade(written: &str) -> Result<Signal, String> {
    let signal = classify(written, Purpose::Upgrade)?;
    if signal.0.starts_with("CTRL_") {
        return Err(format!(
            "`{}` is a Windows console event, and upgrades work on Unix only (Linux, macOS); {UPGRADE_INSTEAD}",
            signal.0
        ));
    }
    Ok(signal)
}

fn classify(written: &str, purpose: Purpose) -> Result<Signal, String> {
    if let Some(&name) = STOP_REQUESTS.iter().find(|&&name| name == written) {
        return Ok(Signal(name));
    }
    let full = normalize(written);
    let upgrade = purpose == Purpose::Upgrade;
    if STOP_REQUESTS.contains(&full.as_str()) {
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
        let known: Vec<String> = STOP_REQUESTS
            .iter()
            .filter(|name| !(upgrade && name.starts_with("CTRL_")))
            .map(|name| format!("`{name}`"))
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
        for name in STOP_REQUESTS {
            assert_eq!(lookup(name).map(Signal::name), Ok(*name));
        }
    }

    #[test]
    fn every_name_is_in_one_list() {
        let mut names: Vec<&str> = STOP_REQUESTS.to_vec();
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
        assert_eq!(lookup_upgrade("SIGHUP").map(Signal::name), Ok("SIGHUP"));
        assert_eq!(lookup_upgrade("SIGUSR2").map(Signal::name), Ok("SIGUSR2"));
        let chld = lookup_upgrade("SIGCHLD").unwrap_err();
        assert!(chld.contains("cannot ask for an upgrade"), "{chld}");
        assert!(chld.contains("use `SIGHUP`"), "{chld}");
        let ctrl = lookup_upgrade("CTRL_C").unwrap_err();
        assert!(ctrl.contains("Unix only"), "{ctrl}");
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
