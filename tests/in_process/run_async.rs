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
