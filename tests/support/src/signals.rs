//! The signals side of a child: the dispositions it starts with, and whether a signal sent
//! to it is still pending.

use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// The arguments of GNU `env` that run the program after them with the default disposition
/// of the signals the tests send, among them the two a shell makes a background job ignore.
///
/// A disposition set to "ignore" survives `exec`, and a non-interactive shell starts a
/// background job (`cargo test &` in a script) with SIGINT and SIGQUIT ignored: a child that
/// installs no handler would then survive a SIGINT the test expects to kill it. GNU
/// `env --default-signal` (coreutils 8.31 or later) resets them and execs the program, so the
/// pid stays the program's (the workspace forbids the `unsafe` a `pre_exec` would need).
pub(crate) const DEFAULT_SIGNALS_ARGS: [&str; 2] =
    ["--default-signal=INT,QUIT,TERM,HUP,USR1,USR2", "--"];

/// Whether `signal` is pending for process `pid` or any of its threads
/// (`/proc/<pid>/status`: `ShdPnd`, and `SigPnd` of each task); `None` once the process has
/// exited (or is a zombie, whose status shows no thread).
pub(crate) fn is_pending(pid: Pid, signal: Signal) -> Option<bool> {
    fn mask(status: &str, key: &str) -> Option<u64> {
        let line = status.lines().find(|line| line.starts_with(key))?;
        u64::from_str_radix(line[key.len()..].trim(), 16).ok()
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    if status
        .lines()
        .any(|line| line.starts_with("State:") && line.contains("zombie"))
    {
        return None;
    }
    let mut pending = mask(&status, "ShdPnd:")?;
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    for task in tasks.flatten() {
        if let Ok(status) = std::fs::read_to_string(task.path().join("status")) {
            pending |= mask(&status, "SigPnd:").unwrap_or(0);
        }
    }
    let bit = 1u64 << (signal as i32 - 1);
    Some(pending & bit != 0)
}
