//! Static hooks in a real process stopped by a real SIGTERM: phases in ascending order, the
//! hooks of one order at the same time, a hook from a library crate, a hook registered at
//! run time, all interleaved by `order`.

use std::sync::LazyLock;

use graceful_test_support::{EXIT_TIMEOUT, Fixture, Signal, example};

/// An example, not a binary: it links `graceful-fixture-hooks`, a dev-dependency.
static PHASES: LazyLock<String> = LazyLock::new(|| example("phases").display().to_string());
/// An example too, with the same dependencies as `phases`.
static UNNAMED: LazyLock<String> =
    LazyLock::new(|| example("unnamed_hooks_crate").display().to_string());

fn sorted<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    let mut lines = lines.to_vec();
    lines.sort_unstable();
    lines
}

/// The two hooks of order 10 can only end if both have started (each waits for the other,
/// 3 s at most), and the blocking one ends 300 ms after the other: order 12 and above must
/// wait for it.
#[test]
fn phases_run_in_ascending_order_and_hooks_of_one_order_run_at_the_same_time() {
    let mut fixture = Fixture::start_ready(&PHASES, &[]);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(0);
    let hooks = exited.hook_lines();
    assert_eq!(hooks.len(), 8, "{exited}");
    assert_eq!(hooks[0], "hook early ran", "order -5 first\n{exited}");
    assert_eq!(
        sorted(&hooks[1..3]),
        ["hook pair_async started", "hook pair_blocking started"],
        "both hooks of order 10 start before either ends\n{exited}"
    );
    assert_eq!(
        sorted(&hooks[3..5]),
        ["hook pair_async ended", "hook pair_blocking ended"],
        "{exited}"
    );
    assert_eq!(
        hooks[5..],
        [
            "hook runtime_hook ran",
            "hook library_hook ran",
            "hook late ran"
        ],
        "the next phases start only after both hooks of order 10 ended\n{exited}"
    );
}

#[test]
fn a_hook_from_a_library_crate_runs_in_its_order() {
    let mut fixture = Fixture::start_ready(&PHASES, &[]);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(0);
    assert_eq!(exited.stdout_count("hook library_hook ran"), 1, "{exited}");
    let library = exited.stdout_index("hook library_hook ran");
    assert!(
        exited.stdout_index("hook runtime_hook ran") < library
            && library < exited.stdout_index("hook late ran"),
        "order 15 runs between orders 12 and 20\n{exited}"
    );
}

/// The other side of `use graceful_fixture_hooks as _;`: the example `unnamed_hooks_crate`
/// has the crate among its dependencies but never names it, so the crate is not linked and its
/// hook does not exist there.
#[test]
fn a_library_hook_is_absent_from_a_binary_that_does_not_name_its_crate() {
    let mut fixture = Fixture::start_ready(&UNNAMED, &[]);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(0);
    assert_eq!(exited.hook_lines(), ["hook own ran"], "{exited}");
}

#[test]
fn a_hook_registered_at_run_time_is_interleaved_by_order_with_the_static_ones() {
    let mut fixture = Fixture::start_ready(&PHASES, &[]);
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_code(0);
    assert_eq!(exited.stdout_count("hook runtime_hook ran"), 1, "{exited}");
    let registered = exited.stdout_index("hook runtime_hook ran");
    assert!(
        exited.stdout_index("hook pair_async ended") < registered
            && exited.stdout_index("hook pair_blocking ended") < registered,
        "order 12 runs after order 10\n{exited}"
    );
    assert!(
        registered < exited.stdout_index("hook library_hook ran"),
        "order 12 runs before order 15\n{exited}"
    );
}
