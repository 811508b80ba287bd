//! Spawn throughput: the `spawn_throughput` binary measures `tokio::spawn`,
//! `TaskTracker::spawn` and `graceful::spawn` in one process, interleaved round by round
//! (`graceful_bench::spawns`); this runs it and collects its samples.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use graceful_bench::spawns::{self, Method};

use crate::stats::Summary;

/// Nanoseconds per task of each method at each number of spawning tasks.
#[derive(Debug, Default)]
pub struct Spawn {
    pub rounds: usize,
    pub total: usize,
    pub samples: BTreeMap<(Method, usize), Vec<f64>>,
}

/// Runs `spawn_throughput` with `rounds` measured rounds of [`spawns::TOTAL`] tasks a sample.
pub fn measure(bin_dir: &Path, rounds: usize) -> Result<Spawn, String> {
    let binary = bin_dir.join("spawn_throughput");
    let total = spawns::TOTAL;
    eprintln!("spawn: {rounds} rounds of {total} tasks a sample");
    let output = Command::new(&binary)
        .arg(rounds.to_string())
        .arg(total.to_string())
        .output()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} ended with {}; stderr: {}",
            binary.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let mut samples: BTreeMap<(Method, usize), Vec<f64>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let (method, spawning, ns) =
            spawns::parse(line).ok_or_else(|| format!("spawn_throughput printed {line:?}"))?;
        samples.entry((method, spawning)).or_default().push(ns);
    }
    Ok(Spawn {
        rounds,
        total,
        samples,
    })
}

impl Spawn {
    /// ns per task of `method` with `spawning` spawning tasks.
    pub fn per_task(&self, method: Method, spawning: usize) -> Option<Summary> {
        Summary::of(
            self.samples
                .get(&(method, spawning))
                .map_or(&[], Vec::as_slice),
        )
    }
}
