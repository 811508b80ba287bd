//! A variant as a child process, timed from outside: started, seen ready (its ready line read
//! from its stdout), signalled, and reaped with `wait4`, which also gives its peak RSS.
//!
//! That peak (`ru_maxrss`) has a floor: for a child spawned the way std spawns (`vfork`-style,
//! sharing the parent's memory until `exec`), Linux carries the parent's own high-water mark
//! across the `exec`. So the peak up to the ready line is read from the child's own
//! `/proc/<pid>/status` (`VmHWM`, counted from the `exec`) as well.
//!
//! Every wait has a deadline: a watchdog thread kills a child that overstays it, so the
//! harness never hangs on a broken variant.

use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long a child may take to print its ready line, and to exit once signalled.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The variables of graceful's contract, removed from the children's environment (unless the
/// harness sets them) so that the shell running the harness cannot change what is measured.
const GRACEFUL_VARS: [&str; 3] = [
    "GRACEFUL_TIMEOUT",
    "GRACEFUL_DRAIN_TIMEOUT",
    "GRACEFUL_DRAIN_DELAY",
];

/// A child that has printed its ready line.
pub struct Running {
    child: Child,
    /// Kept open until the exit: a child writing to a closed pipe would die of SIGPIPE.
    _stdout: ChildStdout,
    stderr: Option<ChildStderr>,
    /// The line that said it was ready.
    pub ready_line: String,
    /// From just before `spawn` to the ready line read: exec-to-ready.
    pub ready_after: Duration,
    reaped: bool,
}

/// How a child ended.
pub struct Ended {
    pub status: ExitStatus,
    /// Its peak resident set size, in KiB (`ru_maxrss`): never below the harness's own peak
    /// (see the module's documentation).
    pub max_rss_kib: u64,
    /// From just before the signal to the reaped exit: signal-to-exit.
    pub exit_after: Duration,
    /// The instant it was reaped.
    pub reaped_at: Instant,
}

/// Starts `command` with stdout and stderr piped and waits until it prints a line for which
/// `is_ready` holds.
pub fn start(mut command: Command, is_ready: impl Fn(&str) -> bool) -> Result<Running, String> {
    let set: Vec<_> = command.get_envs().map(|(key, _)| key.to_owned()).collect();
    for var in GRACEFUL_VARS {
        if !set.iter().any(|key| key == var) {
            command.env_remove(var);
        }
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let program = command.get_program().to_string_lossy().into_owned();
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|error| format!("cannot start {program}: {error}"))?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take();
    let deadline = started + TIMEOUT;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let millis = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::POLLIN)];
        let polled = poll(&mut fds, PollTimeout::from(millis));
        let n = match polled {
            Ok(0) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{program} printed no ready line in {TIMEOUT:?}"));
            }
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Err(error) => return Err(format!("poll on the stdout of {program}: {error}")),
            Ok(_) => stdout.read(&mut buf),
        };
        let n = match n {
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(format!("reading the stdout of {program}: {error}")),
        };
        let now = Instant::now();
        if n == 0 {
            let status = child.wait().map_err(|e| e.to_string())?;
            let stderr = read_all(stderr);
            return Err(format!(
                "{program} exited ({status}) before its ready line; stdout: {:?}; stderr: {stderr}",
                String::from_utf8_lossy(&seen)
            ));
        }
        seen.extend_from_slice(&buf[..n]);
        let ready = seen
            .split(|&b| b == b'\n')
            .rev()
            .skip(1) // the part after the last newline is not a whole line yet
            .map(String::from_utf8_lossy)
            .find(|line| is_ready(line))
            .map(|line| line.into_owned());
        if let Some(ready_line) = ready {
            let running = Running {
                child,
                _stdout: stdout,
                stderr,
                ready_line,
                ready_after: now - started,
                reaped: false,
            };
            // Armed now rather than when the signal is sent: waking the watchdog thread
            // inside the measured interval would add to it.
            watchdog().arm(running.pid(), now + TIMEOUT);
            return Ok(running);
        }
    }
}

