//! "Second signal" means a second one: a signal that arrives after a shutdown something else
//! started (the main body returned, `trigger()`) is absorbed, and only the next one forces
//! the exit. The fixture's hook takes 3 s and prints a tick every 100 ms.

use std::time::Duration;

use graceful_test_support::{Exited, Fixture, LINE_TIMEOUT, Signal};

const OUTSIDE_SHUTDOWN: &str = env!("CARGO_BIN_EXE_outside_shutdown");

/// The hook's 3 s, and a generous margin.
const HOOK_DONE: Duration = Duration::from_secs(10);
/// A forced exit comes at once; the hook would need most of 3 s more.
const AT_ONCE: Duration = Duration::from_secs(2);

/// One SIGTERM while the hook runs: the hook completes, the next phase runs, exit 0.
fn one_sigterm(main: &str) -> Exited {
    let mut fixture = Fixture::start(OUTSIDE_SHUTDOWN, &[("FIXTURE_MAIN", main)]);
    fixture.wait_for_stdout("hook slow started", LINE_TIMEOUT);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(HOOK_DONE);
    exited.assert_code(0);
    assert!(exited.stdout_has("hook slow ended"), "{exited}");
    assert!(exited.stdout_has("hook after ran"), "{exited}");
    exited
}

/// Two SIGTERMs while the hook runs. The test proves the first was absorbed before it sends
/// the second: once the kernel has delivered it, the hook still prints two more ticks
/// (200 ms; a forced exit would have come within a millisecond or so). The second forces
/// the exit, 143, before the hook ends.
fn two_sigterms(main: &str) -> Exited {
    let mut fixture = Fixture::start(OUTSIDE_SHUTDOWN, &[("FIXTURE_MAIN", main)]);
    fixture.wait_for_stdout("hook slow started", LINE_TIMEOUT);
    fixture.signal_delivered(Signal::SIGTERM);
    let ticks = fixture.stdout_count_so_far("hook slow tick ");
    fixture.wait_for_stdout_count("hook slow tick ", ticks + 2, LINE_TIMEOUT);
    assert!(
        fixture.is_running(),
        "still running after the first SIGTERM"
    );
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(AT_ONCE);
    exited.assert_code(143);
    exited.stderr_line_with(&["second SIGTERM", "code 143"]);
    assert!(!exited.stdout_has("hook slow ended"), "{exited}");
    assert!(!exited.stdout_has("hook after ran"), "{exited}");
    exited
}

#[test]
fn after_main_returned_one_sigterm_is_absorbed_and_the_hooks_complete() {
    one_sigterm("return");
}

#[test]
fn after_trigger_one_sigterm_is_absorbed_and_the_hooks_complete() {
    one_sigterm("trigger");
}

#[test]
fn after_main_returned_the_second_sigterm_forces_the_exit() {
    two_sigterms("return");
}

#[test]
fn after_trigger_the_second_sigterm_forces_the_exit() {
    two_sigterms("trigger");
}
