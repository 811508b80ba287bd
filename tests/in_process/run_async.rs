//! The async way in: the same sequence inside a runtime the caller already has, from
//! `#[tokio::test]`, returning the report.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use graceful::{Builder, HookOutcome, Reason};

#[tokio::test]
async fn run_async_runs_the_sequence_on_the_callers_runtime() {
    let drained = Arc::new(AtomicBool::new(false));
    let report = Builder::new()
        .signals([])
        .run_async({
            let drained = drained.clone();
            |shutdown| async move {
                // Inside the run, the free functions reach this run's handle.
                assert!(!graceful::shutdown().is_shutting_down());
                assert!(graceful::Shutdown::try_current().is_some());
                graceful::spawn(async move {
                    graceful::shutdown().cancelled().await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    drained.store(true, Ordering::SeqCst);
                });
                graceful::register(10, "close", |ctx: graceful::HookContext| async move {
                    assert_eq!(ctx.reason(), Reason::Triggered);
                    Ok::<(), String>(())
                });
                shutdown.trigger();
                assert!(graceful::shutdown().is_shutting_down());
            }
        })
        .await
        .unwrap();
    assert!(
        drained.load(Ordering::SeqCst),
        "the drain waited for the tracked task"
    );
    assert_eq!(report.reason(), Reason::Triggered);
    assert_eq!(report.hooks()[0].outcome(), &HookOutcome::Returned);
    assert_eq!(report.exit_code(), 0);
    // Outside the run, nothing drives a handle.
    assert!(graceful::Shutdown::try_current().is_none());
}

#[tokio::test]
async fn two_runs_on_one_runtime_do_not_see_each_other() {
    let first = Builder::new()
        .signals([])
        .run_async(|_| async { graceful::shutdown().trigger_with_code(3) });
    let second = Builder::new().signals([]).run_async(|_| async {});
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.unwrap().exit_code(), 3);
    assert_eq!(second.unwrap().exit_code(), 0);
}

#[tokio::test]
async fn run_to_report_inside_a_runtime_names_the_async_way_in() {
    let error = Builder::new()
        .signals([])
        .run_to_report(|_| async {})
        .unwrap_err();
    assert!(error.to_string().contains("run_async"), "{error}");
}

/// A task of the caller's runtime that the run did not start (an axum handler, a library's
/// task: `tokio::spawn`) finds the run's handle: it sees the shutdown, and what it spawns with
/// `graceful::spawn` is drained before the report. Before, it got the process-wide handle,
/// which nothing drives: it never saw the shutdown, and its task was never waited for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_started_with_tokio_spawn_finds_the_run() {
    let drained = Arc::new(AtomicBool::new(false));
    let (seen_tx, seen_rx) = tokio::sync::oneshot::channel();
    let report = Builder::new()
        .signals([])
        .run_async({
            let drained = drained.clone();
            |shutdown| async move {
                let outside = tokio::spawn(async move {
                    let current = graceful::Shutdown::try_current().expect("the run's handle");
                    graceful::spawn(async move {
                        graceful::shutdown().cancelled().await;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        drained.store(true, Ordering::SeqCst);
                    });
                    current.cancelled().await;
                    let _ = seen_tx.send(());
                });
                shutdown.trigger();
                let _ = outside.await;
            }
        })
        .await
        .unwrap();
    assert!(seen_rx.await.is_ok(), "the task saw the cancel");
    assert!(
        drained.load(Ordering::SeqCst),
        "the drain waited for the task it spawned"
    );
    assert_eq!(report.exit_code(), 0);
}

/// Two runs at once on one runtime: a task that neither started cannot be told which is its
/// own, and says so rather than hand out a handle nothing drives.
#[tokio::test]
async fn two_runs_at_once_leave_an_outside_task_without_a_handle() {
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let first = Builder::new().signals([]).run_async(|shutdown| async move {
        let _ = go_rx.await;
        shutdown.trigger();
    });
    let second = Builder::new().signals([]).run_async(|shutdown| async move {
        let (current, panic) = tokio::spawn(async {
            let current = graceful::Shutdown::try_current().is_some();
            let panic = std::panic::catch_unwind(graceful::shutdown)
                .err()
                .and_then(|panic| panic.downcast_ref::<String>().cloned());
            (current, panic)
        })
        .await
        .unwrap();
        let _ = go_tx.send(());
        assert!(!current, "try_current found a handle");
        let panic = panic.expect("graceful::shutdown() panics");
        assert!(panic.contains("two graceful runs"), "{panic}");
        shutdown.trigger();
    });
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.unwrap().exit_code(), 0);
    assert_eq!(second.unwrap().exit_code(), 0);
}
