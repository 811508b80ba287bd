//! The escape hatches whatever stderr is: a pipe whose reader is gone (`app 2>&1 | tee log`
//! after Ctrl-C killed `tee`), a full pipe that nobody reads, `/dev/full`. The forced exit and
//! the watchdog exit with their codes at once, and a failed log write never stops the hooks.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::time::{Duration, Instant};

use graceful_test_support::{Fixture, LINE_TIMEOUT, Signal};
use nix::fcntl::{FcntlArg, OFlag, fcntl};

const SLOW_SHUTDOWN: &str = env!("CARGO_BIN_EXE_slow_shutdown");
const STUCK_BLOCKING: &str = env!("CARGO_BIN_EXE_stuck_blocking");
const STUCK_RUNTIME: &str = env!("CARGO_BIN_EXE_stuck_runtime");
const FAILING_HOOKS: &str = env!("CARGO_BIN_EXE_failing_hooks");

/// Generous: the forced exit is immediate, and the watchdog's deadline is 1 s; a hang (the
/// bug this guards against) lasts until the harness kills the fixture.
const PROMPTLY: Duration = Duration::from_secs(5);

/// A stderr that cannot take a line.
#[derive(Clone, Copy, Debug)]
enum DeadStderr {
    /// `/dev/full`: every write fails with `ENOSPC`.
    DevFull,
    /// A pipe whose read end is closed: every write fails with `EPIPE`.
    ReaderGone,
    /// A pipe already full, whose reader never reads: a blocking write never returns.
    Full,
}

const ALL: [DeadStderr; 3] = [
    DeadStderr::DevFull,
    DeadStderr::ReaderGone,
    DeadStderr::Full,
];

impl DeadStderr {
    /// The fixture's stderr, and what must stay open (the full pipe's read end) until it exits.
    fn open(self) -> (Stdio, Option<OwnedFd>) {
        match self {
            DeadStderr::DevFull => {
                let full = File::options().write(true).open("/dev/full");
                (Stdio::from(full.expect("/dev/full")), None)
            }
            DeadStderr::ReaderGone => {
                let (reader, writer) = nix::unistd::pipe().expect("a pipe");
                drop(reader);
                (Stdio::from(writer), None)
            }
            DeadStderr::Full => {
                let (reader, writer) = nix::unistd::pipe().expect("a pipe");
                // Filled without blocking, then blocking again as the fixture will find it:
                // `O_NONBLOCK` belongs to the pipe's open file, which the fixture shares.
                let flags = fcntl(&writer, FcntlArg::F_GETFL).expect("the pipe's flags");
                let blocking = OFlag::from_bits_truncate(flags);
                fcntl(&writer, FcntlArg::F_SETFL(blocking | OFlag::O_NONBLOCK))
                    .expect("a non-blocking pipe");
                let chunk = [b'x'; 4096];
                while nix::unistd::write(&writer, &chunk).is_ok() {}
                fcntl(&writer, FcntlArg::F_SETFL(blocking)).expect("a blocking pipe");
                (Stdio::from(writer), Some(reader))
            }
        }
    }
}

/// A second SIGTERM while two hooks run exits 143 at once, whatever stderr is.
#[test]
fn the_forced_exit_holds_with_a_dead_stderr() {
    for dead in ALL {
        let (stderr, _keep_open) = dead.open();
        let mut fixture = Fixture::start_ready_with_stderr(SLOW_SHUTDOWN, &[], stderr);
        fixture.signal(Signal::SIGTERM);
        fixture.wait_for_stdout("hook slow_async started", LINE_TIMEOUT);
        fixture.wait_for_stdout("hook slow_blocking started", LINE_TIMEOUT);
        let second = fixture.signal(Signal::SIGTERM);
        let exited = fixture.wait(PROMPTLY);
        exited.assert_code(143);
        println!("{dead:?}: second SIGTERM to exit in {:?}", second.elapsed());
        assert!(!exited.stdout_has("hook never ran"), "{dead:?}\n{exited}");
    }
}

/// A blocking hook stuck past a 1 s deadline: the watchdog exits 1, whatever stderr is.
#[test]
fn the_watchdog_holds_with_a_dead_stderr() {
    for dead in ALL {
        let (stderr, _keep_open) = dead.open();
        let env = [("GRACEFUL_TIMEOUT", "1s")];
        let mut fixture = Fixture::start_ready_with_stderr(STUCK_BLOCKING, &env, stderr);
        let signalled = fixture.signal(Signal::SIGTERM);
        fixture.wait_for_stdout("hook stuck started", LINE_TIMEOUT);
        let exited = fixture.wait(PROMPTLY);
        exited.assert_code(1);
        println!(
            "{dead:?}: signal to the watchdog's exit in {:?}",
            signalled.elapsed()
        );
        assert!(!exited.stdout_has("hook after ran"), "{dead:?}\n{exited}");
    }
}

/// An async hook blocks the only thread of a `current_thread` runtime: the watchdog (on the
/// signal listener's thread) still exits 1 at the 1 s deadline.
#[test]
fn the_watchdog_holds_a_blocked_current_thread_runtime_with_a_dead_stderr() {
    for dead in ALL {
        let (stderr, _keep_open) = dead.open();
        let mut fixture = Fixture::start_ready_with_stderr(STUCK_RUNTIME, &[], stderr);
        fixture.signal(Signal::SIGTERM);
        fixture.wait_for_stdout("hook hog started", LINE_TIMEOUT);
        let exited = fixture.wait(PROMPTLY);
        exited.assert_code(1);
        assert!(!exited.stdout_has("hook after ran"), "{dead:?}\n{exited}");
    }
}

/// Hooks that fail, panic and time out each write a line to stderr (no subscriber): when those
/// writes fail, the hooks after them still run and the exit code still says what happened.
/// (Not with a full pipe: there std's own panic message, written by the panicking hook's
/// thread, blocks that hook until its timeout, as any write of the program's would.)
#[test]
fn failed_log_writes_do_not_stop_the_hooks() {
    for dead in [DeadStderr::DevFull, DeadStderr::ReaderGone] {
        let (stderr, _keep_open) = dead.open();
        let mut fixture = Fixture::start_ready_with_stderr(FAILING_HOOKS, &[], stderr);
        let started = Instant::now();
        fixture.signal(Signal::SIGTERM);
        let exited = fixture.wait(Duration::from_secs(20));
        exited.assert_code(1);
        assert!(exited.stdout_has("hook last ran"), "{dead:?}\n{exited}");
        println!("{dead:?}: signal to exit in {:?}", started.elapsed());
    }
}
