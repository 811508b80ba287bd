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
use std::path::PathBuf;
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
    /// `argv[0]`, resolved against the working directory at start-up (or `PATH`, as the shell
    /// did), so that the file at that path now is what runs: a deploy that replaced it runs
    /// the new build. Symbolic links are not resolved, for the same reason.
    program: Result<PathBuf, String>,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
}

static START: Mutex<Option<Start>> = Mutex::new(None);
static TIMEOUT: Mutex<Duration> = Mutex::new(DEFAULT_UPGRADE_TIMEOUT);
/// Whether an attempt runs (or succeeded: the process is then shutting down).
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Records how the process was started, once, and the upgrade timeout of the run. Called at
/// the start of every run, before its main body.
pub(crate) fn prepare(timeout: Duration) {
    *lock(&TIMEOUT) = timeout;
    let mut start = lock(&START);
    if start.is_none() {
        let mut args = std::env::args_os();
        let argv0 = args.next();
        let cwd = std::env::current_dir().ok();
        *start = Some(Start {
            program: resolve(argv0, cwd.as_deref()),
            args: args.collect(),
            cwd,
        });
    }
}

fn resolve(argv0: Option<OsString>, cwd: Option<&std::path::Path>) -> Result<PathBuf, String> {
    let argv0 = argv0
        .filter(|argv0| !argv0.is_empty())
        .ok_or("argv[0] is empty: the path of the binary to start is unknown")?;
    let path = PathBuf::from(&argv0);
    let absolute = |path: PathBuf| match cwd {
        Some(cwd) if path.is_relative() => Ok(cwd.join(path)),
        _ if path.is_relative() => Err(format!(
            "argv[0] is the relative path {} and the working directory at start-up is unknown",
            path.display()
        )),
        _ => Ok(path),
    };
    if path.components().count() > 1 || path.is_absolute() {
        return absolute(path);
    }
    // A bare name, found through `PATH` when the process was started.
    let dirs = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&dirs) {
        let candidate = dir.join(&path);
        if is_executable(&candidate) {
            return absolute(candidate);
        }
    }
    absolute(path)
}

#[cfg(unix)]
fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &std::path::Path) -> bool {
    path.is_file()
}

impl Shutdown {
    /// Starts a zero-downtime upgrade, as the signal of
    /// [`Builder::upgrade_on`](crate::Builder::upgrade_on) does, and waits for its outcome: the
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

type Outcome = tokio::sync::oneshot::Receiver<Result<u32, UpgradeError>>;

/// Starts an attempt on a thread of its own; its outcome arrives on the receiver.
fn begin(shutdown: &Shutdown) -> Result<Outcome, UpgradeError> {
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
            let outcome = platform::attempt(&attempt);
            if outcome.is_err() {
                RUNNING.store(false, Ordering::Release);
            }
            // Once `RUNNING` is clear: systemd may signal its next reload at once.
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
    use nix::sys::signal::{Signal as NixSignal, kill};
    use nix::unistd::Pid;
    use tokio::sync::mpsc as tokio_mpsc;

    use super::{START, TIMEOUT, UpgradeError};
    use crate::log;
    use crate::reason::Reason;
    use crate::shutdown::Shutdown;
    use crate::sockets::{self, CHANNEL, ENV_UPGRADE_FROM, READY_MESSAGE};
    use crate::systemd;
    use crate::tasks::lock;

    /// How long a new process that is stopped gets between SIGTERM and SIGKILL.
    const STOP_GRACE: Duration = Duration::from_secs(1);
    /// How long this process's exit waits for a new process being stopped.
    const EXIT_WAIT: Duration = Duration::from_millis(1500);
    /// The first descriptor of systemd's protocol.
    const FIRST_FD: i32 = 3;
    /// How often the new process is checked for an exit. Only this thread reaps it, so its pid
    /// stays its own until then (a SIGTERM never reaches another process).
    const EXIT_POLL: Duration = Duration::from_millis(5);

    /// What ended the wait for the new process.
    enum Event {
        Exited(std::io::Result<ExitStatus>),
        Received(std::io::Result<usize>),
        TimedOut,
        ShutdownStarted,
        Exiting,
    }

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
            .map_err(|error| {
                UpgradeError::Failed(format!("cannot start the upgrade's runtime: {error}"))
            })?;
        runtime.block_on(run(shutdown))
    }

