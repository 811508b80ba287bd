//! The benchmark harness: graceful against the physical floor, a hand-written shutdown and
//! tokio-graceful-shutdown, as real processes it starts, signals and times from outside.
//!
//! ```text
//! cargo run --release -p graceful-bench
//! ```
//!
//! builds the variants (`src/bin`) and `examples/http_server` in release mode, measures, and
//! writes `benches/results/results.md`, `benches/results/latency.svg` and
//! `benches/results/summary.md` (the headline figures, which the README links to). `--help`
//! lists the options (fewer runs, one measurement only, another output directory).
//!
//! | module | measures |
//! | --- | --- |
//! | [`lifecycle`] | signal-to-exit, exec-to-ready, peak RSS, per-hook overhead (items 1–3), async and plain `fn` hooks |
//! | [`fn_hooks`] | 10 plain `fn` hooks with the pause before the signal at 20 and 50 ms, with and without every core kept busy |
//! | [`phase`] | 100 hooks × 100 ms sharing one order (item 4) |
//! | [`spawn`] | spawn throughput: `tokio::spawn`, `TaskTracker::spawn`, `graceful::spawn` |
//! | [`drain`] | `examples/http_server`: exit minus last response (item 5) |
//! | [`compile`] | clean build of a hello-world, debug and release, graceful against `#[tokio::main]`; the default tree (item 6) |
//! | [`serving`] | requests per second and p99 of `graceful::http::serve` against `axum::serve` and hyper-util, of `graceful::grpc::Server` against tonic; idle keep-alive connections at scale (`serving.md`) |
//!
//! [`child`] starts, signals and reaps a process; [`rounds`] interleaves the variants;
//! [`stats`], [`report`] and [`plot`] turn the samples into `results.md` and `latency.svg`;
//! [`report`] also keeps the targets' ratios in `ratios.tsv`, which the next run on the same
//! machine compares with its own (the spread between runs).

mod child;
mod compile;
mod drain;
mod fn_hooks;
mod lifecycle;
mod machine;
mod phase;
mod plot;
mod report;
mod rounds;
mod serving;
mod spawn;
mod stats;
mod variants;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::machine::Machine;
use crate::report::Results;

const USAGE: &str = "\
usage: cargo run --release -p graceful-bench -- [options]

  --runs N           runs of each variant, interleaved (default 50, at least 30 for the record)
  --compile-runs N   clean builds of each hello-world, interleaved (default 3)
  --spawn-rounds N   rounds of the spawn-throughput measurement (default 15)
  --settle-ms N      pause between the ready line and the signal (default 50)
  --serving-rounds N rounds of the serving benchmark, every server interleaved
                     (default 5)
  --scale-rounds N   rounds of the idle-connection rows of the serving benchmark
                     (default 3; 0 to skip them)
  --only LIST        comma-separated among lifecycle, fn-hooks, phase, spawn, drain,
                     compile, serving
                     (default: all)
  --out DIR          where to write results.md, latency.svg, summary.md and ratios.tsv,
                     and serving.md and serving.tsv (the ratios.tsv and serving.tsv already
                     there are the previous run, compared with)
                     (default benches/results)
  --no-build         use the binaries already built in target/release
";

/// What to run, from the command line.
struct Options {
    runs: usize,
    compile_runs: usize,
    spawn_rounds: usize,
    serving_rounds: usize,
    scale_rounds: usize,
    settle: Duration,
    only: Vec<String>,
    out: PathBuf,
    build: bool,
}

const MEASUREMENTS: [&str; 7] = [
    "lifecycle",
    "fn-hooks",
    "phase",
    "spawn",
    "drain",
    "compile",
    "serving",
];

/// The servers of the serving benchmark, all it needs built.
const SERVERS: [&str; 5] = [
    "serve_graceful",
    "serve_axum",
    "serve_hyper",
    "grpc_graceful",
    "grpc_tonic",
];

