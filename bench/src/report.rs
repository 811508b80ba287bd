//! `results.md`: the machine, the targets met or missed, and one table per measurement.

use std::fmt::Write as _;

use std::path::Path;

use crate::compile::{self, Compile, Hello, Profile};
use crate::drain::{self, Drain};
use crate::fn_hooks::{self, Condition, FnHooks};
use crate::lifecycle::Lifecycle;
use crate::machine::Machine;
use crate::phase::{self, Phase};
use crate::spawn::Spawn;
use crate::stats::Summary;
use crate::variants::{BLOCKING_NS, NS, Program};
use graceful_bench::spawns::{Method, SPAWNING};

/// Where the targets' ratios are kept, next to `results.md`, for the next run to compare.
pub const RATIOS: &str = "ratios.tsv";

/// The ratios of the previous run on the same machine (`ratios.tsv`).
pub struct Previous {
    /// When it was measured.
    pub date: String,
    /// Its runs of each variant.
    pub runs: usize,
    /// Each target's ratio, by the target's text.
    pub ratios: Vec<(String, f64)>,
}

impl Previous {
    /// The previous run's ratios, if `path` holds some measured on a machine like `machine`
    /// (same cores, same CPU): a rerun elsewhere is no measure of the spread.
    pub fn read(path: &Path, machine: &Machine) -> Option<Previous> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut lines = text.lines();
        let head: Vec<&str> = lines.next()?.split('\t').collect();
        let [date, cores, cpu, runs] = head.as_slice() else {
            return None;
        };
        if cores.parse::<usize>().ok()? != machine.cores || *cpu != machine.cpu {
            return None;
        }
        let ratios = lines
            .filter_map(|line| {
                let (what, value) = line.rsplit_once('\t')?;
                Some((what.to_owned(), value.parse().ok()?))
            })
            .collect();
        Some(Previous {
            date: (*date).to_owned(),
            runs: runs.parse().ok()?,
            ratios,
        })
    }

    /// The previous ratio of the target `what`.
    pub fn ratio(&self, what: &str) -> Option<f64> {
        self.ratios.iter().find(|(w, _)| w == what).map(|&(_, r)| r)
    }
}

/// How far this run's ratios are from the previous run's: the largest and the median
/// relative difference, over how many ratios.
pub struct Spread {
    pub largest: f64,
    pub median: f64,
    pub count: usize,
}

/// Everything one run of the harness measured.
pub struct Results {
    /// The previous run on this machine, to compare the ratios with.
    pub previous: Option<Previous>,
    pub machine: Machine,
    pub runs: usize,
    pub compile_runs: usize,
    pub settle_ms: u64,
    /// The 1-minute load average before and after the measurements.
    pub load: (f64, f64),
    /// The harness's own peak RSS: the floor of the children's `ru_maxrss`.
    pub harness_rss_mib: f64,
    pub lifecycle: Option<Lifecycle>,
    pub fn_hooks: Option<FnHooks>,
    pub phase: Option<Phase>,
    pub spawn: Option<Spawn>,
    pub drain: Option<Result<Drain, String>>,
    pub compile: Option<Compile>,
}

/// One target of the issue: what it says, the figure, whether it holds.
pub struct Target {
    pub what: String,
    pub measured: String,
    pub met: Option<bool>,
    /// The ratio measured, for a target that compares two variants side by side: what a
    /// rerun should give again.
    pub ratio: Option<f64>,
}

impl Target {
    /// A target on the ratio `r` (graceful over its baseline): met at `limit` or below.
    fn ratio(what: String, r: Option<f64>, limit: f64) -> Target {
        Target {
            what,
            measured: r.map_or_else(|| "–".to_owned(), |r| format!("{r:.3}")),
            met: r.map(|r| r <= limit),
            ratio: r,
        }
    }
}

/// `0.412`, `12.3`, `1530`: three significant figures or so.
pub fn ms(value: f64) -> String {
    if value < 1.0 {
        format!("{value:.3}")
    } else if value < 100.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.0}")
    }
}

fn cell(summary: Option<Summary>) -> String {
    summary.map_or_else(
        || "–".to_owned(),
        |s| format!("{} / {}", ms(s.median), ms(s.p90)),
    )
}

fn ratio(num: Option<Summary>, den: Option<Summary>) -> Option<f64> {
    Some(num?.median / den?.median)
}

fn ratio_cell(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |r| format!("{r:.2}"))
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "not measured",
    }
}

