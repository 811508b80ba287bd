//! The `services` example as a real process: an HTTP service and a worker under
//! `graceful::service`. When the worker fails with 50 requests in flight, every request is
//! still answered, the process exits 1 and says which service failed and why; a panic exits
//! 101; SIGTERM with nothing failing exits 0.

use std::time::Duration;

use graceful_test_support::{Exited, LINE_TIMEOUT, Process, Signal, get};
use tokio::task::JoinSet;

/// Requests in flight when the worker fails.
const REQUESTS: usize = 50;
/// Each request's length: far longer than the worker's 1.5 s, so all are in flight then.
const REQUEST_MS: u64 = 3000;
/// The bound on the whole stop.
const EXIT_LIMIT: Duration = Duration::from_secs(15);

/// Starts the example with `env`, sends [`REQUESTS`] slow requests, and returns the replies'
/// statuses with the exited process.
async fn fail_under_load(env: &[(&str, &str)]) -> (Vec<u16>, Exited) {
    let mut service = Process::start_http("services", env).await;
    let port = service.port;
    let mut requests = JoinSet::new();
    for _ in 0..REQUESTS {
        requests.spawn(async move { get(port, &format!("/slow?ms={REQUEST_MS}")).await });
    }
    let failing = service
        .wait_for_line(|line| line.starts_with("worker: failing now"), LINE_TIMEOUT)
        .await;
    assert_eq!(
        failing.text,
        format!("worker: failing now, {REQUESTS} requests in flight"),
        "every request must be in flight when the worker fails\n{}",
        service.dump()
    );
    let mut statuses = Vec::new();
    while let Some(reply) = requests.join_next().await {
        match reply.expect("the request task") {
            Ok(reply) => statuses.push(reply.status.as_u16()),
            Err(error) => service.fail(format_args!("a request failed: {error}")),
        }
    }
    let exited = service.wait(EXIT_LIMIT).await;
    (statuses, exited)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_worker_stops_the_program_after_the_requests_in_flight_are_answered() {
    let (statuses, exited) =
        fail_under_load(&[("FAIL_SERVICE", "worker"), ("FAIL_AFTER_MS", "1500")]).await;
    assert_eq!(statuses, vec![200; REQUESTS], "{exited}");
    exited.assert_code(1);
    let named = exited
        .stderr
        .iter()
        .filter(|line| line.contains("worker") && line.contains("injected failure"))
        .count();
    assert!(
        named >= 1,
        "a line names the service and its error\n{exited}"
    );
    assert!(
        exited
            .stderr
            .iter()
            .any(|line| line.contains("exit code 1")),
        "the report's summary says exit code 1\n{exited}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_worker_exits_101_after_the_requests_in_flight_are_answered() {
    let (statuses, exited) = fail_under_load(&[
        ("FAIL_SERVICE", "worker"),
        ("FAIL_AFTER_MS", "1500"),
        ("FAIL_MODE", "panic"),
    ])
    .await;
    assert_eq!(statuses, vec![200; REQUESTS], "{exited}");
    exited.assert_code(101);
    assert!(
        exited
            .stderr
            .iter()
            .any(|line| line.contains("worker") && line.contains("injected failure")),
        "{exited}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_nothing_failing_drains_both_services_and_exits_0() {
    let mut service = Process::start_http("services", &[]).await;
    let reply = get(service.port, "/slow?ms=0")
        .await
        .unwrap_or_else(|error| service.fail(format_args!("{error}")));
    assert_eq!(reply.status.as_u16(), 200);
    service.signal(Signal::SIGTERM);
    let exited = service.wait(EXIT_LIMIT).await;
    exited.assert_code(0);
    assert!(
        exited
            .stdout
            .iter()
            .any(|line| line.text.starts_with("worker: stopped after")),
        "the worker saw the cancel and stopped\n{exited}"
    );
    assert!(
        exited
            .stderr
            .iter()
            .any(|line| line.contains("exit code 0")),
        "{exited}"
    );
}
