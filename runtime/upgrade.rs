//! The zero-downtime upgrade: on the upgrade signal or [`Shutdown::upgrade`], start the binary
//! at the path this process was started from, with the same arguments and environment and
//! every socket of [`graceful::listen`](crate::listen); once the new process is ready, shut
//! this one down (reason [`Reason::Upgrade`]); if it exits or is not ready in time, stop it
//! and go on serving.
//!
//! Each attempt runs on a thread of its own, with a small runtime of its own, so that it does
//! not depend on the program's runtime making progress (as the signal listener does not).
//! One attempt at a time; while it runs, a shutdown that starts stops the new process, and so
//! does this process's exit, whatever ends it.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::config::DEFAULT_UPGRADE_TIMEOUT;
use crate::shutdown::Shutdown;
use crate::signal::Signal;
use crate::systemd;
use crate::tasks::lock;

/// Why an upgrade did not happen.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let report = graceful::Builder::new()
///     .signals([])
///     .run_async(|shutdown| async move {
///         shutdown.trigger();
///         let refused = shutdown.upgrade().await.unwrap_err();
///         assert!(matches!(refused, graceful::UpgradeError::ShuttingDown));
///     })
///     .await
///     .unwrap();
/// # let _ = report;
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum UpgradeError {
    /// Upgrades need Unix (Linux, macOS).
    Unsupported,
    /// Another upgrade is running.
    InProgress,
    /// The shutdown has started: there is nothing left to hand over.
    ShuttingDown,
    /// The new process could not be started, exited, or was not ready in time; it was
    /// stopped and this process goes on serving. The text says why.
    Failed(String),
}

impl fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpgradeError::Unsupported => {
                f.write_str("zero-downtime upgrades are supported on Unix only (Linux, macOS)")
            }
            UpgradeError::InProgress => f.write_str("an upgrade is already running"),
            UpgradeError::ShuttingDown => {
                f.write_str("the shutdown has started: nothing left to upgrade")
            }
            UpgradeError::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for UpgradeError {}

/// How the process was started: what an upgrade starts again.
#[derive(Debug)]
struct Start {
    /// `argv[0]`, resolved at start-up against the logical working directory (or `PATH`, as
    /// the shell did), so that the file at that path now is what runs: a deploy that replaced
    /// it, or switched a symbolic link on the way to it, runs the new build. Symbolic links are
    /// not resolved, for the same reason.
    program: Result<PathBuf, String>,
    args: Vec<OsString>,
    /// The logical working directory (see [`logical_cwd`]), where the new process starts.
    cwd: Option<PathBuf>,
}

static START: Mutex<Option<Start>> = Mutex::new(None);
static TIMEOUT: Mutex<Duration> = Mutex::new(DEFAULT_UPGRADE_TIMEOUT);
/// Whether an attempt runs (or succeeded: the process is then shutting down).
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Records how the process was started, once, and the upgrade timeout of the run. Called at
/// the start of every run, before its main body. With an upgrade signal configured, a binary
/// that could not be started again is a configuration error now, not a failed upgrade later:
/// the error says why and what to do.
pub(crate) fn prepare(timeout: Duration, upgrade: Option<Signal>) -> Result<(), String> {
    *lock(&TIMEOUT) = timeout;
    let mut start = lock(&START);
    let start = start.get_or_insert_with(|| {
        let mut args = std::env::args_os();
        let argv0 = args.next();
        let cwd = logical_cwd();
        let path = std::env::var_os("PATH");
        Start {
            program: resolve(argv0, cwd.as_deref(), path.as_deref()),
            args: args.collect(),
            cwd,
        }
    });
    match (&start.program, upgrade) {
        (Err(why), Some(signal)) => Err(format!("upgrade({signal}): {why}")),
        _ => Ok(()),
    }
}

/// The working directory as the shell that started the process names it: `$PWD` when it is
/// an absolute path without `.` or `..` that names the directory the process is in (same
/// device and inode), else the physical one. `cd /srv/app/current && ./server` with
/// `current -> release-1` runs in `/srv/app/current` (what `$PWD` says), not in
/// `/srv/app/release-1` (what `getcwd` says): the upgrade must start `current/server` again,
/// whatever `current` points to by then.
fn logical_cwd() -> Option<PathBuf> {
    let pwd = std::env::var_os("PWD").map(PathBuf::from).filter(|pwd| {
        pwd.is_absolute()
            && pwd.components().all(|part| {
                matches!(
                    part,
                    std::path::Component::RootDir | std::path::Component::Normal(_)
                )
            })
            && same_directory(pwd, Path::new("."))
    });
    pwd.or_else(|| std::env::current_dir().ok())
}