impl Running {
    /// The child's process id.
    pub fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("a pid fits in an i32"))
    }

    /// Its peak resident set size so far, counted from its `exec` (`VmHWM`), KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        peak_rss_kib(&format!("/proc/{}/status", self.pid()))
    }

    /// Sends `signal` and waits for the exit; the time between the two is `exit_after`.
    pub fn signal_and_reap(&mut self, signal: Signal) -> Result<Ended, String> {
        let pid = self.pid();
        let sent = Instant::now();
        if let Err(error) = kill(pid, signal) {
            return Err(format!("kill({pid}, {signal}): {error}"));
        }
        let reaped = wait4(pid);
        let reaped_at = Instant::now();
        watchdog().disarm();
        let Reaped {
            status,
            max_rss_kib,
            ..
        } = reaped.map_err(|error| format!("wait4({pid}): {error}"))?;
        self.reaped = true;
        Ok(Ended {
            status,
            max_rss_kib,
            exit_after: reaped_at - sent,
            reaped_at,
        })
    }

    /// What the child wrote on stderr; call once it has exited.
    pub fn take_stderr(&mut self) -> String {
        read_all(self.stderr.take())
    }
}

impl Drop for Running {
    /// A child left running (a failed measurement) is killed and reaped.
    fn drop(&mut self) {
        if !self.reaped {
            let _ = kill(self.pid(), Signal::SIGKILL);
            let _ = wait4(self.pid());
            watchdog().disarm();
        }
    }
}

impl Ended {
    /// Whether the child exited with code 0.
    pub fn clean(&self) -> bool {
        self.status.code() == Some(0)
    }

    /// Whether the child was killed by `signal` (what a program without a handler does).
    pub fn killed_by(&self, signal: Signal) -> bool {
        self.status.signal() == Some(signal as i32)
    }
}

/// `VmHWM` of a `/proc/<pid>/status` file, KiB.
pub fn peak_rss_kib(status_file: &str) -> Option<u64> {
    let status = std::fs::read_to_string(status_file).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn read_all(stream: Option<ChildStderr>) -> String {
    let mut text = String::new();
    if let Some(mut stream) = stream {
        let _ = stream.read_to_string(&mut text);
    }
    text
}

/// What `wait4` says of a reaped child.
pub struct Reaped {
    pub status: ExitStatus,
    /// Peak RSS, KiB (`ru_maxrss`).
    pub max_rss_kib: u64,
    /// User and system CPU time, its own and that of the children it waited for.
    pub cpu: Duration,
}

/// Reaps `pid`: its wait status and its resource usage. Neither std nor nix exposes a
/// child's resource usage: `wait4` does, with no extra process in the way.
#[allow(unsafe_code)]
pub fn wait4(pid: Pid) -> io::Result<Reaped> {
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers, for which all zeros is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `usage` are live, writable locals of the types wait4 expects.
        let reaped = unsafe { libc::wait4(pid.as_raw(), &mut status, 0, &mut usage) };
        if reaped == pid.as_raw() {
            let time = |t: libc::timeval| {
                Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
                    + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
            };
            return Ok(Reaped {
                status: ExitStatus::from_raw(status),
                max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
                cpu: time(usage.ru_utime) + time(usage.ru_stime),
            });
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Kills the armed child with SIGKILL if it is still armed at its deadline.
pub struct Watchdog {
    orders: Sender<Option<(Pid, Instant)>>,
}

/// The harness's one watchdog thread.
pub fn watchdog() -> &'static Watchdog {
    static WATCHDOG: OnceLock<Watchdog> = OnceLock::new();
    WATCHDOG.get_or_init(|| {
        let (orders, inbox) = mpsc::channel::<Option<(Pid, Instant)>>();
        std::thread::Builder::new()
            .name("watchdog".to_owned())
            .spawn(move || {
                let mut armed: Option<(Pid, Instant)> = None;
                loop {
                    let order = match armed {
                        Some((_, deadline)) => {
                            inbox.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                        }
                        None => inbox.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    };
                    match order {
                        Ok(order) => armed = order,
                        Err(RecvTimeoutError::Timeout) => {
                            if let Some((pid, _)) = armed.take() {
                                eprintln!("watchdog: pid {pid} overstayed {TIMEOUT:?}, killed");
                                let _ = kill(pid, Signal::SIGKILL);
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .expect("start the watchdog thread");
        Watchdog { orders }
    })
}

impl Watchdog {
    /// Kills `pid` at `deadline` unless disarmed first.
    pub fn arm(&self, pid: Pid, deadline: Instant) {
        let _ = self.orders.send(Some((pid, deadline)));
    }

    /// Forgets the armed child.
    pub fn disarm(&self) {
        let _ = self.orders.send(None);
    }
}
