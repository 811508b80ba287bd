//! Item 6, compile cost: the clean build, debug and release, of a hello-world with
//! `#[graceful::main]` against the same with `#[tokio::main]`, interleaved, each in a fresh
//! target directory; and the dependency tree of the default `graceful` (no features).
//!
//! The two projects are written to a temporary directory with a copy of the workspace's
//! `Cargo.lock` (the same versions, found in the local registry cache: the timed builds run
//! `--offline`); `graceful` is a path dependency on this workspace, with no feature, as a
//! user's first line would be. The `#[tokio::main]` one asks tokio for what a service that
//! stops by hand uses: the multi-threaded runtime, `signal`, `time`, `sync`, `net` and the
//! attribute (`macros`).
//!
//! A clean build keeps both cores busy for seconds, so a neighbour's burst skews it more than
//! it skews a process that lives a millisecond: each build waits for a quiet moment (at most
//! 90 s), and its CPU time (from `wait4`: cargo and every rustc it waited for) is reported
//! next to the wall time, as the figure a neighbour barely changes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use crate::stats::Summary;
use crate::{child, machine, rounds};

/// The two build profiles: what `cargo build` and `cargo build --release` compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Profile {
    Debug,
    Release,
}

impl Profile {
    pub const ALL: [Profile; 2] = [Profile::Debug, Profile::Release];

    /// The name in the tables.
    pub fn label(self) -> &'static str {
        match self {
            Profile::Debug => "debug",
            Profile::Release => "release",
        }
    }

    fn args(self) -> &'static [&'static str] {
        match self {
            Profile::Debug => &["build", "--offline", "--quiet"],
            Profile::Release => &["build", "--release", "--offline", "--quiet"],
        }
    }
}

/// The crates that pass file descriptors between processes (or exist here to): none of them
/// may be in the default tree.
pub const FD_PASSING: [&str; 6] = [
    "command-fds",
    "listenfd",
    "rustix",
    "sendfd",
    "passfd",
    "uds",
];

/// `cargo tree -e normal` of the default `graceful`, as a user's project resolves it.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    /// Every crate of the tree, `graceful` itself included, once each: `name vX.Y.Z`.
    pub crates: Vec<String>,
    /// Those among [`FD_PASSING`].
    pub fd_passing: Vec<String>,
}

/// The two hello-worlds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Hello {
    TokioMain,
    Graceful,
}

impl Hello {
    const ALL: [Hello; 2] = [Hello::TokioMain, Hello::Graceful];

    fn dir_name(self) -> &'static str {
        match self {
            Hello::TokioMain => "hello-tokio",
            Hello::Graceful => "hello-graceful",
        }
    }

    fn manifest(self, workspace: &Path) -> String {
        let dependency = match self {
            Hello::TokioMain => r#"tokio = { version = "1.54", features = ["rt-multi-thread", "signal", "time", "sync", "net", "macros"] }"#.to_owned(),
            Hello::Graceful => format!("graceful = {{ path = {:?} }}", workspace.display().to_string()),
        };
        format!(
            "[package]\nname = \"{}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\n{dependency}\n\n[workspace]\n",
            self.dir_name()
        )
    }

    fn main_rs(self) -> &'static str {
        match self {
            Hello::TokioMain => {
                "#[tokio::main]\nasync fn main() {\n    println!(\"Hello, world!\");\n}\n"
            }
            Hello::Graceful => {
                "#[graceful::main]\nasync fn main() {\n    println!(\"Hello, world!\");\n}\n"
            }
        }
    }
}

/// One clean build.
#[derive(Clone, Copy, Debug)]
pub struct Build {
    /// Wall-clock time: what the user waits.
    pub wall: Duration,
    /// User and system CPU time of cargo and every rustc it ran: what a busy neighbour
    /// barely changes.
    pub cpu: Duration,
    /// The share of the cores that others kept busy just before (see [`QUIET`]).
    pub busy_before: f64,
}

/// A build starts once less than this share of the cores is busy (or after [`PATIENCE`]).
pub const QUIET: f64 = 0.25;
const PATIENCE: Duration = Duration::from_secs(90);

/// The builds of each hello-world in each profile, and the default tree.
#[derive(Debug, Default)]
pub struct Compile {
    pub builds: BTreeMap<(Profile, Hello), Vec<Build>>,
    pub tree: Option<Tree>,
    pub failures: Vec<String>,
}

impl Compile {
    fn of(&self, profile: Profile, hello: Hello) -> &[Build] {
        self.builds
            .get(&(profile, hello))
            .map_or(&[], Vec::as_slice)
    }

    /// Clean build wall time, s.
    pub fn wall(&self, profile: Profile, hello: Hello) -> Option<Summary> {
        seconds(self.of(profile, hello).iter().map(|b| b.wall))
    }

    /// CPU time of the build (cargo and every rustc), s.
    pub fn cpu(&self, profile: Profile, hello: Hello) -> Option<Summary> {
        seconds(self.of(profile, hello).iter().map(|b| b.cpu))
    }

