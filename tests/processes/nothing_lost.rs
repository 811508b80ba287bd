//! No acknowledged write is lost: the `sqlite_buffer` example as a real process, clients
//! writing numbered records as fast as they can and keeping every acknowledgement, a SIGTERM
//! at a random moment, then the SQLite file read back after the exit.
//!
//! The same with SIGKILL instead is a demonstration, not a failure: it must show loss, which
//! proves the check can see it.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use graceful_test_support::{ClientError, Connection, Process, Rng, Signal, TempDir};
use hyper::{Method, StatusCode};
use tokio::sync::watch;

/// Graceful trials, each with its own moment and flush interval.
const TRIALS: usize = 20;
/// SIGKILL trials.
const KILL_TRIALS: usize = 3;
/// Concurrent writers, each on its own kept-alive connection.
const WRITERS: u64 = 8;
/// Ids of malformed bodies start here: a parser that read their leading digits would store
/// one, and the check would see it.
const MALFORMED_BASE: i64 = 1_000_000_000;
/// Every so many requests, a writer sends a malformed body.
const MALFORMED_EVERY: u64 = 64;
/// Bounds on a writer, whatever happens: it stops by itself.
const MAX_PER_WRITER: u64 = 500_000;
const WRITER_DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_at_a_random_moment_loses_no_acknowledged_record() {
    let mut rng = Rng::from_env("NOTHING_LOST_SEED");
    let mut figures = Vec::new();
    let (mut acknowledged, mut found) = (0, 0);
    for trial in 1..=TRIALS {
        let flush_ms = *rng.pick(&[10, 50, 200, 1000]);
        let moment = Duration::from_millis(rng.between(0, 800));
        let flush = flush_ms.to_string();
        let outcome = run_trial(Stop::Term(moment), &[("FLUSH_MS", &flush)]).await;
        let line = format!(
            "SIGTERM trial {trial:2}: {moment:>5?} after the first ack, flush every {flush_ms:4} ms: {outcome}"
        );
        println!("{line}");
        assert!(
            outcome.lost.is_empty(),
            "{line}\nlost: {:?}",
            first(&outcome.lost)
        );
        acknowledged += outcome.acknowledged;
        found += outcome.found;
        figures.push(line);
    }
    println!(
        "{TRIALS} SIGTERM trials: {acknowledged} records acknowledged, all found \
         ({found} rows in all, unacknowledged ones included); 0 lost"
    );
}

/// Demonstration: with SIGKILL the buffer dies with the process, and the same check reports
/// the loss. A flush interval of a minute makes the loss certain rather than likely.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demonstration_sigkill_loses_acknowledged_records_and_the_check_sees_it() {
    let mut losses = Vec::new();
    for trial in 1..=KILL_TRIALS {
        let outcome = run_trial(
            Stop::Kill { after_acks: 500 },
            &[("FLUSH_MS", "60000"), ("FLUSH_BATCH", "100000000")],
        )
        .await;
        println!("SIGKILL trial {trial} (demonstration): {outcome}");
        losses.push(outcome.lost.len());
    }
    assert!(
        losses.iter().any(|lost| *lost > 0),
        "SIGKILL after hundreds of buffered acknowledgements lost nothing in {KILL_TRIALS} \
         trials: the check cannot see a loss"
    );
    println!(
        "SIGKILL demonstration: acknowledged records lost per trial: {losses:?} (as expected: \
         the buffer dies with the process)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_body_gets_400_and_is_not_stored() {
    let dir = TempDir::new("malformed");
    let db = dir.join("records.db");
    let mut service = Process::start_http(
        "sqlite_buffer",
        &[("DB_PATH", db.to_str().expect("a UTF-8 path"))],
    )
    .await;
    let mut connection = Connection::open(service.port)
        .await
        .unwrap_or_else(|error| service.fail(format_args!("connect: {error}")));
    let malformed = [
        "",
        " ",
        "abc",
        "12x",
        "1.5",
        "0x10",
        "1e3",
        "--1",
        "99999999999999999999",
    ];
    for body in malformed {
        let reply = connection
            .request(Method::POST, "/records", body)
            .await
            .unwrap_or_else(|error| service.fail(format_args!("POST {body:?}: {error}")));
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "POST {body:?}: {reply:?}"
        );
    }
    for body in ["42", " 7\n", "-3", "+5"] {
        let reply = connection
            .request(Method::POST, "/records", body)
            .await
            .unwrap_or_else(|error| service.fail(format_args!("POST {body:?}: {error}")));
        assert_eq!(reply.status, StatusCode::OK, "POST {body:?}: {reply:?}");
    }
    drop(connection);
    service.signal(Signal::SIGTERM);
    let exited = service.wait(Duration::from_secs(20)).await;
    exited.assert_code(0);
    assert_eq!(read_ids(&db), BTreeSet::from([-3, 5, 7, 42]), "{exited}");
}

