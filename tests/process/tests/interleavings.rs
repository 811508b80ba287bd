//! The interleaving harness: a real server (the `interleave` fixture: HTTP on
//! `graceful::listen`, upgrades on SIGHUP, hooks of both kinds, a tracked task, a service, a
//! value kept until exit) driven through random sequences of SIGINT, SIGTERM and SIGHUP at
//! random moments: while it starts, serves, waits out `drain_delay`, drains, runs its hooks,
//! hands over to a new process or drops its kept values. The timings of each phase are drawn
//! too, so that the signals land in every one of them.
//!
//! Checked on every run:
//! - every process of the build is gone within the deadline plus a margin of the last signal;
//! - each exit code is the documented one for the signals that process received (0 for one,
//!   0 or 128+N for a second N), and an upgrade's new process that never took over was
//!   stopped by the old one, which said so;
//! - a non-zero exit says why on stderr;
//! - a hook that started either ended or is named by the line of the exit that cut it;
//! - the port always has a server, across upgrades, until a stop signal was sent;
//! - a process that exited 0 dropped its kept value.
//!
//! `GRACEFUL_INTERLEAVINGS=N` runs N sequences (default 16) after the seeds that once found a
//! break ([`FOUND`]); each prints its seed, and `GRACEFUL_INTERLEAVINGS_SEED=S` replays the run
//! of seed S alone. Its own test binary: it makes itself the subreaper of what it starts (so
//! that it can wait for the new process of an upgrade, which is not its child), which must not
//! touch the other tests' processes.

#![cfg(target_os = "linux")]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use graceful_test_support::{Rng, free_port};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

const FIXTURE: &str = env!("CARGO_BIN_EXE_interleave");
/// The fixture's `timeout`.
const DEADLINE: Duration = Duration::from_secs(4);
/// Generous: the deadline, the kept values' margin, a new process's stop, a loaded machine.
const GONE_WITHIN: Duration = Duration::from_secs(20);
/// How long the harness waits for a process to be listening.
const START_WITHIN: Duration = Duration::from_secs(30);

/// Seeds whose sequence once found a break, run first every time, each with what it found.
const FOUND: &[u64] = &[
    // A stop during an upgrade (SIGHUP, then SIGTERM 82 ms later while the new process starts),
    // then a second SIGTERM while the exit waited for the new process to stop: the new process
    // was killed with SIGKILL, and no line said so (the forced exit's line named only the
    // values kept until exit).
    8_527_956_796_642_280_048,
];

#[test]
fn random_signals_at_random_moments_keep_every_promise() {
    nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
    let runs: u64 = std::env::var("GRACEFUL_INTERLEAVINGS")
        .ok()
        .map_or(16, |runs| {
            runs.parse().expect("GRACEFUL_INTERLEAVINGS is a count")
        });
    let seeds: Vec<u64> = match std::env::var("GRACEFUL_INTERLEAVINGS_SEED") {
        Ok(seed) => vec![seed.parse().expect("GRACEFUL_INTERLEAVINGS_SEED is a u64")],
        Err(_) => {
            let mut rng = Rng::from_env("GRACEFUL_INTERLEAVINGS_FIRST_SEED");
            FOUND
                .iter()
                .copied()
                .chain((0..runs).map(|_| rng.next_u64()))
                .collect()
        }
    };
    let started = Instant::now();
    let mut failures = Vec::new();
    for seed in seeds {
        let run = Run::new(seed);
        println!("seed {seed}: {}", run.plan);
        if let Err(failure) = run.execute() {
            println!("seed {seed} FAILED: {failure}");
            failures.push(format!(
                "seed {seed} (replay with GRACEFUL_INTERLEAVINGS_SEED={seed}): {failure}"
            ));
        }
    }
    println!("interleavings took {:?}", started.elapsed());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// One signal of a sequence, and how long after the previous step it is sent.
#[derive(Clone, Copy, Debug)]
struct Event {
    after: Duration,
    signal: Signal,
}

/// What one run draws.
struct Plan {
    env: Vec<(&'static str, String)>,
    events: Vec<Event>,
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (name, value) in &self.env {
            write!(f, "{name}={value} ")?;
        }
        for event in &self.events {
            write!(f, "+{:?} {} ", event.after, event.signal)?;
        }
        Ok(())
    }
}

struct Run {
    plan: Plan,
    port: u16,
}

/// What the processes printed, each line with when it was read.
#[derive(Default)]
struct Output {
    stdout: Vec<(Instant, String)>,
    stderr: Vec<String>,
}

impl Output {
    /// The pids that printed `what` (lines are `pid P what`).
    fn pids_saying(&self, what: &str) -> Vec<i32> {
        let mut pids = Vec::new();
        for (_, line) in &self.stdout {
            if let Some((pid, rest)) = parse(line) {
                if rest.starts_with(what) && !pids.contains(&pid) {
                    pids.push(pid);
                }
            }
        }
        pids
    }

    fn said(&self, pid: i32, what: &str) -> bool {
        self.stdout.iter().any(|(_, line)| {
            parse(line).is_some_and(|(p, rest)| p == pid && rest.starts_with(what))
        })
    }
}

fn parse(line: &str) -> Option<(i32, &str)> {
    let rest = line.strip_prefix("pid ")?;
    let (pid, rest) = rest.split_once(' ')?;
    Some((pid.parse().ok()?, rest))
}

/// How each process of the build ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Code(i32),
    Signalled(Signal),
    /// Reaped by its parent (an upgrade's new process that the old one stopped).
    NotOurs,
}

