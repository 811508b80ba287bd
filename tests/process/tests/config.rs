//! The `GRACEFUL_*` environment variables: they win over the attribute, and a malformed or
//! contradictory value stops the process with code 2 before `main`'s body runs.
//!
//! `GRACEFUL_TIMEOUT` shortening the attribute's deadline is in `failures.rs`
//! (`a_blocking_hook_stuck_past_the_global_deadline_...`), `GRACEFUL_DRAIN_TIMEOUT` in
//! `drain.rs`.

use std::sync::LazyLock;
use std::time::Duration;

use graceful_test_support::{EXIT_TIMEOUT, Exited, Fixture, Signal, example};

const DELAY: &str = env!("CARGO_BIN_EXE_delay");
/// An example, not a binary: it links `graceful-fixture-hooks`, a dev-dependency.
static PHASES: LazyLock<String> = LazyLock::new(|| example("phases").display().to_string());

/// Sends SIGTERM to `delay`; how long the main body saw the shutdown started before the
/// token was cancelled, and everything the fixture printed.
fn measured_delay(env: &[(&str, &str)]) -> (Duration, Exited) {
    let mut fixture = Fixture::start_ready(DELAY, env);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(0);
    let millis = exited
        .stdout_texts()
        .into_iter()
        .find_map(|line| line.strip_prefix("cancelled after ")?.strip_suffix("ms"))
        .unwrap_or_else(|| panic!("no `cancelled after` line\n{exited}"));
    let delay = Duration::from_millis(millis.parse().expect("a number of milliseconds"));
    (delay, exited)
}

#[test]
fn graceful_drain_delay_keeps_the_token_uncancelled_that_long() {
    let (delay, exited) = measured_delay(&[("GRACEFUL_DRAIN_DELAY", "1500ms")]);
    assert!(
        exited.stdout_has("shutting down, cancelled=false"),
        "the shutdown has started but the token is not cancelled yet\n{exited}"
    );
    // The body notices the start up to 5 ms late, so it measures a little less.
    assert!(
        delay >= Duration::from_millis(1400),
        "measured {delay:?}\n{exited}"
    );
}

#[test]
fn without_a_drain_delay_the_token_is_cancelled_at_once() {
    let (delay, exited) = measured_delay(&[]);
    assert!(
        delay < Duration::from_millis(1000),
        "measured {delay:?}\n{exited}"
    );
}

/// Starts `phases` with `var=value`: it must exit 2 without running anything, and say why.
fn assert_refused(var: &str, value: &str, explanation: &[&str]) {
    let exited = Fixture::start(&PHASES, &[(var, value)]).wait(EXIT_TIMEOUT);
    exited.assert_code(2);
    assert!(
        exited.stdout.is_empty(),
        "main's body never runs (no `ready`), nor any hook\n{exited}"
    );
    let line = exited.stderr_line_with(explanation);
    assert!(line.starts_with("graceful: "), "{line:?}");
}

#[test]
fn a_malformed_graceful_timeout_exits_2_naming_the_variable_the_value_and_an_example() {
    assert_refused(
        "GRACEFUL_TIMEOUT",
        "abc",
        &["GRACEFUL_TIMEOUT", "\"abc\"", "GRACEFUL_TIMEOUT=10s"],
    );
}

#[test]
fn a_malformed_graceful_drain_timeout_exits_2_naming_the_variable_the_value_and_an_example() {
    assert_refused(
        "GRACEFUL_DRAIN_TIMEOUT",
        "ten seconds",
        &[
            "GRACEFUL_DRAIN_TIMEOUT",
            "\"ten seconds\"",
            "GRACEFUL_DRAIN_TIMEOUT=10s",
        ],
    );
}

#[test]
fn a_malformed_graceful_drain_delay_exits_2_naming_the_variable_the_value_and_an_example() {
    assert_refused(
        "GRACEFUL_DRAIN_DELAY",
        "-5s",
        &[
            "GRACEFUL_DRAIN_DELAY",
            "\"-5s\"",
            "GRACEFUL_DRAIN_DELAY=10s",
        ],
    );
}

/// Well-formed but leaving no time: a 30 s delay inside the default 25 s deadline.
#[test]
fn a_drain_delay_longer_than_the_timeout_exits_2() {
    assert_refused(
        "GRACEFUL_DRAIN_DELAY",
        "30s",
        &["GRACEFUL_DRAIN_DELAY", "timeout"],
    );
}

/// SPEC, Configuration: "a bad environment value is exit code 2 with a message that names the
/// variable, the value and a valid example". `0s` parses, but is no deadline.
#[test]
fn a_zero_graceful_timeout_exits_2_naming_the_variable_the_value_and_an_example() {
    let exited = Fixture::start(&PHASES, &[("GRACEFUL_TIMEOUT", "0s")]).wait(EXIT_TIMEOUT);
    exited.assert_code(2);
    assert!(exited.stdout.is_empty(), "{exited}");
    let line = exited.stderr_line_with(&["graceful: "]);
    // `0s` as written, not the `0s` of an example such as `10s`.
    let names_value = line
        .match_indices("0s")
        .any(|(at, _)| at == 0 || !line.as_bytes()[at - 1].is_ascii_digit());
    assert!(
        line.contains("GRACEFUL_TIMEOUT") && names_value,
        "names the variable and the value: {line:?}"
    );
    assert!(
        ["25s", "10s"].iter().any(|example| line.contains(example)),
        "gives a valid example: {line:?}"
    );
}