    async fn run(shutdown: &Shutdown) -> Result<u32, UpgradeError> {
        let timeout = *lock(&TIMEOUT);
        let (mut child, channel) = spawn().map_err(|why| {
            log::upgrade_failed(&why);
            UpgradeError::Failed(why)
        })?;
        let pid = child.id();
        let started = Instant::now();
        log::upgrade_started(pid);

        // Until the new process has taken over, this process's exit (forced, the watchdog,
        // the end of a shutdown) stops it: a half-started copy is never left behind.
        let (stop, mut stop_requested) = tokio_mpsc::unbounded_channel::<()>();
        let (stopped, stopped_wait) = mpsc::channel::<()>();
        shutdown.keep_until_exit(StopOnExit {
            stop,
            stopped: stopped_wait,
        });

        let mut message = [0u8; 64];
        let event = {
            let mut exit = pin!(exited(&mut child));
            let mut received = pin!(channel.recv(&mut message));
            let mut timer = pin!(tokio::time::sleep(timeout));
            let mut shutting_down = pin!(shutdown.shutting_down());
            let mut stop = pin!(stop_requested.recv());
            poll_fn(|cx| {
                if let Poll::Ready(status) = exit.as_mut().poll(cx) {
                    Poll::Ready(Event::Exited(status))
                } else if let Poll::Ready(received) = received.as_mut().poll(cx) {
                    Poll::Ready(Event::Received(received))
                } else if timer.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Event::TimedOut)
                } else if shutting_down.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Event::ShutdownStarted)
                } else if stop.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Event::Exiting)
                } else {
                    Poll::Pending
                }
            })
            .await
        };
        let failure = match event {
            Event::Exited(status) => Failure::Exited(status),
            Event::Received(Ok(len)) if &message[..len] == READY_MESSAGE => {
                match hand_over(shutdown, pid) {
                    Ok(()) => {
                        log::upgraded(pid, started.elapsed());
                        return Ok(pid);
                    }
                    Err(failure) => failure,
                }
            }
            Event::Received(Ok(len)) => Failure::Channel(format!(
                "it sent {:?} instead of READY=1",
                String::from_utf8_lossy(&message[..len])
            )),
            Event::Received(Err(error)) => {
                Failure::Channel(format!("its readiness channel failed: {error}"))
            }
            Event::TimedOut => Failure::TimedOut(timeout),
            Event::ShutdownStarted => Failure::ShutdownStarted,
            Event::Exiting => Failure::Exiting,
        };
        let why = match failure {
            Failure::Exited(status) => {
                let status = describe(status);
                let why = format!(
                    "the new process (pid {pid}) {status} before it was ready; still serving"
                );
                log::upgrade_failed(&why);
                return Err(UpgradeError::Failed(why));
            }
            Failure::TimedOut(timeout) => {
                format!("the new process (pid {pid}) was not ready within {timeout:?}")
            }
            Failure::Channel(why) => format!("the new process (pid {pid}): {why}"),
            Failure::ShutdownStarted => {
                format!("the shutdown started before the new process (pid {pid}) was ready")
            }
            Failure::Exiting => {
                format!("the process exits before the new one (pid {pid}) was ready")
            }
        };
        let status = stop_child(&mut child, &mut stop_requested).await;
        let still = if shutdown.is_shutting_down() {
            "shutting down as asked"
        } else {
            "still serving"
        };
        let why = format!("{why}; it was stopped ({status}); {still}");
        // Said before this process may exit: its exit waits for `stopped`.
        log::upgrade_failed(&why);
        drop(stopped);
        Err(UpgradeError::Failed(why))
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

    /// SIGTERM, then SIGKILL after [`STOP_GRACE`] (or at once if this process is exiting).
    async fn stop_child(
        child: &mut Child,
        exiting: &mut tokio_mpsc::UnboundedReceiver<()>,
    ) -> String {
        if let Ok(pid) = i32::try_from(child.id()) {
            // The child is not reaped before `exited` below, so the pid is still its own.
            let _ = kill(Pid::from_raw(pid), NixSignal::SIGTERM);
        }
        let status = {
            let mut exit = pin!(exited(child));
            let mut grace = pin!(tokio::time::sleep(STOP_GRACE));
            let mut exiting = pin!(exiting.recv());
            poll_fn(|cx| {
                if let Poll::Ready(status) = exit.as_mut().poll(cx) {
                    Poll::Ready(Some(status))
                } else if grace.as_mut().poll(cx).is_ready() || exiting.as_mut().poll(cx).is_ready()
                {
                    Poll::Ready(None)
                } else {
                    Poll::Pending
                }
            })
            .await
        };
        let status = match status {
            Some(status) => status,
            None => {
                let _ = child.kill();
                exited(child).await
            }
        };
        describe(status)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv0_is_resolved_against_the_start_up_directory() {
        let cwd = std::path::Path::new("/srv/app");
        assert_eq!(
            resolve(Some("bin/server".into()), Some(cwd)).unwrap(),
            PathBuf::from("/srv/app/bin/server")
        );
        assert_eq!(
            resolve(Some("./server".into()), Some(cwd)).unwrap(),
            PathBuf::from("/srv/app/./server")
        );
        assert_eq!(
            resolve(Some("/usr/bin/server".into()), Some(cwd)).unwrap(),
            PathBuf::from("/usr/bin/server")
        );
        assert!(resolve(Some("".into()), Some(cwd)).is_err());
        assert!(resolve(None, Some(cwd)).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_bare_name_is_looked_up_in_path() {
        // `sh` is on every PATH of a Unix machine; its path is absolute.
        let resolved = resolve(Some("sh".into()), None).unwrap();
        assert!(resolved.is_absolute(), "{}", resolved.display());
        assert!(resolved.ends_with("sh"), "{}", resolved.display());
    }
}