#[cfg(unix)]
fn same_directory(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.is_dir() && a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_directory(_a: &Path, _b: &Path) -> bool {
    false
}

/// What the process must be started as, for an upgrade to find its binary again.
const HOW_TO_START: &str = "start the program by a path to its binary (`./server`, \
     `/srv/app/current/server`), or by a name on PATH";

/// The binary an upgrade starts: `argv0` resolved against `cwd`, or found on `path` if it is
/// a bare name, as the shell found it. It must be an executable file now.
fn resolve(
    argv0: Option<OsString>,
    cwd: Option<&Path>,
    path: Option<&std::ffi::OsStr>,
) -> Result<PathBuf, String> {
    let argv0 = argv0.filter(|argv0| !argv0.is_empty()).ok_or_else(|| {
        format!("argv[0] is empty: the binary to start at an upgrade is unknown; {HOW_TO_START}")
    })?;
    let program = PathBuf::from(&argv0);
    let absolute = |path: PathBuf| match cwd {
        Some(cwd) if path.is_relative() => Ok(cwd.join(path)),
        _ if path.is_relative() => Err(format!(
            "argv[0] is the relative path {} and the working directory is unknown; start the \
             program by its absolute path",
            path.display()
        )),
        _ => Ok(path),
    };
    let found = if program.components().count() > 1 || program.is_absolute() {
        absolute(program)?
    } else {
        // A bare name, found on `PATH` as the shell did.
        let dirs = path.unwrap_or_default();
        std::env::split_paths(dirs)
            .filter_map(|dir| absolute(dir.join(&program)).ok())
            .find(|candidate| is_executable(candidate))
            .ok_or_else(|| {
                format!(
                    "argv[0] is {argv0:?}, a bare name that is not an executable file on PATH: \
                     the binary to start at an upgrade is unknown; {HOW_TO_START}"
                )
            })?
    };
    if !is_executable(&found) {
        return Err(format!(
            "argv[0] {argv0:?} names {}, which is not an executable file: the binary to start \
             at an upgrade is unknown; {HOW_TO_START}",
            found.display()
        ));
    }
    Ok(found)
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

impl Shutdown {
    /// Starts a zero-downtime upgrade, as the signal of
    /// [`Builder::upgrade`](crate::Builder::upgrade) does, and waits for its outcome: the
    /// new process's id once it is ready (this process's shutdown has then started, with
    /// [`Reason::Upgrade`](crate::Reason::Upgrade)), or why it failed (this process goes on
    /// serving). For an admin endpoint, or a deploy tool that wants to know.
    ///
    /// # Errors
    /// [`UpgradeError`]: not on Unix, another upgrade running, the shutdown started, or the new
    /// process failed.
    ///
    /// ```no_run
    /// # async fn admin(shutdown: graceful::Shutdown) {
    /// match shutdown.upgrade().await {
    ///     Ok(pid) => println!("upgraded: process {pid} serves now"),
    ///     Err(error) => println!("upgrade failed: {error}"),
    /// }
    /// # }
    /// ```
    pub async fn upgrade(&self) -> Result<u32, UpgradeError> {
        let outcome = begin(self)?;
        outcome
            .await
            .unwrap_or_else(|_| Err(UpgradeError::Failed("the upgrade thread ended".to_owned())))
    }
}

/// The upgrade signal arrived (on the signal listener's thread).
pub(crate) fn on_signal(shutdown: &Shutdown, signal: Signal) {
    match begin(shutdown) {
        Ok(_) => {}
        Err(UpgradeError::InProgress) => {
            crate::log::upgrade_ignored(signal, "an upgrade is already running");
        }
        Err(UpgradeError::ShuttingDown) => {
            crate::log::upgrade_ignored(signal, "the shutdown has started");
        }
        Err(error) => crate::log::upgrade_failed(&error.to_string()),
    }
}

type HookOutcome = tokio::sync::oneshot::Receiver<Result<u32, UpgradeError>>;

/// Starts an attempt on a thread of its own; its outcome arrives on the receiver.
fn begin(shutdown: &Shutdown) -> Result<HookOutcome, UpgradeError> {
    if cfg!(not(unix)) {
        return Err(UpgradeError::Unsupported);
    }
    if shutdown.is_shutting_down() {
        return Err(UpgradeError::ShuttingDown);
    }
    if RUNNING.swap(true, Ordering::AcqRel) {
        return Err(UpgradeError::InProgress);
    }
    let (send, receive) = tokio::sync::oneshot::channel();
    let attempt = shutdown.clone();
    let spawned = std::thread::Builder::new()
        .name("graceful-upgrade".to_owned())
        .spawn(move || {
            systemd::reloading(*lock(&TIMEOUT));
            // A failed attempt has made room for the next one (see `failed`) before it ends,
            // so systemd may signal its next reload as soon as it hears this one ended.
            let outcome = platform::attempt(&attempt);
            systemd::reload_ended(&outcome, &attempt);
            let _ = send.send(outcome);
        });
    if let Err(error) = spawned {
        RUNNING.store(false, Ordering::Release);
        return Err(UpgradeError::Failed(format!(
            "cannot start the upgrade thread: {error}"
        )));
    }
    Ok(receive)
}

/// Ends a failed attempt: another may start from now on, and only then is the failure said,
/// so that whoever reads the line (an operator, a deploy script) can send the signal again at
/// once.
#[cfg(unix)]
fn failed(why: String) -> UpgradeError {
    RUNNING.store(false, Ordering::Release);
    crate::log::upgrade_failed(&why);
    UpgradeError::Failed(why)
}

#[cfg(unix)]
mod platform {
    use std::future::{Future, poll_fn};
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixDatagram;
    use std::pin::pin;
    use std::process::{Child, Command, ExitStatus};
    use std::sync::mpsc;
    use std::task::Poll;
    use std::time::{Duration, Instant};

    use command_fds::{CommandFdExt, FdMapping};
    use nix::errno::Errno;
    use nix::sys::signal::{Signal as NixSignal, killpg};
    use nix::unistd::Pid;
    use tokio::sync::mpsc as tokio_mpsc;

    use super::{START, TIMEOUT, UpgradeError, failed};
    use crate::log;
    use crate::reason::Reason;
    use crate::shutdown::Shutdown;
    use crate::sockets::{self, CHANNEL, ENV_UPGRADE_FROM, READY_MESSAGE};
    use crate::systemd;
    use crate::tasks::lock;

    /// How long the processes of a new process's group get between SIGTERM and SIGKILL.
    const STOP_GRACE: Duration = Duration::from_secs(1);
    /// How long the group is waited for after SIGKILL, before the failure is reported anyway
    /// (a process stuck in the kernel, a zombie nobody reaps).
    const KILL_WAIT: Duration = Duration::from_secs(1);
    /// How long this process's exit waits for a new process being stopped.
    const EXIT_WAIT: Duration = Duration::from_millis(1500);
    /// The first descriptor of systemd's protocol.
    const FIRST_FD: i32 = 3;
    /// How often the new process, and then its process group, are checked for an exit. Only
    /// this thread reaps the new process, so its pid stays its own until then; after that, the
    /// group's id stays reserved while any process is left in the group.
    const EXIT_POLL: Duration = Duration::from_millis(5);

    /// Why the new process did not take over.
    enum Failure {
        Exited(std::io::Result<ExitStatus>),
        TimedOut(Duration),
        Channel(String),
        ShutdownStarted,
        Exiting,
    }

    pub(super) fn attempt(shutdown: &Shutdown) -> Result<u32, UpgradeError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| failed(format!("cannot start the upgrade's runtime: {error}")))?;
        runtime.block_on(run(shutdown))
    }

    async fn run(shutdown: &Shutdown) -> Result<u32, UpgradeError> {
        let timeout = *lock(&TIMEOUT);
        let (mut child, channel) = spawn().map_err(failed)?;
        let pid = child.id();
        let started = Instant::now();
        log::upgrade_started(pid);

        // Until the new process has taken over, this process's exit (forced, the watchdog,
        // the end of a shutdown) stops it: a half-started copy is never left behind.
        let (stop, mut exiting) = tokio_mpsc::unbounded_channel::<()>();
        let (stopped, stopped_wait) = mpsc::channel::<()>();
        shutdown.keep_until_exit(StopOnExit {
            stop,
            stopped: stopped_wait,
        });

        let waited = wait_ready(shutdown, &mut child, &channel, timeout, &mut exiting).await;
        let failure = match waited.and_then(|()| hand_over(shutdown, pid)) {
            Ok(()) => {
                log::upgraded(pid, started.elapsed());
                return Ok(pid);
            }
            Err(failure) => failure,
        };
        let why = stop_failed(shutdown, pid, failure, &mut child, &mut exiting).await;
        // Said before this process may exit: its exit waits for `stopped`.
        let error = failed(why);
        drop(stopped);
        Err(error)
    }

    /// Waits until the new process says it is ready, or something ends the wait: its exit,
    /// `timeout`, a shutdown of this process, or this process's exit.
    async fn wait_ready(
        shutdown: &Shutdown,
        child: &mut Child,
        channel: &tokio::net::UnixDatagram,
        timeout: Duration,
        exiting: &mut tokio_mpsc::UnboundedReceiver<()>,
    ) -> Result<(), Failure> {
        let mut message = [0u8; 64];
        // The futures borrow `message` until one of them is done.
        let received = {
            let mut exit = pin!(exited(child));
            let mut received = pin!(channel.recv(&mut message));
            let mut timer = pin!(tokio::time::sleep(timeout));
            let mut shutting_down = pin!(shutdown.shutting_down());
            let mut stop = pin!(exiting.recv());
            poll_fn(|cx| {
                if let Poll::Ready(status) = exit.as_mut().poll(cx) {
                    Poll::Ready(Err(Failure::Exited(status)))
                } else if let Poll::Ready(received) = received.as_mut().poll(cx) {
                    Poll::Ready(Ok(received))
                } else if timer.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Err(Failure::TimedOut(timeout)))
                } else if shutting_down.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Err(Failure::ShutdownStarted))
                } else if stop.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Err(Failure::Exiting))
                } else {
                    Poll::Pending
                }
            })
            .await
        }?;
        match received {
            Ok(len) if &message[..len] == READY_MESSAGE => Ok(()),
            Ok(len) => Err(Failure::Channel(format!(
                "it sent {:?} instead of READY=1",
                String::from_utf8_lossy(&message[..len])
            ))),
            Err(error) => Err(Failure::Channel(format!(
                "its readiness channel failed: {error}"
            ))),
        }
    }

    /// Stops the new process's group after `failure`, and says what happened.
    async fn stop_failed(
        shutdown: &Shutdown,
        pid: u32,
        failure: Failure,
        child: &mut Child,
        exiting: &mut tokio_mpsc::UnboundedReceiver<()>,
    ) -> String {
        let why = match failure {
            Failure::Exited(status) => {
                // A process it started (a wrapper script's server, without `exec`) may still
                // hold the sockets: its group goes with it.
                let left = stop_group(pid, &mut Some(status), child, exiting).await;
                let status = describe(left.status);
                let group = if left.stopped_others {
                    "; the processes it left in its group were stopped"
                } else {
                    ""
                };
                return format!(
                    "the new process (pid {pid}) {status} before it was ready{group}; still serving"
                );
            }
            Failure::TimedOut(timeout) => format!(
                "the new process (pid {pid}) did not call graceful::ready() or start serving \
                 within {timeout:?}"
            ),
            Failure::Channel(why) => format!("the new process (pid {pid}): {why}"),
            Failure::ShutdownStarted => {
                format!("the shutdown started before the new process (pid {pid}) was ready")
            }
            Failure::Exiting => {
                format!("the process exits before the new one (pid {pid}) was ready")
            }
        };
        let status = describe(stop_group(pid, &mut None, child, exiting).await.status);
        let still = if shutdown.is_shutting_down() {
            "shutting down as asked"
        } else {
            "still serving"
        };
        format!("{why}; it was stopped ({status}); {still}")
    }

    /// Starts the binary again with the sockets and the readiness channel.
    fn spawn() -> Result<(Child, tokio::net::UnixDatagram), String> {
        let start = lock(&START);
        let start = start
            .as_ref()
            .ok_or("the start-up state of the process was not recorded")?;
        let program = start.program.clone()?;
        let sockets = sockets::for_upgrade()
            .map_err(|error| format!("cannot duplicate the listening sockets: {error}"))?;
        let (ours, theirs) = UnixDatagram::pair()
            .map_err(|error| format!("cannot create the readiness channel: {error}"))?;
        let mut names = Vec::with_capacity(sockets.len() + 1);
        let mut mappings = Vec::with_capacity(sockets.len() + 1);
        let fds = sockets
            .into_iter()
            .chain([(CHANNEL.to_owned(), OwnedFd::from(theirs))]);
        for (child_fd, (name, parent_fd)) in (FIRST_FD..).zip(fds) {
            names.push(name);
            mappings.push(FdMapping {
                parent_fd,
                child_fd,
            });
        }
        let mut command = Command::new(&program);
        // A group of its own: a failed new process is stopped with every process it started.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        command
            .args(&start.args)
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDS_FIRST_FD")
            .env("LISTEN_FDS", names.len().to_string())
            .env("LISTEN_FDNAMES", names.join(":"))
            .env(ENV_UPGRADE_FROM, std::process::id().to_string());
        if let Some(cwd) = &start.cwd {
            command.current_dir(cwd);
        }
        command
            .fd_mappings(mappings)
            .map_err(|error| format!("cannot pass the sockets: {error}"))?;
        let child = command.spawn().map_err(|error| {
            format!("cannot start {}: {error}; still serving", program.display())
        })?;
        ours.set_nonblocking(true)
            .map_err(|error| format!("readiness channel: {error}"))?;
        let ours = tokio::net::UnixDatagram::from_std(ours)
            .map_err(|error| format!("readiness channel: {error}"))?;
        Ok((child, ours))
    }

    /// The new process is ready: it is the service now. Unless a shutdown started meanwhile:
    /// then it is stopped, as when the shutdown comes first.
    fn hand_over(shutdown: &Shutdown, pid: u32) -> Result<(), Failure> {
        if shutdown.is_shutting_down() {
            return Err(Failure::ShutdownStarted);
        }
        // systemd hears of the new main process before this one starts its exit.
        systemd::main_pid(pid, true);
        if shutdown.begin(Reason::Upgrade, None) {
            return Ok(());
        }
        systemd::main_pid(std::process::id(), false);
        Err(Failure::ShutdownStarted)
    }

    /// How a stopped group ended.
    struct Stopped {
        /// The new process's own exit.
        status: std::io::Result<ExitStatus>,
        /// Whether other processes of its group had to be stopped.
        stopped_others: bool,
    }

    /// Stops the new process's group: SIGTERM to every process in it, SIGKILL to those left
    /// after [`STOP_GRACE`] (at once if this process is exiting), and waits until the new
    /// process is reaped and its group is empty. `status` is the new process's exit if it was
    /// already reaped; the group's id is the new process's pid.
    async fn stop_group(
        pid: u32,
        status: &mut Option<std::io::Result<ExitStatus>>,
        child: &mut Child,
        exiting: &mut tokio_mpsc::UnboundedReceiver<()>,
    ) -> Stopped {
        let Ok(group) = i32::try_from(pid).map(Pid::from_raw) else {
            let status = status.take().unwrap_or_else(|| {
                Err(std::io::Error::other(
                    "its pid does not fit a process group id",
                ))
            });
            return Stopped {
                status,
                stopped_others: false,
            };
        };
        let reaped_before = status.is_some();
        // Before the new process is reaped its pid is still its own; after, the group's id
        // is reserved as long as a process is left in the group, and `killpg` fails with
        // ESRCH once none is.
        let sent = killpg(group, NixSignal::SIGTERM).is_ok();
        // Once the new process is reaped, whatever received the signal is what it left.
        let stopped_others = reaped_before && sent;
        let gone = {
            let mut empty = pin!(group_gone(group, status, child));
            let mut grace = pin!(tokio::time::sleep(STOP_GRACE));
            let mut exiting = pin!(exiting.recv());
            poll_fn(|cx| {
                if empty.as_mut().poll(cx).is_ready() {
                    Poll::Ready(true)
                } else if grace.as_mut().poll(cx).is_ready() || exiting.as_mut().poll(cx).is_ready()
                {
                    Poll::Ready(false)
                } else {
                    Poll::Pending
                }
            })
            .await
        };
        if !gone {
            let _ = killpg(group, NixSignal::SIGKILL);
            let _ = tokio::time::timeout(KILL_WAIT, group_gone(group, status, child)).await;
        }
        let status = status.take().unwrap_or_else(|| {
            Err(std::io::Error::other(format!(
                "still running {KILL_WAIT:?} after SIGKILL"
            )))
        });
        Stopped {
            status,
            stopped_others,
        }
    }

    /// Resolves once the new process is reaped (its exit in `status`) and no process is left
    /// in its group.
    async fn group_gone(
        group: Pid,
        status: &mut Option<std::io::Result<ExitStatus>>,
        child: &mut Child,
    ) {
        loop {
            if status.is_none() {
                match child.try_wait() {
                    Ok(Some(exit)) => *status = Some(Ok(exit)),
                    Ok(None) => {}
                    Err(error) => *status = Some(Err(error)),
                }
            }
            if status.is_some() && killpg(group, None) == Err(Errno::ESRCH) {
                return;
            }
            tokio::time::sleep(EXIT_POLL).await;
        }
    }

    /// Resolves when the new process has exited (and reaps it).
    async fn exited(child: &mut Child) -> std::io::Result<ExitStatus> {
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            tokio::time::sleep(EXIT_POLL).await;
        }
    }

    fn describe(status: std::io::Result<ExitStatus>) -> String {
        match status {
            Ok(status) => format!("exited with {status}"),
            Err(error) => format!("could not be waited for: {error}"),
        }
    }

    /// Kept until the process exits: stops a new process that has not taken over yet.
    struct StopOnExit {
        stop: tokio_mpsc::UnboundedSender<()>,
        stopped: mpsc::Receiver<()>,
    }

    impl Drop for StopOnExit {
        fn drop(&mut self) {
            // Fails once the attempt has ended (the new process took over, or is gone).
            if self.stop.send(()).is_ok() {
                let _ = self.stopped.recv_timeout(EXIT_WAIT);
            }
        }
    }
}

