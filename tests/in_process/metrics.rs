//! The metrics of feature `metrics`, recorded by the facade's debugging recorder, installed for
//! the thread that runs the whole sequence (a current-thread run): a trigger, a service that
//! restarts once, an HTTP server with a connection open, a task aborted at the end of the
//! drain, a hook that returns and one that fails; and the Prometheus recorder scraped over HTTP
//! during a drain.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use graceful::{Builder, Flavor, Restart};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// Every metric by `name{label=value,..}` (labels sorted): the counter's or gauge's value, or
/// the histogram's number of samples. The recorder's snapshot takes the values it returns (a
/// counter or gauge reads 0 after it, a histogram no sample), so the readings are added up
/// into `total`, which then holds each value since the start.
fn read(snapshotter: &Snapshotter, total: &Mutex<BTreeMap<String, f64>>) -> BTreeMap<String, f64> {
    let mut total = total.lock().unwrap();
    for (name, value) in read_once(snapshotter) {
        *total.entry(name).or_default() += value;
    }
    total.clone()
}

fn read_once(snapshotter: &Snapshotter) -> Vec<(String, f64)> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<String> = key
                .labels()
                .map(|label| format!("{}={}", label.key(), label.value()))
                .collect();
            labels.sort();
            let name = if labels.is_empty() {
                key.name().to_owned()
            } else {
                format!("{}{{{}}}", key.name(), labels.join(","))
            };
            let value = match value {
                DebugValue::Counter(count) => count as f64,
                DebugValue::Gauge(value) => value.into_inner(),
                DebugValue::Histogram(samples) => samples.len() as f64,
            };
            (name, value)
        })
        .collect()
}

/// A run on the test's thread (where the local recorder is), with `drain_delay` and a short
/// drain that cuts what is still in flight.
fn run(drain_delay: Duration) -> Builder {
    Builder::new()
        .signals([])
        .flavor(Flavor::CurrentThread)
        .timeout(Duration::from_secs(30))
        .drain_delay(drain_delay)
        .drain_timeout(Duration::from_millis(300))
}

#[test]
fn a_shutdown_records_its_reason_phases_hooks_tasks_services_and_connections() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let total = Arc::new(Mutex::new(BTreeMap::new()));
    let while_serving = Arc::new(Mutex::new(BTreeMap::new()));
    let server = Arc::new(Mutex::new(String::new()));
    let report = metrics::with_local_recorder(&recorder, || {
        run(Duration::ZERO)
            .run_to_report({
                let (while_serving, server) = (while_serving.clone(), server.clone());
                let total = total.clone();
                let snapshotter = recorder.snapshotter();
                |shutdown| async move {
                    shutdown.register(1, "flush", async {});
                    shutdown.register(2, "close", async { Err::<(), _>("refused") });
                    // A task that ignores the cancel: aborted at the end of the drain.
                    shutdown.spawn(std::future::pending::<()>());
                    // A service that fails once, then waits for the cancel.
                    let failed = Arc::new(AtomicBool::new(false));
                    let handle = shutdown.clone();
                    shutdown.service_with(
                        "worker",
                        Restart::on_failure().backoff(Duration::ZERO, Duration::ZERO),
                        move || {
                            let (failed, handle) = (failed.clone(), handle.clone());
                            async move {
                                if !failed.swap(true, Ordering::SeqCst) {
                                    return Err("first run fails");
                                }
                                handle.cancelled().await;
                                Ok(())
                            }
                        },
                    );
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                    let port = listener.local_addr().unwrap().port();
                    *server.lock().unwrap() = format!("http 127.0.0.1:{port}");
                    graceful::service("http", graceful::http::serve(listener, axum::Router::new()));
                    // An idle connection, open until the cancel closes it.
                    let client = tokio::net::TcpStream::connect(("127.0.0.1", port))
                        .await
                        .unwrap();
                    let label =
                        format!("graceful_connections_open{{server=http 127.0.0.1:{port}}}");
                    for _ in 0..1000 {
                        if read(&snapshotter, &total).get(&label) == Some(&1.0) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    *while_serving.lock().unwrap() = read(&snapshotter, &total);
                    shutdown.trigger();
                    shutdown.cancelled().await;
                    drop(client);
                }
            })
            .unwrap()
    });
    assert_eq!(report.exit_code(), 1, "a hook failed: {report:?}");

    let server = server.lock().unwrap().clone();
    let serving = while_serving.lock().unwrap().clone();
    let open = format!("graceful_connections_open{{server={server}}}");
    assert_eq!(serving.get(&open), Some(&1.0), "{serving:#?}");
    assert_eq!(
        serving.get("graceful_services_running{service=worker}"),
        Some(&1.0),
        "{serving:#?}"
    );
    assert_eq!(
        serving.get("graceful_service_restarts_total{service=worker}"),
        Some(&1.0),
        "{serving:#?}"
    );
    assert_eq!(
        serving.get("graceful_shutdowns_total{reason=triggered}"),
        None
    );

    let end = read(&snapshotter, &total);
    let expected = [
        ("graceful_shutdowns_total{reason=triggered}", 1.0),
        ("graceful_shutdown_duration_seconds", 1.0),
        ("graceful_phase_duration_seconds{phase=delay}", 1.0),
        ("graceful_phase_duration_seconds{phase=drain}", 1.0),
        ("graceful_phase_duration_seconds{phase=hooks}", 1.0),
        ("graceful_hooks_total{hook=flush,outcome=returned}", 1.0),
        ("graceful_hooks_total{hook=close,outcome=failed}", 1.0),
        ("graceful_hook_duration_seconds{hook=flush}", 1.0),
        ("graceful_hook_duration_seconds{hook=close}", 1.0),
        ("graceful_tasks_aborted_total", 1.0),
        ("graceful_services_running{service=worker}", 0.0),
        ("graceful_services_running{service=http}", 0.0),
        ("graceful_service_restarts_total{service=worker}", 1.0),
    ];
    for (name, value) in expected {
        assert_eq!(end.get(name), Some(&value), "{name}: {end:#?}");
    }
    assert_eq!(end.get(&open), Some(&0.0), "{end:#?}");
    // Nothing was cut: the idle connection closed at the cancel.
    let cut = format!("graceful_connections_cut_total{{server={server}}}");
    assert_eq!(end.get(&cut), None, "{end:#?}");
    let unnamed: Vec<&String> = end.keys().filter(|k| !k.starts_with("graceful_")).collect();
    assert!(unnamed.is_empty(), "{unnamed:?}");
}

