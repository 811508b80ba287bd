//! Hooks that fail, panic, overrun their timeout or block past the global deadline: each is
//! recorded on stderr (no tracing subscriber is installed), the sequence goes on, the
//! process exits 1, and nothing waits for an abandoned blocking thread.

use std::time::Duration;

use graceful_test_support::{Fixture, LINE_TIMEOUT, Signal};

const FAILING_HOOKS: &str = env!("CARGO_BIN_EXE_failing_hooks");
const BLOCKING_ROW: &str = env!("CARGO_BIN_EXE_blocking_row");
const STUCK_BLOCKING: &str = env!("CARGO_BIN_EXE_stuck_blocking");
const STUCK_RUNTIME: &str = env!("CARGO_BIN_EXE_stuck_runtime");
const PANICKING_DROP: &str = env!("CARGO_BIN_EXE_panicking_drop");

/// Far below the blocking hooks' sleep (a minute or more): exiting within it proves nothing
/// waited for them.
const PROMPT_EXIT: Duration = Duration::from_secs(5);

#[test]
fn a_failing_a_panicking_and_two_overrunning_hooks_are_each_reported_and_the_last_still_runs() {
    let mut fixture = Fixture::start_ready(FAILING_HOOKS, &[]);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(PROMPT_EXIT);
    exited.assert_code(1);
    assert_eq!(
        exited.hook_lines(),
        [
            "hook fails ran",
            "hook panicker ran",
            "hook overruns started",
            "hook overruns_blocking started",
            "hook last ran",
        ],
        "{exited}"
    );
    let expected: [&[&str]; 4] = [
        &[
            "hook failing_hooks::fails (order 10) failed",
            "database unreachable",
        ],
        &["hook panicker (order 20) panicked", "hook exploded"],
        &["hook failing_hooks::overruns (order 30) timed out after 300ms"],
        &["hook failing_hooks::overruns_blocking (order 40) timed out after 300ms"],
    ];
    let lines = exited.graceful_lines();
    assert_eq!(
        lines.len(),
        expected.len(),
        "one stderr line per failure\n{exited}"
    );
    for (line, parts) in lines.iter().zip(expected) {
        assert!(
            parts.iter().all(|part| line.contains(part)),
            "expected a line with {parts:?}, got {line:?}\n{exited}"
        );
    }
}

/// Plain `fn` hooks in a row share one blocking thread: the one that overruns is reported as
/// timed out and abandoned with its thread, and the hooks after it still run, each reported
/// for what it did.
#[test]
fn in_a_row_of_blocking_hooks_a_stuck_one_times_out_and_the_rest_still_run() {
    let mut fixture = Fixture::start_ready(BLOCKING_ROW, &[]);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(PROMPT_EXIT);
    exited.assert_code(1);
    let lines = exited.hook_lines();
    let names: Vec<&str> = lines
        .iter()
        .map(|line| line.split(" on ").next().unwrap_or(line))
        .collect();
    assert_eq!(
        names,
        [
            "hook first ran",
            "hook second ran",
            "hook stuck started",
            "hook panicker ran",
            "hook last ran",
        ],
        "{exited}"
    );
    let first = lines[0].split(" on ").nth(1);
    let second = lines[1].split(" on ").nth(1);
    assert_eq!(first, second, "one thread for the row\n{exited}");
    let graceful = exited.graceful_lines();
    assert_eq!(graceful.len(), 2, "one line per failure\n{exited}");
    assert!(
        graceful[0].contains("hook blocking_row::stuck (order 3) timed out after 300ms"),
        "{exited}"
    );
    assert!(
        graceful[1].contains("hook panicker (order 4) panicked")
            && graceful[1].contains("hook exploded"),
        "{exited}"
    );
}

/// The attribute says `timeout = "60s"`; `GRACEFUL_TIMEOUT=1s` wins, so the process exits
/// about a second after the signal although a hook sleeps for ten minutes.
#[test]
fn a_blocking_hook_stuck_past_the_global_deadline_is_abandoned_and_later_hooks_are_skipped() {
    let mut fixture = Fixture::start_ready(STUCK_BLOCKING, &[("GRACEFUL_TIMEOUT", "1s")]);
    fixture.signal(Signal::SIGTERM);
    fixture.wait_for_stdout("hook stuck started", LINE_TIMEOUT);
    let exited = fixture.wait(PROMPT_EXIT);
    exited.assert_code(1);
    assert_eq!(exited.hook_lines(), ["hook stuck started"], "{exited}");
    exited.stderr_line_with(&["graceful: hook stuck_blocking::stuck (order 10) timed out"]);
    exited.stderr_line_with(&["graceful: hook stuck_blocking::after (order 20) skipped"]);
    exited.stderr_line_with(&["graceful: hook stuck_blocking::after_too (order 30) skipped"]);
}

/// An async hook that blocks the only runtime thread: nothing on the runtime runs any more,
/// yet the process ends shortly after the 1 s deadline, naming the hook.
#[test]
fn an_async_hook_blocking_the_runtime_cannot_hold_the_exit() {
    let mut fixture = Fixture::start_ready(STUCK_RUNTIME, &[]);
    fixture.signal(Signal::SIGTERM);
    fixture.wait_for_stdout("hook hog started", LINE_TIMEOUT);
    let exited = fixture.wait(PROMPT_EXIT);
    exited.assert_code(1);
    assert_eq!(exited.hook_lines(), ["hook hog started"], "{exited}");
    exited.stderr_line_with(&["graceful: ", "deadline", "hook stuck_runtime::hog"]);
}

/// SPEC, "The sequence": at the deadline "every hook not yet started is reported as
/// skipped". The watchdog path (runtime blocked) exits without reporting `after`.
#[test]
fn an_async_hook_blocking_the_runtime_still_gets_the_later_hooks_reported_as_skipped() {
    let mut fixture = Fixture::start_ready(STUCK_RUNTIME, &[]);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(PROMPT_EXIT);
    exited.assert_code(1);
    assert!(
        !exited
            .stderr_lines_with(&["stuck_runtime::after", "skipped"])
            .is_empty(),
        "the hook that never started is reported as skipped\n{exited}"
    );
}

/// The drain aborts a main body whose guard panics when dropped: the panic is caught, the
/// hooks still run and the report says the body was aborted (exit code 1).
#[test]
fn a_panic_while_dropping_the_aborted_main_body_does_not_stop_the_sequence() {
    let mut fixture = Fixture::start_ready(PANICKING_DROP, &[]);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(PROMPT_EXIT);
    exited.assert_code(1);
    assert!(exited.stdout_has("hook after ran"), "{exited}");
    exited.stderr_line_with(&["graceful: drain did not finish", "aborted: main"]);
}