#[cfg(not(unix))]
mod platform {
    use super::UpgradeError;
    use crate::shutdown::Shutdown;

    pub(super) fn attempt(_shutdown: &Shutdown) -> Result<u32, UpgradeError> {
        Err(UpgradeError::Unsupported)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A directory with an executable `bin/server` and a plain file `bin/notes`.
    struct Release(PathBuf);

    impl Release {
        fn new(label: &str) -> Release {
            let dir = std::env::temp_dir()
                .join(format!("graceful-resolve-{label}-{}", std::process::id()));
            std::fs::create_dir_all(dir.join("bin")).unwrap();
            std::fs::write(dir.join("bin/server"), "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(
                dir.join("bin/server"),
                std::fs::Permissions::from_mode(0o755),
            )
            .unwrap();
            std::fs::write(dir.join("bin/notes"), "").unwrap();
            Release(dir)
        }
    }

    impl Drop for Release {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn argv0_is_resolved_against_the_working_directory() {
        let release = Release::new("relative");
        let cwd = Some(release.0.as_path());
        assert_eq!(
            resolve(Some("bin/server".into()), cwd, None).unwrap(),
            release.0.join("bin/server")
        );
        assert_eq!(
            resolve(Some("./bin/server".into()), cwd, None).unwrap(),
            release.0.join("./bin/server")
        );
        let absolute = release.0.join("bin/server");
        assert_eq!(
            resolve(Some(absolute.clone().into()), None, None).unwrap(),
            absolute
        );
    }

    #[test]
    fn what_cannot_be_started_again_is_refused_with_the_fix() {
        let release = Release::new("refused");
        let cwd = Some(release.0.as_path());
        for (argv0, says) in [
            ("", "argv[0] is empty"),
            ("bin/missing", "is not an executable file"),
            ("bin/notes", "is not an executable file"),
            (
                "server",
                "a bare name that is not an executable file on PATH",
            ),
        ] {
            let why = resolve(Some(argv0.into()), cwd, None).unwrap_err();
            assert!(why.contains(says), "{argv0:?}: {why}");
            assert!(why.contains(HOW_TO_START), "{argv0:?}: {why}");
        }
        assert!(resolve(None, cwd, None).is_err());
    }

    #[test]
    fn a_bare_name_is_looked_up_in_path() {
        let release = Release::new("path");
        let path = std::env::join_paths(["/nonexistent".into(), release.0.join("bin")]).unwrap();
        assert_eq!(
            resolve(Some("server".into()), None, Some(&path)).unwrap(),
            release.0.join("bin/server")
        );
        // A plain file of that name earlier on PATH is skipped, as the shell skips it.
        assert!(resolve(Some("notes".into()), None, Some(&path)).is_err());
    }
}