enum Stop {
    /// SIGTERM this long after the first acknowledgement.
    Term(Duration),
    /// SIGKILL once this many records are acknowledged.
    Kill { after_acks: usize },
}

struct HookOutcome {
    acknowledged: usize,
    sent: usize,
    found: usize,
    lost: Vec<i64>,
    rejected: usize,
    signal_after: Duration,
    /// What the shutdown hook moved from the buffer into the database (SIGTERM only).
    flushed_by_hook: Option<usize>,
}

impl std::fmt::Display for HookOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} records sent, {} acknowledged, {} found, {} acknowledged but lost; {} malformed \
             rejected; the signal came {:?} after the writers started",
            self.sent,
            self.acknowledged,
            self.found,
            self.lost.len(),
            self.rejected,
            self.signal_after
        )?;
        if let Some(flushed) = self.flushed_by_hook {
            write!(f, "; the hook flushed {flushed}")?;
        }
        Ok(())
    }
}

/// What one writer did.
#[derive(Default)]
struct Written {
    sent: Vec<i64>,
    acknowledged: Vec<i64>,
    rejected: usize,
    unexpected: Vec<String>,
}

async fn run_trial(stop: Stop, env: &[(&str, &str)]) -> HookOutcome {
    let dir = TempDir::new("nothing-lost");
    let db = dir.join("records.db");
    let mut env = env.to_vec();
    env.push(("DB_PATH", db.to_str().expect("a UTF-8 path")));
    let mut service = Process::start_http("sqlite_buffer", &env).await;
    let port = service.port;

    let (acks, mut acked) = watch::channel(0_usize);
    let acks = Arc::new(acks);
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| tokio::spawn(write(port, writer, acks.clone())))
        .collect();

    let signal = match stop {
        Stop::Term(moment) => {
            wait_for_acks(&service, &mut acked, 1).await;
            tokio::time::sleep(moment).await; // the random moment, not a synchronisation
            Signal::SIGTERM
        }
        Stop::Kill { after_acks } => {
            wait_for_acks(&service, &mut acked, after_acks).await;
            Signal::SIGKILL
        }
    };
    let signalled = service.signal(signal);
    let signal_after = signalled - started;

    let mut written = Written::default();
    for writer in writers {
        let one = writer.await.expect("a writer does not panic");
        written.sent.extend(one.sent);
        written.acknowledged.extend(one.acknowledged);
        written.rejected += one.rejected;
        written.unexpected.extend(one.unexpected);
    }
    let exited = service.wait(Duration::from_secs(30)).await;
    let mut flushed_by_hook = None;
    match signal {
        Signal::SIGKILL => exited.assert_killed_by(Signal::SIGKILL),
        _ => {
            exited.assert_code(0);
            let hook = exited.stdout_starting("flushed ");
            let flushed = hook
                .strip_prefix("flushed ")
                .and_then(|rest| {
                    rest.split_once(" buffered records at shutdown; WAL checkpointed; ")
                })
                .and_then(|(flushed, _)| flushed.parse().ok());
            assert!(flushed.is_some(), "{exited}");
            flushed_by_hook = flushed;
            let wal = db.with_extension("db-wal");
            assert!(
                std::fs::metadata(&wal).map_or(true, |wal| wal.len() == 0),
                "the WAL was checkpointed and truncated\n{exited}"
            );
        }
    }
    assert!(
        written.unexpected.is_empty(),
        "unexpected answers: {:?}\n{exited}",
        first(&written.unexpected)
    );

    let found = read_ids(&db);
    let sent: BTreeSet<i64> = written.sent.iter().copied().collect();
    let phantoms: Vec<i64> = found.difference(&sent).copied().collect();
    assert!(
        phantoms.is_empty(),
        "rows nobody sent (a malformed body stored?): {:?}\n{exited}",
        first(&phantoms)
    );
    let lost: Vec<i64> = written
        .acknowledged
        .iter()
        .filter(|id| !found.contains(id))
        .copied()
        .collect();
    if let Stop::Term(_) = stop {
        assert!(
            !written.acknowledged.is_empty(),
            "no record was acknowledged: the trial proves nothing\n{exited}"
        );
    }
    HookOutcome {
        acknowledged: written.acknowledged.len(),
        sent: written.sent.len(),
        found: found.len(),
        lost,
        rejected: written.rejected,
        signal_after,
        flushed_by_hook,
    }
}

