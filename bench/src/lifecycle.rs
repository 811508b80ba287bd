//! Items 1 to 3: one run of a variant is exec → ready line → a pause → SIGTERM → reaped exit.
//! It gives the exec-to-ready latency, the signal-to-exit latency and the peak RSS at once;
//! the per-hook overhead is the slope of signal-to-exit over N.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::child;
use crate::rounds;
use crate::stats::{Summary, slope};
use crate::variants::{Program, Variant};

/// One run of one variant.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// From `spawn` to the ready line.
    pub ready: Duration,
    /// From `kill` to the reaped exit.
    pub exit: Duration,
    /// Peak resident set size through start-up (`VmHWM` after the pause, before the
    /// signal), KiB.
    pub startup_rss_kib: u64,
    /// Peak resident set size over the whole life, shutdown included (`ru_maxrss`), KiB.
    pub life_rss_kib: u64,
}

/// Every run of every variant.
#[derive(Debug, Default)]
pub struct Lifecycle {
    pub samples: BTreeMap<Variant, Vec<Sample>>,
    pub failures: Vec<String>,
}

/// Runs every variant `runs` times, interleaved, pausing `settle` between the ready line and
/// the signal (the runtime's threads go idle, subsystems get polled).
pub fn measure(bin_dir: &Path, runs: usize, settle: Duration) -> Result<Lifecycle, String> {
    let variants = Variant::lifecycle();
    let mut samples: BTreeMap<Variant, Vec<Sample>> = BTreeMap::new();
    let failures = rounds::interleaved("lifecycle", &variants, runs, |variant| {
        let sample = run_once(&variant.path(bin_dir), settle, variant.program)?;
        samples.entry(variant).or_default().push(sample);
        Ok(())
    })?;
    Ok(Lifecycle { samples, failures })
}

/// Starts `binary`, waits for its ready line and `settle`, sends SIGTERM, reaps it.
pub fn run_once(binary: &Path, settle: Duration, program: Program) -> Result<Sample, String> {
    let mut running = child::start(Command::new(binary), |line| line == graceful_bench::READY)?;
    std::thread::sleep(settle);
    let startup_rss_kib = running.peak_rss_kib().unwrap_or(0);
    let ended = running.signal_and_reap(Signal::SIGTERM)?;
    // A bare `#[tokio::main]` has no handler: SIGTERM kills it, as it should.
    let expected = match program {
        Program::TokioMain => ended.killed_by(Signal::SIGTERM),
        _ => ended.clean(),
    };
    if !expected {
        return Err(format!(
            "{} ended with {}; stderr: {}",
            binary.display(),
            ended.status,
            running.take_stderr().trim()
        ));
    }
    Ok(Sample {
        ready: running.ready_after,
        exit: ended.exit_after,
        startup_rss_kib,
        life_rss_kib: ended.max_rss_kib,
    })
}

impl Lifecycle {
    fn series(&self, program: Program, n: Option<usize>) -> &[Sample] {
        let n = if program.has_n() { n } else { None };
        self.samples
            .get(&Variant { program, n })
            .map_or(&[], Vec::as_slice)
    }

    /// Signal-to-exit, ms.
    pub fn exit(&self, program: Program, n: Option<usize>) -> Option<Summary> {
        let exits: Vec<Duration> = self.series(program, n).iter().map(|s| s.exit).collect();
        Summary::of_millis(&exits)
    }

    /// Exec-to-ready, ms.
    pub fn ready(&self, program: Program, n: Option<usize>) -> Option<Summary> {
        let readies: Vec<Duration> = self.series(program, n).iter().map(|s| s.ready).collect();
        Summary::of_millis(&readies)
    }

    /// Peak RSS through start-up, MiB.
    pub fn startup_rss(&self, program: Program, n: Option<usize>) -> Option<Summary> {
        let rss: Vec<f64> = self
            .series(program, n)
            .iter()
            .map(|s| s.startup_rss_kib as f64 / 1024.0)
            .collect();
        Summary::of(&rss)
    }

    /// Peak RSS over the whole life, MiB.
    pub fn life_rss(&self, program: Program, n: Option<usize>) -> Option<Summary> {
        let rss: Vec<f64> = self
            .series(program, n)
            .iter()
            .map(|s| s.life_rss_kib as f64 / 1024.0)
            .collect();
        Summary::of(&rss)
    }

    /// The cost of one more hook, µs: the least-squares slope of the median signal-to-exit
    /// over N (each N of the program's variants).
    pub fn per_hook_us(&self, program: Program) -> Option<f64> {
        let points: Vec<(f64, f64)> = program
            .ns()
            .iter()
            .filter_map(|&n| Some((n as f64, self.exit(program, Some(n))?.median * 1e3)))
            .collect();
        slope(&points)
    }
}
