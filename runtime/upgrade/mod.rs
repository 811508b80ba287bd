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

pub(crate) mod sockets;

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
use crate::util::sync::lock;

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
#[cfg_attr(docsrs, doc(cfg(feature = "upgrade")))]
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
    /// Only Unix starts the program again; elsewhere the path is still checked at start-up.
    #[cfg_attr(not(unix), allow(dead_code))]
    args: Vec<OsString>,
    /// The logical working directory (see [`logical_cwd`]), where the new process starts.
    #[cfg_attr(not(unix), allow(dead_code))]
    cwd: Option<PathBuf>,
}

static START: Mutex<Option<Start>> = Mutex::new(None);
static TIMEOUT: Mutex<Duration> = Mutex::new(DEFAULT_UPGRADE_TIMEOUT);
/// Whether an attempt runs (or succeeded: the process is then shutting down).
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Why an upgrade of PID 1 is refused.
const PID_1: &str = "this process is PID 1 of its PID namespace (a container without an init): \
     the kernel would kill the new process with this one when it exits; run the service under \
     an init (`docker run --init`, tini, dumb-init) to upgrade it; still serving";

/// Records how the process was started, once, and the upgrade timeout of the run. Called at
/// the start of every run, before its main body. With an upgrade signal configured, a binary
/// that could not be started again is a configuration error now, not a failed upgrade later:
/// the error says why and what to do.
pub(crate) fn prepare(timeout: Duration, upgrade: Option<Signal>) -> Result<(), String> {
    *lock(&TIMEOUT) = timeout;
    #[cfg(unix)]
    platform::reset();
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
    #[cfg_attr(docsrs, doc(cfg(feature = "upgrade")))]
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

/// Where an attempt's outcome arrives: the new process's pid, or why it failed.
type AttemptOutcome = tokio::sync::oneshot::Receiver<Result<u32, UpgradeError>>;

/// Starts an attempt on a thread of its own; its outcome arrives on the receiver.
fn begin(shutdown: &Shutdown) -> Result<AttemptOutcome, UpgradeError> {
    if cfg!(not(unix)) {
        return Err(UpgradeError::Unsupported);
    }
    if shutdown.is_shutting_down() {
        return Err(UpgradeError::ShuttingDown);
    }
    if std::process::id() == 1 {
        // The kernel kills every process of a PID namespace when its PID 1 exits: the new
        // process would die with this one, and the container's main process would have
        // exited 0, so that a restart policy `on-failure` does not even restart it.
        return Err(UpgradeError::Failed(PID_1.to_owned()));
    }
    if RUNNING.swap(true, Ordering::AcqRel) {
        return Err(UpgradeError::InProgress);
    }
    crate::metrics::upgrade_attempted();
    let (send, receive) = tokio::sync::oneshot::channel();
    let attempt = shutdown.clone();
    let spawned = std::thread::Builder::new()
        .name("graceful-upgrade".to_owned())
        .spawn(move || {
            systemd::reloading(*lock(&TIMEOUT));
            // A failed attempt has made room for the next one (see `failed`) before it ends,
            // so systemd may signal its next reload as soon as it hears this one ended.
            let outcome = platform::attempt(&attempt);
            if outcome.is_err() {
                crate::metrics::upgrade_failed();
            }
            systemd::reload_ended(&outcome, &attempt);
            let _ = send.send(outcome);
        });
    if let Err(error) = spawned {
        crate::metrics::upgrade_failed();
        RUNNING.store(false, Ordering::Release);
        return Err(UpgradeError::Failed(format!(
            "cannot start the upgrade thread: {error}"
        )));
    }
    Ok(receive)
}

/// The process, or the run, is ending: a new process that has not taken over yet is stopped
/// with its group (given until `until` to run its own shutdown, then killed), and no attempt
/// starts another. A stop that wins the
/// race against an upgrade leaves nothing behind.
pub(crate) fn stop_pending(until: std::time::Instant) {
    #[cfg(unix)]
    platform::stop_pending(until);
    #[cfg(not(unix))]
    let _ = until;
}

/// The process ends at once (a signal cut its exit short): the new process of an attempt that
/// has not taken over is killed with its group; its pid, if there was one.
pub(crate) fn kill_pending() -> Option<u32> {
    #[cfg(unix)]
    return platform::kill_pending();
    #[cfg(not(unix))]
    None
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
mod pending;
#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as platform;

#[cfg(not(unix))]
mod unsupported;
#[cfg(not(unix))]
use unsupported as platform;

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
