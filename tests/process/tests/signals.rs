//! `signals = ["SIGHUP", "SIGUSR1"]`: those start the shutdown (and force the exit when
//! repeated); SIGTERM and SIGINT are left alone and kill the process as usual.

use std::time::{Duration, Instant};

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

/// Start-up adds one thread to the runtime's, whatever the number of signals: the listener,
/// which also keeps the watchdog (two signals and the watchdog once had a thread each).
#[test]
fn one_thread_listens_for_every_signal_and_keeps_the_deadline() {
    let mut fixture = Fixture::start_ready(CUSTOM_SIGNALS, &[]);
    let tasks = format!("/proc/{}/task", fixture.pid());
    let names = || -> Vec<String> {
        let tasks = std::fs::read_dir(&tasks).expect("the fixture's threads in /proc");
        tasks
            .map(|task| {
                let comm = task.expect("a thread").path().join("comm");
                std::fs::read_to_string(comm)
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            })
            .collect()
    };
    // A thread names itself once it runs: until then it has the process's name. Wait until
    // only the main thread has it.
    let until = Instant::now() + LINE_TIMEOUT;
    let mut threads = names();
    while threads
        .iter()
        .filter(|name| *name == "custom_signals")
        .count()
        > 1
    {
        assert!(Instant::now() < until, "threads never named: {threads:?}");
        std::thread::sleep(Duration::from_millis(5));
        threads = names();
    }
    let ours: Vec<&String> = threads
        .iter()
        .filter(|name| name.starts_with("graceful"))
        .collect();
    assert_eq!(ours, ["graceful-signal"], "threads: {threads:?}");
    fixture.signal(Signal::SIGUSR1);
    fixture.wait(EXIT_TIMEOUT).assert_code(0);
}
