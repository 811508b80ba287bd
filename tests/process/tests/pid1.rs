//! The fixture as PID 1 of a new PID namespace (a container's entry point, with no init in
//! front of it): the kernel drops a signal PID 1 has no handler for, so only the library's own
//! handling can stop it. SIGTERM runs the hooks; a second signal during a slow hook forces the
//! exit. Needs root and util-linux's `unshare`; without them the tests fail, saying so.

use std::time::Duration;

use graceful_test_support::{Fixture, LINE_TIMEOUT, START_TIMEOUT, Signal};

/// `hook first ran`, 5 s, then `hook second ran`.
const BURST_FORCED: &str = env!("CARGO_BIN_EXE_burst_forced");

/// The first hook's 5 s, and a generous margin.
const HOOKS_DONE: Duration = Duration::from_secs(15);
/// A forced exit comes at once; the first hook would need most of 5 s more.
const AT_ONCE: Duration = Duration::from_secs(3);

fn start() -> Fixture {
    let fixture = Fixture::start_pid1(BURST_FORCED, &[]);
    fixture.wait_for_stdout(graceful_process_tests::READY, START_TIMEOUT);
    assert_eq!(fixture.pid_in_its_namespace(), 1, "the signals go to PID 1");
    fixture
}

#[test]
fn as_pid_1_sigterm_runs_the_hooks_and_exits_0() {
    let mut fixture = start();
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(HOOKS_DONE);
    exited.assert_code(0);
    assert_eq!(
        exited.hook_lines(),
        ["hook first ran", "hook second ran"],
        "{exited}"
    );
}

#[test]
fn as_pid_1_a_second_sigterm_during_a_slow_hook_exits_143() {
    let mut fixture = start();
    fixture.signal(Signal::SIGTERM);
    fixture.wait_for_stdout("hook first ran", LINE_TIMEOUT);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(AT_ONCE);
    exited.assert_code(143);
    exited.stderr_line_with(&["second SIGTERM", "hook burst_forced::first"]);
    assert!(!exited.stdout_has("hook second ran"), "{exited}");
}
