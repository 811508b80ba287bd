//! Spawn throughput, in one process: `tokio::spawn`, tokio-util's `TaskTracker::spawn` and
//! `graceful::spawn`, each driven by one and by four spawning tasks, interleaved round by
//! round in a random order on the same runtime (the `spawn_throughput` binary runs this
//! inside `#[graceful::main]`, so `graceful::spawn` tracks for real).
//!
//! One sample: the spawning tasks wait at a barrier, then each spawns its share of `total`
//! small tasks (keeping the `JoinHandle`s in a vector sized in advance) and awaits them all.
//! The time from the barrier to the last spawning task's end, divided by `total`, is the cost
//! of a task from its spawn to its join: the spawn, the run, the tracker's bookkeeping at the
//! end, the join. Spawning and running overlap, as they do in a service.
//!
//! Each sample is one line on stdout: `spawn <method> <spawning tasks> <ns per task>`.

use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

/// A way of spawning a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// `tokio::spawn`: untracked, the floor.
    Tokio,
    /// `TaskTracker::spawn`: counted, what graceful builds on.
    Tracker,
    /// `graceful::spawn`: counted and named for the drain's report.
    Graceful,
}

impl Method {
    /// In table order.
    pub const ALL: [Method; 3] = [Method::Tokio, Method::Tracker, Method::Graceful];

    /// The name on the output lines.
    pub fn key(self) -> &'static str {
        match self {
            Method::Tokio => "tokio",
            Method::Tracker => "tracker",
            Method::Graceful => "graceful",
        }
    }

    /// The method named `key`.
    pub fn from_key(key: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.key() == key)
    }

    /// The name in the tables.
    pub fn label(self) -> &'static str {
        match self {
            Method::Tokio => "`tokio::spawn`",
            Method::Tracker => "`TaskTracker::spawn`",
            Method::Graceful => "`graceful::spawn`",
        }
    }
}

/// The numbers of spawning tasks measured.
pub const SPAWNING: [usize; 2] = [1, 4];

/// The tasks spawned per sample, shared among the spawning tasks, by default.
pub const TOTAL: usize = 200_000;

/// The rounds measured by default (after one warm-up round, not reported).
pub const ROUNDS: usize = 15;

/// One spawned task: as small as a task gets, and not optimised away.
async fn small(i: usize) {
    std::hint::black_box(i);
}

/// `each` tasks spawned with `spawn`, then joined.
async fn spawn_and_join(each: usize, spawn: impl Fn(usize) -> JoinHandle<()>) {
    let mut handles = Vec::with_capacity(each);
    for i in 0..each {
        handles.push(spawn(i));
    }
    for handle in handles {
        handle.await.expect("a spawned task");
    }
}

/// One sample: `spawning` tasks spawn `total` tasks in all with `method`; returns the time
/// per task, ns.
pub async fn sample(method: Method, spawning: usize, total: usize) -> f64 {
    let each = total / spawning;
    let start = Arc::new(tokio::sync::Barrier::new(spawning + 1));
    let tracker = TaskTracker::new();
    let mut spawners = Vec::with_capacity(spawning);
    for _ in 0..spawning {
        let start = Arc::clone(&start);
        let tracker = tracker.clone();
        spawners.push(tokio::spawn(async move {
            start.wait().await;
            match method {
                Method::Tokio => spawn_and_join(each, |i| tokio::spawn(small(i))).await,
                Method::Tracker => spawn_and_join(each, |i| tracker.spawn(small(i))).await,
                Method::Graceful => spawn_and_join(each, |i| graceful::spawn(small(i))).await,
            }
        }));
    }
    start.wait().await;
    let began = Instant::now();
    for spawner in spawners {
        spawner.await.expect("a spawning task");
    }
    let elapsed = began.elapsed();
    tracker.close();
    tracker.wait().await;
    elapsed.as_secs_f64() * 1e9 / (each * spawning) as f64
}

/// Runs one warm-up round and `rounds` measured ones, each method at each number of
/// spawning tasks once a round in a random order, and prints every measured sample.
pub async fn run(rounds: usize, total: usize) {
    let mut cases: Vec<(Method, usize)> = SPAWNING
        .iter()
        .flat_map(|&spawning| Method::ALL.map(|method| (method, spawning)))
        .collect();
    let mut rng = crate::Rng::seeded();
    for round in 0..=rounds {
        rng.shuffle(&mut cases);
        for &(method, spawning) in &cases {
            let per_task = sample(method, spawning, total).await;
            if round > 0 {
                println!("spawn {} {spawning} {per_task:.1}", method.key());
            }
        }
    }
}

/// Parses a line of [`run`]'s output: `(method, spawning tasks, ns per task)`.
pub fn parse(line: &str) -> Option<(Method, usize, f64)> {
    let mut words = line.strip_prefix("spawn ")?.split_whitespace();
    let method = Method::from_key(words.next()?)?;
    let spawning = words.next()?.parse().ok()?;
    let ns = words.next()?.parse().ok()?;
    words.next().is_none().then_some((method, spawning, ns))
}
