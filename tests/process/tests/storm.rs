//! The storm: 64 threads call `trigger()` at once while 20 signals (SIGTERM and SIGINT, which
//! the kernel does not merge with each other) arrive, with the force exit on and off. Whatever
//! wins, there is one shutdown sequence, no hook runs twice, and one final line: the report's
//! summary or the forced-exit line, announcing the code the process really exits with.
//!
//! The hooks are short, so the normal exit, the forced exit and the triggers race each other;
//! each test runs the storm many times.

use std::time::Duration;

use graceful_test_support::{EXIT_TIMEOUT, Exited, Fixture, Signal, burst};

const STORM: &str = env!("CARGO_BIN_EXE_storm");
const HOOKS: [&str; 3] = ["hook first ran", "hook alongside ran", "hook last ran"];

/// Run `run` sends the signals `run % 50` ms after releasing the triggers: not to wait for
/// anything, but to spread the storm over the sequence (about 35 ms: at the start, during the
/// hooks, around the exit), so that the runs see different races.
fn storm(run: u64, force_exit: bool) -> Exited {
    let force = if force_exit { "1" } else { "0" };
    let mut fixture = Fixture::start_ready_with_stdin(STORM, &[("FIXTURE_FORCE_EXIT", force)]);
    fixture.send_line("go"); // releases the 64 triggering threads
    std::thread::sleep(Duration::from_millis(run % 50));
    burst(&fixture, &[Signal::SIGTERM, Signal::SIGINT], 20);
    fixture.wait(EXIT_TIMEOUT)
}

/// The final lines: the forced-exit lines and the report's summary lines.
fn final_lines(exited: &Exited) -> (Vec<&str>, Vec<&str>) {
    let forced = exited.stderr_lines_with(&["exiting now with code"]);
    let summaries = exited.stderr_lines_with(&["INFO graceful: shutdown (", "exit code"]);
    (forced, summaries)
}

/// How many times the start of a shutdown was logged.
fn starts(exited: &Exited) -> usize {
    exited
        .stderr_lines_with(&["INFO graceful: shutdown started"])
        .len()
}

#[test]
fn with_force_exit_one_sequence_no_hook_twice_and_one_final_line_with_the_real_code() {
    for run in 0..250 {
        let exited = storm(run, true);
        // A forced exit may come before the sequence logged its start, never after two.
        assert!(
            starts(&exited) <= 1,
            "run {run}: one shutdown sequence\n{exited}"
        );
        for hook in HOOKS {
            assert!(
                exited.stdout_count(hook) <= 1,
                "run {run}: {hook:?} at most once\n{exited}"
            );
        }
        let code = exited
            .status
            .code()
            .unwrap_or_else(|| panic!("run {run}: killed by a signal\n{exited}"));
        let (forced, summaries) = final_lines(&exited);
        match (&forced[..], &summaries[..]) {
            ([line], []) => assert!(
                (code == 130 || code == 143) && line.contains(&format!("with code {code};")),
                "run {run}: the forced-exit line announces the real code {code}: {line:?}\n{exited}"
            ),
            ([], [line]) => {
                assert_eq!(code, 0, "run {run}: a clean report\n{exited}");
                assert!(
                    line.contains("exit code 0"),
                    "run {run}: {line:?}\n{exited}"
                );
                for hook in HOOKS {
                    assert!(exited.stdout_has(hook), "run {run}: {hook:?} ran\n{exited}");
                }
            }
            _ => panic!(
                "run {run}: expected one final line, found {} forced-exit and {} summary lines\n\
                 {exited}",
                forced.len(),
                summaries.len()
            ),
        }
    }
}

#[test]
fn without_force_exit_one_sequence_every_hook_once_and_one_clean_report() {
    for run in 0..20 {
        let exited = storm(run, false);
        assert_eq!(
            starts(&exited),
            1,
            "run {run}: one shutdown sequence\n{exited}"
        );
        exited.assert_code(0);
        for hook in HOOKS {
            assert_eq!(
                exited.stdout_count(hook),
                1,
                "run {run}: {hook:?} exactly once\n{exited}"
            );
        }
        let (forced, summaries) = final_lines(&exited);
        assert!(forced.is_empty(), "run {run}: no forced exit\n{exited}");
        assert_eq!(summaries.len(), 1, "run {run}: one summary\n{exited}");
        assert!(summaries[0].contains("exit code 0"), "run {run}\n{exited}");
    }
}