async fn wait_for_acks(service: &Process, acked: &mut watch::Receiver<usize>, count: usize) {
    // (The `Ref` that `wait_for` returns is a read lock: dropped at once, or the writers'
    // `send_modify` would block.)
    let waited = matches!(
        tokio::time::timeout(
            Duration::from_secs(30),
            acked.wait_for(|acks| *acks >= count)
        )
        .await,
        Ok(Ok(_))
    );
    if !waited {
        service.fail(format_args!(
            "fewer than {count} acknowledgements within 30 s"
        ));
    }
}

/// Writes records `writer + 1`, `writer + 1 + WRITERS`, ... one after another on a kept-alive
/// connection, until the service refuses connections (or a bound is reached).
async fn write(port: u16, writer: u64, acks: Arc<watch::Sender<usize>>) -> Written {
    let mut written = Written::default();
    let deadline = Instant::now() + WRITER_DEADLINE;
    let mut connection = None;
    let mut n = 0;
    while n < MAX_PER_WRITER && Instant::now() < deadline {
        let live = match connection.as_mut() {
            Some(live) => live,
            None => match Connection::open(port).await {
                Ok(opened) => connection.insert(opened),
                Err(ClientError::Refused) => break, // the service is gone: done
                Err(ClientError::Closed(_)) => continue,
                Err(error) => {
                    written.unexpected.push(format!("connect: {error}"));
                    break;
                }
            },
        };
        let id = (writer + 1 + n * WRITERS) as i64;
        n += 1;
        let malformed = n % MALFORMED_EVERY == 0;
        let body = if malformed {
            format!("{}x", MALFORMED_BASE + id)
        } else {
            id.to_string()
        };
        if !malformed {
            written.sent.push(id);
        }
        match live.request(Method::POST, "/records", &body).await {
            Ok(reply) if !malformed && reply.status == StatusCode::OK => {
                written.acknowledged.push(id);
                acks.send_modify(|acks| *acks += 1);
            }
            Ok(reply) if malformed && reply.status == StatusCode::BAD_REQUEST => {
                written.rejected += 1;
            }
            Ok(reply) => written
                .unexpected
                .push(format!("POST {body:?}: {} {:?}", reply.status, reply.body)),
            // The server closed the kept-alive connection (it is stopping, or killed): the
            // record may or may not be stored, it was not acknowledged. Connect again.
            Err(ClientError::Closed(_)) => connection = None,
            Err(error) => {
                written.unexpected.push(format!("POST {body:?}: {error}"));
                break;
            }
        }
    }
    written
}

fn read_ids(db: &Path) -> BTreeSet<i64> {
    let connection = rusqlite::Connection::open(db)
        .unwrap_or_else(|error| panic!("cannot open {}: {error}", db.display()));
    let mut select = connection
        .prepare("SELECT id FROM records")
        .expect("the records table exists");
    select
        .query_map([], |row| row.get(0))
        .expect("select runs")
        .collect::<Result<_, _>>()
        .expect("ids are integers")
}

fn first<T: std::fmt::Debug>(items: &[T]) -> &[T] {
    &items[..items.len().min(10)]
}