/// `10, 100, 1000`.
fn list(ns: &[usize]) -> String {
    ns.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// ns, to one decimal.
fn ns_cell(summary: Option<Summary>) -> String {
    summary.map_or_else(
        || "–".to_owned(),
        |s| format!("{:.1} / {:.1}", s.median, s.p90),
    )
}

/// The tokio features of the `#[tokio::main]` hello-world, as the tables say them.
const TOKIO_FEATURES: &str =
    "`rt-multi-thread`, `signal`, `time`, `sync`, `net` and `macros` (for the attribute)";

/// The plain `fn` hooks section of `results.md`.
fn fn_hooks_table(md: &mut String, fn_hooks: &FnHooks) {
    let _ = writeln!(
        md,
        "## Plain `fn` hooks: the pause before the signal, and a busy machine\n\n\
         Signal-to-exit with {n} plain `fn` hooks in {n} orders, graceful against the same \
         functions called in turn by hand, with the pause between the ready line and the \
         signal at {pauses} ms, on the machine as it is and with {hogs} CPU-bound threads of \
         the harness (one per core, normal priority) running from just before the start to the \
         reaped exit. Every round runs each program under each condition once, in a random \
         order.\n",
        n = fn_hooks::N,
        pauses = fn_hooks::PAUSES_MS.map(|p| p.to_string()).join(" and "),
        hogs = fn_hooks.hogs,
    );
    let _ = writeln!(
        md,
        "| | by hand, `fn` hooks | graceful, `fn` hooks | graceful / by hand |\n\
         | --- | --- | --- | ---: |"
    );
    for condition in Condition::all() {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            condition.label(fn_hooks.hogs),
            cell(fn_hooks.exit(condition, Program::ByHandBlocking)),
            cell(fn_hooks.exit(condition, Program::GracefulBlocking)),
            ratio_cell(fn_hooks.ratio(condition)),
        );
    }
    md.push('\n');
}

