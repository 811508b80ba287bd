//! The drain: tracked tasks finish before the hooks start; what outlives `drain_timeout`
//! (the attribute's, or `GRACEFUL_DRAIN_TIMEOUT`) is aborted and reported, and the hooks
//! still run.

use std::time::{Duration, Instant};

use graceful_test_support::{EXIT_TIMEOUT, Fixture, Signal};

const STUBBORN: &str = env!("CARGO_BIN_EXE_stubborn");
const DRAIN: &str = env!("CARGO_BIN_EXE_drain");

#[test]
fn a_main_body_ignoring_the_token_is_aborted_after_drain_timeout_and_the_hooks_still_run() {
    let mut fixture = Fixture::start_ready(STUBBORN, &[]);
    let sent = Instant::now();
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(EXIT_TIMEOUT);
    let took = sent.elapsed();
    exited.assert_code(1);
    // A timer never fires early: an exit before 1 s would mean the drain did not wait.
    assert!(
        took >= Duration::from_secs(1),
        "exited {took:?} after the signal\n{exited}"
    );
    assert!(
        exited.stdout_index("main dropped") < exited.stdout_index("hook after_abort ran"),
        "the main body is dropped before the hooks run\n{exited}"
    );
    assert_eq!(
        exited.graceful_lines(),
        ["graceful: drain did not finish within 1s; aborted: main"],
        "{exited}"
    );
}

#[test]
fn a_tracked_task_finishes_its_work_before_the_hooks_start() {
    let mut fixture = Fixture::start_ready(DRAIN, &[]);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(0);
    let saw = exited.stdout_index("task saw cancel");
    let finished = exited.stdout_index("task finished");
    let hook = exited.stdout_index("hook after_drain ran");
    assert!(saw < finished && finished < hook, "{exited}");
    assert!(exited.stderr.is_empty(), "{exited}");
}

/// The same fixture as above: the attribute's 5 s would wait for the task's 1 s of work,
/// `GRACEFUL_DRAIN_TIMEOUT=300ms` does not.
#[test]
fn graceful_drain_timeout_overrides_the_attribute_and_aborts_the_task() {
    let mut fixture = Fixture::start_ready(DRAIN, &[("GRACEFUL_DRAIN_TIMEOUT", "300ms")]);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(1);
    assert!(exited.stdout_has("task saw cancel"), "{exited}");
    assert!(
        !exited.stdout_has("task finished"),
        "the task was aborted\n{exited}"
    );
    assert!(exited.stdout_has("hook after_drain ran"), "{exited}");
    let line = exited.stderr_line_with(&["graceful: drain did not finish within 300ms; aborted: "]);
    assert!(
        line.contains("task spawned at") && line.contains("drain.rs") && !line.contains("main"),
        "only the task is aborted, named by where it was spawned: {line:?}\n{exited}"
    );
}
