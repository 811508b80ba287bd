//! A running child process, for async tests: how it is started (a clean environment, the
//! default disposition of the signals the tests send), the waits for its lines, the signals
//! sent to it, and its exit.

use std::fmt;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};
use tokio::time::timeout;

use crate::example::example;
use crate::exited::Exited;
use crate::http::free_port;
use crate::output::{Line, Output, format_output};
use crate::signals::{DEFAULT_SIGNALS_ARGS, is_pending};
use crate::{LINE_TIMEOUT, START_TIMEOUT};

/// The variables of the contract, removed from the child's environment unless a test sets
/// them, so that the developer's shell cannot change a test's outcome: every `GRACEFUL_*`
/// and systemd `LISTEN_*` variable, and these.
const INHERITED_OUT: [&str; 3] = ["RUST_LOG", "PORT", "NOTIFY_SOCKET"];
/// See [`INHERITED_OUT`].
const INHERITED_OUT_PREFIXES: [&str; 2] = ["GRACEFUL_", "LISTEN_"];

/// A command that runs `program` with `args` through GNU `env`, with the default disposition
/// of the signals the tests send (see [`DEFAULT_SIGNALS_ARGS`]) and a clean environment (see
/// [`clean_env`]).
pub(crate) fn command(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new("env");
    command.args(DEFAULT_SIGNALS_ARGS).arg(program).args(args);
    clean_env(&mut command, env);
    command
}

/// Removes the variables of the contract ([`INHERITED_OUT`]), sets `RUST_BACKTRACE=0`, then
/// `env` on top.
pub(crate) fn clean_env(command: &mut Command, env: &[(&str, &str)]) {
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if INHERITED_OUT.contains(&&*text)
            || INHERITED_OUT_PREFIXES
                .iter()
                .any(|prefix| text.starts_with(prefix))
        {
            command.env_remove(&name);
        }
    }
    command.env("RUST_BACKTRACE", "0").envs(env.iter().copied());
}

/// The pid of `child` itself, for [`Process::spawn`].
pub(crate) fn child_pid(child: &mut Child) -> u32 {
    child.id().expect("a child just spawned has a pid")
}

/// A running child: an example, a fixture, or any program. It is killed if dropped while
/// running.
pub struct Process {
    name: String,
    child: Child,
    /// The pid signals go to: the child's, unless something sits between them.
    pid: Pid,
    pub(crate) stdout: Arc<Output>,
    pub(crate) stderr: Arc<Output>,
    readers: Vec<JoinHandle<()>>,
    /// The port it listens on, for the HTTP examples.
    pub port: u16,
}

impl Process {
    /// Starts the example `name` with `env` on top of a clean environment (no `GRACEFUL_*`,
    /// `RUST_LOG` or `PORT` from the developer's shell). It is killed if dropped while running.
    pub fn start(name: &str, env: &[(&str, &str)]) -> Process {
        Process::start_command(name, &example(name), &[], env)
    }

    /// [`start`](Self::start) for the program at `path`, with `args`; `name` names it in
    /// messages.
    pub fn start_command(name: &str, path: &Path, args: &[&str], env: &[(&str, &str)]) -> Process {
        Process::spawn(
            name,
            command(path, args, env),
            Stdio::null(),
            None,
            child_pid,
        )
    }

