//! Services (`graceful::service`) that live and die together, driven through
//! `Builder::run_to_report`: errgroup semantics before the shutdown, drained like tracked
//! tasks after it, every one in the report. The real-process form (an HTTP service and a
//! failing worker under load) is in `tests/processes/services_example.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use graceful::{Builder, Reason, ServiceOutcome};

fn builder() -> Builder {
    Builder::new().signals([])
}

/// Typed `()`, so that an `async` block calling it is a `()` future.
fn explode(message: &str) {
    panic!("{message}")
}

#[test]
fn a_service_that_fails_stops_the_program_and_the_reason_names_it() {
    let report = builder()
        .run_to_report(|shutdown| async move {
            let server = shutdown.clone();
            graceful::service("http", async move {
                server.cancelled().await;
                Ok::<(), String>(())
            });
            graceful::service("worker", async { Err::<(), _>("injected failure") });
            // Like errgroup's context: the failure cancels what waits on the token.
            shutdown.cancelled().await;
        })
        .unwrap();
    assert_eq!(
        report.reason(),
        Reason::ServiceFailed {
            service: "worker".into(),
            error: "injected failure".into()
        }
    );
    assert_eq!(
        report.reason().to_string(),
        "service worker failed: injected failure"
    );
    let services: Vec<_> = report
        .services()
        .iter()
        .map(|s| (s.name(), s.outcome().clone(), s.during_shutdown()))
        .collect();
    assert_eq!(
        services,
        [
            ("http", ServiceOutcome::Returned, true),
            (
                "worker",
                ServiceOutcome::Failed("injected failure".into()),
                false
            ),
        ]
    );
    assert_eq!(report.exit_code(), 1);
    assert!(
        report
            .to_string()
            .contains("service worker failed: injected failure"),
        "{report}"
    );
}

#[test]
fn a_service_that_panics_stops_the_program_with_101() {
    let report = builder()
        .run_to_report(|shutdown| async move {
            graceful::service("worker", async { explode("the worker broke") });
            shutdown.cancelled().await;
        })
        .unwrap();
    assert_eq!(
        report.reason(),
        Reason::ServicePanicked {
            service: "worker".into(),
            message: "the worker broke".into()
        }
    );
    assert_eq!(
        report.services()[0].outcome(),
        &ServiceOutcome::Panicked("the worker broke".into())
    );
    assert_eq!(report.exit_code(), 101);
}

#[test]
fn a_service_that_returns_ok_ends_alone() {
    let ended = Arc::new(AtomicBool::new(false));
    // One thread: the service's task records its end in the poll that sees it return, before
    // `main` can run again, so the trigger below comes after the record.
    let report = builder()
        .flavor(graceful::Flavor::CurrentThread)
        .run_to_report({
            let ended = ended.clone();
            |shutdown| async move {
                let (done, wait) = tokio::sync::oneshot::channel();
                graceful::service("migrations", async move {
                    ended.store(true, Ordering::SeqCst);
                    let _ = done.send(());
                });
                wait.await.unwrap();
                // Ended, and the program goes on: nothing started the shutdown.
                assert!(!shutdown.is_shutting_down());
                shutdown.trigger();
            }
        })
        .unwrap();
    assert!(ended.load(Ordering::SeqCst));
    assert_eq!(report.reason(), Reason::Triggered);
    assert_eq!(report.services()[0].outcome(), &ServiceOutcome::Returned);
    assert!(!report.services()[0].during_shutdown());
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn a_service_failing_during_the_drain_is_reported_and_exits_1() {
    let report = builder()
        .run_to_report(|shutdown| async move {
            let worker = shutdown.clone();
            graceful::service("worker", async move {
                worker.cancelled().await;
                Err::<(), _>("could not commit the last offset")
            });
            shutdown.trigger();
        })
        .unwrap();
    assert_eq!(
        report.reason(),
        Reason::Triggered,
        "a failure after the trigger is not the reason"
    );
    assert_eq!(
        report.services()[0].outcome(),
        &ServiceOutcome::Failed("could not commit the last offset".into())
    );
    assert!(report.services()[0].during_shutdown());
    assert_eq!(report.exit_code(), 1);
}

#[test]
fn the_drain_aborts_a_service_that_ignores_the_token() {
    let started = Instant::now();
    let report = builder()
        .drain_timeout(Duration::from_millis(300))
        .run_to_report(|shutdown| async move {
            graceful::service("stubborn", std::future::pending::<()>());
            shutdown.trigger();
        })
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(report.services()[0].outcome(), &ServiceOutcome::Aborted);
    assert_eq!(report.aborted(), ["service stubborn"]);
    assert_eq!(report.exit_code(), 1);
}

#[test]
fn a_service_started_after_the_shutdown_began_never_runs() {
    let ran = Arc::new(AtomicBool::new(false));
    let report = builder()
        .run_to_report({
            let ran = ran.clone();
            |shutdown| async move {
                shutdown.trigger();
                graceful::service("late", async move { ran.store(true, Ordering::SeqCst) });
            }
        })
        .unwrap();
    assert!(!ran.load(Ordering::SeqCst));
    assert!(report.services().is_empty());
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn an_empty_service_name_is_refused() {
    let report = builder()
        .run_to_report(|_| async {
            graceful::service("  ", async {});
        })
        .unwrap();
    match report.main() {
        graceful::MainOutcome::Panicked(message) => {
            assert!(message.contains("the service's name is empty"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(report.exit_code(), 101);
}
