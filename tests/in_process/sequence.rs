//! The shutdown sequence, driven through `Builder::run_to_report` with hooks registered at run
//! time. Each run has its own `Shutdown`, so these tests run in parallel. Real-signal tests of
//! the same behaviour, with static hooks, are in `tests/process`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use graceful::{Builder, Flavor, HookOutcome, MainOutcome, Reason, Report};
use tokio::sync::Barrier;

/// A builder that installs no signal handler: the test process keeps its own.
fn builder() -> Builder {
    Builder::new().signals([])
}

/// Panics; typed `()` so that an `async` block calling it is a `()` future (a block that
/// only panics would be typed `!`, which is neither a hook nor a main result).
fn explode(message: &str) {
    panic!("{message}")
}

fn outcomes(report: &Report) -> Vec<(i32, &str, &HookOutcome)> {
    report
        .hooks()
        .iter()
        .map(|hook| (hook.order(), hook.name(), hook.outcome()))
        .collect()
}

#[test]
fn hooks_run_in_ascending_order_after_main_returns() {
    let report = builder()
        .run_to_report(|_| async {
            graceful::register(20, "third", async {});
            graceful::register(-5, "first", async {});
            graceful::register(10, "second", async {});
        })
        .unwrap();
    assert_eq!(report.reason(), Reason::MainReturned);
    assert_eq!(report.main(), &MainOutcome::Returned);
    assert_eq!(
        outcomes(&report),
        [
            (-5, "first", &HookOutcome::Returned),
            (10, "second", &HookOutcome::Returned),
            (20, "third", &HookOutcome::Returned)
        ]
    );
    assert_eq!(report.exit_code(), 0);
    assert!(report.is_clean());
}

#[test]
fn hooks_of_one_order_run_concurrently_and_the_next_phase_waits_for_all() {
    let barrier = Arc::new(Barrier::new(3));
    let finished = Arc::new(AtomicUsize::new(0));
    let report = builder()
        .timeout(Duration::from_secs(10))
        .run_to_report({
            let (barrier, finished) = (barrier.clone(), finished.clone());
            |_| async move {
                for name in ["a", "b", "c"] {
                    let (barrier, finished) = (barrier.clone(), finished.clone());
                    // Each waits for the other two: only possible if all three run at once.
                    graceful::register_with_timeout(1, name, Duration::from_secs(5), async move {
                        barrier.wait().await;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        finished.fetch_add(1, Ordering::SeqCst);
                    });
                }
                let finished = finished.clone();
                graceful::register(2, "after", async move {
                    match finished.load(Ordering::SeqCst) {
                        3 => Ok(()),
                        n => Err(format!("started with only {n} of 3 hooks of phase 1 done")),
                    }
                });
            }
        })
        .unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.hooks().len(), 4);
}

