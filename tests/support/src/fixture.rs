//! A child for plain `#[test]` functions: a [`Process`] whose waits block the test's thread,
//! on a runtime of this crate's own. Started from a fixture binary's path
//! (`env!("CARGO_BIN_EXE_<name>")`), its waits for the `ready` line, and the PID 1 start.

use std::path::Path;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::runtime::Runtime;

use crate::START_TIMEOUT;
use crate::exited::Exited;
use crate::output::Line;
use crate::process::{Process, child_pid, clean_env, command};
use crate::signals::DEFAULT_SIGNALS_ARGS;

/// The line a fixture prints once `main`'s body runs (its signal handlers are installed by
/// then): [`Fixture::start_ready`] waits for it. The same as `graceful_process_tests::READY`,
/// which the fixtures print.
pub const READY: &str = "ready";

/// The runtime that sees the fixtures' exits and runs their deadlines (one worker thread: it
/// has little to do; the output is read on threads of its own).
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fixture-runtime")
            .enable_all()
            .build()
            .expect("a runtime for the fixtures")
    })
}

/// A running fixture binary, for tests that are not async (do not use it inside a tokio
/// runtime: use [`Process`] there). Every wait blocks the calling thread, has a deadline, and
/// fails the test with everything the fixture printed; dropped while the fixture runs, it
/// kills it.
pub struct Fixture {
    process: Process,
}

impl Fixture {
    /// Starts the fixture at `path` (an `env!("CARGO_BIN_EXE_<name>")`) with a clean
    /// environment (no `GRACEFUL_*` or `RUST_LOG`), `RUST_BACKTRACE=0`, `env` on top, and the
    /// default disposition of every signal a test sends.
    pub fn start(path: &str, env: &[(&str, &str)]) -> Fixture {
        Fixture::spawn(
            path,
            command(Path::new(path), &[], env),
            Stdio::null(),
            None,
            child_pid,
        )
    }

    /// [`start_ready`](Self::start_ready) with `stderr` as given (`/dev/full`, a pipe whose
    /// reader is gone, a full pipe): it is not read, and the fixture's [`Exited`] shows none.
    pub fn start_ready_with_stderr(path: &str, env: &[(&str, &str)], stderr: Stdio) -> Fixture {
        let command = command(Path::new(path), &[], env);
        let fixture = Fixture::spawn(path, command, Stdio::null(), Some(stderr), child_pid);
        fixture.wait_for_stdout(READY, START_TIMEOUT);
        fixture
    }

    /// Starts the fixture and waits for its [`READY`] line: from then on its signal handlers
    /// are installed.
    pub fn start_ready(path: &str, env: &[(&str, &str)]) -> Fixture {
        let fixture = Fixture::start(path, env);
        fixture.wait_for_stdout(READY, START_TIMEOUT);
        fixture
    }

