//! The harness: starts a fixture binary with a clean environment, reads its stdout and stderr
//! line by line on threads, waits for a line, sends real signals, and waits for the exit.
//!
//! Every wait has a deadline; past it the child is killed and the test fails with everything
//! the child printed. A `Fixture` dropped while its child still runs (a failed assertion)
//! kills the child, so no test leaves a process behind.

#![allow(dead_code)] // each test file uses a part of it

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use nix::sys::signal::Signal;
use nix::sys::signal::kill;
use nix::unistd::Pid;

/// How long a fixture may take to print `ready` (generous: the tests run in parallel on a
/// small machine).
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long to wait for a line once the fixture runs.
pub const LINE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the exit, unless a test says otherwise.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// The variables of the contract: removed from the child's environment unless a test sets
/// them, so that the developer's shell cannot change a test's outcome.
const GRACEFUL_VARS: [&str; 3] = [
    "GRACEFUL_TIMEOUT",
    "GRACEFUL_DRAIN_TIMEOUT",
    "GRACEFUL_DRAIN_DELAY",
];

/// The lines read so far from one stream, and whether it has ended.
#[derive(Default)]
struct Stream {
    state: Mutex<StreamState>,
    changed: Condvar,
}

#[derive(Default)]
struct StreamState {
    lines: Vec<String>,
    closed: bool,
}