    /// [`start_command`](Self::start_command) in the working directory `dir`, with `PWD` set to
    /// it as a shell sets it after `cd dir` (a path through a symbolic link stays as written).
    pub fn start_command_in(
        name: &str,
        dir: &Path,
        path: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Process {
        let mut command = command(path, args, env);
        command.current_dir(dir).env("PWD", dir);
        Process::spawn(name, command, Stdio::null(), None, child_pid)
    }

    /// Spawns `command` with `stdin` and piped output, read on threads from then on (or
    /// with `stderr` as given, which is then not read); `target` finds the pid that
    /// [`signal`](Self::signal) sends to. Must be called inside a tokio runtime, which will
    /// see the exit.
    pub(crate) fn spawn(
        name: &str,
        mut command: Command,
        stdin: Stdio,
        stderr: Option<Stdio>,
        target: impl FnOnce(&mut Child) -> u32,
    ) -> Process {
        let read_stderr = stderr.is_none();
        command
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(stderr.unwrap_or_else(Stdio::piped))
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {name} with {command:?}: {error}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = if read_stderr {
            let stderr = child.stderr.take().expect("stderr is piped");
            stderr.into_owned_fd().expect("stderr as a blocking pipe")
        } else {
            // Not ours to read: an empty pipe stands for it.
            let (empty, _writer) = nix::unistd::pipe().expect("a pipe");
            empty
        };
        let (stdout, stdout_reader) = Output::read(
            stdout.into_owned_fd().expect("stdout as a blocking pipe"),
            format!("{name} stdout"),
        );
        let (stderr, stderr_reader) = Output::read(stderr, format!("{name} stderr"));
        let pid = target(&mut child);
        let pid = Pid::from_raw(i32::try_from(pid).expect("a pid fits in i32"));
        Process {
            name: name.to_owned(),
            child,
            pid,
            stdout,
            stderr,
            readers: vec![stdout_reader, stderr_reader],
            port: 0,
        }
    }

    /// Starts an HTTP example on a free port (`PORT`) and waits until it prints
    /// `listening on http://127.0.0.1:PORT`. If another process took the port between the
    /// pick and the bind (tests run in parallel), tries again with another port.
    pub async fn start_http(name: &str, env: &[(&str, &str)]) -> Process {
        Process::start_listening(name, "http", env).await
    }

    /// [`start_http`](Self::start_http) for an example that prints `listening on
    /// {scheme}://127.0.0.1:PORT`.
    pub async fn start_listening(name: &str, scheme: &str, env: &[(&str, &str)]) -> Process {
        Process::start_listening_at(name, &example(name), scheme, env).await
    }

    /// [`start_listening`](Self::start_listening) for the program at `path` (e.g. a copy of
    /// an example).
    pub async fn start_listening_at(
        name: &str,
        path: &Path,
        scheme: &str,
        env: &[(&str, &str)],
    ) -> Process {
        const ATTEMPTS: usize = 5;
        for attempt in 1..=ATTEMPTS {
            let port = free_port();
            let port_text = port.to_string();
            let mut with_port = env.to_vec();
            with_port.push(("PORT", &port_text));
            let mut service = Process::start_command(name, path, &[], &with_port);
            service.port = port;
            let expected = format!("listening on {scheme}://127.0.0.1:{port}");
            if service
                .stdout
                .wait_for(|line| line == expected, START_TIMEOUT)
                .await
                .is_some()
            {
                return service;
            }
            let lost_the_port = service
                .stderr
                .texts()
                .iter()
                .any(|line| line.contains("Address already in use"));
            if lost_the_port && attempt < ATTEMPTS {
                eprintln!("{name}: port {port} was taken before the example bound it; retrying");
                continue;
            }
            service.fail(format_args!(
                "no line {expected:?} within {START_TIMEOUT:?}"
            ));
        }
        unreachable!("the last attempt returns or fails")
    }

    /// The pid signals go to.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Waits for a stdout line satisfying `wanted`; fails the test (killing the child) if the
    /// child's output ends or `limit` passes first.
    pub async fn wait_for_line(&self, wanted: impl Fn(&str) -> bool, limit: Duration) -> Line {
        match self.stdout.wait_for(wanted, limit).await {
            Some(line) => line,
            None => self.fail(format_args!(
                "the awaited line did not come on stdout within {limit:?}"
            )),
        }
    }

    /// Waits until `count` stdout lines satisfy `wanted`; the last of them. Fails the test
    /// (killing the child) if the child's output ends or `limit` passes first.
    pub async fn wait_for_lines(
        &self,
        wanted: impl Fn(&str) -> bool,
        count: usize,
        limit: Duration,
    ) -> Line {
        match self.stdout.wait_for_count(wanted, count, limit).await {
            Some(line) => line,
            None => self.fail(format_args!(
                "fewer than {count} of the awaited lines on stdout within {limit:?}"
            )),
        }
    }

    /// Waits for the stdout line `text` exactly; fails the test (killing the child) if the
    /// child's output ends or `limit` passes first.
    pub async fn wait_for_stdout(&self, text: &str, limit: Duration) -> Line {
        match self.stdout.wait_for(|line| line == text, limit).await {
            Some(line) => line,
            None => self.fail(format_args!("no line {text:?} on stdout within {limit:?}")),
        }
    }

    /// Waits for a stderr line satisfying `wanted` (the examples log there); fails the test
    /// (killing the child) if the child's output ends or `limit` passes first.
    pub async fn wait_for_stderr_line(
        &self,
        wanted: impl Fn(&str) -> bool,
        limit: Duration,
    ) -> Line {
        match self.stderr.wait_for(wanted, limit).await {
            Some(line) => line,
            None => self.fail(format_args!(
                "the awaited line did not come on stderr within {limit:?}"
            )),
        }
    }

    /// Every stdout line read so far.
    pub fn stdout_lines(&self) -> Vec<Line> {
        self.stdout.lines()
    }

    /// Writes `line` and a newline to the child's stdin (a pipe only for a
    /// [`Fixture::start_ready_with_stdin`](crate::Fixture::start_ready_with_stdin)); fails
    /// the test if that does not succeed within [`LINE_TIMEOUT`].
    pub async fn send_line(&mut self, line: &str) {
        let write = async {
            let stdin = self
                .child
                .stdin
                .as_mut()
                .ok_or_else(|| io::Error::other("its stdin is not a pipe"))?;
            stdin.write_all(format!("{line}\n").as_bytes()).await?;
            stdin.flush().await
        };
        let result = timeout(LINE_TIMEOUT, write)
            .await
            .unwrap_or_else(|_| Err(io::Error::other(format!("blocked for {LINE_TIMEOUT:?}"))));
        if let Err(error) = result {
            self.fail(format_args!("cannot write {line:?} to its stdin: {error}"));
        }
    }

    /// Sends `signal` to the child; returns the instant just before it was sent. Taken before
    /// `kill`: the child may act on the signal (and a client of it see that) before the
    /// sending thread runs again, and nothing it does can be earlier than this instant.
    pub fn signal(&self, signal: Signal) -> Instant {
        let sent = Instant::now();
        if let Err(error) = kill(self.pid, signal) {
            self.fail(format_args!("cannot send {signal}: {error}"));
        }
        sent
    }

    /// Sends `signal`, then waits until the kernel has delivered it: it is no longer pending
    /// for the process nor any of its threads (`/proc/<pid>/status`, `ShdPnd` and `SigPnd`).
    /// A signal sent again before that would merge with the first (standard signals do not
    /// queue), and the child would see one where the test sent two. Returns when the signal
    /// was sent.
    pub async fn signal_delivered(&self, signal: Signal) -> Instant {
        let sent = self.signal(signal);
        let until = sent + LINE_TIMEOUT;
        loop {
            match is_pending(self.pid, signal) {
                // `None`: exited, nothing is pending any more.
                None | Some(false) => return sent,
                Some(true) if Instant::now() >= until => self.fail(format_args!(
                    "{signal} still pending after {LINE_TIMEOUT:?} (blocked in every thread?)"
                )),
                Some(true) => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
    }

    /// The child's pid as its own PID namespace sees it (the last field of `NSpid` in
    /// `/proc/<pid>/status`): 1 when started with
    /// [`Fixture::start_pid1`](crate::Fixture::start_pid1).
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

    /// Whether the child still runs (without reaping the status for good: `wait` still
    /// works); fails the test if that cannot be known.
    pub fn is_running(&mut self) -> bool {
        match self.child.try_wait() {
            Ok(status) => status.is_none(),
            Err(error) => self.fail(format_args!("cannot tell whether it runs: {error}")),
        }
    }

    /// Waits for the exit, at most `limit`; past it, kills the child and fails the test.
    pub async fn wait(&mut self, limit: Duration) -> Exited {
        if let Some(exited) = self.wait_at_most(limit).await {
            return exited;
        }
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        self.fail(format_args!("still running {limit:?} after the wait began"))
    }

    /// Waits for the exit at most `limit`; `None` if the child still runs then (it is left
    /// running).
    pub async fn wait_at_most(&mut self, limit: Duration) -> Option<Exited> {
        let started = Instant::now();
        match timeout(limit, self.child.wait()).await {
            Ok(Ok(status)) => Some(self.exited(status, started.elapsed()).await),
            Ok(Err(error)) => self.fail(format_args!("cannot wait for the child: {error}")),
            Err(_) => None,
        }
    }

    async fn exited(&mut self, status: ExitStatus, waited: Duration) -> Exited {
        // The pipes close with the process (unless it left a process of its own behind).
        let closed = self.stdout.wait_closed(LINE_TIMEOUT).await
            && self.stderr.wait_closed(LINE_TIMEOUT).await;
        if !closed {
            self.fail(format_args!(
                "output still open {LINE_TIMEOUT:?} after the exit ({status:?})"
            ));
        }
        for reader in self.readers.drain(..) {
            // Both pipes have closed: the threads are ending.
            reader.join().expect("a reader thread does not panic");
        }
        Exited {
            name: self.name.clone(),
            status,
            waited,
            stdout: self.stdout.lines(),
            stderr: self.stderr.texts(),
        }
    }

    /// Everything printed so far.
    pub fn dump(&self) -> String {
        format_output(&self.stdout.texts(), &self.stderr.texts())
    }

    /// Fails the test with everything printed so far (the child is killed on drop).
    pub fn fail(&self, what: fmt::Arguments<'_>) -> ! {
        panic!("{}: {what}\n{}", self.name, self.dump())
    }
}

impl Drop for Process {
    /// Kills a child that still runs, and reaps it: no test leaves a process behind, nor a
    /// zombie. A child behind a launcher (PID 1 of its own namespace) is killed too.
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        if self.child.id() != u32::try_from(self.pid.as_raw()).ok() {
            let _ = kill(self.pid, Signal::SIGKILL);
        }
        let _ = self.child.start_kill();
        let until = Instant::now() + Duration::from_secs(1);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
