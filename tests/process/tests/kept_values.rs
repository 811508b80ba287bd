//! Values kept until exit share one budget: five destructors stuck for ten minutes each hold
//! the exit no later than the deadline plus the small margin, and a second signal during their
//! drops still forces the exit.

use std::time::Duration;

use graceful_test_support::{Fixture, LINE_TIMEOUT, Signal};

const STUCK_KEPT: &str = env!("CARGO_BIN_EXE_stuck_kept");

/// The deadline is 1 s and the margin half a second: each stuck value given its own two
/// seconds, one after another (the bug), would take ten.
const BY_THE_DEADLINE: Duration = Duration::from_secs(5);

#[test]
fn stuck_kept_values_hold_the_exit_no_later_than_the_deadline_and_margin() {
    let mut fixture = Fixture::start_ready(STUCK_KEPT, &[("GRACEFUL_TIMEOUT", "1s")]);
    let signalled = fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(BY_THE_DEADLINE);
    println!(
        "signal to exit with five stuck kept values: {:?}",
        signalled.elapsed()
    );
    exited.assert_code(0);
    assert!(exited.stdout_has("hook ran"), "{exited}");
    // Last kept first, on one thread: the first stuck one holds the others.
    assert!(exited.stdout_has("dropping kept 4"), "{exited}");
    assert!(!exited.stdout_has("dropping kept 3"), "{exited}");
    exited.stderr_line_with(&["5 value(s) kept until exit did not drop within"]);
}

#[test]
fn a_second_signal_while_kept_values_drop_forces_the_exit() {
    let mut fixture = Fixture::start_ready(STUCK_KEPT, &[("GRACEFUL_TIMEOUT", "60s")]);
    fixture.signal(Signal::SIGTERM);
    fixture.wait_for_stdout("dropping kept 4", LINE_TIMEOUT);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(BY_THE_DEADLINE);
    exited.assert_code(143);
    exited.stderr_line_with(&[
        "SIGTERM while the values kept until exit were dropped",
        "143",
    ]);
}
