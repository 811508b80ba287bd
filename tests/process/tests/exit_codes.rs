//! How the main body ends decides the exit code (0, 1, 101, or `trigger_with_code`'s), and
//! the hooks run in every case, told the reason.

use graceful_test_support::{EXIT_TIMEOUT, Exited, Fixture, Signal};

const EXIT_CODES: &str = env!("CARGO_BIN_EXE_exit_codes");

fn run(mode: &str) -> Exited {
    Fixture::start_ready(EXIT_CODES, &[("FIXTURE_MAIN", mode)]).wait(EXIT_TIMEOUT)
}

#[test]
fn main_returning_ok_exits_0_after_the_hooks() {
    let exited = run("ok");
    exited.assert_code(0);
    assert_eq!(
        exited.hook_lines(),
        ["hook cleanup ran reason=MainReturned"],
        "{exited}"
    );
    assert!(
        exited.stderr.is_empty(),
        "a clean shutdown prints nothing on stderr\n{exited}"
    );
}

#[test]
fn main_returning_err_exits_1_prints_the_error_with_debug_and_runs_the_hooks() {
    let exited = run("err");
    exited.assert_code(1);
    assert_eq!(
        exited.hook_lines(),
        ["hook cleanup ran reason=MainFailed"],
        "{exited}"
    );
    assert!(
        exited
            .stderr
            .iter()
            .any(|line| line == "Error: AppError { code: 7 }"),
        "the error is printed as std does: `Error: {{err:?}}`\n{exited}"
    );
    assert!(
        !exited
            .stderr
            .iter()
            .any(|line| line.contains("the application failed")),
        "Debug, not Display\n{exited}"
    );
}

#[test]
fn main_panicking_exits_101_and_runs_the_hooks() {
    let exited = run("panic");
    exited.assert_code(101);
    assert_eq!(
        exited.hook_lines(),
        ["hook cleanup ran reason=MainPanicked"],
        "{exited}"
    );
    assert!(
        exited
            .stderr
            .iter()
            .any(|line| line.contains("main exploded")),
        "{exited}"
    );
}

#[test]
fn main_returning_err_after_a_signal_exits_1() {
    let mut fixture = Fixture::start_ready(EXIT_CODES, &[("FIXTURE_MAIN", "err-after-cancel")]);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(1);
    assert_eq!(
        exited.hook_lines(),
        ["hook cleanup ran reason=Signal(SIGTERM)"],
        "{exited}"
    );
    assert!(
        exited
            .stderr
            .iter()
            .any(|line| line == "Error: AppError { code: 8 }"),
        "{exited}"
    );
}

#[test]
fn trigger_with_code_exits_with_that_code_after_the_hooks() {
    for code in [3, 42] {
        let exited = run(&format!("code={code}"));
        exited.assert_code(code);
        assert_eq!(
            exited.hook_lines(),
            ["hook cleanup ran reason=Triggered"],
            "{exited}"
        );
        assert!(exited.stderr.is_empty(), "{exited}");
    }
}
