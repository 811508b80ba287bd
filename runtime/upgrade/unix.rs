//! The upgrade on Unix: the binary started again with the listening sockets and a readiness
//! channel (systemd's protocol), waited for, handed over to, or stopped with its process group.

use std::future::{Future, poll_fn};
use std::os::fd::{AsFd, OwnedFd};
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

use super::pending::{Exiting, Pending};
use super::{START, TIMEOUT, UpgradeError, failed};
use crate::log;
use crate::reason::Reason;
use crate::shutdown::Shutdown;
use crate::systemd;
use crate::upgrade::sockets::{
    self, CHANNEL, ENV_UPGRADE_FDS, ENV_UPGRADE_FROM, ENV_UPGRADE_IDS, FIRST_FD, READY_MESSAGE,
};
use crate::util::sync::lock;

/// How long the processes of a new process's group get between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(1);
/// How long the group is waited for after SIGKILL, before the failure is reported anyway
/// (a process stuck in the kernel, a zombie nobody reaps).
const KILL_WAIT: Duration = Duration::from_secs(1);
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
    /// This process exits: the new one gets until then to stop.
    Exiting(Instant),
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
    // Until the new process has taken over, this process's exit (forced, the watchdog,
    // the end of a shutdown) stops it: a half-started copy is never left behind. It is
    // registered in the same step as it is started, so that no exit slips in between.
    let (stop, mut exiting) = tokio_mpsc::unbounded_channel::<Instant>();
    let (stopped, stopped_wait) = mpsc::channel::<()>();
    let started = PENDING.start(|| {
        spawn().map(|started| {
            let group = i32::try_from(started.0.id()).ok();
            (started, group, (stop, stopped_wait))
        })
    });
    let (mut child, channel) = match started {
        Ok(started) => started.map_err(failed)?,
        Err(Exiting) => {
            return Err(failed(
                "the process is exiting: no new process was started".to_owned(),
            ));
        }
    };
    let pid = child.id();
    let started = Instant::now();
    log::upgrade_started(pid);

    let waited = wait_ready(shutdown, &mut child, &channel, timeout, &mut exiting).await;
    let failure = match waited.and_then(|()| hand_over(shutdown, pid)) {
        Ok(()) => {
            // The new process is the service now: nothing stops it at this one's exit.
            PENDING.clear();
            log::upgraded(pid, started.elapsed());
            return Ok(pid);
        }
        Err(failure) => failure,
    };
    let why = stop_failed(shutdown, pid, failure, &mut child, &mut exiting).await;
    PENDING.clear();
    // Said before this process may exit: its exit waits for `stopped`.
    let error = failed(why);
    drop(stopped);
    Err(error)
}

/// How the exit asks the attempt to stop its new process (until when it may take), and waits
/// until it has.
type StopRequest = (tokio_mpsc::UnboundedSender<Instant>, mpsc::Receiver<()>);

#[cfg(not(all(test, graceful_loom)))]
static PENDING: Pending<StopRequest> = Pending::new();
#[cfg(all(test, graceful_loom))]
static PENDING: std::sync::LazyLock<Pending<StopRequest>> = std::sync::LazyLock::new(Pending::new);

/// A run starts: upgrades may start new processes again.
pub(super) fn reset() {
    PENDING.reset();
}

/// The process (or the run) is ending: a new process that has not taken over is asked to
/// stop (SIGTERM to its group), given until `until` to run its own shutdown, then killed; this
/// waits for that, and no attempt starts another process.
pub(super) fn stop_pending(until: Instant) {
    let stop = PENDING.exiting();
    // The send fails once the attempt has ended (the new process took over, or is gone).
    if let Some((stop, stopped)) = stop {
        if stop.send(until).is_ok() {
            let wait = until.saturating_duration_since(Instant::now()) + KILL_WAIT;
            let _ = stopped.recv_timeout(wait);
        }
    }
}

/// A signal ends the process at once, while its exit waits for a new process to stop: the
/// new process's group is killed first, so that nothing of the build is left behind. The new
/// process's pid (its group's), if there was one to kill (a group already gone is not).
pub(super) fn kill_pending() -> Option<u32> {
    let group = PENDING.group()?;
    killpg(Pid::from_raw(group), NixSignal::SIGKILL).ok()?;
    u32::try_from(group).ok()
}