/// The compile section of `results.md`.
fn compile_table(md: &mut String, compile: &Compile) {
    let _ = writeln!(
        md,
        "## Compile cost: clean build of a hello-world\n\n\
         `#[graceful::main]` (`graceful` with no feature) against `#[tokio::main]` whose tokio \
         has {TOKIO_FEATURES}; `cargo build` and `cargo build --release`, each in an empty \
         target directory, offline, interleaved, started once less than {:.0} % of the cores \
         were busy (the busiest start: {:.0} %). Seconds: wall time median / p90, the fastest \
         wall time, and the CPU time (cargo and every rustc, user + system) median.\n",
        compile::QUIET * 100.0,
        compile.busiest_before() * 100.0
    );
    let secs = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}"));
    let _ = writeln!(
        md,
        "| | wall | fastest | CPU |\n| --- | --- | ---: | ---: |"
    );
    for profile in Profile::ALL {
        for (hello, label) in [
            (Hello::TokioMain, "`#[tokio::main]`"),
            (Hello::Graceful, "`#[graceful::main]`"),
        ] {
            let _ = writeln!(
                md,
                "| {}, {label} | {} | {} | {} |",
                profile.label(),
                cell(compile.wall(profile, hello)),
                secs(compile.fastest(profile, hello)),
                secs(compile.cpu(profile, hello).map(|s| s.median))
            );
        }
        let _ = writeln!(
            md,
            "| {}, ratio | {} | {} | {} |",
            profile.label(),
            ratio_cell(compile.ratio(profile)),
            ratio_cell(
                compile
                    .fastest(profile, Hello::Graceful)
                    .zip(compile.fastest(profile, Hello::TokioMain))
                    .map(|(g, t)| g / t)
            ),
            ratio_cell(ratio(
                compile.cpu(profile, Hello::Graceful),
                compile.cpu(profile, Hello::TokioMain)
            ))
        );
    }
    md.push('\n');
    if let Some(tree) = &compile.tree {
        let _ = writeln!(
            md,
            "The default tree: `cargo tree -e normal -p graceful` in the hello-world, {} crates \
             (`graceful` included); fd-passing crates ({}) in it: {}.\n\n{}\n",
            tree.crates.len(),
            compile::FD_PASSING.join(", "),
            if tree.fd_passing.is_empty() {
                "none".to_owned()
            } else {
                tree.fd_passing.join(", ")
            },
            tree.crates
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

/// The spawn-throughput section of `results.md`.
fn spawn_table(md: &mut String, spawn: &Spawn) {
    let _ = writeln!(
        md,
        "## Spawn throughput\n\n\
         One process (`spawn_throughput`, inside `#[graceful::main]`, so that `graceful::spawn` \
         tracks for real): one or four tasks spawn {} tiny tasks in all (keeping the \
         `JoinHandle`s) and join them; {} rounds after a warm-up, each round every method at \
         each number of spawning tasks once, in a random order. Nanoseconds per task, from \
         the spawn to the join, median / p90.\n",
        spawn.total, spawn.rounds
    );
    let _ = writeln!(
        md,
        "| spawning tasks | {} | graceful / TaskTracker | graceful / `tokio::spawn` |",
        Method::ALL.map(Method::label).join(" | ")
    );
    let _ = writeln!(md, "| ---: | --- | --- | --- | ---: | ---: |");
    for spawning in SPAWNING {
        let per = |m| spawn.per_task(m, spawning);
        let _ = writeln!(
            md,
            "| {spawning} | {} | {} | {} | {} | {} |",
            ns_cell(per(Method::Tokio)),
            ns_cell(per(Method::Tracker)),
            ns_cell(per(Method::Graceful)),
            ratio_cell(ratio(per(Method::Graceful), per(Method::Tracker))),
            ratio_cell(ratio(per(Method::Graceful), per(Method::Tokio))),
        );
    }
    md.push('\n');
}

impl Results {
    /// The targets of the issue, evaluated on the medians.
    pub fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        let life = self.lifecycle.as_ref();
        let exit = |p, n| life.and_then(|l| l.exit(p, n));
        let ready = |p, n| life.and_then(|l| l.ready(p, n));
        let rss = |p, n| life.and_then(|l| l.startup_rss(p, n));

        targets.push(Target::ratio(
            "signal-to-exit, N = 10: graceful / by hand ≤ 1.10".to_owned(),
            ratio(
                exit(Program::Graceful, Some(10)),
                exit(Program::ByHand, Some(10)),
            ),
            1.10,
        ));
        let per_hook = life.and_then(|l| l.per_hook_us(Program::Graceful));
        targets.push(Target {
            what: "per-hook overhead (slope up to N = 10 000) ≤ 2 µs".to_owned(),
            measured: per_hook.map_or_else(|| "–".to_owned(), |us| format!("{us:.2} µs")),
            met: per_hook.map(|us| us <= 2.0),
            ratio: None,
        });
        if let Some(fn_hooks) = &self.fn_hooks {
            for condition in Condition::all() {
                targets.push(Target::ratio(
                    format!(
                        "signal-to-exit, {} plain `fn` hooks in {} orders, {}: graceful / by \
                         hand ≤ 1.30",
                        fn_hooks::N,
                        fn_hooks::N,
                        condition.label(fn_hooks.hogs)
                    ),
                    fn_hooks.ratio(condition),
                    1.30,
                ));
            }
        }
        let per_blocking = life.and_then(|l| l.per_hook_us(Program::GracefulBlocking));
        targets.push(Target {
            what: format!(
                "per blocking hook (slope over N = {}) ≤ 5 µs",
                list(&BLOCKING_NS)
            ),
            measured: per_blocking.map_or_else(|| "–".to_owned(), |us| format!("{us:.2} µs")),
            met: per_blocking.map(|us| us <= 5.0),
            ratio: None,
        });
        for spawning in SPAWNING {
            let r = self.spawn.as_ref().and_then(|sp| {
                ratio(
                    sp.per_task(Method::Graceful, spawning),
                    sp.per_task(Method::Tracker, spawning),
                )
            });
            targets.push(Target::ratio(
                format!(
                    "spawn throughput, {spawning} spawning task{}: `graceful::spawn` / \
                     `TaskTracker::spawn` ≤ 1.10",
                    if spawning == 1 { "" } else { "s" }
                ),
                r,
                1.10,
            ));
        }
        targets.push(Target::ratio(
            "exec-to-ready: graceful / `#[tokio::main]` ≤ 1.05".to_owned(),
            ratio(
                ready(Program::Graceful, Some(0)),
                ready(Program::TokioMain, None),
            ),
            1.05,
        ));
        let delta = rss(Program::Graceful, Some(0))
            .zip(rss(Program::TokioMain, None))
            .map(|(g, t)| g.median - t.median);
        targets.push(Target {
            what: "peak RSS through start-up: graceful within 1 MiB of `#[tokio::main]`".to_owned(),
            measured: delta.map_or_else(|| "–".to_owned(), |d| format!("{d:+.2} MiB")),
            met: delta.map(|d| d.abs() <= 1.0),
            ratio: None,
        });
        targets.push(Target::ratio(
            "exec-to-ready with 10 000 hooks: graceful / `#[tokio::main]` ≤ 1.30".to_owned(),
            ratio(
                ready(Program::Graceful, Some(10_000)),
                ready(Program::TokioMain, None),
            ),
            1.30,
        ));
        let one_phase = self.phase.as_ref().and_then(|p| p.exit(Program::Graceful));
        targets.push(Target {
            what: "100 hooks × 100 ms in one phase ≤ 120 ms".to_owned(),
            measured: one_phase.map_or_else(|| "–".to_owned(), |s| format!("{} ms", ms(s.median))),
            met: one_phase.map(|s| s.median <= 120.0),
            ratio: None,
        });
        let overshoot = match &self.drain {
            Some(Ok(drain)) => drain.overshoot(),
            _ => None,
        };
        targets.push(Target {
            what: "drain overshoot ≤ 20 ms".to_owned(),
            measured: overshoot.map_or_else(|| "–".to_owned(), |s| format!("{} ms", ms(s.median))),
            met: overshoot.map(|s| s.median <= 20.0),
            ratio: None,
        });
        if let Some(compile) = &self.compile {
            for profile in Profile::ALL {
                targets.push(Target::ratio(
                    format!(
                        "clean {} build: graceful / `#[tokio::main]` ≤ 1.35 (the goal: 1.20)",
                        profile.label()
                    ),
                    compile.ratio(profile),
                    1.35,
                ));
            }
            if let Some(tree) = &compile.tree {
                targets.push(Target {
                    what: "the default tree (`cargo tree -e normal`, no feature) ≤ 30 crates, \
                           none fd-passing"
                        .to_owned(),
                    measured: format!(
                        "{} crates, {}",
                        tree.crates.len(),
                        if tree.fd_passing.is_empty() {
                            "none fd-passing".to_owned()
                        } else {
                            format!("with {}", tree.fd_passing.join(", "))
                        }
                    ),
                    met: Some(tree.crates.len() <= 30 && tree.fd_passing.is_empty()),
                    ratio: None,
                });
            }
        }
        let (behind, rows) = self.behind_tgs();
        targets.push(Target {
            what: "ahead of tokio-graceful-shutdown on every row of the same work".to_owned(),
            measured: if rows == 0 {
                "–".to_owned()
            } else if behind.is_empty() {
                format!("ahead on {rows} of {rows} rows")
            } else {
                format!("behind on {}", behind.join(", "))
            },
            met: (rows > 0).then_some(behind.is_empty()),
            ratio: None,
        });
        targets
    }

    /// `ratios.tsv`: the machine and the date, then each ratio target's ratio.
    pub fn ratios_tsv(&self) -> String {
        let m = &self.machine;
        let mut tsv = format!("{}\t{}\t{}\t{}\n", m.date, m.cores, m.cpu, self.runs);
        for target in self.targets() {
            if let Some(r) = target.ratio {
                let _ = writeln!(tsv, "{}\t{r:.4}", target.what);
            }
        }
        tsv
    }

    /// How far this run's ratios are from the previous run's (relative difference, over the
    /// targets measured in both).
    pub fn spread(&self) -> Option<Spread> {
        let previous = self.previous.as_ref()?;
        let mut differences: Vec<f64> = self
            .targets()
            .iter()
            .filter_map(|t| Some((t.ratio? / previous.ratio(&t.what)? - 1.0).abs()))
            .collect();
        let median = Summary::of(&differences)?.median;
        differences.sort_by(f64::total_cmp);
        Some(Spread {
            largest: *differences.last()?,
            median,
            count: differences.len(),
        })
    }

    /// One sentence on the spread against the previous run, if there was one.
    fn spread_sentence(&self) -> Option<String> {
        let previous = self.previous.as_ref()?;
        let spread = self.spread()?;
        Some(format!(
            "Spread between runs: against the previous run on this machine ({}, {} runs of \
             each variant), the {} ratios of the targets differ by {:.1} % at the median and \
             {:.1} % at most (each ratio's previous value is in the targets' last column).",
            previous.date,
            previous.runs,
            spread.count,
            spread.median * 100.0,
            spread.largest * 100.0
        ))
    }

    /// The rows where graceful and tokio-graceful-shutdown do the same work and graceful's
    /// median is not lower: (those rows, how many rows were compared).
    pub fn behind_tgs(&self) -> (Vec<String>, usize) {
        let mut behind = Vec::new();
        let mut rows = 0;
        let mut compare = |row: String, g: Option<Summary>, t: Option<Summary>| {
            if let (Some(g), Some(t)) = (g, t) {
                rows += 1;
                if g.median > t.median {
                    behind.push(format!(
                        "{row} (+{:.1} %)",
                        (g.median / t.median - 1.0) * 100.0
                    ));
                }
            }
        };
        if let Some(life) = &self.lifecycle {
            for n in NS {
                compare(
                    format!("signal-to-exit N = {n}"),
                    life.exit(Program::Graceful, Some(n)),
                    life.exit(Program::Tgs, Some(n)),
                );
            }
            for n in NS {
                compare(
                    format!("exec-to-ready N = {n}"),
                    life.ready(Program::Graceful, Some(n)),
                    life.ready(Program::Tgs, Some(n)),
                );
            }
            for n in NS {
                compare(
                    format!("start-up RSS N = {n}"),
                    life.startup_rss(Program::Graceful, Some(n)),
                    life.startup_rss(Program::Tgs, Some(n)),
                );
            }
        }
        if let Some(phase) = &self.phase {
            compare(
                "100 × 100 ms in one phase".to_owned(),
                phase.exit(Program::Graceful),
                phase.exit(Program::Tgs),
            );
        }
        (behind, rows)
    }

    /// The whole of `results.md`.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let m = &self.machine;
        let _ = writeln!(md, "# graceful: benchmark results\n");
        let _ = writeln!(
            md,
            "Measured {} on {} cores ({}), Linux {}, {}. 1-minute load average {:.2} before and \
             {:.2} after: the machine is shared, so every round runs each variant once, in a \
             random order, and the ratios compare variants measured side by side.\n",
            m.date, m.cores, m.cpu, m.kernel, m.rustc, self.load.0, self.load.1
        );
        let _ = writeln!(
            md,
            "Reproduce with `cargo run --release -p graceful-bench` ({} runs of each variant, \
             {} rounds of the spawn throughput, {} clean builds of each hello-world in each \
             profile). Each variant is a real process: the harness starts it, reads its ready \
             line, waits {} ms (the plain `fn` hooks' own section: 20 and 50 ms), sends SIGTERM \
             and reaps it with `wait4`. Times in ms, median / p90.\n",
            self.runs,
            self.spawn.as_ref().map_or(0, |sp| sp.rounds),
            self.compile_runs,
            self.settle_ms
        );

        let _ = writeln!(md, "## Targets\n");
        let previous = self.previous.as_ref();
        let _ = writeln!(
            md,
            "| target | measured | | previous run |\n| --- | --- | --- | ---: |"
        );
        for target in self.targets() {
            let before = target
                .ratio
                .and(previous.and_then(|p| p.ratio(&target.what)));
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                target.what,
                target.measured,
                verdict(target.met),
                before.map_or_else(String::new, |r| format!("{r:.3}"))
            );
        }
        md.push('\n');
        if let Some(sentence) = self.spread_sentence() {
            let _ = writeln!(md, "{sentence}\n");
        }

        if let Some(life) = &self.lifecycle {
            self.lifecycle_tables(&mut md, life);
        }
        if let Some(fn_hooks) = &self.fn_hooks {
            fn_hooks_table(&mut md, fn_hooks);
        }
        if let Some(phase) = &self.phase {
            let _ = writeln!(
                md,
                "## Phase concurrency: 100 hooks of 100 ms sharing one order\n\n\
                 Signal-to-exit. By hand: the hooks spawned on a `JoinSet` and joined; \
                 tokio-graceful-shutdown: 100 subsystems that sleep 100 ms once the shutdown is \
                 requested.\n"
            );
            let _ = writeln!(md, "| | by hand | tokio-graceful-shutdown | graceful |");
            let _ = writeln!(md, "| --- | --- | --- | --- |");
            let _ = writeln!(
                md,
                "| ms | {} |\n",
                phase::PROGRAMS
                    .iter()
                    .map(|&p| cell(phase.exit(p)))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        if let Some(spawn) = &self.spawn {
            spawn_table(&mut md, spawn);
        }
        match &self.drain {
            Some(Ok(drain)) => {
                let _ = writeln!(
                    md,
                    "## Drain precision: `examples/http_server`\n\n\
                     {} requests of {} ms in flight when SIGTERM arrives \
                     (`GRACEFUL_DRAIN_DELAY=0s`: the example's 2 s delay for load balancers is \
                     a deliberate wait). Overshoot: the reaped exit minus the arrival of the \
                     last response's last byte; it includes the example's `close_access_log` \
                     hook (flush and `fsync`) and the process exit.\n",
                    drain::REQUESTS,
                    drain::REQUEST_MS
                );
                let _ = writeln!(
                    md,
                    "| | overshoot |\n| --- | --- |\n| ms | {} |\n",
                    cell(drain.overshoot())
                );
            }
            Some(Err(error)) => {
                let _ = writeln!(
                    md,
                    "## Drain precision: `examples/http_server`\n\nNot measured: {error}\n"
                );
            }
            None => {}
        }
        if let Some(compile) = &self.compile {
            compile_table(&mut md, compile);
        }

        let failures: Vec<&String> = [
            self.lifecycle.as_ref().map(|l| &l.failures),
            self.fn_hooks.as_ref().map(|f| &f.failures),
            self.phase.as_ref().map(|p| &p.failures),
            self.drain
                .as_ref()
                .and_then(|d| d.as_ref().ok())
                .map(|d| &d.failures),
            self.compile.as_ref().map(|c| &c.failures),
        ]
        .into_iter()
        .flatten()
        .flatten()
        .collect();
        if !failures.is_empty() {
            let _ = writeln!(md, "## Failed runs (left out of the figures)\n");
            for failure in failures {
                let _ = writeln!(md, "- {}", failure.replace('\n', " "));
            }
            md.push('\n');
        }
        md
    }

    /// `summary.md`: the headline figures, the plot and the command, on one page that the
    /// project's README and `bench/README.md` link to; `results.md` has every figure.
    pub fn summary(&self) -> String {
        let mut md = String::new();
        let m = &self.machine;
        let day = m.date.split(' ').next().unwrap_or_default();
        let life = self.lifecycle.as_ref();
        let median = |s: Option<Summary>| s.map_or_else(|| "–".to_owned(), |s| ms(s.median));
        let _ = writeln!(md, "# Performance\n");
        let _ = writeln!(
            md,
            "`graceful` against the physical floor (a process that blocks in `sigwait` and \
             exits), the same shutdown written by hand (`tokio::signal`, a `CancellationToken`, \
             N hooks awaited in turn) and \
             [`tokio-graceful-shutdown`](https://crates.io/crates/tokio-graceful-shutdown) \
             (N subsystems). Each is a real process, started, sent SIGTERM and reaped by the \
             harness; the variants are interleaved, {} runs each, on {} cores ({day}). \
             Signal-to-exit, median, ms (graceful runs its N no-op hooks one phase after \
             another):\n",
            self.runs, m.cores
        );
        let _ = writeln!(
            md,
            "| N | floor | by hand | tokio-graceful-shutdown | graceful |\n| ---: | ---: | ---: | ---: | ---: |"
        );
        for n in NS {
            let exit = |p, n| life.and_then(|l| l.exit(p, n));
            let _ = writeln!(
                md,
                "| {n} | {} | {} | {} | {} |",
                median(exit(Program::Floor, None)),
                median(exit(Program::ByHand, Some(n))),
                median(exit(Program::Tgs, Some(n))),
                median(exit(Program::Graceful, Some(n))),
            );
        }
        let _ = writeln!(md, "\n![signal-to-exit latency against N](latency.svg)\n");
        let per_hook = |p| {
            life.and_then(|l| l.per_hook_us(p))
                .map_or_else(|| "–".to_owned(), |us| format!("{us:.2}"))
        };
        let ready = |p, n| median(life.and_then(|l| l.ready(p, n)));
        let rss = |p, n| {
            life.and_then(|l| l.startup_rss(p, n))
                .map_or_else(|| "–".to_owned(), |s| format!("{:.2}", s.median))
        };
        let phase = |p| median(self.phase.as_ref().and_then(|ph| ph.exit(p)));
        let _ = writeln!(
            md,
            "| | `#[tokio::main]` | by hand | tokio-graceful-shutdown | graceful |\n| --- | ---: | ---: | ---: | ---: |"
        );
        let _ = writeln!(
            md,
            "| cost of one more hook (µs) | | {} | {} | {} |",
            per_hook(Program::ByHand),
            per_hook(Program::Tgs),
            per_hook(Program::Graceful)
        );
        for n in [0, 10_000] {
            let _ = writeln!(
                md,
                "| exec-to-ready, N = {n} (ms) | {} | {} | {} | {} |",
                ready(Program::TokioMain, None),
                ready(Program::ByHand, Some(n)),
                ready(Program::Tgs, Some(n)),
                ready(Program::Graceful, Some(n)),
            );
        }
        let _ = writeln!(
            md,
            "| peak RSS through start-up, N = 0 (MiB) | {} | {} | {} | {} |",
            rss(Program::TokioMain, None),
            rss(Program::ByHand, Some(0)),
            rss(Program::Tgs, Some(0)),
            rss(Program::Graceful, Some(0)),
        );
        if let Some(fn_hooks) = &self.fn_hooks {
            for condition in Condition::all() {
                let _ = writeln!(
                    md,
                    "| {} plain `fn` hooks in {} orders, {}, signal-to-exit (ms) | | {} | | {} (× {}) |",
                    fn_hooks::N,
                    fn_hooks::N,
                    condition.label(fn_hooks.hogs),
                    median(fn_hooks.exit(condition, Program::ByHandBlocking)),
                    median(fn_hooks.exit(condition, Program::GracefulBlocking)),
                    ratio_cell(fn_hooks.ratio(condition)),
                );
            }
        }
        let _ = writeln!(
            md,
            "| cost of one more plain `fn` hook (µs) | | {} | | {} |",
            per_hook(Program::ByHandBlocking),
            per_hook(Program::GracefulBlocking)
        );
        let _ = writeln!(
            md,
            "| 100 hooks of 100 ms in one phase (ms) | | {} | {} | {} |\n",
            phase(Program::ByHand),
            phase(Program::Tgs),
            phase(Program::Graceful)
        );
        if let Some(spawn) = &self.spawn {
            let ns = |m, k| {
                spawn
                    .per_task(m, k)
                    .map_or_else(|| "–".to_owned(), |s| format!("{:.0}", s.median))
            };
            let times = |k| {
                ratio_cell(ratio(
                    spawn.per_task(Method::Graceful, k),
                    spawn.per_task(Method::Tracker, k),
                ))
            };
            let _ = writeln!(
                md,
                "Spawn: a task started with `graceful::spawn` costs {} ns from its spawn to its \
                 join with four tasks spawning ({} with one), against {} ({}) for tokio-util's \
                 `TaskTracker::spawn` (× {} and × {}) and {} ({}) for `tokio::spawn`, medians \
                 measured side by side in one process.\n",
                ns(Method::Graceful, 4),
                ns(Method::Graceful, 1),
                ns(Method::Tracker, 4),
                ns(Method::Tracker, 1),
                times(4),
                times(1),
                ns(Method::Tokio, 4),
                ns(Method::Tokio, 1),
            );
        }
        if let Some(Ok(drain)) = &self.drain {
            let _ = writeln!(
                md,
                "Drain: `examples/http_server` exits {} ms (median) after answering the last of \
                 {} requests of {} ms that were in flight at the signal.\n",
                median(drain.overshoot()),
                drain::REQUESTS,
                drain::REQUEST_MS
            );
        }
        if let Some(compile) = &self.compile {
            let profile = |p: Profile| {
                format!(
                    "{} s against {} s in {} (× {})",
                    median(compile.wall(p, Hello::Graceful)),
                    median(compile.wall(p, Hello::TokioMain)),
                    p.label(),
                    ratio_cell(compile.ratio(p))
                )
            };
            let _ = writeln!(
                md,
                "Compile: a `#[graceful::main]` hello-world builds from clean in {}, {} \
                 (medians), against a `#[tokio::main]` one whose tokio has {}.{}\n",
                profile(Profile::Debug),
                profile(Profile::Release),
                TOKIO_FEATURES,
                compile
                    .tree
                    .as_ref()
                    .map_or_else(String::new, |tree| format!(
                        " The default `graceful` (no feature) is a tree of {} crates, itself \
                     included ({}).",
                        tree.crates.len(),
                        if tree.fd_passing.is_empty() {
                            "none of them fd-passing".to_owned()
                        } else {
                            format!("with {}", tree.fd_passing.join(", "))
                        }
                    ))
            );
        }
        if let Some(sentence) = self.spread_sentence() {
            let _ = writeln!(md, "{sentence}\n");
        }
        let _ = writeln!(
            md,
            "Every figure with its p90, the targets and the machine are in \
             [`results.md`](results.md); serving (requests per second and p99 against \
             `axum::serve`, hyper-util and tonic, idle connections at scale) in \
             [`serving.md`](serving.md). The benchmarks are not \
             part of `cargo test` (which only checks that every variant still starts and stops); \
             to reproduce them (a few minutes; quieter machines give steadier figures):\n\n\
             ```sh\ncargo run --release -p graceful-bench\n```"
        );
        md
    }

    fn lifecycle_tables(&self, md: &mut String, life: &Lifecycle) {
        let _ = writeln!(
            md,
            "## Signal-to-exit\n\n\
             From `kill(SIGTERM)` to the reaped exit, with N no-op async hooks (graceful: each \
             in its own phase, run one after another), N no-op hooks awaited in turn (by hand), \
             N subsystems that only wait for the shutdown (tokio-graceful-shutdown).\n\n\
             ![signal-to-exit latency against N](latency.svg)\n"
        );
        let _ = writeln!(
            md,
            "| N | floor | by hand | tokio-graceful-shutdown | graceful | graceful / by hand | graceful / tgs |"
        );
        let _ = writeln!(md, "| ---: | --- | --- | --- | --- | ---: | ---: |");
        for n in NS {
            let g = life.exit(Program::Graceful, Some(n));
            let _ = writeln!(
                md,
                "| {n} | {} | {} | {} | {} | {} | {} |",
                cell(life.exit(Program::Floor, None)),
                cell(life.exit(Program::ByHand, Some(n))),
                cell(life.exit(Program::Tgs, Some(n))),
                cell(g),
                ratio_cell(ratio(g, life.exit(Program::ByHand, Some(n)))),
                ratio_cell(ratio(g, life.exit(Program::Tgs, Some(n)))),
            );
        }
        let us = |p| {
            life.per_hook_us(p)
                .map_or_else(|| "–".to_owned(), |us| format!("{us:.2}"))
        };
        let _ = writeln!(
            md,
            "\n**Per-hook overhead** (µs per hook: least-squares slope of the median \
             signal-to-exit over N): by hand {}, tokio-graceful-shutdown {}, graceful {}.\n",
            us(Program::ByHand),
            us(Program::Tgs),
            us(Program::Graceful)
        );

        let _ = writeln!(
            md,
            "## Blocking hooks\n\n\
             Signal-to-exit with N plain `fn` hooks, each in its own order (graceful runs \
             consecutive blocking hooks in a row on one blocking thread, each still under its \
             own limit), against the same N functions called one after another by hand, on \
             the runtime thread, once the application task has stopped. Each hook calls \
             `graceful_bench::blocking_work` (`black_box(())`). tokio-graceful-shutdown has \
             no equivalent: its subsystems are async and not ordered.\n"
        );
        let _ = writeln!(
            md,
            "| N | by hand, `fn` hooks | graceful, `fn` hooks | graceful / by hand | graceful, async hooks (same N) |"
        );
        let _ = writeln!(md, "| ---: | --- | --- | ---: | --- |");
        for n in BLOCKING_NS {
            let g = life.exit(Program::GracefulBlocking, Some(n));
            let _ = writeln!(
                md,
                "| {n} | {} | {} | {} | {} |",
                cell(life.exit(Program::ByHandBlocking, Some(n))),
                cell(g),
                ratio_cell(ratio(g, life.exit(Program::ByHandBlocking, Some(n)))),
                cell(life.exit(Program::Graceful, Some(n))),
            );
        }
        let _ = writeln!(
            md,
            "\n**Per blocking hook** (µs: slope of the median signal-to-exit over N = {}): by \
             hand {}, graceful {}.\n",
            list(&BLOCKING_NS),
            us(Program::ByHandBlocking),
            us(Program::GracefulBlocking)
        );

        let _ = writeln!(
            md,
            "## Start-up\n\nExec-to-ready: from `spawn` to the ready line read, printed once \
             the signal handlers are installed (the bare `#[tokio::main]` installs none). \
             Peak RSS through start-up: the child's `VmHWM` just before the signal; over the \
             whole life, shutdown included: `ru_maxrss` from `wait4`, which Linux never \
             reports below the spawning process's own peak ({:.2} MiB for this harness: it \
             carries across the `exec` of a `vfork`-style spawn). MiB, medians.\n",
            self.harness_rss_mib
        );
        let _ = writeln!(
            md,
            "| N | floor | `#[tokio::main]` | by hand | tokio-graceful-shutdown | graceful | graceful / `#[tokio::main]` |"
        );
        let _ = writeln!(md, "| ---: | --- | --- | --- | --- | --- | ---: |");
        for n in NS {
            let g = life.ready(Program::Graceful, Some(n));
            let _ = writeln!(
                md,
                "| {n} | {} | {} | {} | {} | {} | {} |",
                cell(life.ready(Program::Floor, None)),
                cell(life.ready(Program::TokioMain, None)),
                cell(life.ready(Program::ByHand, Some(n))),
                cell(life.ready(Program::Tgs, Some(n))),
                cell(g),
                ratio_cell(ratio(g, life.ready(Program::TokioMain, None))),
            );
        }
        let _ = writeln!(
            md,
            "\n| N: peak RSS, start-up / whole life (MiB) | floor | `#[tokio::main]` | by hand | tokio-graceful-shutdown | graceful | graceful − `#[tokio::main]` (start-up) |"
        );
        let _ = writeln!(md, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        let mib = |p: Program, n: Option<usize>| match (life.startup_rss(p, n), life.life_rss(p, n))
        {
            (Some(startup), Some(whole)) => format!("{:.2} / {:.2}", startup.median, whole.median),
            _ => "–".to_owned(),
        };
        for n in NS {
            let g = life.startup_rss(Program::Graceful, Some(n));
            let t = life.startup_rss(Program::TokioMain, None);
            let _ = writeln!(
                md,
                "| {n} | {} | {} | {} | {} | {} | {} |",
                mib(Program::Floor, None),
                mib(Program::TokioMain, None),
                mib(Program::ByHand, Some(n)),
                mib(Program::Tgs, Some(n)),
                mib(Program::Graceful, Some(n)),
                g.zip(t).map_or_else(
                    || "–".to_owned(),
                    |(g, t)| format!("{:+.2}", g.median - t.median)
                ),
            );
        }
        md.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds() {
        assert_eq!(ms(0.41234), "0.412");
        assert_eq!(ms(12.345), "12.35");
        assert_eq!(ms(1530.2), "1530");
    }
}
