//! What a hook is told (`HookContext`), and the `current_thread` flavor.

use std::time::Duration;

use graceful_test_support::{EXIT_TIMEOUT, Exited, Fixture, Signal};

const CONTEXT: &str = env!("CARGO_BIN_EXE_context");
const CURRENT_THREAD: &str = env!("CARGO_BIN_EXE_current_thread");

/// The `time_left_ms` of the hook line that starts with `prefix`, and the rest of the line.
fn time_left(exited: &Exited, prefix: &str) -> Duration {
    let line = exited
        .hook_lines()
        .into_iter()
        .find(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?}\n{exited}"));
    let millis = line
        .rsplit_once(" time_left_ms=")
        .unwrap_or_else(|| panic!("no time_left_ms in {line:?}"))
        .1;
    Duration::from_millis(millis.parse().expect("a number of milliseconds"))
}

#[test]
fn a_hook_is_told_the_signal_by_name_and_the_time_left() {
    let mut fixture = Fixture::start_ready(CONTEXT, &[]);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(0);
    let own = "hook context::with_timeout order=10 reason=Signal(SIGTERM) ";
    let global = "hook context::blocking order=20 reason=Signal(SIGTERM) ";
    // Its own 2 s timeout.
    let left = time_left(&exited, own);
    assert!(
        left > Duration::ZERO && left <= Duration::from_secs(2),
        "{left:?}\n{exited}"
    );
    // Only the global 5 s deadline, which has barely begun.
    let left = time_left(&exited, global);
    assert!(
        left > Duration::from_secs(2) && left <= Duration::from_secs(5),
        "{left:?}\n{exited}"
    );
}

#[test]
fn a_hook_is_told_sigint_when_sigint_started_the_shutdown() {
    let mut fixture = Fixture::start_ready(CONTEXT, &[]);
    fixture.signal(Signal::SIGINT);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(0);
    time_left(
        &exited,
        "hook context::with_timeout order=10 reason=Signal(SIGINT) ",
    );
    time_left(
        &exited,
        "hook context::blocking order=20 reason=Signal(SIGINT) ",
    );
}

/// The tracked task and the async hook print their thread: `main`, where a multi-threaded
/// runtime would use its workers.
#[test]
fn a_current_thread_fixture_shuts_down_on_sigterm() {
    let mut fixture = Fixture::start_ready(CURRENT_THREAD, &[]);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(0);
    let finished = exited.stdout_index("task finished on main");
    let hooks = exited.hook_lines();
    assert_eq!(
        hooks,
        ["hook async_hook ran on main", "hook blocking_hook ran"],
        "{exited}"
    );
    assert!(
        finished < exited.stdout_index("hook async_hook ran on main"),
        "{exited}"
    );
    assert!(exited.stderr.is_empty(), "{exited}");
}
