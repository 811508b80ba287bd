//! `async fn main() -> std::process::ExitCode`: the code is the exit code when the shutdown is
//! otherwise clean.

use graceful_test_support::{EXIT_TIMEOUT, Fixture};

const EXIT_CODE_MAIN: &str = env!("CARGO_BIN_EXE_exit_code_main");

#[test]
fn main_returning_exit_code_7_exits_7_after_the_hooks() {
    let mut fixture = Fixture::start(EXIT_CODE_MAIN, &[]);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(7);
    assert_eq!(exited.hook_lines(), ["hook cleanup ran"], "{exited}");
}

#[test]
fn a_failed_hook_makes_it_1_whatever_main_returned() {
    let mut fixture = Fixture::start(EXIT_CODE_MAIN, &[("FIXTURE_FAIL", "1")]);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(1);
    assert_eq!(exited.hook_lines(), ["hook cleanup ran"], "{exited}");
    exited.stderr_line_with(&["exit_code_main::cleanup", "disk full"]);
}
