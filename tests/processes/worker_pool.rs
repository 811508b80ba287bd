//! The `worker_pool` example as a real process: SIGTERM while every worker holds a job, at a
//! different moment in each trial. Every job taken is finished (none half done), no job is
//! taken once the queue has closed, every worker stops, the hook's totals agree, exit 0.

use std::collections::BTreeMap;
use std::time::Duration;

use graceful_test_support::{LINE_TIMEOUT, Process, Rng, START_TIMEOUT, Signal};

const WORKERS: usize = 6;
const JOB_MS: u64 = 300;
const TRIALS: usize = 3;
/// A generous bound on the stop: the jobs in hand need `JOB_MS`.
const STOP_BOUND: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sigterm_every_job_taken_is_finished_and_none_is_taken_after_the_queue_closes() {
    let mut rng = Rng::from_env("WORKER_POOL_SEED");
    let mut figures = Vec::new();
    for trial in 1..=TRIALS {
        // SIGTERM after 1 to 4 rounds of jobs, while the workers hold their next ones.
        let finished_before = rng.between(1, 4 * WORKERS as u64) as usize;
        figures.push(run_trial(trial, finished_before).await);
    }
    for line in figures {
        println!("{line}");
    }
}

async fn run_trial(trial: usize, finished_before: usize) -> String {
    let workers = WORKERS.to_string();
    let job_ms = JOB_MS.to_string();
    let mut service = Process::start("worker_pool", &[("WORKERS", &workers), ("JOB_MS", &job_ms)]);
    service
        .wait_for_line(|line| line.starts_with("pool started: "), START_TIMEOUT)
        .await;
    let finishing = |line: &str| line.starts_with("worker ") && line.contains(" finished job ");
    let rounds = (finished_before / WORKERS + 1) as u32;
    service
        .wait_for_lines(
            finishing,
            finished_before,
            LINE_TIMEOUT + Duration::from_millis(JOB_MS) * rounds,
        )
        .await;
    let sigterm = service.signal(Signal::SIGTERM);
    let exited = service.wait(STOP_BOUND + Duration::from_secs(10)).await;
    let stopped_after = sigterm.elapsed();
    exited.assert_code(0);
    assert!(
        stopped_after < STOP_BOUND,
        "stopped {stopped_after:?} after the signal\n{exited}"
    );

    // Read the story from stdout, in the order it happened.
    let lines = exited.stdout_texts();
    let closed = lines
        .iter()
        .position(|line| line.starts_with("queue closed: "))
        .unwrap_or_else(|| panic!("no `queue closed` line\n{exited}"));
    let mut taken: BTreeMap<u64, (usize, usize)> = BTreeMap::new(); // job -> (worker, line)
    let mut finished: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
    let mut stopped: BTreeMap<usize, usize> = BTreeMap::new(); // worker -> jobs done
    for (index, line) in lines.iter().enumerate() {
        let words: Vec<&str> = line.split(' ').collect();
        match words[..] {
            ["worker", worker, "took", "job", job] => {
                let previous = taken.insert(number(job), (number(worker), index));
                assert!(previous.is_none(), "job {job} taken twice\n{exited}");
            }
            ["worker", worker, "finished", "job", job, "(5/5", "steps)"] => {
                let previous = finished.insert(number(job), (number(worker), index));
                assert!(previous.is_none(), "job {job} finished twice\n{exited}");
            }
            ["worker", _, "finished", ..] => panic!("a job not fully done: {line:?}"),
            ["worker", worker, "stopped", "after", jobs, "jobs"] => {
                stopped.insert(number(worker), number(jobs));
            }
            _ => {}
        }
    }

    // Jobs started == jobs finished, by the same worker, none half done.
    let started: Vec<u64> = taken.keys().copied().collect();
    let done: Vec<u64> = finished.keys().copied().collect();
    assert_eq!(
        started, done,
        "jobs taken (left) and finished (right)\n{exited}"
    );
    for (job, (worker, line)) in &taken {
        let (finisher, finished_line) = finished[job];
        assert_eq!(*worker, finisher, "job {job}\n{exited}");
        assert!(*line < finished_line, "job {job}\n{exited}");
    }
    // No job taken after the queue closed; the ones held then were finished after it.
    let taken_after_close = taken.values().filter(|(_, line)| *line > closed).count();
    assert_eq!(taken_after_close, 0, "jobs taken after the close\n{exited}");
    let held_at_close = taken
        .iter()
        .filter(|(job, (_, line))| *line < closed && finished[*job].1 > closed)
        .count();
    assert!(
        held_at_close >= 1,
        "no job was in hand when the queue closed: the trial proves nothing\n{exited}"
    );
    let left_waiting: usize = number(
        lines[closed]
            .strip_prefix("queue closed: ")
            .and_then(|rest| rest.strip_suffix(" jobs left waiting"))
            .unwrap_or_else(|| panic!("{:?}", lines[closed])),
    );
    // Every worker stopped, having done exactly the jobs it finished.
    assert_eq!(stopped.len(), WORKERS, "every worker stops\n{exited}");
    for (worker, jobs) in &stopped {
        let by_worker = finished.values().filter(|(w, _)| w == worker).count();
        assert_eq!(*jobs, by_worker, "worker {worker}\n{exited}");
    }
    // The hook ran after the drain and saw the same totals.
    let report = exited.stdout_starting("pool stopped: ");
    assert_eq!(
        report,
        format!(
            "pool stopped: {} jobs started, {} finished",
            started.len(),
            done.len()
        ),
        "{exited}"
    );
    assert!(
        lines.iter().position(|l| *l == report)
            > lines.iter().rposition(|l| l.contains(" stopped after ")),
        "the hook runs after every worker has stopped\n{exited}"
    );

    format!(
        "trial {trial}: SIGTERM after {finished_before} jobs finished; {} jobs started, {} \
         finished, {held_at_close} in hand at the close, {left_waiting} left in the queue, 0 \
         taken after the close; exit 0 {stopped_after:?} after the signal",
        started.len(),
        done.len()
    )
}

fn number<T: std::str::FromStr>(text: &str) -> T {
    text.parse()
        .unwrap_or_else(|_| panic!("{text:?} is not a number"))
}
