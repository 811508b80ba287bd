//! A pool of workers started with `graceful::spawn`, pulling jobs from a queue: on the cancel
//! the queue closes, each worker finishes the job it holds and takes no new one, and the
//! drain waits for all of them before the hooks run.
//!
//! Try it:
//!
//! ```text
//! cargo run --example worker_pool      # WORKERS=8 JOB_MS=2000 to change the pool
//! ```
//!
//! then press Ctrl-C (or `kill -TERM <pid>`) while jobs run: every job taken is finished
//! (`worker 3 finished job 41 (5/5 steps)`), none is taken after `queue closed`, and the
//! `pool_report` hook prints the totals: jobs started == jobs finished. A second Ctrl-C
//! forces the exit (130) without waiting for the jobs in hand.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tracing_subscriber::EnvFilter;

/// Each job is this many steps of `JOB_MS / STEPS`: a job interrupted between two steps would
/// be half done.
const STEPS: u32 = 5;
/// The queue holds at most this many jobs per worker; the producer waits for room.
const QUEUE_PER_WORKER: usize = 2;

static STARTED: AtomicU64 = AtomicU64::new(0);
static FINISHED: AtomicU64 = AtomicU64::new(0);

#[graceful::main(timeout = "20s", drain_timeout = "15s")]
async fn main(shutdown: graceful::Shutdown) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let workers: usize = env_number("WORKERS", 4)?;
    let job_time = Duration::from_millis(env_number("JOB_MS", 500)?);
    if workers == 0 {
        return Err("WORKERS must be at least 1".to_owned());
    }

    let queue = Arc::new(Queue::new(workers * QUEUE_PER_WORKER));
    graceful::spawn(produce(queue.clone()));
    for worker in 1..=workers {
        graceful::spawn(work(worker, queue.clone(), job_time));
    }
    println!(
        "pool started: {workers} workers, {STEPS} steps of {:?} per job, pid {}",
        job_time / STEPS,
        std::process::id()
    );

    shutdown.cancelled().await;
    // Workers see the closed queue when they come back for a job; the drain waits for them.
    queue.close();
    Ok(())
}

/// A job: `STEPS` steps of work.
struct Job {
    id: u64,
}

/// Runs the job to its end: a worker never looks at the shutdown in the middle of a job.
async fn run(job: &Job, worker: usize, job_time: Duration) {
    for _ in 0..STEPS {
        // Stands for a step of real work (a request to make, a file to write).
        tokio::time::sleep(job_time / STEPS).await;
    }
    FINISHED.fetch_add(1, Ordering::AcqRel);
    println!(
        "worker {worker} finished job {} ({STEPS}/{STEPS} steps)",
        job.id
    );
}

async fn work(worker: usize, queue: Arc<Queue>, job_time: Duration) {
    let mut done = 0;
    while let Some(job) = queue.take(worker).await {
        run(&job, worker, job_time).await;
        done += 1;
    }
    println!("worker {worker} stopped after {done} jobs");
}

/// Keeps the queue full until it closes.
async fn produce(queue: Arc<Queue>) {
    let mut id = 0;
    loop {
        id += 1;
        if !queue.push(Job { id }).await {
            break;
        }
    }
}

/// A bounded job queue that can be closed: once closed, `take` returns `None` and `push`
/// refuses, whatever is still queued.
struct Queue {
    state: Mutex<State>,
    capacity: usize,
    /// A job was pushed, or the queue closed.
    pushed: Notify,
    /// A job was taken, or the queue closed.
    taken: Notify,
}

struct State {
    jobs: VecDeque<Job>,
    open: bool,
}

impl Queue {
    fn new(capacity: usize) -> Queue {
        Queue {
            state: Mutex::new(State {
                jobs: VecDeque::with_capacity(capacity),
                open: true,
            }),
            capacity,
            pushed: Notify::new(),
            taken: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for room, then queues the job; `false` if the queue has closed.
    async fn push(&self, job: Job) -> bool {
        loop {
            let room = self.taken.notified();
            {
                let mut state = self.lock();
                if !state.open {
                    return false;
                }
                if state.jobs.len() < self.capacity {
                    state.jobs.push_back(job);
                    self.pushed.notify_one();
                    return true;
                }
            }
            room.await;
        }
    }

    /// Waits for a job; `None` once the queue has closed.
    ///
    /// The `took` line is printed under the queue's lock, as `close` prints `queue closed`:
    /// the order of the two on stdout is the order in which they happened.
    async fn take(&self, worker: usize) -> Option<Job> {
        loop {
            let pushed = self.pushed.notified();
            {
                let mut state = self.lock();
                if !state.open {
                    return None;
                }
                if let Some(job) = state.jobs.pop_front() {
                    STARTED.fetch_add(1, Ordering::AcqRel);
                    println!("worker {worker} took job {}", job.id);
                    self.taken.notify_one();
                    return Some(job);
                }
            }
            pushed.await;
        }
    }

    /// Closes the queue: no job is taken or queued after this.
    fn close(&self) {
        let mut state = self.lock();
        state.open = false;
        println!("queue closed: {} jobs left waiting", state.jobs.len());
        drop(state);
        self.pushed.notify_waiters();
        self.taken.notify_waiters();
    }
}

/// Runs after the drain, when every worker has stopped: the totals are final.
#[graceful::on_shutdown(order = 10)]
fn pool_report() -> Result<(), String> {
    let started = STARTED.load(Ordering::Acquire);
    let finished = FINISHED.load(Ordering::Acquire);
    println!("pool stopped: {started} jobs started, {finished} finished");
    if started == finished {
        Ok(())
    } else {
        Err(format!("{} jobs were left half done", started - finished))
    }
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .map_err(|error| format!("{name}={text:?} is not a number: {error}")),
        Err(_) => Ok(default),
    }
}
