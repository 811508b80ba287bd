//! A main body that blocks its thread for a minute (`std::thread::sleep` in `async fn main`),
//! in both runtime flavors: the second signal still exits at once, and `timeout` is still a
//! hard deadline. Nothing here waits for the minute: a fixture still running after
//! `PROMPT` is killed and the test fails.

use std::time::Duration;

use graceful_test_support::{Exited, Fixture, Signal};

const CURRENT_THREAD: &str = env!("CARGO_BIN_EXE_blocked_main");
const MULTI_THREAD: &str = env!("CARGO_BIN_EXE_blocked_main_multi");

/// Generous, and far below the body's minute of sleep.
const PROMPT: Duration = Duration::from_secs(5);

/// Two SIGINTs; `GRACEFUL_TIMEOUT=60s`, so that only the second signal can end the process
/// within `PROMPT`. The second is sent once the kernel has delivered the first.
fn two_sigints(path: &str) -> Exited {
    let mut fixture = Fixture::start_ready(path, &[("GRACEFUL_TIMEOUT", "60s")]);
    fixture.signal_delivered(Signal::SIGINT);
    fixture.signal(Signal::SIGINT);
    let exited = fixture.wait(PROMPT);
    exited.assert_code(130);
    let line = exited.stderr_line_with(&["second SIGINT", "code 130"]);
    assert!(line.contains("still running: main"), "{line:?}\n{exited}");
    assert!(!exited.stdout_has("main woke up"), "{exited}");
    assert!(exited.hook_lines().is_empty(), "{exited}");
    exited
}

/// One SIGTERM and the attribute's `timeout = "1s"`: the watchdog ends the process, naming
/// the main body as what still ran.
fn one_sigterm_past_the_deadline(path: &str) -> Exited {
    let mut fixture = Fixture::start_ready(path, &[]);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(PROMPT);
    exited.assert_code(1);
    exited.stderr_line_with(&["graceful: ", "deadline", "code 1", "still running: main"]);
    assert!(!exited.stdout_has("main woke up"), "{exited}");
    assert!(exited.hook_lines().is_empty(), "{exited}");
    exited
}

#[test]
fn current_thread_a_second_sigint_exits_130_while_main_blocks_its_thread() {
    two_sigints(CURRENT_THREAD);
}

#[test]
fn current_thread_the_deadline_exits_1_while_main_blocks_its_thread() {
    one_sigterm_past_the_deadline(CURRENT_THREAD);
}

#[test]
fn multi_thread_a_second_sigint_exits_130_while_main_blocks_its_thread() {
    two_sigints(MULTI_THREAD);
}

#[test]
fn multi_thread_the_deadline_exits_1_while_main_blocks_its_thread() {
    one_sigterm_past_the_deadline(MULTI_THREAD);
}
