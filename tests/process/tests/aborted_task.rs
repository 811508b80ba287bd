//! A tracked task aborted before its first poll leaves nothing behind: the drain does not wait
//! for it and the report does not call it aborted.

use std::time::Duration;

use graceful_test_support::Fixture;

const ABORT_BEFORE_POLL: &str = env!("CARGO_BIN_EXE_abort_before_poll");

/// The fixture's `drain_timeout` is 8 s: ending well within it shows the drain had nothing to
/// wait for. The wait itself is longer, so that a drain that waits shows its exit code.
const PROMPT: Duration = Duration::from_secs(4);

#[test]
fn a_task_aborted_before_its_first_poll_does_not_hold_the_drain() {
    let mut fixture = Fixture::start(ABORT_BEFORE_POLL, &[]);
    let exited = fixture.wait(Duration::from_secs(20));
    exited.assert_code(0);
    assert!(exited.waited < PROMPT, "the drain waited\n{exited}");
    assert!(!exited.stdout_has("task ran"), "{exited}");
    assert_eq!(exited.hook_lines(), ["hook after ran"], "{exited}");
    assert!(
        exited.graceful_lines().is_empty(),
        "nothing to report\n{exited}"
    );
}