    /// The fastest wall time, s: noise only ever adds time.
    pub fn fastest(&self, profile: Profile, hello: Hello) -> Option<f64> {
        self.of(profile, hello)
            .iter()
            .map(|b| b.wall.as_secs_f64())
            .min_by(f64::total_cmp)
    }

    /// The wall-time ratio of the medians, graceful / `#[tokio::main]`.
    pub fn ratio(&self, profile: Profile) -> Option<f64> {
        Some(
            self.wall(profile, Hello::Graceful)?.median
                / self.wall(profile, Hello::TokioMain)?.median,
        )
    }

    /// The busiest the cores were just before a build.
    pub fn busiest_before(&self) -> f64 {
        self.builds
            .values()
            .flatten()
            .map(|b| b.busy_before)
            .fold(0.0, f64::max)
    }
}

fn seconds(durations: impl Iterator<Item = Duration>) -> Option<Summary> {
    let secs: Vec<f64> = durations.map(|d| d.as_secs_f64()).collect();
    Summary::of(&secs)
}

/// Builds each hello-world `runs` times, interleaved, from clean.
pub fn measure(cargo: &str, workspace: &Path, runs: usize) -> Result<Compile, String> {
    let root = std::env::temp_dir().join(format!("graceful-bench-compile-{}", std::process::id()));
    let result = measure_in(cargo, workspace, &root, runs);
    let _ = std::fs::remove_dir_all(&root);
    result
}

fn measure_in(cargo: &str, workspace: &Path, root: &Path, runs: usize) -> Result<Compile, String> {
    let lock = workspace.join("Cargo.lock");
    for hello in Hello::ALL {
        let dir = root.join(hello.dir_name());
        std::fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
        write(&dir.join("Cargo.toml"), &hello.manifest(workspace))?;
        write(&dir.join("src/main.rs"), hello.main_rs())?;
        std::fs::copy(&lock, dir.join("Cargo.lock"))
            .map_err(|e| format!("copy {}: {e}", lock.display()))?;
        // Not timed: makes sure every crate is in the local cache (online only if missing).
        let fetched = Command::new(cargo)
            .arg("fetch")
            .current_dir(&dir)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("cargo fetch: {e}"))?;
        if !fetched.success() {
            return Err(format!("cargo fetch in {} failed", dir.display()));
        }
    }
    let mut compile = Compile {
        tree: Some(tree(cargo, &root.join(Hello::Graceful.dir_name()))?),
        ..Compile::default()
    };
    let builds: Vec<(Profile, Hello)> = Profile::ALL
        .iter()
        .flat_map(|&profile| Hello::ALL.map(|hello| (profile, hello)))
        .collect();
    compile.failures = rounds::interleaved("compile", &builds, runs, |(profile, hello)| {
        let took = build(
            cargo,
            profile,
            &root.join(hello.dir_name()),
            &root.join("target"),
        )?;
        compile
            .builds
            .entry((profile, hello))
            .or_default()
            .push(took);
        Ok(())
    })?;
    Ok(compile)
}

/// `cargo tree -e normal -p graceful` in the graceful hello-world: the crates a user's build
/// of the default `graceful` compiles (for this machine's target), each once.
fn tree(cargo: &str, dir: &Path) -> Result<Tree, String> {
    let out = Command::new(cargo)
        .args([
            "tree",
            "-e",
            "normal",
            "-p",
            "graceful",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cargo tree: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo tree in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // Each line is `name vX.Y.Z`, then `(proc-macro)`, a path or `(*)` for a repeat.
    let mut crates: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some(format!("{} {}", words.next()?, words.next()?))
        })
        .collect();
    crates.sort();
    crates.dedup();
    let fd_passing = crates
        .iter()
        .filter(|c| FD_PASSING.contains(&c.split(' ').next().unwrap_or_default()))
        .cloned()
        .collect();
    Ok(Tree { crates, fd_passing })
}

/// One clean `cargo build --offline` of the project in `dir` in `profile`, with a target
/// directory emptied first, started in a quiet moment if one comes.
fn build(cargo: &str, profile: Profile, dir: &Path, target: &Path) -> Result<Build, String> {
    if target.exists() {
        std::fs::remove_dir_all(target).map_err(|e| format!("{}: {e}", target.display()))?;
    }
    let log_path = dir.join("build.log");
    let log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let busy_before = machine::wait_quiet(QUIET, PATIENCE);
    let started = Instant::now();
    let child = Command::new(cargo)
        .args(profile.args())
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_BUILD_RUSTC_WRAPPER")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cargo build: {e}"))?;
    let pid = Pid::from_raw(i32::try_from(child.id()).map_err(|e| e.to_string())?);
    let reaped = child::wait4(pid).map_err(|e| format!("wait4(cargo): {e}"))?;
    let wall = started.elapsed();
    if !reaped.status.success() {
        return Err(format!(
            "cargo build in {} failed: {}",
            dir.display(),
            std::fs::read_to_string(&log_path).unwrap_or_default()
        ));
    }
    Ok(Build {
        wall,
        cpu: reaped.cpu,
        busy_before,
    })
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}
