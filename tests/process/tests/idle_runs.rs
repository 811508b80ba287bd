//! `Builder::run_async` and `Builder::run_to_report` sleep while they wait for a signal, and
//! once they return, the signals do again what they did before (here the default: terminate
//! the process).

use std::time::Duration;

use graceful_test_support::{EXIT_TIMEOUT, Fixture, LINE_TIMEOUT, Signal};

const IDLE_RUN_ASYNC: &str = env!("CARGO_BIN_EXE_idle_run_async");

/// How long the run is left idle while its CPU time is measured.
const IDLE: Duration = Duration::from_secs(3);
/// Generous: an idle run costs nothing measurable; the bug burnt a whole core (3 s of 3).
const IDLE_CPU_BOUND: Duration = Duration::from_millis(500);

/// The CPU time (user and system) the process `pid` has used, from `/proc/<pid>/stat`.
fn cpu_time(pid: i32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("a command name") + 2..]
        .split_whitespace()
        .collect();
    // utime and stime, fields 14 and 15 of the file (11 and 12 after the state, field 3).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let per_second = u64::try_from(
        nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .expect("sysconf")
            .expect("a clock tick rate"),
    )
    .expect("a positive rate");
    Duration::from_micros(ticks * 1_000_000 / per_second)
}

fn idle_then_signals(mode: &str) {
    let mut fixture = Fixture::start_ready(IDLE_RUN_ASYNC, &[("FIXTURE_MAIN", mode)]);
    let pid = fixture.pid().as_raw();
    let before = cpu_time(pid);
    std::thread::sleep(IDLE);
    let used = cpu_time(pid).saturating_sub(before);
    println!("{mode}: CPU used while idle for {IDLE:?}: {used:?}");
    assert!(
        used < IDLE_CPU_BOUND,
        "{mode}: {used:?} of CPU while idle for {IDLE:?}"
    );

    fixture.signal(Signal::SIGTERM);
    fixture.wait_for_stdout("returned with exit code 0", LINE_TIMEOUT);
    // The run is over: SIGTERM's default action again.
    fixture.signal(Signal::SIGTERM);
    let exited = fixture.wait(EXIT_TIMEOUT);
    exited.assert_killed_by(Signal::SIGTERM);
}

#[test]
fn run_async_sleeps_when_idle_and_gives_the_signals_back() {
    idle_then_signals("async");
}

#[test]
fn run_to_report_sleeps_when_idle_and_gives_the_signals_back() {
    idle_then_signals("report");
}
