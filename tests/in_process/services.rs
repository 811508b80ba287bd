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

/// Restart policies (`graceful::service_with`): a factory run again after a failure, within a
/// limit. The real-process form (signals during a back-off, the exit codes) is in
/// `tests/process/tests/fixtures/restarts.rs`.
mod restarts {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{Duration, Instant};

    use graceful::{Reason, Restart, ServiceOutcome};

    use super::{builder, explode};

    /// No waiting between runs: these tests count, they do not time.
    fn quick() -> Restart {
        Restart::on_failure().backoff(Duration::ZERO, Duration::ZERO)
    }

    #[test]
    fn a_service_that_fails_twice_then_holds_is_restarted_twice_and_the_run_is_clean() {
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        let report = builder()
            .run_to_report(|shutdown| async move {
                let handle = shutdown.clone();
                graceful::service_with("worker", quick(), move || {
                    let run = counted.fetch_add(1, Ordering::SeqCst) + 1;
                    let handle = handle.clone();
                    async move {
                        if run <= 2 {
                            return Err(format!("failure {run}"));
                        }
                        handle.trigger();
                        handle.cancelled().await;
                        Ok(())
                    }
                });
                shutdown.cancelled().await;
            })
            .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert_eq!(report.reason(), Reason::Triggered);
        assert_eq!(report.exit_code(), 0, "{report}");
        let worker = &report.services()[0];
        assert_eq!(worker.outcome(), &ServiceOutcome::Returned);
        assert_eq!(worker.restarts(), 2);
        assert_eq!(worker.last_errors(), ["failure 1", "failure 2"]);
        assert!(
            worker
                .to_string()
                .contains("after 2 restarts (last errors: failure 1; failure 2)"),
            "{worker}"
        );
        assert!(
            report
                .to_string()
                .contains("1 service (0 not ok, 2 restarts)"),
            "{report}"
        );
    }

    #[test]
    fn past_its_limit_the_failure_stops_the_program_with_the_last_error() {
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        let report = builder()
            .run_to_report(|shutdown| async move {
                let policy = quick().at_most(3, Duration::from_secs(60));
                graceful::service_with("worker", policy, move || {
                    let run = counted.fetch_add(1, Ordering::SeqCst) + 1;
                    async move { Err::<(), _>(format!("failure {run}")) }
                });
                shutdown.cancelled().await;
            })
            .unwrap();
        assert_eq!(
            runs.load(Ordering::SeqCst),
            4,
            "the first run and 3 restarts"
        );
        assert_eq!(
            report.reason(),
            Reason::ServiceFailed {
                service: "worker".into(),
                error: "failure 4".into()
            }
        );
        assert_eq!(report.exit_code(), 1);
        let worker = &report.services()[0];
        assert_eq!(
            worker.outcome(),
            &ServiceOutcome::Failed("failure 4".into())
        );
        assert_eq!(worker.restarts(), 3);
        assert!(!worker.during_shutdown());
        assert_eq!(
            worker.last_errors(),
            ["failure 1", "failure 2", "failure 3", "failure 4"]
        );
    }

    #[test]
    fn the_report_keeps_the_last_five_errors() {
        let report = builder()
            .run_to_report(|shutdown| async move {
                let runs = AtomicU32::new(0);
                let policy = quick().at_most(7, Duration::from_secs(60));
                graceful::service_with("worker", policy, move || {
                    let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                    async move { Err::<(), _>(format!("failure {run}")) }
                });
                shutdown.cancelled().await;
            })
            .unwrap();
        let worker = &report.services()[0];
        assert_eq!(worker.restarts(), 7);
        assert_eq!(
            worker.last_errors(),
            [
                "failure 4",
                "failure 5",
                "failure 6",
                "failure 7",
                "failure 8"
            ]
        );
    }

    #[test]
    fn a_panic_is_restarted_like_an_error() {
        let report = builder()
            .run_to_report(|shutdown| async move {
                let runs = AtomicU32::new(0);
                let handle = shutdown.clone();
                graceful::service_with("worker", quick(), move || {
                    let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                    let handle = handle.clone();
                    async move {
                        if run <= 2 {
                            explode(&format!("boom {run}"));
                        }
                        handle.trigger();
                    }
                });
                shutdown.cancelled().await;
            })
            .unwrap();
        assert_eq!(report.exit_code(), 0, "{report}");
        let worker = &report.services()[0];
        assert_eq!(worker.restarts(), 2);
        assert_eq!(
            worker.last_errors(),
            ["panicked: boom 1", "panicked: boom 2"]
        );
    }

