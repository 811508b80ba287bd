//! Lines on stderr, best effort: the runtime's own writes never panic and never block for
//! long, whatever stderr is (a pipe whose reader is gone, a full pipe nobody reads,
//! `/dev/full`, a closed descriptor).
//!
//! `eprintln!` panics when the write fails, and blocks while a pipe is full: on the thread of
//! an escape hatch (the forced exit, the watchdog) either would keep the process from exiting.
//! Here a failed write is dropped, and a write waits at most [`WAIT`] for room; once one has
//! given up, the next ones do not wait at all, since nobody is reading.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long one line may wait for room in stderr.
const WAIT: Duration = Duration::from_millis(100);

/// Set once a line could not be written in time: stderr is not being read.
static STUCK: AtomicBool = AtomicBool::new(false);

/// Points stdout and stderr at `/dev/null` when whoever read them is gone (a pipe whose
/// reader exited, a socket whose peer closed: `app 2>&1 | tee log` after the Ctrl-C that also
/// killed `tee`). Nothing written there can ever be read again, but every `println!` and
/// `eprintln!` of the program would panic on the failed write: a hook that prints, or a
/// tracing subscriber that reports its own failed write with `eprintln!`. Called at the
/// trigger and before the hooks run, so that the shutdown loses nothing to a terminal that
/// closed. A terminal or a file that still takes writes is left alone.
#[cfg(unix)]
pub(crate) fn silence_if_gone() {
    use std::os::fd::AsFd;

    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

    let gone = |fd: std::os::fd::BorrowedFd<'_>| {
        let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
        matches!(poll(&mut fds, PollTimeout::ZERO), Ok(1))
            && fds[0]
                .revents()
                .is_some_and(|events| events.intersects(PollFlags::POLLERR | PollFlags::POLLHUP))
    };
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let (stdout_gone, stderr_gone) = (gone(stdout.as_fd()), gone(stderr.as_fd()));
    if !stdout_gone && !stderr_gone {
        return;
    }
    let Ok(null) = std::fs::File::options().write(true).open("/dev/null") else {
        return;
    };
    if stdout_gone {
        let _ = nix::unistd::dup2_stdout(&null);
    }
    if stderr_gone {
        let _ = nix::unistd::dup2_stderr(&null);
    }
}

/// Elsewhere nothing is redirected.
#[cfg(not(unix))]
pub(crate) fn silence_if_gone() {}

/// Writes `line` and a newline to stderr, best effort (see [the module](self)).
pub(crate) fn line(line: std::fmt::Arguments<'_>) {
    let mut text = line.to_string();
    text.push('\n');
    let wait = if STUCK.load(Ordering::Relaxed) {
        Duration::ZERO
    } else {
        WAIT
    };
    if !write(text.as_bytes(), wait) {
        STUCK.store(true, Ordering::Relaxed);
    }
}

/// Writes `bytes` in pieces no larger than a pipe writes at once, each only once `poll`
/// says there is room: a write that fits never blocks. False if the wait ran out (an error
/// such as `EPIPE` or `ENOSPC` ends the line too, without waiting).
#[cfg(unix)]
fn write(mut bytes: &[u8], wait: Duration) -> bool {
    use std::os::fd::AsFd;
    use std::time::Instant;

    use nix::errno::Errno;
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

    /// POSIX's smallest `PIPE_BUF`: a write of this many bytes to a pipe with room is whole.
    const PIECE: usize = 512;

    let stderr = std::io::stderr();
    let until = Instant::now() + wait;
    while !bytes.is_empty() {
        let left = until.saturating_duration_since(Instant::now());
        let timeout = PollTimeout::try_from(left.as_millis()).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(stderr.as_fd(), PollFlags::POLLOUT)];
        match poll(&mut fds, timeout) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(_) => return true,
        }
        let writable = fds[0]
            .revents()
            .is_some_and(|events| events.contains(PollFlags::POLLOUT));
        if !writable {
            // POLLERR, POLLHUP (the reader is gone), POLLNVAL: nothing can be written.
            return true;
        }
        let piece = &bytes[..bytes.len().min(PIECE)];
        match nix::unistd::write(&stderr, piece) {
            Ok(written) => bytes = &bytes[written..],
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(_) => return true,
        }
    }
    true
}

/// Elsewhere a write to stderr is made once; its error is dropped.
#[cfg(not(unix))]
fn write(bytes: &[u8], _wait: Duration) -> bool {
    use std::io::Write;
    let _ = std::io::stderr().write_all(bytes);
    true
}
