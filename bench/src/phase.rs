//! Item 4, phase concurrency: 100 hooks of 100 ms sharing one order must take about 100 ms,
//! not 10 s. Signal-to-exit of the one-phase variants, interleaved.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::lifecycle::run_once;
use crate::rounds;
use crate::stats::Summary;
use crate::variants::{Program, phase_binary};

/// The programs with a one-phase variant.
pub const PROGRAMS: [Program; 3] = [Program::ByHand, Program::Tgs, Program::Graceful];

/// Signal-to-exit of each one-phase variant.
#[derive(Debug, Default)]
pub struct Phase {
    pub exits: BTreeMap<Program, Vec<Duration>>,
    pub failures: Vec<String>,
}

/// Runs each one-phase variant `runs` times, interleaved.
pub fn measure(bin_dir: &Path, runs: usize, settle: Duration) -> Result<Phase, String> {
    let mut exits: BTreeMap<Program, Vec<Duration>> = BTreeMap::new();
    let failures = rounds::interleaved("phase", &PROGRAMS, runs, |program| {
        let binary = bin_dir.join(phase_binary(program).expect("a one-phase variant"));
        let sample = run_once(&binary, settle, program)?;
        exits.entry(program).or_default().push(sample.exit);
        Ok(())
    })?;
    Ok(Phase { exits, failures })
}

impl Phase {
    /// Signal-to-exit of `program`'s one-phase variant, ms.
    pub fn exit(&self, program: Program) -> Option<Summary> {
        Summary::of_millis(self.exits.get(&program).map_or(&[], Vec::as_slice))
    }
}