#[test]
fn a_failing_a_panicking_and_a_slow_hook_are_recorded_and_the_sequence_goes_on() {
    let report = builder()
        .run_to_report(|_| async {
            graceful::register(1, "fails", async { Err::<(), _>("disk full") });
            graceful::register(2, "panics", async { explode("boom") });
            graceful::register_with_timeout(3, "slow", Duration::from_millis(100), async {
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
            graceful::register(4, "last", async {});
        })
        .unwrap();
    assert_eq!(
        outcomes(&report),
        [
            (1, "fails", &HookOutcome::Failed("disk full".into())),
            (2, "panics", &HookOutcome::Panicked("boom".into())),
            (
                3,
                "slow",
                &HookOutcome::TimedOut(Duration::from_millis(100))
            ),
            (4, "last", &HookOutcome::Returned),
        ]
    );
    assert_eq!(report.exit_code(), 1);
    assert!(report.elapsed() < Duration::from_secs(5), "{report}");
}

#[test]
fn the_global_deadline_abandons_the_running_hook_and_skips_the_rest() {
    let started = Instant::now();
    let report = builder()
        .timeout(Duration::from_millis(300))
        .run_to_report(|_| async {
            graceful::register(1, "stuck", std::future::pending::<()>());
            graceful::register(2, "never", async {});
        })
        .unwrap();
    assert!(
        matches!(report.hooks()[0].outcome(), HookOutcome::TimedOut(_)),
        "{report}"
    );
    assert_eq!(report.hooks()[1].outcome(), &HookOutcome::Skipped);
    assert_eq!(report.exit_code(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn main_returning_err_exits_1_and_hooks_still_run() {
    let report = builder()
        .run_to_report(|_| async {
            graceful::register(0, "cleanup", async {});
            Err::<(), _>(std::io::Error::other("bind failed"))
        })
        .unwrap();
    assert_eq!(report.reason(), Reason::MainFailed);
    assert!(matches!(report.main(), MainOutcome::Failed(e) if e.contains("bind failed")));
    assert_eq!(outcomes(&report), [(0, "cleanup", &HookOutcome::Returned)]);
    assert_eq!(report.exit_code(), 1);
}

#[test]
fn main_panicking_exits_101_and_hooks_still_run() {
    let report = builder()
        .run_to_report(|_| async {
            graceful::register(0, "cleanup", async {});
            explode("main blew up");
        })
        .unwrap();
    assert_eq!(report.reason(), Reason::MainPanicked);
    assert_eq!(report.main(), &MainOutcome::Panicked("main blew up".into()));
    assert_eq!(outcomes(&report), [(0, "cleanup", &HookOutcome::Returned)]);
    assert_eq!(report.exit_code(), 101);
}

#[test]
fn trigger_with_code_sets_the_exit_code_of_a_clean_shutdown_only() {
    let clean = builder()
        .run_to_report(|shutdown| async move {
            shutdown.trigger_with_code(7);
            shutdown.cancelled().await;
        })
        .unwrap();
    assert_eq!((clean.reason(), clean.exit_code()), (Reason::Triggered, 7));

    let failed = builder()
        .run_to_report(|shutdown| async move {
            graceful::register(0, "fails", async { Err::<(), _>("no") });
            shutdown.trigger_with_code(7);
        })
        .unwrap();
    assert_eq!(failed.exit_code(), 1);
}

#[test]
fn later_triggers_are_ignored() {
    let report = builder()
        .run_to_report(|shutdown| async move {
            shutdown.trigger();
            shutdown.trigger_with_code(9);
            graceful::shutdown().trigger_with_code(8);
            shutdown.cancelled().await;
        })
        .unwrap();
    assert_eq!(report.reason(), Reason::Triggered);
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn drain_delay_keeps_the_token_uncancelled_while_shutting_down() {
    let delay = Duration::from_millis(300);
    let report = builder()
        .drain_delay(delay)
        .run_to_report(move |shutdown| async move {
            assert!(!shutdown.is_shutting_down());
            shutdown.trigger();
            let triggered = Instant::now();
            // Step 1 happened, step 3 not yet: a readiness probe would now say 503.
            assert!(shutdown.is_shutting_down());
            assert!(!shutdown.is_cancelled());
            shutdown.cancelled().await;
            if triggered.elapsed() < delay {
                return Err(format!("cancelled after {:?}", triggered.elapsed()));
            }
            Ok(())
        })
        .unwrap();
    assert!(report.is_clean(), "{report}");
}

#[test]
fn a_tracked_task_finishes_before_the_hooks_start() {
    let done = Arc::new(AtomicBool::new(false));
    let report = builder()
        .run_to_report({
            let done = done.clone();
            |shutdown| async move {
                let worker = shutdown.clone();
                let flag = done.clone();
                graceful::spawn(async move {
                    worker.cancelled().await;
                    tokio::time::sleep(Duration::from_millis(200)).await; // finish the job in hand
                    flag.store(true, Ordering::SeqCst);
                });
                graceful::register(0, "check", async move {
                    if done.load(Ordering::SeqCst) {
                        Ok(())
                    } else {
                        Err("task still running")
                    }
                });
                shutdown.trigger();
                shutdown.cancelled().await;
            }
        })
        .unwrap();
    assert!(report.is_clean(), "{report}");
}

#[test]
fn the_drain_aborts_what_ignores_the_token_and_reports_it_by_name() {
    let started = Instant::now();
    let report = builder()
        .drain_timeout(Duration::from_millis(200))
        .run_to_report(|shutdown| async move {
            graceful::spawn(std::future::pending::<()>());
            graceful::register(0, "cleanup", async {});
            shutdown.trigger();
            std::future::pending::<()>().await; // main ignores the token
        })
        .unwrap();
    assert_eq!(report.main(), &MainOutcome::Aborted);
    assert_eq!(report.aborted().len(), 2, "{report}");
    assert_eq!(report.aborted()[0], "main");
    assert!(
        report.aborted()[1].starts_with("task spawned at tests/in_process/sequence.rs:"),
        "{report}"
    );
    assert_eq!(outcomes(&report), [(0, "cleanup", &HookOutcome::Returned)]);
    assert_eq!(report.exit_code(), 1);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn the_report_names_the_oldest_aborted_tasks_and_counts_the_others() {
    let report = builder()
        .drain_timeout(Duration::from_millis(100))
        .run_to_report(|shutdown| async move {
            // Each task names the line it was spawned on: the oldest are listed.
            graceful::spawn(std::future::pending::<()>());
            for _ in 0..249 {
                graceful::spawn(std::future::pending::<()>());
            }
            shutdown.trigger();
            std::future::pending::<()>().await;
        })
        .unwrap();
    // `main`, then the 100 oldest tasks; the other 150 are counted, and count.
    assert_eq!(report.aborted().len(), 101, "{report}");
    assert_eq!(report.aborted()[0], "main");
    // The oldest, spawned on its own line, comes first; the others share one line.
    let (oldest, others) = (&report.aborted()[1], &report.aborted()[2..]);
    assert!(
        others
            .iter()
            .all(|task| task == &others[0] && task != oldest),
        "{report}"
    );
    assert_eq!(report.aborted_left_out(), 150);
    assert!(!report.is_clean());
    assert_eq!(report.exit_code(), 1);
    let text = report.to_string();
    assert!(text.contains("251 tasks aborted"), "{text}");
    assert!(text.contains("and 150 more task(s) aborted"), "{text}");
}

#[test]
fn a_hook_registered_after_the_hooks_started_does_not_run() {
    let report = builder()
        .run_to_report(|_| async {
            graceful::register(0, "registers late", async {
                graceful::register(1, "late", async { explode("must not run") });
            });
        })
        .unwrap();
    assert_eq!(
        outcomes(&report),
        [(0, "registers late", &HookOutcome::Returned)]
    );
}

#[test]
fn each_run_has_its_own_shutdown() {
    let runs: Vec<_> = (0..4u8)
        .map(|code| {
            std::thread::spawn(move || {
                builder()
                    .run_to_report(move |_| async move {
                        graceful::register(0, format!("hook {code}"), async {});
                        graceful::shutdown().trigger_with_code(code);
                        graceful::shutdown().cancelled().await;
                    })
                    .unwrap()
            })
        })
        .collect();
    for (code, run) in runs.into_iter().enumerate() {
        let report = run.join().unwrap();
        assert_eq!(report.exit_code(), code as u8);
        let names: Vec<_> = report.hooks().iter().map(|h| h.name().to_owned()).collect();
        assert_eq!(names, [format!("hook {code}")]);
    }
}

#[test]
fn current_thread_flavor_runs_the_same_sequence() {
    let report = builder()
        .flavor(Flavor::CurrentThread)
        .run_to_report(|shutdown| async move {
            let thread = std::thread::current().id();
            graceful::spawn(async move { assert_eq!(std::thread::current().id(), thread) });
            graceful::register(0, "hook", async {});
            shutdown.trigger();
        })
        .unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.hooks().len(), 1);
}

#[test]
fn contradictory_settings_are_refused_before_main_runs() {
    let ran = Arc::new(AtomicBool::new(false));
    let error = builder()
        .flavor(Flavor::CurrentThread)
        .worker_threads(2)
        .run_to_report({
            let ran = ran.clone();
            move |_| async move { ran.store(true, Ordering::SeqCst) }
        })
        .unwrap_err();
    assert!(error.to_string().contains("current_thread"), "{error}");
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn the_report_reads_as_a_summary() {
    let report = builder()
        .run_to_report(|_| async {
            graceful::register(10, "db::flush", async {
                Err::<(), _>("connection refused")
            });
        })
        .unwrap();
    let text = report.to_string();
    assert!(text.starts_with("shutdown (main returned) took "), "{text}");
    assert!(text.contains("exit code 1"), "{text}");
    assert!(text.contains("db::flush"), "{text}");
    assert!(text.contains("failed: connection refused"), "{text}");
}

/// SPEC, "Unhappy paths": "a spawn that panics leaves nothing behind". `shutdown.spawn` on a
/// thread with no runtime panics, as `tokio::spawn` does; the drain must not then wait for a
/// task that never started.
#[test]
fn a_spawn_that_panics_outside_a_runtime_leaves_no_phantom_task() {
    let started = Instant::now();
    let report = builder()
        .timeout(Duration::from_secs(20))
        .drain_timeout(Duration::from_secs(5))
        .run_to_report(|shutdown| async move {
            let outside = shutdown.clone();
            let spawned = std::thread::spawn(move || {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    drop(outside.spawn(async {}));
                }))
            })
            .join()
            .expect("the panic is caught on the thread");
            assert!(spawned.is_err(), "spawn outside a runtime panics");
        })
        .unwrap();
    assert!(report.aborted().is_empty(), "{report}");
    assert_eq!(report.exit_code(), 0, "{report}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the drain waited {:?}: {report}",
        started.elapsed()
    );
}

/// A tracked task aborted before its first poll (the current-thread runtime cannot poll it
/// before `abort`): the drain has nothing to wait for.
#[test]
fn a_task_aborted_before_its_first_poll_leaves_nothing_to_drain() {
    let started = Instant::now();
    let report = builder()
        .flavor(Flavor::CurrentThread)
        .timeout(Duration::from_secs(20))
        .drain_timeout(Duration::from_secs(5))
        .run_to_report(|_| async {
            graceful::spawn(async { explode("never polled") }).abort();
        })
        .unwrap();
    assert!(report.aborted().is_empty(), "{report}");
    assert_eq!(report.exit_code(), 0, "{report}");
    assert!(started.elapsed() < Duration::from_secs(2), "{report}");
}

/// SPEC, "Unhappy paths": "any duration, however large, saturates".
#[test]
fn a_timeout_of_duration_max_saturates() {
    let report = builder()
        .timeout(Duration::MAX)
        .run_to_report(|_| async {
            graceful::register(0, "runs", async {});
        })
        .unwrap();
    assert_eq!(outcomes(&report), [(0, "runs", &HookOutcome::Returned)]);
    assert_eq!(report.exit_code(), 0, "{report}");
}

#[test]
fn a_timeout_and_drain_timeout_of_duration_max_saturate() {
    let report = builder()
        .timeout(Duration::MAX)
        .drain_timeout(Duration::MAX)
        .run_to_report(|_| async {
            graceful::spawn(async {});
            graceful::register(0, "runs", async {});
        })
        .unwrap();
    assert_eq!(outcomes(&report), [(0, "runs", &HookOutcome::Returned)]);
    assert_eq!(report.exit_code(), 0, "{report}");
}

#[test]
fn a_hook_timeout_of_duration_max_saturates() {
    let report = builder()
        .run_to_report(|_| async {
            graceful::register_with_timeout(0, "patient", Duration::MAX, async {});
            graceful::register(1, "after", async {});
        })
        .unwrap();
    assert_eq!(
        outcomes(&report),
        [
            (0, "patient", &HookOutcome::Returned),
            (1, "after", &HookOutcome::Returned)
        ]
    );
    assert_eq!(report.exit_code(), 0, "{report}");
}

#[test]
fn a_hook_timeout_of_duration_max_saturates_under_a_timeout_of_duration_max() {
    let report = builder()
        .timeout(Duration::MAX)
        .drain_timeout(Duration::MAX)
        .run_to_report(|_| async {
            graceful::register_with_timeout(0, "patient", Duration::MAX, async {});
        })
        .unwrap();
    assert_eq!(outcomes(&report), [(0, "patient", &HookOutcome::Returned)]);
    assert_eq!(report.exit_code(), 0, "{report}");
}
