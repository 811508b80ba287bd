//! Plain `fn` hooks under the conditions that must not change their cost: signal-to-exit with
//! 10 `fn` hooks in 10 orders, graceful against by hand, with the ready-to-signal pause at
//! 20 ms and at 50 ms (the blocking thread must not depend on having started long before the
//! signal), on the machine as it is and with every core kept busy by the harness.
//!
//! Every round runs each variant under each condition once, in a random order: the load is
//! started just before the variant and stopped once it is reaped, so the loaded runs sit
//! between the others.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::lifecycle;
use crate::rounds;
use crate::stats::Summary;
use crate::variants::{Program, Variant};

/// The number of hooks.
pub const N: usize = 10;

/// The ready-to-signal pauses, ms.
pub const PAUSES_MS: [u64; 2] = [20, 50];

/// The two programs compared.
pub const PROGRAMS: [Program; 2] = [Program::ByHandBlocking, Program::GracefulBlocking];

/// The pause, and whether the cores were kept busy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Condition {
    pub pause_ms: u64,
    pub loaded: bool,
}

impl Condition {
    /// Every condition, in table order.
    pub fn all() -> Vec<Condition> {
        [false, true]
            .iter()
            .flat_map(|&loaded| PAUSES_MS.map(|pause_ms| Condition { pause_ms, loaded }))
            .collect()
    }

    /// The row's name.
    pub fn label(self, hogs: usize) -> String {
        if self.loaded {
            format!("pause {} ms, {hogs} cores kept busy", self.pause_ms)
        } else {
            format!("pause {} ms", self.pause_ms)
        }
    }
}

/// Signal-to-exit of each program under each condition.
#[derive(Debug, Default)]
pub struct FnHooks {
    pub samples: BTreeMap<(Condition, Program), Vec<Duration>>,
    /// The CPU-bound threads run during the loaded rounds: one per core.
    pub hogs: usize,
    pub failures: Vec<String>,
}

impl FnHooks {
    /// Signal-to-exit, ms.
    pub fn exit(&self, condition: Condition, program: Program) -> Option<Summary> {
        Summary::of_millis(self.samples.get(&(condition, program))?)
    }

    /// graceful / by hand, medians.
    pub fn ratio(&self, condition: Condition) -> Option<f64> {
        Some(
            self.exit(condition, Program::GracefulBlocking)?.median
                / self.exit(condition, Program::ByHandBlocking)?.median,
        )
    }
}

/// Runs both programs under every condition `runs` times, interleaved.
pub fn measure(bin_dir: &Path, runs: usize) -> Result<FnHooks, String> {
    let hogs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let items: Vec<(Condition, Program)> = Condition::all()
        .into_iter()
        .flat_map(|condition| PROGRAMS.map(|program| (condition, program)))
        .collect();
    let mut fn_hooks = FnHooks {
        hogs,
        ..FnHooks::default()
    };
    fn_hooks.failures = rounds::interleaved("fn hooks", &items, runs, |(condition, program)| {
        let binary = Variant {
            program,
            n: Some(N),
        }
        .path(bin_dir);
        let load = condition.loaded.then(|| Load::start(hogs));
        let sample =
            lifecycle::run_once(&binary, Duration::from_millis(condition.pause_ms), program);
        drop(load);
        fn_hooks
            .samples
            .entry((condition, program))
            .or_default()
            .push(sample?.exit);
        Ok(())
    })?;
    Ok(fn_hooks)
}

/// CPU-bound threads at normal priority, one per core asked for, until dropped: a machine
/// whose cores are all busy, as under a neighbour's build. They compute, they do not wait for
/// anything; each looks at the stop flag between short stretches of arithmetic.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    fn start(hogs: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..hogs)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x: u64 = 1;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..10_000 {
                            x = std::hint::black_box(
                                x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1),
                            );
                        }
                    }
                })
            })
            .collect();
        Load { stop, threads }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