/// Waits until the new process says it is ready, or something ends the wait: its exit,
/// `timeout`, a shutdown of this process, or this process's exit.
async fn wait_ready(
    shutdown: &Shutdown,
    child: &mut Child,
    channel: &tokio::net::UnixDatagram,
    timeout: Duration,
    exiting: &mut tokio_mpsc::UnboundedReceiver<Instant>,
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
            } else if let Poll::Ready(Some(until)) = stop.as_mut().poll(cx) {
                Poll::Ready(Err(Failure::Exiting(until)))
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
    exiting: &mut tokio_mpsc::UnboundedReceiver<Instant>,
) -> String {
    let grace = Instant::now() + STOP_GRACE;
    let (why, grace) = match failure {
        Failure::Exited(status) => {
            // A process it started (a wrapper script's server, without `exec`) may still
            // hold the sockets: its group goes with it.
            let left = stop_group(pid, &mut Some(status), child, exiting, grace).await;
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
        Failure::TimedOut(timeout) => (
            format!(
                "the new process (pid {pid}) did not call graceful::ready() or start serving \
                 within {timeout:?}"
            ),
            grace,
        ),
        Failure::Channel(why) => (format!("the new process (pid {pid}): {why}"), grace),
        // A stop won the race: the new process may already serve on the shared sockets, and
        // runs its own shutdown, for as long as this one's may take.
        Failure::ShutdownStarted => (
            format!("the shutdown started before the new process (pid {pid}) was ready"),
            shutdown
                .inner
                .deadline()
                .map_or(grace, |deadline| deadline.max(grace)),
        ),
        Failure::Exiting(until) => (
            format!("the process exits before the new one (pid {pid}) was ready"),
            until,
        ),
    };
    let status = describe(
        stop_group(pid, &mut None, child, exiting, grace)
            .await
            .status,
    );
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
    let mut ids = Vec::with_capacity(sockets.len() + 1);
    let mut mappings = Vec::with_capacity(sockets.len() + 1);
    let fds = sockets
        .into_iter()
        .chain([(CHANNEL.to_owned(), OwnedFd::from(theirs))]);
    for (child_fd, (name, parent_fd)) in (FIRST_FD..).zip(fds) {
        ids.push(
            sockets::identity(parent_fd.as_fd())
                .map_err(|error| format!("cannot pass the socket {name:?}: {error}"))?,
        );
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
        // Socket activation's sockets are this process's: those `listen` took are passed
        // under graceful's own variables, the others not at all.
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_FDNAMES")
        .env_remove("LISTEN_FDS_FIRST_FD")
        .env(ENV_UPGRADE_FDS, names.join(":"))
        .env(ENV_UPGRADE_IDS, ids.join(":"))
        .env(ENV_UPGRADE_FROM, std::process::id().to_string());
    if let Some(cwd) = &start.cwd {
        command.current_dir(cwd);
    }
    command
        .fd_mappings(mappings)
        .map_err(|error| format!("cannot pass the sockets: {error}"))?;
    let child = command
        .spawn()
        .map_err(|error| format!("cannot start {}: {error}; still serving", program.display()))?;
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
    if shutdown.start(Reason::Upgrade, None, None) {
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
/// at `grace` (or sooner, if this process's exit says so), and waits until the new process is
/// reaped and its group is empty. `status` is the new process's exit if it was
/// already reaped; the group's id is the new process's pid.
async fn stop_group(
    pid: u32,
    status: &mut Option<std::io::Result<ExitStatus>>,
    child: &mut Child,
    exiting: &mut tokio_mpsc::UnboundedReceiver<Instant>,
    grace: Instant,
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
        let mut grace = pin!(tokio::time::sleep_until(grace.into()));
        poll_fn(|cx| {
            if empty.as_mut().poll(cx).is_ready() {
                return Poll::Ready(true);
            }
            // This process's exit may bring the end of the grace nearer (never further).
            while let Poll::Ready(Some(until)) = exiting.poll_recv(cx) {
                if until < grace.deadline().into_std() {
                    grace.as_mut().reset(until.into());
                }
            }
            grace.as_mut().poll(cx).map(|()| false)
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