    /// [`start_ready`](Self::start_ready) with stdin a pipe, for [`send_line`](Self::send_line).
    pub fn start_ready_with_stdin(path: &str, env: &[(&str, &str)]) -> Fixture {
        let command = command(Path::new(path), &[], env);
        let fixture = Fixture::spawn(path, command, Stdio::piped(), None, child_pid);
        fixture.wait_for_stdout(READY, START_TIMEOUT);
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
        Fixture::spawn(path, command, Stdio::null(), None, |child| {
            let unshare = child_pid(child);
            let children = format!("/proc/{unshare}/task/{unshare}/children");
            let until = Instant::now() + START_TIMEOUT;
            loop {
                // `unshare` forks once, then waits: its only child is the namespace's PID 1,
                // which execs `env`, which execs the fixture (one pid all along).
                let text = std::fs::read_to_string(&children).unwrap_or_default();
                if let Some(pid) = text.split_whitespace().next() {
                    return pid.parse().expect("a pid in /proc/*/children");
                }
                let status = child.try_wait();
                if !matches!(status, Ok(None)) || Instant::now() >= until {
                    panic!(
                        "`unshare --pid --fork --mount-proc` did not start the fixture {path} \
                         (root and util-linux's `unshare` are needed): {status:?}"
                    );
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    }

    /// Spawns `command` (which runs the fixture at `path`) on this crate's runtime; named
    /// after the file.
    fn spawn(
        path: &str,
        command: Command,
        stdin: Stdio,
        stderr: Option<Stdio>,
        target: impl FnOnce(&mut Child) -> u32,
    ) -> Fixture {
        let name = path.rsplit('/').next().unwrap_or(path);
        let _runtime = runtime().enter();
        Fixture {
            process: Process::spawn(name, command, stdin, stderr, target),
        }
    }

    /// The fixture's pid.
    pub fn pid(&self) -> Pid {
        self.process.pid()
    }

    /// Waits until stdout has the line `line`; fails the test (killing the child) if the
    /// child ends or `timeout` passes first.
    pub fn wait_for_stdout(&self, line: &str, timeout: Duration) -> Line {
        runtime().block_on(self.process.wait_for_stdout(line, timeout))
    }

    /// Waits until stderr has a line containing `text`; fails the test (killing the child) if
    /// the child ends or `timeout` passes first.
    pub fn wait_for_stderr(&self, text: &str, timeout: Duration) -> Line {
        let wanted = |line: &str| line.contains(text);
        runtime().block_on(self.process.wait_for_stderr_line(wanted, timeout))
    }

    /// Waits until stderr has at least `count` lines containing `text`; fails the test
    /// (killing the child) if the child ends or `timeout` passes first.
    pub fn wait_for_stderr_count(&self, text: &str, count: usize, timeout: Duration) -> Line {
        let wanted = |line: &str| line.contains(text);
        self.wait_for_count(&self.process.stderr, wanted, count, timeout)
            .unwrap_or_else(|| {
                self.fail(format_args!(
                    "fewer than {count} lines with {text:?} on stderr within {timeout:?}"
                ))
            })
    }

    /// Waits until stdout has at least `count` lines starting with `prefix`; fails the test
    /// (killing the child) if the child ends or `timeout` passes first.
    pub fn wait_for_stdout_count(&self, prefix: &str, count: usize, timeout: Duration) -> Line {
        let wanted = |line: &str| line.starts_with(prefix);
        self.wait_for_count(&self.process.stdout, wanted, count, timeout)
            .unwrap_or_else(|| {
                self.fail(format_args!(
                    "fewer than {count} lines starting with {prefix:?} on stdout within {timeout:?}"
                ))
            })
    }

    /// The `count`-th line of `output` that is `wanted`, once it has come within `timeout`.
    fn wait_for_count(
        &self,
        output: &crate::output::Output,
        wanted: impl Fn(&str) -> bool,
        count: usize,
        timeout: Duration,
    ) -> Option<Line> {
        runtime().block_on(output.wait_for_count(wanted, count, timeout))
    }

    /// How many stdout lines so far start with `prefix`.
    pub fn stdout_count_so_far(&self, prefix: &str) -> usize {
        let lines = self.process.stdout_lines();
        crate::count(&lines, |line| line.text.starts_with(prefix))
    }

    /// Writes `line` and a newline to the child's stdin (started with
    /// [`start_ready_with_stdin`](Self::start_ready_with_stdin)).
    pub fn send_line(&mut self, line: &str) {
        runtime().block_on(self.process.send_line(line));
    }

    /// Sends `signal` to the fixture; returns when the signal was sent.
    pub fn signal(&self, signal: Signal) -> Instant {
        self.process.signal(signal)
    }

    /// [`signal`](Self::signal), then waits until the kernel has delivered it (see
    /// [`Process::signal_delivered`]).
    pub fn signal_delivered(&self, signal: Signal) -> Instant {
        runtime().block_on(self.process.signal_delivered(signal))
    }

    /// The fixture's pid as its own PID namespace sees it: 1 when started with
    /// [`start_pid1`](Self::start_pid1).
    pub fn pid_in_its_namespace(&self) -> i32 {
        self.process.pid_in_its_namespace()
    }

    /// Whether the fixture still runs (it is not reaped here if it has ended).
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Waits for the exit, at most `timeout`; past it, kills the child and fails the test.
    pub fn wait(&mut self, timeout: Duration) -> Exited {
        runtime().block_on(self.process.wait(timeout))
    }

    /// Fails the test with everything printed so far (the child is killed on drop).
    pub fn fail(&self, what: std::fmt::Arguments<'_>) -> ! {
        self.process.fail(what)
    }
}

/// Sends `signals` to the fixture in turn, `count` signals in all, as fast as possible.
pub fn burst(fixture: &Fixture, signals: &[Signal], count: usize) {
    for signal in signals.iter().cycle().take(count) {
        fixture.signal(*signal);
    }
}
