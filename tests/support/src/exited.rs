//! A child that has exited: how it ended, everything it printed, and the questions the tests
//! ask of that.

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::output::{Line, format_output};

/// A child that has exited: its status and everything it printed.
pub struct Exited {
    pub(crate) name: String,
    /// How the process ended.
    pub status: ExitStatus,
    /// From the start of the wait to the exit.
    pub waited: Duration,
    /// Every line of stdout, with when it was read.
    pub stdout: Vec<Line>,
    /// Every line of stderr.
    pub stderr: Vec<String>,
}

impl Exited {
    /// Fails the test unless the process exited with `code`.
    pub fn assert_code(&self, code: i32) {
        assert_eq!(
            self.status.code(),
            Some(code),
            "{}: expected exit code {code}, got {:?}\n{self}",
            self.name,
            self.status
        );
    }

    /// Fails the test unless the process was killed by `signal` (it did not exit).
    pub fn assert_killed_by(&self, signal: Signal) {
        assert_eq!(
            self.status.signal(),
            Some(signal as i32),
            "{}: expected death by {signal}, got {:?}\n{self}",
            self.name,
            self.status
        );
    }

    /// The stdout lines, as text.
    pub fn stdout_texts(&self) -> Vec<&str> {
        self.stdout.iter().map(|line| line.text.as_str()).collect()
    }

    /// The stdout line `text`; fails the test if there is none.
    pub fn stdout_line(&self, text: &str) -> &Line {
        let index = self.stdout_index(text);
        &self.stdout[index]
    }

    /// The index of the first stdout line `text`; fails the test if there is none.
    pub fn stdout_index(&self, text: &str) -> usize {
        self.stdout
            .iter()
            .position(|line| line.text == text)
            .unwrap_or_else(|| panic!("{}: no line {text:?} on stdout\n{self}", self.name))
    }

    /// Whether stdout has the line `text`.
    pub fn stdout_has(&self, text: &str) -> bool {
        self.stdout_count(text) > 0
    }

    /// How many stdout lines equal `text`.
    pub fn stdout_count(&self, text: &str) -> usize {
        self.stdout.iter().filter(|line| line.text == text).count()
    }

    /// The one stdout line starting with `prefix`; fails the test unless there is exactly one.
    pub fn stdout_starting(&self, prefix: &str) -> &str {
        let found: Vec<&str> = self.stdout_lines_starting(prefix);
        match found[..] {
            [line] => line,
            _ => panic!(
                "{}: expected one stdout line starting with {prefix:?}, found {}\n{self}",
                self.name,
                found.len()
            ),
        }
    }

    /// The stdout lines that start with `hook ` (the fixtures' hooks print them), in order.
    pub fn hook_lines(&self) -> Vec<&str> {
        self.stdout_lines_starting("hook ")
    }

    fn stdout_lines_starting(&self, prefix: &str) -> Vec<&str> {
        let texts = self.stdout.iter().map(|line| line.text.as_str());
        texts.filter(|line| line.starts_with(prefix)).collect()
    }

    /// The lines the library prints on stderr when no subscriber is installed (`graceful: ...`).
    pub fn graceful_lines(&self) -> Vec<&str> {
        let texts = self.stderr.iter().map(String::as_str);
        texts
            .filter(|line| line.starts_with("graceful: "))
            .collect()
    }

    /// The `graceful: ` lines of a run that exited with a non-zero code, but the last: that one
    /// must be the summary, which says why the code is not 0 (checked here).
    pub fn failure_lines(&self) -> Vec<&str> {
        let mut lines = self.graceful_lines();
        let code = self.status.code().expect("an exit code");
        let summary = lines.pop().unwrap_or_default();
        assert!(
            summary.starts_with("graceful: shutdown (")
                && summary.ends_with(&format!("exit code {code}")),
            "{}: the last line on stderr is not the summary of exit code {code}: {summary:?}\n{self}",
            self.name
        );
        lines
    }

    /// The stderr lines containing every one of `parts`.
    pub fn stderr_lines_with(&self, parts: &[&str]) -> Vec<&str> {
        self.stderr
            .iter()
            .map(String::as_str)
            .filter(|line| parts.iter().all(|part| line.contains(part)))
            .collect()
    }

    /// The one stderr line containing every one of `parts`; fails the test unless there is
    /// exactly one.
    pub fn stderr_line_with(&self, parts: &[&str]) -> &str {
        match self.stderr_lines_with(parts)[..] {
            [line] => line,
            ref lines => panic!(
                "{}: expected one stderr line with {parts:?}, found {}\n{self}",
                self.name,
                lines.len()
            ),
        }
    }
}

impl fmt::Display for Exited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "status {:?} after {:?}\n{}",
            self.status,
            self.waited,
            format_output(&self.stdout_texts(), &self.stderr)
        )
    }
}
