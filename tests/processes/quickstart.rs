//! The README's first command as a new user runs it: `cargo run --example quickstart 2>&1 |
//! cat`, then Ctrl-C in the terminal. The Ctrl-C reaches the whole foreground group, so the
//! reader dies with it, and every write to stdout and stderr fails from then on. The
//! example's tracing subscriber panics on such a write (tracing-subscriber reports the failed
//! write with `eprintln!`, which panics on the dead stderr): the shutdown must go on anyway,
//! the hooks run, and the exit code says the shutdown was clean.

use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use graceful_test_support::{EXIT_TIMEOUT, START_TIMEOUT, example};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

#[test]
fn ctrl_c_with_the_reader_of_its_pipe_gone_still_runs_the_shutdown() {
    // A socket pair stands for the pipe (std makes it close-on-exec, so that no other test's
    // child keeps its reading end open); a write after the reader is gone fails with EPIPE
    // as it would on a pipe.
    let (reader, writer) = UnixStream::pair().expect("a socket pair");
    let mut child = Command::new(example("quickstart"))
        .stdin(Stdio::null())
        .stdout(OwnedFd::from(writer.try_clone().expect("a second writer")))
        .stderr(OwnedFd::from(writer))
        .spawn()
        .expect("start the quickstart example");
    // What the terminal shows until the Ctrl-C: up to the line that says it runs.
    let mut lines = BufReader::new(reader);
    let until = Instant::now() + START_TIMEOUT;
    let mut line = String::new();
    while !line.starts_with("running as pid") {
        line.clear();
        let read = lines
            .read_line(&mut line)
            .expect("read the example's output");
        assert!(
            read > 0 && Instant::now() < until,
            "the example never said it runs"
        );
    }
    // Ctrl-C: the reader dies first (`cat` has no handler), then the example gets SIGINT.
    drop(lines);
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("a pid"));
    kill(pid, Signal::SIGINT).expect("SIGINT");
    let until = Instant::now() + EXIT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() >= until {
            let _ = child.kill();
            panic!("the example did not exit within {EXIT_TIMEOUT:?} of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // 0: the workers drained and both hooks (async and blocking) succeeded; a panic out of the
    // sequence exits 101 and runs no hook.
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status:?} (signal {:?})",
        status.signal()
    );
}