impl Run {
    fn new(seed: u64) -> Run {
        let mut rng = Rng::seeded(seed);
        // Each phase takes 0 to 300 ms, sometimes nothing at all.
        let phase = |rng: &mut Rng| {
            if rng.between(0, 3) == 0 {
                0
            } else {
                rng.between(0, 300)
            }
        };
        let env = vec![
            ("START_MS", phase(&mut rng).to_string()),
            ("HOOK_MS", phase(&mut rng).to_string()),
            ("TASK_MS", phase(&mut rng).to_string()),
            ("DROP_MS", phase(&mut rng).to_string()),
            ("GRACEFUL_DRAIN_DELAY", format!("{}ms", phase(&mut rng))),
        ];
        let count = rng.between(1, 4);
        let events = (0..count)
            .map(|_| {
                let signal = *rng.pick(&[
                    Signal::SIGHUP,
                    Signal::SIGHUP,
                    Signal::SIGTERM,
                    Signal::SIGTERM,
                    Signal::SIGINT,
                ]);
                // A third of the gaps are a few milliseconds: signals that race.
                let after = if rng.between(0, 2) == 0 {
                    rng.between(0, 5)
                } else {
                    rng.between(0, 700)
                };
                Event {
                    after: Duration::from_millis(after),
                    signal,
                }
            })
            .collect();
        Run {
            plan: Plan { env, events },
            port: free_port(),
        }
    }

    fn execute(&self) -> Result<(), String> {
        let id = format!("{}-{}", std::process::id(), self.port);
        let mark = format!("GRACEFUL_INTERLEAVE_MARK={id}");
        let mut command = Command::new(FIXTURE);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PORT", self.port.to_string())
            .env("GRACEFUL_INTERLEAVE_MARK", &id)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in &self.plan.env {
            command.env(name, value);
        }
        let mut child = command.spawn().map_err(|error| format!("spawn: {error}"))?;
        let first = child.id() as i32;
        let output = Arc::new(Mutex::new(Output::default()));
        let readers = [
            read_lines(child.stdout.take().expect("stdout"), output.clone(), true),
            read_lines(child.stderr.take().expect("stderr"), output.clone(), false),
        ];
        // `child` is never waited for through std: the harness reaps every process itself.
        drop(child);

        let result = self.drive(first, &output, &mark);
        for reader in readers {
            let _ = reader.join();
        }
        let output = output.lock().unwrap();
        result.map_err(|failure| {
            let mut text = failure;
            text.push_str("\n--- stdout\n");
            for (_, line) in &output.stdout {
                text.push_str(line);
                text.push('\n');
            }
            text.push_str("--- stderr\n");
            for line in &output.stderr {
                text.push_str(line);
                text.push('\n');
            }
            text
        })
    }

