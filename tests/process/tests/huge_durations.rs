//! Any duration, however large, saturates: a hook timeout or a `GRACEFUL_TIMEOUT` of
//! `u64::MAX` seconds runs the hooks and exits 0. (5 000 000 000 000 s is not enough on
//! Linux: an `Instant` holds seconds since boot in an `i64`, which that still fits.)

use graceful_test_support::{EXIT_TIMEOUT, Fixture};

const HUGE_HOOK_TIMEOUT: &str = env!("CARGO_BIN_EXE_huge_hook_timeout");
const EXIT_CODES: &str = env!("CARGO_BIN_EXE_exit_codes");

const HUGE: &str = "18446744073709551615s";

#[test]
fn a_huge_hook_timeout_in_the_attribute_saturates() {
    let mut fixture = Fixture::start(HUGE_HOOK_TIMEOUT, &[]);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(0);
    assert_eq!(
        exited.hook_lines(),
        ["hook patient ran", "hook after ran"],
        "{exited}"
    );
}

#[test]
fn a_huge_graceful_timeout_saturates() {
    let mut fixture = Fixture::start(
        EXIT_CODES,
        &[("FIXTURE_MAIN", "ok"), ("GRACEFUL_TIMEOUT", HUGE)],
    );
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(0);
    assert_eq!(
        exited.hook_lines(),
        ["hook cleanup ran reason=MainReturned"],
        "{exited}"
    );
}

#[test]
fn a_huge_graceful_timeout_and_drain_timeout_saturate() {
    let mut fixture = Fixture::start(
        EXIT_CODES,
        &[
            ("FIXTURE_MAIN", "ok"),
            ("GRACEFUL_TIMEOUT", HUGE),
            ("GRACEFUL_DRAIN_TIMEOUT", HUGE),
        ],
    );
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(0);
    assert_eq!(
        exited.hook_lines(),
        ["hook cleanup ran reason=MainReturned"],
        "{exited}"
    );
}
