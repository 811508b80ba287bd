//! The signals `signals = [...]` may name, and what to say about those it may not.

/// Signals a process can catch and reasonably treat as "please stop". Each is a
/// `graceful::Signal` constant of the same name.
const CATCHABLE: &[&str] = &[
    "SIGALRM", "SIGCHLD", "SIGHUP", "SIGINT", "SIGPIPE", "SIGQUIT", "SIGTERM", "SIGUSR1",
    "SIGUSR2", "SIGWINCH",
];

/// Signals the kernel never delivers to a handler.
const UNCATCHABLE: &[&str] = &["SIGKILL", "SIGSTOP"];

/// Signals that report a fault in the process itself.
const FAULTS: &[&str] = &["SIGSEGV", "SIGILL", "SIGFPE", "SIGBUS"];

/// A catchable signal, by its `graceful::Signal` constant name.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Signal(&'static str);

impl Signal {
    /// The constant name, such as `SIGTERM`.
    pub fn name(self) -> &'static str {
        self.0
    }
}

/// Reads a signal name as written in `signals = [...]`; the error says what to write instead.
pub fn lookup(written: &str) -> Result<Signal, String> {
    if let Some(&name) = CATCHABLE.iter().find(|&&name| name == written) {
        return Ok(Signal(name));
    }
    let upper = written.trim().to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    if CATCHABLE.contains(&full.as_str()) {
        Err(format!(
            "unknown signal `{written}`: did you mean `{full}`? Signals are written in full and in capitals, e.g. `signals = [\"SIGINT\", \"SIGTERM\"]`"
        ))
    } else if UNCATCHABLE.contains(&full.as_str()) {
        Err(format!(
            "`{full}` cannot be caught: the kernel stops the process without telling it, so there is no chance to shut down gracefully; use `SIGTERM` (what `kill`, systemd and Kubernetes send) or `SIGINT`"
        ))
    } else if FAULTS.contains(&full.as_str()) {
        Err(format!(
            "`{full}` reports a fault in the process itself (a bad memory access or instruction), not a request to stop; use `SIGTERM` or `SIGINT`"
        ))
    } else {
        let known: Vec<String> = CATCHABLE.iter().map(|name| format!("`{name}`")).collect();
        Err(format!(
            "unknown signal `{written}`; expected one of {}",
            known.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names() {
        for name in CATCHABLE {
            assert_eq!(lookup(name).map(Signal::name), Ok(*name));
        }
    }

    #[test]
    fn hints() {
        assert!(lookup("INT").unwrap_err().contains("did you mean `SIGINT`"));
        assert!(
            lookup("sigint")
                .unwrap_err()
                .contains("did you mean `SIGINT`")
        );
        assert!(lookup("SIGKILL").unwrap_err().contains("cannot be caught"));
        assert!(lookup("stop").unwrap_err().contains("cannot be caught"));
        assert!(lookup("SIGSEGV").unwrap_err().contains("reports a fault"));
        assert!(
            lookup("SIGFOO")
                .unwrap_err()
                .contains("expected one of `SIGALRM`")
        );
    }
}