impl Options {
    fn parse(workspace: &Path) -> Result<Options, String> {
        let mut options = Options {
            runs: 50,
            compile_runs: 3,
            spawn_rounds: graceful_bench::spawns::ROUNDS,
            serving_rounds: 5,
            scale_rounds: 3,
            settle: Duration::from_millis(50),
            only: MEASUREMENTS.iter().map(|&m| m.to_owned()).collect(),
            out: workspace.join("benches/results"),
            build: true,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            let number = |name: &str, text: String| {
                text.parse::<u64>()
                    .map_err(|e| format!("{name} {text:?}: {e}"))
            };
            match arg.as_str() {
                "--runs" => options.runs = number("--runs", value("--runs")?)? as usize,
                "--compile-runs" => {
                    options.compile_runs =
                        number("--compile-runs", value("--compile-runs")?)? as usize;
                }
                "--spawn-rounds" => {
                    options.spawn_rounds =
                        number("--spawn-rounds", value("--spawn-rounds")?)? as usize;
                }
                "--serving-rounds" => {
                    options.serving_rounds =
                        number("--serving-rounds", value("--serving-rounds")?)? as usize;
                }
                "--scale-rounds" => {
                    options.scale_rounds =
                        number("--scale-rounds", value("--scale-rounds")?)? as usize;
                }
                "--settle-ms" => {
                    options.settle =
                        Duration::from_millis(number("--settle-ms", value("--settle-ms")?)?);
                }
                "--only" => {
                    let list = value("--only")?;
                    options.only = list.split(',').map(|m| m.trim().to_owned()).collect();
                    if let Some(unknown) = options
                        .only
                        .iter()
                        .find(|m| !MEASUREMENTS.contains(&m.as_str()))
                    {
                        return Err(format!("--only: unknown measurement {unknown:?}"));
                    }
                }
                "--out" => options.out = PathBuf::from(value("--out")?),
                "--no-build" => options.build = false,
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        if options.runs == 0
            || options.compile_runs == 0
            || options.spawn_rounds == 0
            || options.serving_rounds == 0
        {
            return Err(
                "--runs, --compile-runs, --spawn-rounds and --serving-rounds must be at least 1"
                    .to_owned(),
            );
        }
        Ok(options)
    }

    fn wants(&self, measurement: &str) -> bool {
        self.only.iter().any(|m| m == measurement)
    }

    /// Whether any measurement of `results.md` is wanted (the serving benchmark writes a page
    /// of its own).
    fn wants_results(&self) -> bool {
        self.only.iter().any(|m| m != "serving")
    }
}

fn main() -> ExitCode {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the bench crate is in the workspace")
        .to_path_buf();
    let options = match Options::parse(&workspace) {
        Ok(options) => options,
        Err(error) => {
            if !error.is_empty() {
                eprintln!("graceful-bench: {error}\n");
            }
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&workspace, &options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("graceful-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(workspace: &Path, options: &Options) -> Result<(), String> {
    if cfg!(debug_assertions) {
        eprintln!("graceful-bench: a debug build of the harness; run it with --release");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let bin_dir = release_dir()?;
    let _alone = alone(&bin_dir)?;
    let server = bin_dir.join("examples/http_server");
    let has_server = workspace.join("examples/http_server.rs").exists();
    if options.build {
        if options.wants_results() {
            cargo_build(
                &cargo,
                workspace,
                &["-p", "graceful-bench", "--bins", "--features", "large"],
            )?;
        } else {
            let mut args = vec!["-p", "graceful-bench"];
            for server in SERVERS {
                args.extend(["--bin", server]);
            }
            cargo_build(&cargo, workspace, &args)?;
        }
        if options.wants("drain") && has_server {
            cargo_build(&cargo, workspace, &["--example", "http_server"])?;
        }
    }

    let machine = Machine::describe();
    eprintln!(
        "graceful-bench: {} cores, load {:.2}; {} runs of each variant",
        machine.cores,
        machine::load(),
        options.runs
    );
    if options.wants("serving") {
        let serving = serving::measure(
            &bin_dir,
            options.serving_rounds,
            options.scale_rounds,
            &options.out,
        )?;
        let page = serving::write(&serving, &options.out)?;
        eprintln!("graceful-bench: wrote {}", page.display());
    }
    if !options.wants_results() {
        return Ok(());
    }
    let load_before = machine::load();
    let lifecycle = options
        .wants("lifecycle")
        .then(|| lifecycle::measure(&bin_dir, options.runs, options.settle))
        .transpose()?;
    let fn_hooks = options
        .wants("fn-hooks")
        .then(|| fn_hooks::measure(&bin_dir, options.runs))
        .transpose()?;
    let phase = options
        .wants("phase")
        .then(|| phase::measure(&bin_dir, options.runs, options.settle))
        .transpose()?;
    let spawn = options
        .wants("spawn")
        .then(|| spawn::measure(&bin_dir, options.spawn_rounds))
        .transpose()?;
    let drain = options.wants("drain").then(|| {
        if has_server && server.exists() {
            drain::measure(&server, options.runs)
        } else {
            Err(format!("{} is not built", server.display()))
        }
    });
    let compile = options
        .wants("compile")
        .then(|| compile::measure(&cargo, workspace, options.compile_runs))
        .transpose()?;
    let load_after = machine::load();

    let previous = report::Previous::read(&options.out.join(report::RATIOS), &machine);
    let results = Results {
        previous,
        machine,
        runs: options.runs,
        compile_runs: options.compile_runs,
        settle_ms: u64::try_from(options.settle.as_millis()).unwrap_or(u64::MAX),
        load: (load_before, load_after),
        harness_rss_mib: child::peak_rss_kib("/proc/self/status").unwrap_or(0) as f64 / 1024.0,
        lifecycle,
        fn_hooks,
        phase,
        spawn,
        drain,
        compile,
    };
    write_results(&results, &options.out)
}

/// Writes `results.md`, `summary.md` (and `latency.svg` when the latencies were
/// measured), and prints the Markdown.
fn write_results(results: &Results, out: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let markdown = results.markdown();
    let md_path = out.join("results.md");
    std::fs::write(&md_path, &markdown).map_err(|e| format!("{}: {e}", md_path.display()))?;
    if let Some(life) = &results.lifecycle {
        let subtitle = format!(
            "{} cores, {}, {} runs",
            results.machine.cores, results.machine.date, results.runs
        );
        let svg = plot::latency_svg(&plot::series(life), &subtitle);
        let svg_path = out.join("latency.svg");
        std::fs::write(&svg_path, svg).map_err(|e| format!("{}: {e}", svg_path.display()))?;
    }
    let ratios = out.join(report::RATIOS);
    std::fs::write(&ratios, results.ratios_tsv())
        .map_err(|e| format!("{}: {e}", ratios.display()))?;
    let summary = out.join("summary.md");
    std::fs::write(&summary, results.summary())
        .map_err(|e| format!("{}: {e}", summary.display()))?;
    println!("{markdown}");
    eprintln!("graceful-bench: wrote {}", md_path.display());
    Ok(())
}

/// Waits until no other run of the harness is measuring on this machine (two runs at once
/// would each measure the other), and holds a lock on `target/graceful-bench.lock` until
/// dropped.
fn alone(bin_dir: &Path) -> Result<Flock<File>, String> {
    let path = bin_dir
        .parent()
        .unwrap_or(bin_dir)
        .join("graceful-bench.lock");
    let file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(lock),
        Err((file, Errno::EWOULDBLOCK)) => {
            eprintln!(
                "graceful-bench: another run is measuring ({} is locked); waiting for it to end",
                path.display()
            );
            Flock::lock(file, FlockArg::LockExclusive)
                .map_err(|(_, e)| format!("lock {}: {e}", path.display()))
        }
        Err((_, e)) => Err(format!("lock {}: {e}", path.display())),
    }
}

/// `target/release`, next to this executable's profile directory: where the variants are
/// built, whichever profile the harness itself was built with.
fn release_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let profile_dir = exe
        .parent()
        .ok_or_else(|| format!("{} has no parent directory", exe.display()))?;
    let target = profile_dir
        .parent()
        .ok_or_else(|| format!("{} has no parent directory", profile_dir.display()))?;
    Ok(target.join("release"))
}

fn cargo_build(cargo: &str, workspace: &Path, args: &[&str]) -> Result<(), String> {
    let status = Command::new(cargo)
        .arg("build")
        .arg("--release")
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .args(args)
        .status()
        .map_err(|e| format!("{cargo} build: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo build --release {} failed", args.join(" ")))
    }
}
