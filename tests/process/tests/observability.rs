//! What the shutdown tells: `tracing` events under target `graceful` when a subscriber is
//! installed; without one, nothing for a clean shutdown and one stderr line per failure
//! (the failure lines themselves are checked in `failures.rs` and `drain.rs`).

use std::sync::LazyLock;

use graceful_test_support::{EXIT_TIMEOUT, Exited, Fixture, Signal, example};

const TRACED: &str = env!("CARGO_BIN_EXE_traced");
const TRACED_BUILDER: &str = env!("CARGO_BIN_EXE_traced_builder");
/// An example, not a binary: it links `graceful-fixture-hooks`, a dev-dependency.
static PHASES: LazyLock<String> = LazyLock::new(|| example("phases").display().to_string());
const STUBBORN: &str = env!("CARGO_BIN_EXE_stubborn");

fn stopped(path: &str, env: &[(&str, &str)]) -> Exited {
    let mut fixture = Fixture::start_ready(path, env);
    fixture.signal(Signal::SIGTERM);
    fixture.wait(EXIT_TIMEOUT)
}

#[test]
fn a_subscriber_sees_the_start_each_hook_and_the_summary() {
    let exited = stopped(TRACED, &[]);
    exited.assert_code(0);
    exited.stderr_line_with(&["INFO graceful: shutdown started", "received SIGTERM"]);
    for hook in ["traced::flush", "traced::close"] {
        exited.stderr_line_with(&["DEBUG graceful: hook started", hook]);
        exited.stderr_line_with(&["INFO graceful: hook ended", hook, "duration="]);
    }
    exited.stderr_line_with(&[
        "INFO graceful: shutdown (received SIGTERM) took",
        "exit code 0",
    ]);
    assert!(
        exited.graceful_lines().is_empty(),
        "with a subscriber, no fallback line\n{exited}"
    );
}

#[test]
fn a_subscriber_sees_a_failed_hook_as_a_warning_and_no_fallback_line_is_printed() {
    let exited = stopped(TRACED, &[("FIXTURE_FAIL", "1")]);
    exited.assert_code(1);
    exited.stderr_line_with(&["WARN graceful: hook failed", "traced::close", "disk full"]);
    exited.stderr_line_with(&[
        "WARN graceful: shutdown (received SIGTERM) took",
        "exit code 1",
    ]);
    assert!(exited.graceful_lines().is_empty(), "{exited}");
}

/// With the subscriber installed before `Builder::run`, the start-up lists the hooks.
#[test]
fn the_registered_hooks_are_logged_at_start_up_at_debug_level() {
    let exited = stopped(TRACED_BUILDER, &[]);
    exited.assert_code(0);
    exited.stderr_line_with(&[
        "DEBUG graceful: shutdown hook registered",
        "traced_builder::flush",
    ]);
}

/// SPEC, `#[graceful::on_shutdown]`: "log the registered hooks at start-up (debug level)" -
/// the way to find a forgotten `use my_hooks as _;`. A `#[graceful::main]` user can only
/// install a subscriber in `main`'s body, as with `#[tokio::main]`: the list must reach it.
#[test]
fn the_registered_hooks_reach_a_subscriber_installed_in_main() {
    let exited = stopped(TRACED, &[]);
    exited.assert_code(0);
    for hook in ["traced::flush", "traced::close"] {
        exited.stderr_line_with(&["DEBUG graceful: shutdown hook registered", hook]);
    }
}

#[test]
fn without_a_subscriber_a_clean_shutdown_prints_nothing_on_stderr() {
    let exited = stopped(&PHASES, &[]);
    exited.assert_code(0);
    assert!(exited.stderr.is_empty(), "{exited}");
}

#[test]
fn without_a_subscriber_a_failure_prints_exactly_one_line() {
    let exited = stopped(STUBBORN, &[]);
    exited.assert_code(1);
    assert_eq!(exited.stderr.len(), 1, "{exited}");
    assert_eq!(exited.graceful_lines().len(), 1, "{exited}");
}