    fn drive(&self, first: i32, output: &Arc<Mutex<Output>>, mark: &str) -> Result<(), String> {
        let mut ends: BTreeMap<i32, End> = BTreeMap::new();
        let mut received: BTreeMap<i32, Vec<Signal>> = BTreeMap::new();
        let listening =
            |output: &Arc<Mutex<Output>>| output.lock().unwrap().pids_saying("listening on");

        wait_until(START_WITHIN, || listening(output).contains(&first))
            .map_err(|()| "the first process never listened".to_owned())?;
        let prober = Prober::start(self.port);
        let mut first_stop: Option<Instant> = None;
        let mut last_signal = Instant::now();

        for event in &self.plan.events {
            std::thread::sleep(event.after);
            reap(&mut ends);
            // The newest process that listens and has not ended is the service.
            let Some(target) = listening(output)
                .into_iter()
                .rfind(|pid| !ends.contains_key(pid))
            else {
                break;
            };
            if event.signal != Signal::SIGHUP {
                first_stop.get_or_insert_with(Instant::now);
            }
            if kill(Pid::from_raw(target), event.signal).is_ok() {
                received.entry(target).or_default().push(event.signal);
                last_signal = Instant::now();
            }
        }

        // The newest process that still runs and was not asked to stop is stopped now, and
        // then whatever an upgrade started; until every process is gone.
        let until = Instant::now() + GONE_WITHIN;
        loop {
            reap(&mut ends);
            let alive: Vec<i32> = alive_with(mark);
            if alive.is_empty() {
                break;
            }
            if Instant::now() >= until {
                for pid in &alive {
                    let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
                }
                reap_all_for(Duration::from_secs(5), &mut ends);
                return Err(format!(
                    "processes {alive:?} still ran {GONE_WITHIN:?} after the last signal (killed)"
                ));
            }
            let listening = listening(output);
            for pid in &alive {
                let stopped = received
                    .get(pid)
                    .is_some_and(|signals| signals.iter().any(|s| *s != Signal::SIGHUP));
                // Only a process that serves, and only once: an upgrade's new process is the
                // old one's to stop or hand over to.
                if !stopped && listening.contains(pid) && !upgrading(output, *pid) {
                    first_stop.get_or_insert_with(Instant::now);
                    if kill(Pid::from_raw(*pid), Signal::SIGTERM).is_ok() {
                        received.entry(*pid).or_default().push(Signal::SIGTERM);
                        last_signal = Instant::now();
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let gone_after = last_signal.elapsed();
        let failures = prober.stop();
        reap_all_for(Duration::from_secs(2), &mut ends);

        let output = output.lock().unwrap();
        let mut problems = Vec::new();
        if gone_after > DEADLINE + Duration::from_secs(6) {
            problems.push(format!(
                "the last process was gone {gone_after:?} after the last signal"
            ));
        }
        // The port had a server until a stop signal was sent.
        if let Some((_, why)) = failures
            .iter()
            .find(|(at, _)| first_stop.is_none_or(|stop| *at < stop))
        {
            problems.push(format!("a request failed before any stop signal: {why}"));
        }
        let pids: BTreeSet<i32> = output.pids_saying("starting").into_iter().collect();
        let seen: Vec<String> = pids
            .iter()
            .map(|pid| {
                let stops = received.get(pid).map_or(0, Vec::len);
                let end = ends.get(pid).copied().unwrap_or(End::NotOurs);
                format!("{pid}: {stops} signal(s), {end:?}")
            })
            .collect();
        println!(
            "  {}; {} probe(s) failed after a stop",
            seen.join("; "),
            failures.len()
        );
        for pid in &pids {
            let end = ends.get(pid).copied().unwrap_or(End::NotOurs);
            let signals = received.get(pid).cloned().unwrap_or_default();
            let stops: Vec<Signal> = signals
                .into_iter()
                .filter(|s| *s != Signal::SIGHUP)
                .collect();
            let took_over = output.said(*pid, "listening on");
            match end {
                End::Code(code) => {
                    // A second stop signal forces the exit with its own code; two sent together
                    // may be delivered in either order (pending signals go lowest first).
                    let mut allowed = vec![0];
                    if stops.len() >= 2 {
                        allowed.extend(stops.iter().map(|signal| 128 + *signal as i32));
                    }
                    if !took_over && stops.is_empty() {
                        // An upgrade's new process that the old one stopped before it served.
                        allowed.extend([1, 143]);
                    }
                    if !allowed.contains(&code) {
                        problems.push(format!(
                            "pid {pid} exited {code} after {stops:?} (allowed: {allowed:?})"
                        ));
                    }
                    if code != 0
                        && !output
                            .stderr
                            .iter()
                            .any(|line| line.contains(&format!("code {code}")))
                    {
                        problems.push(format!(
                            "pid {pid} exited {code} without saying why on stderr"
                        ));
                    }
                    if code == 0 && !output.said(*pid, "kept value dropped") {
                        problems.push(format!(
                            "pid {pid} exited 0 without dropping its kept value"
                        ));
                    }
                }
                End::Signalled(signal) => {
                    // Only an upgrade's new process, stopped by the old one before its handlers
                    // were installed, may die of a signal.
                    if took_over || !stops.is_empty() {
                        problems.push(format!("pid {pid} was killed by {signal} after {stops:?}"));
                    }
                }
                End::NotOurs => {}
            }
            if !took_over && pid != &first {
                // A new process that never served: the old one stopped it and said why.
                let named = format!("(pid {pid})");
                if !output.stderr.iter().any(|line| line.contains(&named)) {
                    problems.push(format!(
                        "the new process {pid} never served, and no line says what became of it"
                    ));
                }
            }
            // A new process that the old one had to kill (its exit could not wait for the new
            // one's shutdown: a second signal) names nothing; the old one's line says so.
            let killed = output
                .stderr
                .iter()
                .any(|line| line.contains(&format!("(pid {pid})")) && line.contains("SIGKILL"));
            for hook in ["flush", "close"].into_iter().filter(|_| !killed) {
                let started = output.said(*pid, &format!("hook {hook} started"));
                let ended = output.said(*pid, &format!("hook {hook} ended"));
                let named = output
                    .stderr
                    .iter()
                    .any(|line| line.contains("still running") && line.contains(hook));
                if started && !ended && !named {
                    problems.push(format!(
                        "pid {pid}: hook {hook} started, never ended, and no exit line names it"
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }
}

/// Whether `pid` is the new process of an upgrade whose old process still runs: the old one
/// stops it or hands over to it, and only then is it the harness's to stop.
fn upgrading(output: &Arc<Mutex<Output>>, pid: i32) -> bool {
    let Some(parent) = parent_of(pid) else {
        return false;
    };
    output.lock().unwrap().said(parent, "starting")
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// The processes (not zombies) whose environment holds `mark`.
fn alive_with(mark: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if !environ
            .split(|byte| *byte == 0)
            .any(|var| var == mark.as_bytes())
        {
            continue;
        }
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| stat.rfind(')').map(|at| stat[at + 2..].starts_with('Z')))
            .unwrap_or(true);
        if !zombie {
            pids.push(pid);
        }
    }
    pids
}

/// Reaps every child that has ended (the first process, and the new processes of upgrades
/// once their parent is gone: this process is their subreaper).
fn reap(ends: &mut BTreeMap<i32, End>) {
    loop {
        match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => {
                ends.insert(pid.as_raw(), End::Code(code));
            }
            Ok(WaitStatus::Signaled(pid, signal, _)) => {
                ends.insert(pid.as_raw(), End::Signalled(signal));
            }
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
            Ok(_) => {}
            Err(Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

fn reap_all_for(limit: Duration, ends: &mut BTreeMap<i32, End>) {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        reap(ends);
        if waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) == Err(Errno::ECHILD) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Result<(), ()> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if done() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(())
}

fn read_lines(
    from: impl Read + Send + 'static,
    output: Arc<Mutex<Output>>,
    stdout: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { return };
            let mut output = output.lock().unwrap();
            if stdout {
                output.stdout.push((Instant::now(), line));
            } else {
                output.stderr.push(line);
            }
        }
    })
}

/// Requests on new connections, one after another, each failure with when it was seen and why.
struct Prober {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(Instant, String)>>,
}

impl Prober {
    fn start(port: u16) -> Prober {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut failures = Vec::new();
            while !stopping.load(Ordering::Acquire) {
                // A failure is dated by when it was seen: a request that a stop overtook (in
                // the listener's queue when the server stopped accepting) is the stop's.
                if let Err(why) = probe(port) {
                    failures.push((Instant::now(), why));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            failures
        });
        Prober { stop, thread }
    }

    fn stop(self) -> Vec<(Instant, String)> {
        self.stop.store(true, Ordering::Release);
        self.thread.join().unwrap_or_default()
    }
}

fn probe(port: u16) -> Result<(), String> {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|error| format!("connect: {error}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|error| error.to_string())?;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
        .map_err(|error| format!("write: {error}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|error| format!("read: {error}"))?;
    if response.starts_with("HTTP/1.1 200") && response.ends_with("hello") {
        Ok(())
    } else {
        Err(format!("response: {response:?}"))
    }
}
