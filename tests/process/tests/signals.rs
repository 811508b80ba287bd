//! `signals = ["SIGHUP", "SIGUSR1"]`: those start the shutdown (and force the exit when
//! repeated); SIGTERM and SIGINT are left alone and kill the process as usual.

use graceful_test_support::{EXIT_TIMEOUT, Fixture, LINE_TIMEOUT, Signal};

const CUSTOM_SIGNALS: &str = env!("CARGO_BIN_EXE_custom_signals");

#[test]
fn sigusr1_starts_the_shutdown_when_configured() {
    let mut fixture = Fixture::start_ready(CUSTOM_SIGNALS, &[]);
    fixture.signal(Signal::SIGUSR1);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(0);
    assert_eq!(
        exited.hook_lines(),
        ["hook announce ran reason=Signal(SIGUSR1)"],
        "{exited}"
    );
}

#[test]
fn sighup_starts_the_shutdown_when_configured() {
    let mut fixture = Fixture::start_ready(CUSTOM_SIGNALS, &[]);
    fixture.signal(Signal::SIGHUP);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(0);
    assert_eq!(
        exited.hook_lines(),
        ["hook announce ran reason=Signal(SIGHUP)"],
        "{exited}"
    );
}

#[test]
fn sigterm_is_not_handled_when_not_configured() {
    let mut fixture = Fixture::start_ready(CUSTOM_SIGNALS, &[]);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_killed_by(Signal::SIGTERM);
    assert!(exited.hook_lines().is_empty(), "{exited}");
}

#[test]
fn sigint_is_not_handled_when_not_configured() {
    let mut fixture = Fixture::start_ready(CUSTOM_SIGNALS, &[]);
    fixture.signal(Signal::SIGINT);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_killed_by(Signal::SIGINT);
    assert!(exited.hook_lines().is_empty(), "{exited}");
}

#[test]
fn a_second_configured_signal_forces_the_exit_with_its_own_code() {
    let mut fixture = Fixture::start_ready(CUSTOM_SIGNALS, &[("FIXTURE_SLOW_HOOK", "1")]);
    fixture.signal(Signal::SIGUSR1);
    fixture.wait_for_stdout("hook announce ran reason=Signal(SIGUSR1)", LINE_TIMEOUT);
    fixture.signal(Signal::SIGHUP);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(128 + Signal::SIGHUP as i32);
    exited.stderr_line_with(&["second SIGHUP", "hook custom_signals::announce"]);
}