    #[test]
    fn always_restarts_a_clean_return_too_and_on_failure_does_not() {
        let report = builder()
            .run_to_report(|shutdown| async move {
                let runs = AtomicU32::new(0);
                let handle = shutdown.clone();
                let policy = Restart::always().backoff(Duration::ZERO, Duration::ZERO);
                graceful::service_with("poller", policy, move || {
                    let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                    let handle = handle.clone();
                    async move {
                        if run == 3 {
                            handle.trigger();
                        }
                    }
                });
                let once = AtomicU32::new(0);
                graceful::service_with("once", quick(), move || {
                    once.fetch_add(1, Ordering::SeqCst);
                    async {}
                });
                shutdown.cancelled().await;
            })
            .unwrap();
        assert_eq!(report.exit_code(), 0, "{report}");
        let restarts: Vec<_> = report
            .services()
            .iter()
            .map(|s| (s.name(), s.restarts(), s.outcome().clone()))
            .collect();
        assert_eq!(
            restarts,
            [
                ("poller", 2, ServiceOutcome::Returned),
                ("once", 0, ServiceOutcome::Returned)
            ]
        );
    }

    #[test]
    fn nothing_restarts_once_the_shutdown_has_started() {
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        let report = builder()
            .run_to_report(|shutdown| async move {
                let handle = shutdown.clone();
                graceful::service_with("worker", quick(), move || {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let handle = handle.clone();
                    async move {
                        handle.cancelled().await;
                        Err::<(), _>("failed while draining")
                    }
                });
                shutdown.trigger();
            })
            .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let worker = &report.services()[0];
        assert_eq!(worker.restarts(), 0);
        assert!(worker.during_shutdown());
        assert_eq!(
            worker.outcome(),
            &ServiceOutcome::Failed("failed while draining".into())
        );
        assert_eq!(report.exit_code(), 1);
    }

    /// The report lists at most 100 services; the restarts of those it leaves out are still
    /// counted in the summary.
    #[test]
    fn the_restarts_of_services_left_out_of_the_report_are_still_counted() {
        let report = builder()
            .run_to_report(|shutdown| async move {
                let ended = Arc::new(tokio::sync::Semaphore::new(0));
                for _ in 0..150 {
                    let runs = AtomicU32::new(0);
                    let ended = ended.clone();
                    graceful::service_with("job", quick(), move || {
                        let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                        let ended = ended.clone();
                        async move {
                            if run == 1 {
                                return Err("first try");
                            }
                            ended.add_permits(1);
                            Ok(())
                        }
                    });
                }
                let _all = ended.acquire_many(150).await.unwrap();
                shutdown.trigger();
            })
            .unwrap();
        assert_eq!(report.services().len(), 100);
        assert_eq!(report.services_left_out(), 50);
        assert!(report.services().iter().all(|s| s.restarts() == 1));
        assert!(
            report
                .to_string()
                .contains("150 services (0 not ok, 150 restarts, 50 not listed)"),
            "{report}"
        );
        assert_eq!(report.exit_code(), 0);
    }

    /// The back-off is a minute; the shutdown starts during it: the service ends at once,
    /// with its last run's failure, and is not run again.
    #[test]
    fn a_shutdown_during_the_backoff_ends_the_service_at_once() {
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        let started = Instant::now();
        let report = builder()
            .run_to_report(|shutdown| async move {
                let minute = Duration::from_secs(60);
                let policy = Restart::on_failure().backoff(minute, minute);
                let failed = Arc::new(tokio::sync::Notify::new());
                let notify = failed.clone();
                graceful::service_with("worker", policy, move || {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let notify = notify.clone();
                    async move {
                        notify.notify_one();
                        Err::<(), _>("broker gone")
                    }
                });
                failed.notified().await;
                shutdown.trigger();
            })
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(10), "{report}");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let worker = &report.services()[0];
        assert_eq!(worker.restarts(), 0);
        assert_eq!(
            worker.outcome(),
            &ServiceOutcome::Failed("broker gone".into())
        );
        assert!(worker.during_shutdown());
        assert_eq!(report.exit_code(), 1);
    }
}