/// Sends `GET path` on a new connection and returns the response's body.
async fn get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap_or(("", ""));
    body.to_owned()
}

/// The Prometheus recorder, scraped over HTTP by a real client during `drain_delay`, while a
/// request is in flight that the drain then cuts; the sampled gauges (requests in flight,
/// tracked tasks) show it while it is, and zero at the end.
#[test]
fn prometheus_scraped_during_the_drain_then_after_the_cut() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let scraped = Arc::new(Mutex::new(String::new()));
    let server = Arc::new(Mutex::new(String::new()));
    let report = metrics::with_local_recorder(&recorder, || {
        run(Duration::from_secs(2))
            .run_to_report({
                let (scraped, server) = (scraped.clone(), server.clone());
                |shutdown| async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                    let port = listener.local_addr().unwrap().port();
                    *server.lock().unwrap() = format!("http 127.0.0.1:{port}");
                    let (started, handler_started) = tokio::sync::oneshot::channel::<()>();
                    let started = Arc::new(Mutex::new(Some(started)));
                    let app = axum::Router::new()
                        .route(
                            "/held",
                            axum::routing::get(move || async move {
                                if let Some(started) = started.lock().unwrap().take() {
                                    let _ = started.send(());
                                }
                                // Never answers: cut at the end of the drain.
                                std::future::pending::<()>().await;
                            }),
                        )
                        .route(
                            "/metrics",
                            axum::routing::get(move || async move { handle.render() }),
                        );
                    graceful::service("http", graceful::http::serve(listener, app));
                    let held = tokio::spawn(get(port, "/held"));
                    handler_started.await.unwrap();
                    shutdown.trigger();
                    // The requests in flight and the tracked tasks are sampled: scraped until
                    // a sample taken while the held request is in flight is there.
                    let in_flight =
                        format!("graceful_requests_in_flight{{server=\"http 127.0.0.1:{port}\"}} ");
                    for _ in 0..200 {
                        let metrics = get(port, "/metrics").await;
                        let sampled = metrics.lines().any(|line| {
                            line.strip_prefix(&in_flight)
                                .is_some_and(|value| value.parse::<f64>().unwrap() >= 1.0)
                        });
                        *scraped.lock().unwrap() = metrics;
                        if sampled {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    shutdown.cancelled().await;
                    drop(held);
                }
            })
            .unwrap()
    });
    assert_eq!(report.connections_cut(), 1, "{report:?}");
    assert_eq!(report.exit_code(), 1, "{report:?}");

    let server = server.lock().unwrap().clone();
    let scraped = scraped.lock().unwrap().clone();
    for line in [
        "graceful_shutdowns_total{reason=\"triggered\"} 1\n".to_owned(),
        // The held request's connection and the scrape's own.
        format!("graceful_connections_open{{server=\"{server}\"}} 2\n"),
        "graceful_services_running{service=\"http\"} 1\n".to_owned(),
        // The held request (the scrape's own may be in flight too), and the tracked task of
        // the service that serves.
        format!("graceful_requests_in_flight{{server=\"{server}\"}} "),
        "graceful_tasks_running ".to_owned(),
    ] {
        assert!(scraped.contains(&line), "{line:?} not in:\n{scraped}");
    }
    let tasks = scraped
        .lines()
        .find_map(|line| line.strip_prefix("graceful_tasks_running "))
        .map(|value| value.parse::<f64>().unwrap());
    assert!(tasks.is_some_and(|tasks| tasks >= 1.0), "{scraped}");
    assert!(
        !scraped.contains("graceful_connections_cut_total"),
        "{scraped}"
    );

    let end = recorder.handle().render();
    for line in [
        format!("graceful_connections_cut_total{{server=\"{server}\"}} 1\n"),
        format!("graceful_connections_open{{server=\"{server}\"}} 0\n"),
        "graceful_tasks_aborted_total 1\n".to_owned(),
        "graceful_services_running{service=\"http\"} 0\n".to_owned(),
        "graceful_shutdown_duration_seconds_count 1\n".to_owned(),
        "graceful_phase_duration_seconds_count{phase=\"drain\"} 1\n".to_owned(),
        format!("graceful_requests_in_flight{{server=\"{server}\"}} 0\n"),
        "graceful_tasks_running 0\n".to_owned(),
    ] {
        assert!(end.contains(&line), "{line:?} not in:\n{end}");
    }
}
