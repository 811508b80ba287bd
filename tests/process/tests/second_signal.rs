//! A signal arriving once the shutdown has started: with `force_exit` (the default) it exits
//! at once with 128 + its number, after one stderr line naming what still runs; with
//! `force_exit = false` it is ignored. No hook ever runs twice.

use std::time::Duration;

use graceful_test_support::{EXIT_TIMEOUT, Exited, Fixture, LINE_TIMEOUT, Signal, burst};

const SLOW_SHUTDOWN: &str = env!("CARGO_BIN_EXE_slow_shutdown");
const BURST: &str = env!("CARGO_BIN_EXE_burst");
const BURST_FORCED: &str = env!("CARGO_BIN_EXE_burst_forced");

/// The slow hooks take a minute and the deadline is 25 s: exiting within this is the force.
const AT_ONCE: Duration = Duration::from_secs(5);

/// Starts `slow_shutdown` with `first`, waits until both slow hooks run, sends `second`.
fn second_signal_during_the_hooks(first: Signal, second: Signal) -> Exited {
    let mut fixture = Fixture::start_ready(SLOW_SHUTDOWN, &[]);
    fixture.signal(first);
    fixture.wait_for_stdout("hook slow_async started", LINE_TIMEOUT);
    fixture.wait_for_stdout("hook slow_blocking started", LINE_TIMEOUT);
    fixture.signal(second);
    fixture.wait(AT_ONCE)
}

fn assert_forced(exited: &Exited, signal: &str, code: i32) {
    exited.assert_code(code);
    let line = exited.stderr_line_with(&[&format!("second {signal}"), &format!("code {code}")]);
    assert!(
        line.contains("hook slow_shutdown::slow_async")
            && line.contains("hook slow_shutdown::slow_blocking"),
        "the line names both running hooks: {line:?}\n{exited}"
    );
    assert!(!exited.stdout_has("hook never ran"), "{exited}");
    assert!(!exited.stdout_has("hook slow_async ended"), "{exited}");
}

#[test]
fn a_second_sigint_exits_130_naming_the_running_hooks() {
    let exited = second_signal_during_the_hooks(Signal::SIGINT, Signal::SIGINT);
    assert_forced(&exited, "SIGINT", 130);
}

#[test]
fn a_second_sigterm_exits_143_naming_the_running_hooks() {
    let exited = second_signal_during_the_hooks(Signal::SIGTERM, Signal::SIGTERM);
    assert_forced(&exited, "SIGTERM", 143);
}

#[test]
fn the_code_is_that_of_the_second_signal_not_the_first() {
    let exited = second_signal_during_the_hooks(Signal::SIGTERM, Signal::SIGINT);
    assert_forced(&exited, "SIGINT", 130);
}

#[test]
fn a_second_signal_during_the_drain_names_the_main_body_and_the_tracked_task() {
    let mut fixture = Fixture::start_ready(SLOW_SHUTDOWN, &[("FIXTURE_MAIN", "stubborn")]);
    fixture.signal(Signal::SIGTERM);
    fixture.wait_for_stdout("token cancelled", LINE_TIMEOUT);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(AT_ONCE);
    exited.assert_code(143);
    let line = exited.stderr_line_with(&["second SIGTERM"]);
    assert!(line.contains("still running: main"), "{line:?}\n{exited}");
    assert!(
        line.contains("task spawned at") && line.contains("slow_shutdown.rs"),
        "the tracked task is named by where it was spawned: {line:?}\n{exited}"
    );
    assert!(exited.hook_lines().is_empty(), "{exited}");
}

/// Twenty signals (SIGTERM and SIGINT, which the kernel does not merge with each other) at
/// once, then twenty more while the first hook runs: all ignored after the first.
#[test]
fn without_force_exit_a_burst_of_signals_runs_each_hook_exactly_once_and_exits_0() {
    let mut fixture = Fixture::start_ready(BURST, &[]);
    burst(&fixture, &[Signal::SIGTERM, Signal::SIGINT], 20);
    fixture.wait_for_stdout("hook first ran", LINE_TIMEOUT);
    burst(&fixture, &[Signal::SIGTERM, Signal::SIGINT], 20);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(0);
    assert_eq!(
        exited.hook_lines(),
        ["hook first ran", "hook second ran"],
        "{exited}"
    );
    assert!(
        exited.stderr.is_empty(),
        "no forced exit, nothing to report\n{exited}"
    );
}

/// The first hook takes 5 s: the burst arrives while it runs, and the first signal of it
/// forces the exit; nothing runs again, and the next phase never starts.
#[test]
fn with_force_exit_a_burst_of_signals_never_runs_a_hook_twice() {
    let mut fixture = Fixture::start_ready(BURST_FORCED, &[]);
    fixture.signal(Signal::SIGTERM);
    fixture.wait_for_stdout("hook first ran", LINE_TIMEOUT);
    burst(&fixture, &[Signal::SIGTERM], 20);
    let exited = fixture.wait(AT_ONCE);
    exited.assert_code(143);
    assert_eq!(exited.stdout_count("hook first ran"), 1, "{exited}");
    assert_eq!(exited.stdout_count("hook second ran"), 0, "{exited}");
    assert!(
        !exited
            .stderr_lines_with(&["second SIGTERM", "hook burst_forced::first"])
            .is_empty(),
        "{exited}"
    );
}

/// SPEC, "Second signal": the exit comes "after one line on stderr". A mixed burst makes
/// the SIGTERM and the SIGINT listener force the exit at the same time; each must not print
/// its own line (one of them announcing a code the process does not exit with). The race
/// shows in about one run in ten on a 2-core machine: 40 runs catch it almost surely.
#[test]
fn a_mixed_burst_during_the_shutdown_prints_one_forced_exit_line_with_the_real_code() {
    for _ in 0..40 {
        let mut fixture = Fixture::start_ready(BURST_FORCED, &[]);
        fixture.signal(Signal::SIGTERM);
        fixture.wait_for_stdout("hook first ran", LINE_TIMEOUT);
        burst(&fixture, &[Signal::SIGTERM, Signal::SIGINT], 20);
        let exited = fixture.wait(AT_ONCE);
        let code = exited.status.code().unwrap_or_else(|| panic!("{exited}"));
        assert!(code == 130 || code == 143, "{exited}");
        let line = exited.stderr_line_with(&["during shutdown, exiting now"]);
        assert!(
            line.contains(&format!("with code {code};")),
            "the line announces the code the process exits with: {line:?}\n{exited}"
        );
    }
}