impl Stream {
    fn lock(&self) -> MutexGuard<'_, StreamState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read_from(self: Arc<Self>, pipe: impl Read + Send + 'static) -> JoinHandle<()> {
        std::thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut buffer = Vec::new();
            loop {
                buffer.clear();
                match reader.read_until(b'\n', &mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buffer);
                        let line = line.strip_suffix('\n').unwrap_or(&line);
                        self.lock().lines.push(line.to_owned());
                        self.changed.notify_all();
                    }
                }
            }
            self.lock().closed = true;
            self.changed.notify_all();
        })
    }

    fn lines(&self) -> Vec<String> {
        self.lock().lines.clone()
    }

    /// Waits until a line satisfies `wanted`; its index, or `None` if the stream ended or
    /// the time ran out first.
    fn wait_for(&self, wanted: impl Fn(&str) -> bool, timeout: Duration) -> Option<usize> {
        let until = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if let Some(index) = state.lines.iter().position(|line| wanted(line)) {
                return Some(index);
            }
            let now = Instant::now();
            if state.closed || now >= until {
                return None;
            }
            state = self
                .changed
                .wait_timeout(state, until - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// Waits until the lines so far satisfy `wanted`; whether they did before the stream
    /// ended or the time ran out.
    fn wait_until(&self, wanted: impl Fn(&[String]) -> bool, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if wanted(&state.lines) {
                return true;
            }
            let now = Instant::now();
            if state.closed || now >= until {
                return false;
            }
            state = self
                .changed
                .wait_timeout(state, until - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    fn wait_closed(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        let mut state = self.lock();
        while !state.closed {
            let now = Instant::now();
            if now >= until {
                return false;
            }
            state = self
                .changed
                .wait_timeout(state, until - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        true
    }
}

/// The signals a test sends, and the two a shell makes a background job ignore.
const DEFAULT_SIGNALS_ARGS: [&str; 2] = ["--default-signal=INT,QUIT,TERM,HUP,USR1,USR2", "--"];

/// A command that runs `path` with the default disposition of the signals the tests send.
///
/// A disposition set to "ignore" survives `exec`, and a non-interactive shell starts a
/// background job (`cargo test &` in a script) with SIGINT and SIGQUIT ignored: a fixture
/// that installs no handler would then survive a SIGINT the test expects to kill it. GNU
/// `env --default-signal` (coreutils 8.31 or later) resets them and execs the fixture, so the
/// pid stays the fixture's (the workspace forbids the `unsafe` a `pre_exec` would need).
fn default_signals(path: &str) -> Command {
    let mut command = Command::new("env");
    command.args(DEFAULT_SIGNALS_ARGS).arg(path);
    command
}

/// Removes the `GRACEFUL_*` variables and `RUST_LOG`, sets `RUST_BACKTRACE=0`, then `env`.
fn clean_env(command: &mut Command, env: &[(&str, &str)]) {
    for var in GRACEFUL_VARS {
        command.env_remove(var);
    }
    command
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "0")
        .envs(env.iter().copied());
}

/// The signals pending for process `pid` or any of its threads (bit N-1 for signal N);
/// `None` once it has exited (or is a zombie, whose status shows no thread).
fn pending_signals(pid: Pid) -> Option<u64> {
    fn masks(status: &str, key: &str) -> Option<u64> {
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
    let mut pending = masks(&status, "ShdPnd:")?;
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    for task in tasks.flatten() {
        if let Ok(status) = std::fs::read_to_string(task.path().join("status")) {
            pending |= masks(&status, "SigPnd:").unwrap_or(0);
        }
    }
    Some(pending)
}

/// A running fixture binary.
pub struct Fixture {
    name: String,
    child: Child,
    /// The fixture's pid (the child's, unless something sits between them).
    pid: Pid,
    stdout: Arc<Stream>,
    stderr: Arc<Stream>,
    readers: Vec<JoinHandle<()>>,
}

impl Fixture {
    /// Starts the fixture at `path` (an `env!("CARGO_BIN_EXE_<name>")`) with no `GRACEFUL_*`
    /// variable, `RUST_BACKTRACE=0`, `env` on top, and the default disposition of every
    /// signal a test sends (see [`default_signals`]).
    pub fn start(path: &str, env: &[(&str, &str)]) -> Fixture {
        let mut command = default_signals(path);
        clean_env(&mut command, env);
        Fixture::spawn(path, command, Stdio::null(), |child| child.id())
    }

    /// [`start_ready`](Self::start_ready) with stdin a pipe, for [`send_line`](Self::send_line).
    pub fn start_ready_with_stdin(path: &str, env: &[(&str, &str)]) -> Fixture {
        let mut command = default_signals(path);
        clean_env(&mut command, env);
        let fixture = Fixture::spawn(path, command, Stdio::piped(), |child| child.id());
        fixture.wait_for_stdout(graceful_process_tests::READY, READY_TIMEOUT);
        fixture
    }

    /// Starts the fixture at `path` as PID 1 of a new PID namespace (with its own `/proc`),
    /// through `unshare --pid --fork --mount-proc`: the kernel treats an init process apart
    /// (a signal it has no handler for is dropped, not fatal). [`signal`](Self::signal) then
    /// reaches the fixture itself, not `unshare`: outside the namespace its pid is the only
    /// child of `unshare`. Needs root and util-linux's `unshare`; fails the test if either
    /// is missing.
    pub fn start_pid1(path: &str, env: &[(&str, &str)]) -> Fixture {
        let mut command = Command::new("unshare");
        command.args(["--pid", "--fork", "--mount-proc", "--"]);
        command.arg("env").args(DEFAULT_SIGNALS_ARGS).arg(path);
        clean_env(&mut command, env);
        Fixture::spawn(path, command, Stdio::null(), |child| {
            let unshare = child.id();
            let children = format!("/proc/{unshare}/task/{unshare}/children");
            let until = Instant::now() + READY_TIMEOUT;
            loop {
                // `unshare` forks once, then waits: its only child is the namespace's PID 1,
                // which execs `env`, which execs the fixture (one pid all along).
                let text = std::fs::read_to_string(&children).unwrap_or_default();
                if let Some(pid) = text.split_whitespace().next() {
                    return pid.parse().expect("a pid in /proc/*/children");
                }
                let status = child.try_wait();
                if !matches!(status, Ok(None)) || Instant::now() >= until {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "`unshare --pid --fork --mount-proc` did not start the fixture {path} \
                         (root and util-linux's `unshare` are needed): {status:?}"
                    );
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    }

    /// Spawns `command` (which runs the fixture at `path`); `target` finds the pid that
    /// [`signal`](Self::signal) sends to.
    fn spawn(
        path: &str,
        mut command: Command,
        stdin: Stdio,
        target: impl FnOnce(&mut Child) -> u32,
    ) -> Fixture {
        let name = path.rsplit('/').next().unwrap_or(path).to_owned();
        command
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap_or_else(|error| {
            panic!("cannot start fixture {path} with {command:?}: {error}")
        });
        let stdout = Arc::new(Stream::default());
        let stderr = Arc::new(Stream::default());
        let readers = vec![
            stdout
                .clone()
                .read_from(child.stdout.take().expect("stdout is piped")),
            stderr
                .clone()
                .read_from(child.stderr.take().expect("stderr is piped")),
        ];
        let pid = target(&mut child);
        let pid = Pid::from_raw(i32::try_from(pid).expect("a pid fits in i32"));
        Fixture {
            name,
            child,
            pid,
            stdout,
            stderr,
            readers,
        }
    }

    /// Starts the fixture and waits for its `ready` line: from then on its signal handlers
    /// are installed.
    pub fn start_ready(path: &str, env: &[(&str, &str)]) -> Fixture {
        let fixture = Fixture::start(path, env);
        fixture.wait_for_stdout(graceful_process_tests::READY, READY_TIMEOUT);
        fixture
    }

    /// Waits until stdout has the line `line`; its index. Fails the test (killing the child)
    /// if the child ends or `timeout` passes first.
    pub fn wait_for_stdout(&self, line: &str, timeout: Duration) -> usize {
        match self.stdout.wait_for(|l| l == line, timeout) {
            Some(index) => index,
            None => self.fail(format_args!(
                "no line {line:?} on stdout within {timeout:?}"
            )),
        }
    }

    /// Waits until stdout has at least `count` lines starting with `prefix`; fails the test
    /// (killing the child) if the child ends or `timeout` passes first.
    pub fn wait_for_stdout_count(&self, prefix: &str, count: usize, timeout: Duration) {
        let enough = |lines: &[String]| {
            lines.iter().filter(|line| line.starts_with(prefix)).count() >= count
        };
        if !self.stdout.wait_until(enough, timeout) {
            self.fail(format_args!(
                "fewer than {count} lines starting with {prefix:?} on stdout within {timeout:?}"
            ));
        }
    }

    /// How many stdout lines so far start with `prefix`.
    pub fn stdout_count_so_far(&self, prefix: &str) -> usize {
        self.stdout
            .lines()
            .iter()
            .filter(|line| line.starts_with(prefix))
            .count()
    }

    /// Writes `line` and a newline to the child's stdin (started with
    /// [`start_ready_with_stdin`](Self::start_ready_with_stdin)).
    pub fn send_line(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin is piped");
        if let Err(error) = writeln!(stdin, "{line}").and_then(|()| stdin.flush()) {
            self.fail(format_args!("cannot write to the fixture's stdin: {error}"));
        }
    }

    /// Sends `signal`, then waits until the kernel has delivered it: it is no longer pending
    /// for the process nor any of its threads (`/proc/<pid>/status`, `ShdPnd` and `SigPnd`).
    /// A signal sent again before that would merge with the first (standard signals do not
    /// queue), and the fixture would see one where the test sent two.
    pub fn signal_delivered(&self, signal: Signal) {
        self.signal(signal);
        let bit = 1u64 << (signal as i32 - 1);
        let until = Instant::now() + LINE_TIMEOUT;
        loop {
            match pending_signals(self.pid) {
                None => return, // exited: nothing is pending any more
                Some(mask) if mask & bit == 0 => return,
                Some(_) if Instant::now() >= until => self.fail(format_args!(
                    "{signal} still pending after {LINE_TIMEOUT:?} (blocked in every thread?)"
                )),
                Some(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }

    /// The fixture's pid as its own PID namespace sees it (the last field of `NSpid` in
    /// `/proc/<pid>/status`): 1 when started with [`start_pid1`](Self::start_pid1).
    pub fn pid_in_its_namespace(&self) -> i32 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .unwrap_or_else(|error| self.fail(format_args!("cannot read its status: {error}")));
        status
            .lines()
            .find_map(|line| line.strip_prefix("NSpid:"))
            .and_then(|pids| pids.split_whitespace().last())
            .and_then(|pid| pid.parse().ok())
            .unwrap_or_else(|| self.fail(format_args!("no NSpid in its status")))
    }

    /// Whether the child still runs (it is not reaped here if it has ended).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `signal` to the child.
    pub fn signal(&self, signal: Signal) {
        if let Err(error) = kill(self.pid, signal) {
            self.fail(format_args!("cannot send {signal} to the fixture: {error}"));
        }
    }

    /// Waits for the exit, at most `timeout`; past it, kills the child and fails the test.
    pub fn wait(&mut self, timeout: Duration) -> Exited {
        let started = Instant::now();
        let until = started + timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(5)),
                Ok(None) => self.fail(format_args!("still running after {timeout:?}")),
                Err(error) => self.fail(format_args!("cannot wait for the fixture: {error}")),
            }
        };
        let waited = started.elapsed();
        // The pipes close with the process (the fixtures start no other process).
        let closed = self.stdout.wait_closed(LINE_TIMEOUT) && self.stderr.wait_closed(LINE_TIMEOUT);
        assert!(
            closed,
            "{}: output still open after the exit\n{}",
            self.name,
            self.dump()
        );
        for reader in self.readers.drain(..) {
            reader.join().expect("a reader thread does not panic");
        }
        Exited {
            name: self.name.clone(),
            status,
            waited,
            stdout: self.stdout.lines(),
            stderr: self.stderr.lines(),
        }
    }

    fn dump(&self) -> String {
        format_output(&self.stdout.lines(), &self.stderr.lines())
    }

    /// Fails the test with everything printed so far (the child is killed on drop).
    fn fail(&self, what: fmt::Arguments<'_>) -> ! {
        panic!("{}: {what}\n{}", self.name, self.dump())
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn format_output(stdout: &[String], stderr: &[String]) -> String {
    let mut text = String::from("--- stdout\n");
    for line in stdout {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str("--- stderr\n");
    for line in stderr {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str("---");
    text
}

/// A fixture that has exited: its status and everything it printed.
pub struct Exited {
    name: String,
    /// How the process ended.
    pub status: ExitStatus,
    /// From the call to [`Fixture::wait`] to the exit.
    pub waited: Duration,
    /// Every line of stdout.
    pub stdout: Vec<String>,
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

    /// The stdout lines that start with `hook `, in order.
    pub fn hook_lines(&self) -> Vec<&str> {
        self.stdout
            .iter()
            .map(String::as_str)
            .filter(|line| line.starts_with("hook "))
            .collect()
    }

    /// How many stdout lines equal `line`.
    pub fn stdout_count(&self, line: &str) -> usize {
        self.stdout.iter().filter(|l| *l == line).count()
    }

    /// The index of the stdout line `line`; fails the test if there is none.
    pub fn stdout_index(&self, line: &str) -> usize {
        self.stdout
            .iter()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("{}: no line {line:?} on stdout\n{self}", self.name))
    }

    /// Whether stdout has the line `line`.
    pub fn stdout_has(&self, line: &str) -> bool {
        self.stdout.iter().any(|l| l == line)
    }

    /// The lines the library prints on stderr when no subscriber is installed (`graceful: ...`).
    pub fn graceful_lines(&self) -> Vec<&str> {
        self.stderr
            .iter()
            .map(String::as_str)
            .filter(|line| line.starts_with("graceful: "))
            .collect()
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
            format_output(&self.stdout, &self.stderr)
        )
    }
}

/// Sends `signal` to the fixture `count` times, as fast as possible.
pub fn burst(fixture: &Fixture, signals: &[Signal], count: usize) {
    for signal in signals.iter().cycle().take(count) {
        fixture.signal(*signal);
    }
}
